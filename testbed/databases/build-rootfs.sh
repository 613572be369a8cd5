#!/bin/sh
# Builds (once) the root file system of the test database image: Debian bookworm (minbase) with
# PostgreSQL 15, MariaDB and Redis from Debian's packages, slimmed (no LLVM JIT, locales,
# docs or MariaDB's table tools), plus `entrypoint.sh` beside this script as
# /usr/local/bin/unity-db. Prints the tarball's path. Two cached files under $UNITY_CI_CACHE
# (default /var/cache/unity-ci): the debootstrap'ed tree (keyed by the package list and the
# host's versions of those packages, which a bookworm mirror matches) and the image's tarball
# (keyed by that, this script and the entrypoint). Cold: debootstrap, two to three minutes.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cache=${UNITY_CI_CACHE:-/var/cache/unity-ci}
mirror=${UNITY_CI_MIRROR:-http://deb.debian.org/debian}
includes=postgresql-15,postgresql-client-15,mariadb-server,mariadb-client,redis-server,redis-tools
versions=$(dpkg-query -W -f='${Version} ' postgresql-15 mariadb-server redis-server 2>/dev/null || true)
base_key=$(echo "bookworm minbase $includes $versions" | md5sum | cut -c1-10)
base=$cache/databases-debootstrap-$base_key.tar
key=$( (echo "$base_key"; cat "$0" "$here/entrypoint.sh") | md5sum | cut -c1-10)
tarball=$cache/databases-$key.tar
if [ -s "$tarball" ]; then echo "$tarball"; exit 0; fi
mkdir -p "$cache"
# Tests build it side by side: one builds, the others wait for it.
exec 9>"$cache/databases.lock"
flock 9
if [ -s "$tarball" ]; then echo "$tarball"; exit 0; fi
work=$(mktemp -d "$cache/databases.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir "$root"
if [ ! -s "$base" ]; then
    command -v debootstrap >/dev/null || { echo "debootstrap missing: apt-get install -y debootstrap" >&2; exit 1; }
    if ! timeout 900 debootstrap --variant=minbase --include="$includes" bookworm "$root" "$mirror" >"$work/log" 2>&1; then
        tail -30 "$work/log" >&2; exit 1
    fi
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*_*
    tar -C "$root" --numeric-owner -cf "$work/base.tar" .
    mv "$work/base.tar" "$base"
else
    tar -C "$root" --numeric-owner -xf "$base"
fi
# What the image does not need: the JIT and its LLVM, docs, locales, MariaDB's table tools,
# the clusters the packages made.
rm -rf "$root"/usr/lib/x86_64-linux-gnu/libLLVM-* "$root"/usr/lib/x86_64-linux-gnu/libz3.so* \
    "$root"/usr/lib/postgresql/15/lib/llvmjit* "$root"/usr/lib/postgresql/15/lib/bitcode \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/* "$root"/usr/share/i18n \
    "$root"/usr/bin/aria_* "$root"/usr/bin/myisam* "$root"/usr/bin/mariadb-slap "$root"/usr/bin/mariadb-binlog \
    "$root"/usr/bin/mysqlslap "$root"/usr/bin/mysqlbinlog \
    "$root"/var/lib/postgresql/15/main "$root"/var/lib/mysql/* "$root"/var/lib/redis/*
install -m 0755 "$here/entrypoint.sh" "$root/usr/local/bin/unity-db"
tar -C "$root" --numeric-owner -cf "$work/rootfs.tar" .
mv "$work/rootfs.tar" "$tarball"
echo "$tarball"
