#!/usr/bin/env bash
# Packaging tests, run by .ci/run as root on a Debian 12 machine:
#
#   packaging/test.sh [--no-cargo] [--no-podman] [--keep]
#
#  1. builds all four packages with packaging/build.sh (cargo build included), twice:
#     the workspace version and a bumped one for the upgrade tests;
#  2. checks them statically: dpkg-deb --info/--contents, lintian (no errors or warnings),
#     rpm -qip/-qlp/-K/--scripts, conffiles and %config(noreplace) markers;
#  3. in a chroot of a debootstrap'ed Debian bookworm: systemd-analyze verify on the installed
#     units, then dpkg install / upgrade (a config edit must survive) / remove / purge, checking
#     files, the `unity` user, owners and modes, unit enablement and data removal on purge;
#  4. in the same kind of root: rpm --initdb, rpm -ivh/-Uvh/-e of the .rpm files, running their
#     scriptlets (user creation, modes);
#  5. in a Podman container booting systemd from that rootfs: installs the .debs, checks that
#     both units reach `active` (Type=notify: READY=1 arrived) and feed their watchdog, enrolls
#     the agent against the controller, stops, starts, restarts, upgrades and purges, and prints
#     `systemd-analyze security` exposure scores (failing above a ceiling).
#
# Installs the Debian packages it needs when missing. The bookworm rootfs is debootstrap'ed once
# and cached (tarball and Podman image) under $UNITY_CI_CACHE (/var/cache/unity-ci). --no-podman
# skips step 5; --keep keeps the temp dir and the container for debugging; --no-cargo packs the
# binaries already built (target/agent/unity-agent, target/release/unity-controller).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${UNITY_CI_CACHE:-/var/cache/unity-ci}
mirror=${UNITY_CI_MIRROR:-http://deb.debian.org/debian}
run_podman=1
keep=0
cargo_flag=
for arg in "$@"; do
    case $arg in
        --no-podman) run_podman=0 ;;
        --keep) keep=1 ;;
        --no-cargo) cargo_flag=--no-cargo ;;
        -h | --help) sed -n '2,24s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "test.sh: unknown argument $arg" >&2; exit 64 ;;
    esac
done

export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8
started=$SECONDS
current_step="setup"
step() { current_step=$*; printf '\n==> [%4ds] %s\n' $((SECONDS - started)) "$*"; }
fail() { echo "FAIL ($current_step): $*" >&2; exit 1; }
ok() { echo "  ok: $*"; }
expect_eq() { # ACTUAL EXPECTED WHAT
    [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"
    ok "$3 = $2"
}
expect_file() { [ -e "$1" ] || fail "missing $1"; }
expect_no_file() { [ ! -e "$1" ] || fail "$1 should not exist"; }
expect_stat() { # PATH-IN-ROOT 'owner:group mode' (names as the root's /etc/passwd has them)
    local got
    got=$(in_root stat -c '%U:%G %a' "$1") || fail "missing $1"
    expect_eq "$got" "$2" "owner and mode of $1"
}

work=$(mktemp -d /tmp/unity-packaging-test.XXXXXX)
container=
cleanup() {
    local status=$?
    if [ -n "$container" ] && [ "$status" != 0 ]; then
        echo "--- journal of the units in $container:" >&2
        timeout 60 podman exec "$container" journalctl --no-pager -n 60 -u unity-agent -u unity-controller >&2 || true
    fi
    if [ -n "$container" ] && [ "$keep" = 0 ]; then
        timeout 60 podman rm -f -t 0 "$container" >/dev/null 2>&1 || true
    fi
    if [ "$keep" = 0 ]; then
        rm -rf "$work"
    else
        echo "kept $work${container:+ and container $container}"
    fi
    if [ "$status" = 0 ]; then
        printf '\npackaging tests passed in %ds\n' $((SECONDS - started))
    else
        printf '\npackaging tests FAILED in step "%s" after %ds\n' "$current_step" $((SECONDS - started)) >&2
    fi
}
trap cleanup EXIT

step "Debian packages the tests need"
needed=(lintian rpm dpkg-dev fakeroot help2man binutils debootstrap systemd)
[ "$run_podman" = 1 ] && needed+=(podman runc conmon containernetworking-plugins catatonit)
missing=()
for package in "${needed[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}"
    timeout 600 apt-get install -y --no-install-recommends "${missing[@]}" >"$work/apt.log" 2>&1 ||
        { timeout 300 apt-get update >>"$work/apt.log" 2>&1 &&
            timeout 600 apt-get install -y --no-install-recommends "${missing[@]}" >>"$work/apt.log" 2>&1; } ||
        { tail -20 "$work/apt.log" >&2; fail "apt-get install ${missing[*]}"; }
fi
ok "all present"

step "Build the packages (cargo build, then packaging/build.sh)"
timeout 1500 "$repo/packaging/build.sh" $cargo_flag --out "$work/v1"
version=$(cd "$repo" && cargo pkgid -p unity-agent | sed 's/.*[#@]//')
upgrade_version=$version.1
timeout 300 "$repo/packaging/build.sh" --no-cargo --version "$upgrade_version" --out "$work/v2" >/dev/null
# A semver version above the workspace's, for the package update through apply-upgrade (which
# compares versions as semver; $version.1 is not one). Same binaries, only the package version.
pkg_upgrade_version=$(echo "$version" | awk -F. '{ printf "%d.%d.%d", $1, $2, $3 + 1 }')
timeout 300 "$repo/packaging/build.sh" --no-cargo --version "$pkg_upgrade_version" --out "$work/v3" >/dev/null
deb_arch=$(dpkg --print-architecture)
rpm_arch=$(uname -m)
deb() { echo "$work/$1/$2_$3_${deb_arch}.deb"; }          # v1|v2 PACKAGE VERSION
rpmfile() { echo "$work/$1/$2-$3-1.${rpm_arch}.rpm"; }     # v1|v2 PACKAGE VERSION
for package in unity-agent unity-controller; do
    expect_file "$(deb v1 $package "$version")"
    expect_file "$(deb v2 $package "$upgrade_version")"
    expect_file "$(rpmfile v1 $package "$version")"
    expect_file "$(rpmfile v2 $package "$upgrade_version")"
done
ok "4 packages at $version, 4 at $upgrade_version"

step "dpkg-deb --info / --contents"
for package in unity-agent unity-controller; do
    file=$(deb v1 $package "$version")
    dpkg-deb --info "$file"
    dpkg-deb --contents "$file" | tee "$work/$package.contents"
    component=${package#unity-}
    extra=()
    [ "$package" = unity-agent ] &&
        extra=(usr/lib/systemd/system/unity-agent-upgrade.path usr/lib/systemd/system/unity-agent-upgrade.service)
    for path in usr/bin/$package etc/unity/$component.toml usr/lib/systemd/system/$package.service "${extra[@]}" \
        usr/share/man/man1/$package.1.gz usr/share/doc/$package/copyright \
        usr/share/doc/$package/changelog.gz usr/share/doc/$package/LICENSE-MIT \
        usr/share/doc/$package/LICENSE-APACHE; do
        grep -q " \./$path\$" "$work/$package.contents" || fail "$package.deb lacks /$path"
    done
    expect_eq "$(dpkg-deb --ctrl-tarfile "$file" | tar -xO ./conffiles)" "/etc/unity/$component.toml" "$package conffiles"
done
expect_eq "$(dpkg-deb -f "$(deb v1 unity-agent "$version")" Recommends)" "smartmontools" "unity-agent Recommends"
expect_eq "$(dpkg-deb -f "$(deb v1 unity-agent "$version")" Suggests)" "mdadm, zfsutils-linux" "unity-agent Suggests"

step "lintian (fails on errors and warnings)"
# Overrides, if any, live in packaging/deb/PACKAGE/lintian-overrides, each with its reason.
timeout 600 lintian --fail-on error,warning --info "$(deb v1 unity-agent "$version")" "$(deb v1 unity-controller "$version")" ||
    fail "lintian reported errors or warnings (above)"
ok "lintian clean"

step "rpm -qip / -qlp / -K / --scripts"
for package in unity-agent unity-controller; do
    file=$(rpmfile v1 $package "$version")
    rpm -qip "$file"
    rpm -qlvp "$file"
    rpm -K "$file" | tee "$work/rpm-k"
    grep -q 'digests OK' "$work/rpm-k" || fail "rpm -K $file"
    rpm -qp --scripts "$file" | grep -q 'systemctl' || fail "$package.rpm lacks its systemd scriptlets"
    flags=$(rpm -qp --qf '[%{FILEFLAGS:fflags} %{FILENAMES}\n]' "$file" | grep " /etc/unity/${package#unity-}.toml$" | cut -d' ' -f1)
    expect_eq "$flags" "cn" "$package.rpm config flags of /etc/unity/${package#unity-}.toml (config, noreplace)"
done
rpm -qp --recommends --suggests "$(rpmfile v1 unity-agent "$version")" | tr '\n' ' ' | grep -q 'smartmontools mdadm zfs' ||
    fail "unity-agent.rpm weak dependencies"
ok "unity-agent.rpm recommends smartmontools, suggests mdadm and zfs"

step "Debian bookworm rootfs (cached in $cache)"
includes=systemd,systemd-sysv,dbus,adduser,init-system-helpers,smartmontools
key=$(echo "bookworm minbase $includes" | md5sum | cut -c1-8)
rootfs_tar=$cache/bookworm-systemd-$key.tar
mkdir -p "$cache"
if [ ! -s "$rootfs_tar" ]; then
    echo "debootstrap from $mirror (once; about a minute)"
    rm -rf "$cache/rootfs.tmp"
    timeout 900 debootstrap --variant=minbase --include="$includes" bookworm "$cache/rootfs.tmp" "$mirror" \
        >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log" >&2; fail "debootstrap"; }
    rm -rf "$cache/rootfs.tmp/var/cache/apt/archives/"*.deb "$cache/rootfs.tmp/var/lib/apt/lists/"*_* 2>/dev/null || true
    tar -C "$cache/rootfs.tmp" --numeric-owner -cf "$rootfs_tar.tmp" .
    mv "$rootfs_tar.tmp" "$rootfs_tar"
    rm -rf "$cache/rootfs.tmp"
fi
root=$work/root
mkdir -p "$root"
tar -C "$root" --numeric-owner -xf "$rootfs_tar"
rm -rf "$root/run/systemd/system" # not booted: maintainer scripts must not try to start units
ok "extracted $(du -sh "$root" | cut -f1) from $rootfs_tar"
in_root() { timeout 300 chroot "$root" "$@"; }
mkdir -p "$root/pkgs"
cp "$work"/v1/*.deb "$work"/v2/*.deb "$work"/v1/*.rpm "$work"/v2/*.rpm "$root/pkgs/"
inroot_deb() { echo "/pkgs/$(basename "$(deb "$@")")"; }
inroot_rpm() { echo "/pkgs/$(basename "$(rpmfile "$@")")"; }

step "dpkg -i (first install) in the chroot"
in_root dpkg -i "$(inroot_deb v1 unity-controller "$version")" "$(inroot_deb v1 unity-agent "$version")"
for path in /usr/bin/unity-agent /usr/bin/unity-controller /usr/lib/systemd/system/unity-agent.service \
    /usr/lib/systemd/system/unity-controller.service /usr/share/man/man1/unity-agent.1.gz \
    /usr/share/doc/unity-controller/copyright; do
    expect_file "$root$path"
done
user_line=$(in_root getent passwd unity) || fail "no user unity"
uid=$(echo "$user_line" | cut -d: -f3)
[ "$uid" -lt 1000 ] || fail "unity is not a system user (uid $uid)"
expect_eq "$(echo "$user_line" | cut -d: -f6,7)" "/var/lib/unity-controller:/usr/sbin/nologin" "unity home and shell"
expect_stat "/var/lib/unity-controller" "unity:unity 700"
expect_stat "/var/lib/unity-agent" "root:root 700"
expect_stat "/etc/unity/controller.toml" "root:unity 640"
expect_stat "/etc/unity/agent.toml" "root:root 644"
for unit in unity-agent unity-controller; do
    [ -L "$root/etc/systemd/system/multi-user.target.wants/$unit.service" ] || fail "$unit.service not enabled"
done
ok "both units enabled (multi-user.target.wants)"
in_root unity-agent --version
in_root unity-controller --version
in_root unity-agent check-config >/dev/null || fail "unity-agent check-config with the shipped config"
in_root unity-controller check-config >/dev/null || fail "unity-controller check-config with the shipped config"
ok "check-config accepts both shipped configs"

step "systemd-analyze verify (units as installed)"
if ! in_root systemd-analyze verify --man=no unity-agent.service unity-controller.service \
    unity-agent-upgrade.path unity-agent-upgrade.service >"$work/verify.log" 2>&1 ||
    [ -s "$work/verify.log" ]; then
    cat "$work/verify.log" >&2
    fail "systemd-analyze verify failed or printed warnings (above)"
fi
ok "systemd-analyze verify clean"
in_root systemd-analyze security --offline=true --no-pager unity-agent.service unity-controller.service | tail -3

step "Upgrade to $upgrade_version: config edits and data survive"
echo 'interval = "30s" # local edit' >>"$root/etc/unity/agent.toml"
echo 'retention = "30d" # local edit' >>"$root/etc/unity/controller.toml"
echo keep >"$root/var/lib/unity-controller/marker"
echo keep >"$root/var/lib/unity-agent/marker"
in_root dpkg -i --force-confold "$(inroot_deb v2 unity-controller "$upgrade_version")" "$(inroot_deb v2 unity-agent "$upgrade_version")"
expect_eq "$(in_root dpkg-query -W -f='${Version}' unity-agent)" "$upgrade_version" "unity-agent version"
expect_eq "$(in_root dpkg-query -W -f='${Version}' unity-controller)" "$upgrade_version" "unity-controller version"
grep -q '^interval = "30s" # local edit$' "$root/etc/unity/agent.toml" || fail "agent.toml edit lost on upgrade"
grep -q '^retention = "30d" # local edit$' "$root/etc/unity/controller.toml" || fail "controller.toml edit lost on upgrade"
ok "config edits kept"
expect_file "$root/var/lib/unity-controller/marker"
expect_file "$root/var/lib/unity-agent/marker"
expect_stat "/etc/unity/controller.toml" "root:unity 640"
expect_stat "/var/lib/unity-controller" "unity:unity 700"
in_root unity-agent check-config >/dev/null || fail "unity-agent check-config with the edited config"
in_root unity-controller check-config >/dev/null || fail "unity-controller check-config with the edited config"

step "dpkg -r: binaries go, config and data stay"
in_root dpkg -r unity-agent unity-controller
expect_no_file "$root/usr/bin/unity-agent"
expect_no_file "$root/usr/bin/unity-controller"
expect_file "$root/etc/unity/agent.toml"
expect_file "$root/etc/unity/controller.toml"
expect_file "$root/var/lib/unity-controller/marker"
expect_file "$root/var/lib/unity-agent/marker"
expect_eq "$(in_root dpkg-query -W -f='${Status}' unity-agent)" "deinstall ok config-files" "unity-agent status"

step "dpkg -P: config and data go, the user stays"
in_root dpkg -P unity-agent unity-controller
expect_no_file "$root/var/lib/unity-controller"
expect_no_file "$root/var/lib/unity-agent"
expect_no_file "$root/etc/unity"
expect_no_file "$root/etc/systemd/system/multi-user.target.wants/unity-agent.service"
expect_no_file "$root/etc/systemd/system/multi-user.target.wants/unity-controller.service"
expect_no_file "$root/etc/systemd/system/unity-agent.service" # the mask from `remove`
expect_eq "$(in_root dpkg-statoverride --list /etc/unity/controller.toml || true)" "" "stat override after purge"
in_root getent passwd unity >/dev/null || fail "the unity user should stay after purge (Debian practice)"
ok "unity user kept"

step "rpm --root: install, upgrade, erase (scriptlets run in the Debian root)"
in_root userdel unity # so that the rpm %pre creates it
rpmdb=(--root "$root")
timeout 120 rpm "${rpmdb[@]}" --initdb
timeout 300 rpm "${rpmdb[@]}" -ivh --nodeps "$(rpmfile v1 unity-controller "$version")" "$(rpmfile v1 unity-agent "$version")"
rpm "${rpmdb[@]}" -q unity-agent unity-controller
in_root getent passwd unity >/dev/null || fail "rpm %pre did not create the unity user"
expect_stat "/var/lib/unity-controller" "unity:unity 700"
expect_stat "/var/lib/unity-agent" "root:root 700"
expect_stat "/etc/unity/controller.toml" "root:unity 640"
expect_stat "/usr/bin/unity-agent" "root:root 755"
rpm "${rpmdb[@]}" -V --nodeps unity-agent unity-controller || fail "rpm -V after install"
expect_eq "$(rpm "${rpmdb[@]}" -qc unity-agent unity-controller | tr '\n' ' ')" \
    "/etc/unity/agent.toml /etc/unity/controller.toml " "rpm -qc"
echo 'interval = "30s" # local edit' >>"$root/etc/unity/agent.toml"
echo keep >"$root/var/lib/unity-controller/marker"
timeout 300 rpm "${rpmdb[@]}" -Uvh --nodeps "$(rpmfile v2 unity-controller "$upgrade_version")" "$(rpmfile v2 unity-agent "$upgrade_version")"
expect_eq "$(rpm "${rpmdb[@]}" -q --qf '%{VERSION}' unity-agent)" "$upgrade_version" "unity-agent rpm version"
grep -q '^interval = "30s" # local edit$' "$root/etc/unity/agent.toml" || fail "agent.toml edit lost on rpm upgrade"
ok "config edit kept"
timeout 300 rpm "${rpmdb[@]}" -e unity-agent unity-controller
expect_no_file "$root/usr/bin/unity-agent"
expect_file "$root/var/lib/unity-controller/marker"
expect_file "$root/etc/unity/agent.toml.rpmsave"
ok "rpm -e keeps data and saves the edited config as .rpmsave"

if [ "$run_podman" = 0 ]; then
    step "Podman/systemd boot test skipped (--no-podman)"
    exit 0
fi

step "Podman: image of the rootfs (cached)"
# Configuration and storage outside the temp dir: podman's cleanup process (started by conmon
# when a container exits) may still read them after this script has finished. runroot and
# tmp_dir are runtime state, so they live in /run, apart from any other podman user's.
podman_conf=$cache/podman
mkdir -p "$podman_conf" "$cache/containers" /run/unity-ci/podman
cat >"$podman_conf/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
tmp_dir = "/run/unity-ci/libpod"
events_logfile_path = "/run/unity-ci/libpod/events/events.log"
EOF
cat >"$podman_conf/storage.conf" <<EOF
[storage]
driver = "overlay"
runroot = "/run/unity-ci/podman"
graphroot = "$cache/containers"
EOF
export CONTAINERS_CONF=$podman_conf/containers.conf CONTAINERS_STORAGE_CONF=$podman_conf/storage.conf
image=localhost/unity-ci-bookworm-systemd:$key
if ! timeout 60 podman image exists "$image"; then
    timeout 300 podman import "$rootfs_tar" "$image" >/dev/null || fail "podman import"
fi
ok "$image"

step "Podman: boot systemd"
container=unity-ci-systemd-$$
# No network: the agent reaches the controller on the container's loopback, and nothing
# collides with ports on the host.
timeout 120 podman run -d --name "$container" --network=none --systemd=always \
    -v "$work/v1:/pkgs/v1:ro" -v "$work/v2:/pkgs/v2:ro" -v "$work/v3:/pkgs/v3:ro" "$image" /sbin/init >/dev/null ||
    fail "podman run"
in_ct() { timeout 120 podman exec "$container" "$@"; }
wait_for() { # SECONDS WHAT COMMAND...
    local deadline=$((SECONDS + $1)) what=$2
    shift 2
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || fail "timed out after ${deadline}s waiting for $what"
        sleep 0.5
    done
    ok "$what"
}
system_up() { in_ct systemctl is-system-running 2>/dev/null | grep -Eq '^(running|degraded)$'; }
wait_for 90 "systemd is up in the container" system_up
unit_prop() { in_ct systemctl show -P "$2" "$1"; }
expect_active() { # UNIT
    local state
    state=$(unit_prop "$1" ActiveState)
    [ "$state" = active ] || fail "$1 is $state, not active"
    expect_eq "$(unit_prop "$1" Type)/$(unit_prop "$1" SubState)" "notify/running" "$1 type/state (READY=1 received)"
}
watchdog_fed() { [ "$(unit_prop "$1" WatchdogTimestampMonotonic)" != 0 ]; }
ct_deb() { echo "/pkgs/$1/$(basename "$(deb "$@")")"; }

step "Podman: install the controller (postinst starts it)"
in_ct dpkg -i "$(ct_deb v1 unity-controller "$version")"
expect_active unity-controller
wait_for 30 "unity-controller feeds the watchdog" watchdog_fed unity-controller

step "Podman: install the agent (not enrolled: the start is skipped, not failed)"
in_ct dpkg -i "$(ct_deb v1 unity-agent "$version")"
expect_eq "$(unit_prop unity-agent ActiveState)/$(unit_prop unity-agent ConditionResult)" "inactive/no" "unity-agent before enrollment"
expect_eq "$(unit_prop unity-agent UnitFileState)" "enabled" "unity-agent enablement"

step "Podman: enroll the agent, systemctl enable --now unity-agent"
token_json=$(in_ct unity-controller token create --json) || fail "unity-controller token create"
join_command=$(printf '%s' "$token_json" | tr -d '\n' | sed -n 's/.*"join_command": *"\([^"]*\)".*/\1/p')
[ -n "$join_command" ] || fail "no join_command in: $token_json"
# The advertised address is the container's host name; the container has only loopback.
read -r -a join_args <<<"$(echo "$join_command" | sed 's/--controller [^ ]*/--controller 127.0.0.1:7443/')"
[ "${join_args[0]}" = unity-agent ] || fail "unexpected join command: $join_command"
in_ct "${join_args[@]}"
in_ct systemctl enable --now unity-agent
expect_active unity-agent
wait_for 30 "unity-agent feeds the watchdog" watchdog_fed unity-agent
agent_connected() { in_ct unity-agent status --json | grep -q '"connection": *"connected"'; }
wait_for 60 "unity-agent connected to the controller" agent_connected
if in_ct journalctl --no-pager -o cat -u unity-agent -u unity-controller | grep -q $'\e'; then
    fail "colour escapes in the journal (NO_COLOR in the units?)"
fi
ok "plain-text log lines in the journal"

step "Podman: stop, start, restart"
for unit in unity-agent unity-controller; do
    in_ct systemctl stop "$unit"
    expect_eq "$(unit_prop $unit ActiveState)/$(unit_prop $unit Result)/$(unit_prop $unit ExecMainStatus)" \
        "inactive/success/0" "$unit after stop (clean exit on SIGTERM)"
    in_ct systemctl start "$unit"
    expect_active "$unit"
    pid=$(unit_prop "$unit" MainPID)
    in_ct systemctl restart "$unit"
    expect_active "$unit"
    [ "$(unit_prop "$unit" MainPID)" != "$pid" ] || fail "$unit: restart kept PID $pid"
    ok "$unit restarted (PID $pid -> $(unit_prop "$unit" MainPID))"
done
wait_for 60 "unity-agent reconnected after the restarts" agent_connected

step "Podman: upgrade to $upgrade_version restarts both"
pids="$(unit_prop unity-agent MainPID) $(unit_prop unity-controller MainPID)"
in_ct dpkg -i "$(ct_deb v2 unity-controller "$upgrade_version")" "$(ct_deb v2 unity-agent "$upgrade_version")"
expect_active unity-controller
expect_active unity-agent
[ "$(unit_prop unity-agent MainPID) $(unit_prop unity-controller MainPID)" != "$pids" ] || fail "upgrade did not restart"
ok "restarted on upgrade"
wait_for 60 "unity-agent reconnected after the upgrade" agent_connected

step "Podman: systemd-analyze security"
in_ct systemd-analyze security --no-pager unity-agent.service unity-controller.service | tee "$work/security.txt"
score() { awk -v unit="$1.service" '$1 == unit { print $2 }' "$work/security.txt"; }
# Ceilings: raise them only together with a comment in the unit and the score in README.md.
awk -v s="$(score unity-agent)" 'BEGIN { exit !(s <= 3.5) }' || fail "unity-agent exposure $(score unity-agent) > 3.5"
awk -v s="$(score unity-controller)" 'BEGIN { exit !(s <= 1.5) }' || fail "unity-controller exposure $(score unity-controller) > 1.5"
ok "exposure: unity-agent $(score unity-agent), unity-controller $(score unity-controller)"

step "Podman: a package build handed over is installed by unity-agent-upgrade (root)"
# Back to $version (the .1 package version above is not semver), then hand over the same
# package at $pkg_upgrade_version as the agent does: pending.deb, the controller-signed
# manifest (agent-builds add, signed with the controller's release key, which the agent received
# after its welcome), request.json last. Sending it over the session (`agents update`) is
# tested by the e2e suite; here the root side and the units are.
in_ct dpkg -i "$(ct_deb v1 unity-agent "$version")"
wait_for 60 "unity-agent reconnected at $version" agent_connected
wait_for 30 "the agent holds the controller's release keys" in_ct test -s /var/lib/unity-agent/release-keys.json
expect_eq "$(unit_prop unity-agent-upgrade.path ActiveState)" "active" "unity-agent-upgrade.path (wanted by unity-agent)"
pkg_file=$(basename "$(deb v3 unity-agent "$pkg_upgrade_version")")
in_ct unity-controller agent-builds add "/pkgs/v3/$pkg_file" --arch "$rpm_arch" --kind deb --version "$pkg_upgrade_version" ||
    fail "agent-builds add"
build_dir=/var/lib/unity-controller/agent-builds/$rpm_arch-deb-$pkg_upgrade_version
printf '%s' '{"allow_downgrade":false,"confirm_within_secs":120}' >"$work/request.json"
timeout 60 podman cp "$work/request.json" "$container:/tmp/request.json"
hand_over() { # MANIFEST-FILE-IN-CONTAINER: the files in the agent's order, each renamed into place
    in_ct sh -ec "
        rm -f /var/lib/unity-agent/upgrade/result.json
        install -d -m 0700 /var/lib/unity-agent/upgrade
        cd /var/lib/unity-agent/upgrade
        cp $build_dir/build .pending.deb && mv .pending.deb pending.deb
        cp $1 .pending.manifest && mv .pending.manifest pending.manifest
        cp /tmp/request.json .request && mv .request request.json"
}
upgrade_result() { in_ct cat /var/lib/unity-agent/upgrade/result.json 2>/dev/null; }
# A forged manifest: the controller's, with the signature's last byte changed.
in_ct cat "$build_dir/manifest.postcard" >"$work/manifest.postcard"
manifest_size=$(stat -c %s "$work/manifest.postcard")
last_byte=$(tail -c 1 "$work/manifest.postcard" | od -An -tu1 | tr -d ' ')
{
    head -c $((manifest_size - 1)) "$work/manifest.postcard"
    printf "\\$(printf %o $(((last_byte + 1) % 256)))"
} >"$work/forged.postcard"
expect_eq "$(stat -c %s "$work/forged.postcard")" "$manifest_size" "forged manifest size"
! cmp -s "$work/forged.postcard" "$work/manifest.postcard" || fail "the forged manifest is the real one"
timeout 60 podman cp "$work/forged.postcard" "$container:/tmp/forged"
agent_pid=$(unit_prop unity-agent MainPID)
hand_over /tmp/forged
wait_for 60 "apply-upgrade answered the forged request" upgrade_result
upgrade_result | grep -q '"outcome": "refused"' || fail "forged manifest not refused: $(upgrade_result)"
upgrade_result | grep -q 'signature' || fail "forged manifest refused for another reason: $(upgrade_result)"
expect_eq "$(in_ct dpkg-query -W -f='${Version}' unity-agent)" "$version" "unity-agent version after the forged request"
expect_eq "$(unit_prop unity-agent MainPID)" "$agent_pid" "unity-agent not restarted by the forged request"
in_ct test ! -e /var/lib/unity-agent/upgrade/pending.deb || fail "pending.deb left after the refusal"
ok "forged manifest refused, nothing installed"
# The real one.
hand_over "$build_dir/manifest.postcard"
wait_for 180 "apply-upgrade finished the real request" upgrade_result
upgrade_result | grep -q '"outcome": "confirmed"' || fail "package upgrade not confirmed: $(upgrade_result)"
expect_eq "$(in_ct dpkg-query -W -f='${Version}' unity-agent)" "$pkg_upgrade_version" "unity-agent version after apply-upgrade"
expect_active unity-agent
[ "$(unit_prop unity-agent MainPID)" != "$agent_pid" ] || fail "the package upgrade did not restart the agent"
expect_eq "$(unit_prop unity-agent-upgrade.service Result)" "success" "unity-agent-upgrade.service result"
in_ct test ! -e /var/lib/unity-agent/self-update-trial.json || fail "trial record left after confirmation"
in_ct test -s /var/lib/unity-agent-upgrade/installed.deb || fail "installed package not kept for a rollback"
wait_for 60 "unity-agent connected after the package upgrade" agent_connected
in_ct journalctl --no-pager -o cat -u unity-agent-upgrade | tail -5

step "Podman: purge stops both and deletes their data"
in_ct dpkg -P unity-agent unity-controller
for unit in unity-agent unity-controller; do
    state=$(in_ct systemctl is-active "$unit" || true)
    [ "$state" != active ] || fail "$unit still active after purge"
    in_ct test ! -e "/var/lib/$unit" || fail "/var/lib/$unit left after purge"
done
in_ct test ! -e /var/lib/unity-agent-upgrade || fail "/var/lib/unity-agent-upgrade left after purge"
ok "both stopped, data deleted"
