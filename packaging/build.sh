#!/usr/bin/env bash
# Builds the four packages: unity-agent and unity-controller, each as .deb and .rpm.
#
#   packaging/build.sh [--arch amd64|arm64|all] [--version X.Y.Z] [--out DIR] [--no-cargo]
#
# 1. `cargo build --profile agent --locked -p unity-agent` (built for size, in target/agent/) and
#    `cargo build --release --locked -p unity-controller` (skipped with --no-cargo: then
#    target/agent/unity-agent and target/release/unity-controller must already exist);
# 2. stages one file tree per package (binary, commented default config, systemd unit, man page,
#    licences and copyright);
# 3. packs each tree with `dpkg-deb --build` and `rpmbuild -bb` (packaging/rpm/unity.spec).
#
# --arch (Debian names; default: this machine's) other than the host's cross-compiles with
# `--target` (binaries in target/TRIPLE/agent/ and target/TRIPLE/release/), Debian's cross gcc as
# the linker, its strip, and runs the binaries under qemu-user for the man pages; arm64 needs
# gcc-aarch64-linux-gnu, libc6-dev-arm64-cross, qemu-user-static and the rustup target
# aarch64-unknown-linux-gnu. --arch all builds amd64 and arm64.
# Needs the Debian packages dpkg-dev, rpm, help2man and binutils (strip). The version defaults to
# the workspace version; --version only changes the package version (used by the upgrade test).
# Output: target/packages/ unless --out is given. Binaries are taken from $CARGO_TARGET_DIR
# instead of target/ when that is set. See packaging/README.md.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
packaging=$repo/packaging
out=$repo/target/packages
version=
run_cargo=1
arches=
while [ $# -gt 0 ]; do
    case $1 in
        --version) version=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --no-cargo) run_cargo=0; shift ;;
        --arch) arches=$2; shift 2 ;;
        -h | --help) sed -n '2,21s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "build.sh: unknown argument $1 (see --help)" >&2; exit 64 ;;
    esac
done

fail() { echo "build.sh: $*" >&2; exit 1; }
for tool in dpkg-deb dpkg-shlibdeps rpmbuild help2man strip gzip; do
    command -v "$tool" >/dev/null ||
        fail "$tool is missing: apt-get install dpkg-dev rpm help2man binutils"
done

host_arch=$(dpkg --print-architecture)
case ${arches:=$host_arch} in
    all) arches="amd64 arm64" ;;
esac
target_dir=${CARGO_TARGET_DIR:-target}

# Per architecture: Debian and RPM names, Rust target, GNU triplet, and for a cross build the
# tools around it. Sets deb_arch rpm_arch triple gnu cross bin_dir strip_tool runner.
set_arch() { # DEB_ARCH
    deb_arch=$1
    case $deb_arch in
        amd64) rpm_arch=x86_64 triple=x86_64-unknown-linux-gnu gnu=x86_64-linux-gnu qemu=qemu-x86_64 ;;
        arm64) rpm_arch=aarch64 triple=aarch64-unknown-linux-gnu gnu=aarch64-linux-gnu qemu=qemu-aarch64 ;;
        *) fail "unsupported --arch '$deb_arch' (amd64, arm64 or all)" ;;
    esac
    runner=()
    if [ "$deb_arch" = "$host_arch" ]; then
        cross=0 bin_dir=$target_dir strip_tool=strip
        return
    fi
    cross=1 bin_dir=$target_dir/$triple strip_tool=$gnu-strip
    # cargo's and cc-rs's variables, unless the caller set them: the cross gcc links and
    # compiles C (ring); nothing goes into a .cargo/config, so native builds are untouched.
    local upper=${triple^^}
    upper=${upper//-/_}
    local linker=CARGO_TARGET_${upper}_LINKER cc=CC_${triple//-/_} ar=AR_${triple//-/_}
    local runner_var=CARGO_TARGET_${upper}_RUNNER
    export "$linker=${!linker:-$gnu-gcc}" "$cc=${!cc:-$gnu-gcc}" "$ar=${!ar:-$gnu-ar}"
    command -v "${!linker}" >/dev/null && command -v "$strip_tool" >/dev/null ||
        fail "${!linker} or $strip_tool is missing (cross build for $deb_arch):" \
            "apt-get install gcc-$gnu libc6-dev-$deb_arch-cross"
    # The man pages come from --help: the foreign binaries run under qemu-user (the runner
    # cargo uses, if set; binfmt_misc may not be registered, so qemu is called explicitly).
    if [ -n "${!runner_var:-}" ]; then
        read -r -a runner <<<"${!runner_var}"
    elif command -v "$qemu-static" >/dev/null; then
        runner=("$qemu-static" -L "/usr/$gnu")
    elif command -v "$qemu" >/dev/null; then
        runner=("$qemu" -L "/usr/$gnu")
    else
        fail "no $qemu-static or $qemu to run the $deb_arch binaries for their man pages:" \
            "apt-get install qemu-user-static"
    fi
    if [ "$run_cargo" = 1 ] && [ ! -d "$(rustc --print sysroot)/lib/rustlib/$triple/lib" ]; then
        fail "the Rust standard library for $triple is not installed: rustup target add $triple"
    fi
}

cd "$repo"
for arch in $arches; do
    set_arch "$arch"
    [ "$run_cargo" = 1 ] || continue
    target_flag=()
    [ "$cross" = 1 ] && target_flag=(--target "$triple")
    cargo build --profile agent --locked -p unity-agent "${target_flag[@]}"
    cargo build --release --locked -p unity-controller "${target_flag[@]}"
done
if [ -z "$version" ]; then
    # path+file:///…/agent#unity-agent@0.1.0 (or …/agent#0.1.0)
    version=$(cargo pkgid -p unity-agent | sed 's/.*[#@]//')
fi
case $version in
    [0-9]*) ;;
    *) fail "bad version '$version'" ;;
esac

# Reproducible timestamps: the last commit, unless the caller set one.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || date +%s)}
maintainer=${UNITY_MAINTAINER:-"Unity developers <unity-homelab@users.noreply.github.com>"}
homepage=https://github.com/unity-homelab/unity

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"

# Man page from --help, with every subcommand's --help in a COMMANDS section.
make_manpage() { # BINARY NAME SUMMARY OUTPUT.gz
    local binary=$1 name=$2 summary=$3 output=$4 include=$work/$2.h2m command
    {
        echo '[COMMANDS]'
        "$binary" --help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }' |
            grep -vx help | while read -r command; do
            echo ".SS \"$name $command\""
            echo '.nf'
            "$binary" "$command" --help | sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"
            echo '.fi'
        done
    } >"$include"
    help2man --no-info --no-discard-stderr --section=1 --name="$summary" \
        --version-string="$version" --include="$include" --output="$work/$name.1" "$binary"
    gzip -9n <"$work/$name.1" >"$output"
}

# DEP-5 copyright: Expat text inline, Apache-2.0 by reference to common-licenses (lintian
# rejects the full Apache text in copyright files).
make_copyright() { # OUTPUT
    local year
    year=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y)
    {
        echo 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/'
        echo 'Upstream-Name: unity'
        echo "Source: $homepage"
        echo
        echo 'Files: *'
        echo "Copyright: $year The Unity developers"
        echo 'License: Expat or Apache-2.0'
        echo
        echo 'License: Expat'
        sed -e '/^Copyright/d' -e 's/^$/./' -e 's/^/ /' LICENSE-MIT | sed '1{/^ \.$/d}'
        echo
        echo 'License: Apache-2.0'
        echo ' On Debian systems, the full text of the Apache License, Version 2.0, is in'
        echo ' /usr/share/common-licenses/Apache-2.0; it is also shipped as LICENSE-APACHE.'
    } >"$1"
}

# The tree both formats share.
stage() { # PACKAGE SUMMARY
    local package=$1 summary=$2 component=${1#unity-} root=$work/stage/$1
    install -d "$root/usr/bin" "$root/etc/unity" "$root/usr/lib/systemd/system" \
        "$root/usr/share/man/man1" "$root/usr/share/doc/$package"
    local profile=release
    [ "$package" = unity-agent ] && profile=agent
    install -m 0755 "$bin_dir/$profile/$package" "$root/usr/bin/$package"
    "$strip_tool" --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/bin/$package"
    install -m 0644 "packaging/$component.toml" "$root/etc/unity/$component.toml"
    # Where managed certificates go by default; the agent's unit may write only there.
    [ "$package" = unity-agent ] && install -d -m 0755 "$root/etc/unity/certs"
    install -m 0644 "systemd/$package.service" "$root/usr/lib/systemd/system/$package.service"
    # Package builds from the controller: the root installer and the path unit that starts it
    # (docs/agent-updates.md, "Package-managed hosts").
    if [ "$package" = unity-agent ]; then
        install -m 0644 systemd/unity-agent-upgrade.path systemd/unity-agent-upgrade.service \
            "$root/usr/lib/systemd/system/"
    fi
    local binary=$root/usr/bin/$package
    if [ "$cross" = 1 ]; then # a wrapper of the same name (help2man names the page after it)
        binary=$work/run/$package
        install -d "$work/run"
        printf '#!/bin/sh\nexec %s "$@"\n' "$(printf '%q ' "${runner[@]}" "$root/usr/bin/$package")" >"$binary"
        chmod 0755 "$binary"
    fi
    make_manpage "$binary" "$package" "$summary" "$root/usr/share/man/man1/$package.1.gz"
    install -m 0644 LICENSE-MIT LICENSE-APACHE "$root/usr/share/doc/$package/"
    make_copyright "$root/usr/share/doc/$package/copyright"
}

# Shared-library dependencies, as dh_shlibdeps would compute them (cwd: the dir with debian/).
# Cross: dpkg-shlibdeps for the foreign architecture finds the libraries in the cross sysroot
# (/usr/GNU-TRIPLET/lib), owned by Debian's cross packages (libc6-arm64-cross, ...). Their names
# are mapped back to the real ones (libc6:arm64 -> libc6, libgcc-s1-arm64-cross -> libgcc-s1).
# libc6-arm64-cross has no symbols file, only shlibs with its own version (>= 2.36, bookworm's),
# which would shut out older systems; so libc6's minimum is the newest GLIBC_ symbol version the
# binary references, which is what libc6's symbols file yields on a native build.
shlib_depends() { # PACKAGE
    local binary=debian/$1/usr/bin/$1 depends glibc
    if [ "$cross" = 0 ]; then
        (cd "$work/deb" && dpkg-shlibdeps -O "$binary") | sed -n 's/^shlibs:Depends=//p'
        return
    fi
    depends=$(cd "$work/deb" && DEB_HOST_ARCH=$deb_arch dpkg-shlibdeps -l"/usr/$gnu/lib" -O "$binary" |
        sed -n 's/^shlibs:Depends=//p')
    glibc=$(readelf -V --wide "$work/deb/$binary" | sed -n 's/.*Name: GLIBC_\([0-9.]*\).*/\1/p' |
        sort -uV | tail -n 1)
    [ -n "$glibc" ] || fail "$1: no GLIBC_ symbol versions in the $deb_arch binary"
    echo "$depends" | sed -e "s/-$deb_arch-cross//g" -e "s/:$deb_arch//g" \
        -e "s/libc6 (>= [^)]*)/libc6 (>= $glibc)/"
}

build_deb() { # PACKAGE SUMMARY
    # debian/PACKAGE under a directory with a debian/control: where dpkg-shlibdeps expects it.
    local package=$1 summary=$2 root=$work/deb/debian/$1 shlibs size
    mkdir -p "$work/deb/debian"
    printf 'Source: unity\n\nPackage: %s\nArchitecture: any\n' "$package" >"$work/deb/debian/control"
    cp -a "$work/stage/$package" "$root"
    printf '%s (%s) unstable; urgency=medium\n\n  * Release %s.\n\n -- %s  %s\n' \
        "$package" "$version" "$version" "$maintainer" \
        "$(date -u -R -d "@$SOURCE_DATE_EPOCH")" | gzip -9n >"$root/usr/share/doc/$package/changelog.gz"
    install -d "$root/DEBIAN"
    shlibs=$(shlib_depends "$package")
    size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
    {
        echo "Package: $package"
        echo "Version: $version"
        echo "Architecture: $deb_arch"
        echo "Maintainer: $maintainer"
        echo "Installed-Size: $size"
        sed -e "s/@SHLIBS@/$shlibs/" "$packaging/deb/$package/control"
        echo "Homepage: $homepage"
    } >"$root/DEBIAN/control"
    echo "/etc/unity/${package#unity-}.toml" >"$root/DEBIAN/conffiles"
    install -m 0755 "$packaging/deb/$package"/{postinst,prerm,postrm} "$root/DEBIAN/"
    if [ -f "$packaging/deb/$package/lintian-overrides" ]; then
        install -d "$root/usr/share/lintian/overrides"
        install -m 0644 "$packaging/deb/$package/lintian-overrides" "$root/usr/share/lintian/overrides/$package"
    fi
    (cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z |
        xargs -0 md5sum >DEBIAN/md5sums)
    find "$root" -exec touch --no-dereference -d "@$SOURCE_DATE_EPOCH" {} +
    dpkg-deb --root-owner-group -Zxz --build "$root" "$out/${package}_${version}_${deb_arch}.deb" >/dev/null
    echo "built $out/${package}_${version}_${deb_arch}.deb"
}

build_rpms() {
    local rpm_root=$work/rpm
    mkdir -p "$rpm_root"/{BUILD,BUILDROOT,RPMS,SPECS,SRPMS,SOURCES}
    for package in unity-agent unity-controller; do
        cp -a "$work/stage/$package" "$rpm_root/$package"
        install -d "$rpm_root/$package/usr/share/licenses/$package"
        mv "$rpm_root/$package/usr/share/doc/$package"/LICENSE-* "$rpm_root/$package/usr/share/licenses/$package/"
    done
    rpmbuild -bb --quiet --target "$rpm_arch" \
        --define "_topdir $rpm_root" \
        --define "_rpmdir $out" \
        --define '_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm' \
        --define "unity_version ${version//-/_}" \
        --define "unity_stage $rpm_root" \
        --define "unity_changelog_date $(date -u -d "@$SOURCE_DATE_EPOCH" '+%a %b %d %Y')" \
        --define "packager $maintainer" \
        --define "use_source_date_epoch_as_buildtime 1" \
        --define "clamp_mtime_to_source_date_epoch 1" \
        "$packaging/rpm/unity.spec" >/dev/null
    for package in unity-agent unity-controller; do
        echo "built $out/$package-${version//-/_}-1.$rpm_arch.rpm"
    done
}

for arch in $arches; do
    set_arch "$arch"
    work=$tmp/$deb_arch
    mkdir -p "$work"
    stage unity-agent "Unity homelab monitoring agent"
    stage unity-controller "Unity homelab monitoring controller"
    build_deb unity-agent "Unity homelab monitoring agent"
    build_deb unity-controller "Unity homelab monitoring controller"
    build_rpms
done
