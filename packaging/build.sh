#!/usr/bin/env bash
# Builds the four packages: unity-agent and unity-controller, each as .deb and .rpm.
#
#   packaging/build.sh [--version X.Y.Z] [--out DIR] [--no-cargo]
#
# 1. `cargo build --profile agent --locked -p unity-agent` (built for size, in target/agent/) and
#    `cargo build --release --locked -p unity-controller` (skipped with --no-cargo: then
#    target/agent/unity-agent and target/release/unity-controller must already exist);
# 2. stages one file tree per package (binary, commented default config, systemd unit, man page,
#    licences and copyright);
# 3. packs each tree with `dpkg-deb --build` and `rpmbuild -bb` (packaging/rpm/unity.spec).
#
# Needs the Debian packages dpkg-dev, rpm, help2man and binutils (strip). The version defaults to
# the workspace version; --version only changes the package version (used by the upgrade test).
# Output: target/packages/ unless --out is given. See packaging/README.md.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
packaging=$repo/packaging
out=$repo/target/packages
version=
run_cargo=1
while [ $# -gt 0 ]; do
    case $1 in
        --version) version=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --no-cargo) run_cargo=0; shift ;;
        -h | --help) sed -n '2,15s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "build.sh: unknown argument $1 (see --help)" >&2; exit 64 ;;
    esac
done

fail() { echo "build.sh: $*" >&2; exit 1; }
for tool in dpkg-deb dpkg-shlibdeps rpmbuild help2man strip gzip; do
    command -v "$tool" >/dev/null ||
        fail "$tool is missing: apt-get install dpkg-dev rpm help2man binutils"
done

cd "$repo"
if [ "$run_cargo" = 1 ]; then
    cargo build --profile agent --locked -p unity-agent
    cargo build --release --locked -p unity-controller
fi
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
deb_arch=$(dpkg --print-architecture)
rpm_arch=$(uname -m)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
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
    install -m 0755 "target/$profile/$package" "$root/usr/bin/$package"
    strip --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/bin/$package"
    install -m 0644 "packaging/$component.toml" "$root/etc/unity/$component.toml"
    # Where managed certificates go by default; the agent's unit may write only there.
    [ "$package" = unity-agent ] && install -d -m 0755 "$root/etc/unity/certs"
    install -m 0644 "systemd/$package.service" "$root/usr/lib/systemd/system/$package.service"
    make_manpage "$root/usr/bin/$package" "$package" "$summary" "$root/usr/share/man/man1/$package.1.gz"
    install -m 0644 LICENSE-MIT LICENSE-APACHE "$root/usr/share/doc/$package/"
    make_copyright "$root/usr/share/doc/$package/copyright"
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
    # Shared-library dependencies, as dh_shlibdeps would compute them.
    install -d "$root/DEBIAN"
    shlibs=$(cd "$work/deb" &&
        dpkg-shlibdeps -O "debian/$package/usr/bin/$package" | sed -n 's/^shlibs:Depends=//p')
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
        --define "use_source_date_epoch_as_buildtime 1" \
        --define "clamp_mtime_to_source_date_epoch 1" \
        "$packaging/rpm/unity.spec" >/dev/null
    for package in unity-agent unity-controller; do
        echo "built $out/$package-${version//-/_}-1.$rpm_arch.rpm"
    done
}

stage unity-agent "Unity homelab monitoring agent"
stage unity-controller "Unity homelab monitoring controller"
build_deb unity-agent "Unity homelab monitoring agent"
build_deb unity-controller "Unity homelab monitoring controller"
build_rpms
