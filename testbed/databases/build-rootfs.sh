#!/bin/sh
# Builds (once) the root file system of the test database image: Debian bookworm (minbase) with
# PostgreSQL 15, MariaDB and Redis from Debian's packages, plus `entrypoint.sh` beside this
# script as /usr/local/bin/unity-db. Prints the tarball's path. Cached as
# $UNITY_CI_CACHE/databases-<key>.tar (default /var/cache/unity-ci), keyed by the package list,
# the entrypoint and the host's versions of those packages (which a bookworm mirror matches).
# Cold: debootstrap, about two minutes; warm: nothing.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cache=${UNITY_CI_CACHE:-/var/cache/unity-ci}
mirror=${UNITY_CI_MIRROR:-http://deb.debian.org/debian}
includes=postgresql-15,postgresql-client-15,mariadb-server,mariadb-client,redis-server,redis-tools
versions=$(dpkg-query -W -f='${Version} ' postgresql-15 mariadb-server redis-server 2>/dev/null || true)
key=$( (echo "bookworm minbase $includes $versions"; cat "$here/entrypoint.sh") | md5sum | cut -c1-10)
tarball=$cache/databases-$key.tar
if [ -s "$tarball" ]; then echo "$tarball"; exit 0; fi
command -v debootstrap >/dev/null || { echo "debootstrap missing: apt-get install -y debootstrap" >&2; exit 1; }
mkdir -p "$cache"
work=$(mktemp -d "$cache/databases.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
if ! timeout 900 debootstrap --variant=minbase --include="$includes" bookworm "$root" "$mirror" >"$work/log" 2>&1; then
    tail -30 "$work/log" >&2; exit 1
fi
# What the image does not need: package caches, docs, the clusters the packages made.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*_* "$root"/usr/share/doc/* \
    "$root"/usr/share/man/* "$root"/var/lib/postgresql/15/main "$root"/var/lib/mysql/* "$root"/var/lib/redis/*
install -m 0755 "$here/entrypoint.sh" "$root/usr/local/bin/unity-db"
tar -C "$root" --numeric-owner -cf "$work/rootfs.tar" .
mv "$work/rootfs.tar" "$tarball"
echo "$tarball"
