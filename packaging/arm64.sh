#!/usr/bin/env bash
# arm64 (aarch64) CI, run by .ci/run after packaging/test.sh, as root on a Debian 12 amd64 machine:
#
#   packaging/arm64.sh [--no-tests] [--keep]
#
#  1. installs the Debian packages it needs (apt-get update first): the cross gcc and libc
#     (gcc-aarch64-linux-gnu, libc6-dev-arm64-cross), qemu-user-static, lintian, rpmlint and
#     packaging/build.sh's dpkg-dev rpm help2man binutils;
#  2. makes sure the Rust target aarch64-unknown-linux-gnu is installed (`rustup target add`,
#     which downloads from static.rust-lang.org). If it cannot be installed, the step is SKIPPED
#     with a banner saying why and exits 0; UNITY_REQUIRE_ARM64=1 makes that a failure;
#  3. builds the arm64 .deb and .rpm (packaging/build.sh --arch arm64: cross-compiled, binaries in
#     target/aarch64-unknown-linux-gnu/, so the native builds in target/ stay as they are);
#  4. checks them: dpkg-deb --info (Architecture: arm64, Depends on the real libc6, not the
#     cross packages), AArch64 ELF binaries, lintian (no errors or warnings), rpm -qip (Arch
#     aarch64), rpm -K and rpmlint (no errors);
#  5. runs the packaged (stripped) binaries under qemu-aarch64: `unity-agent collect system
#     --json` must print valid JSON with the expected series and this machine's memory size,
#     `unity-controller check-config` must accept the shipped config; prints the binary sizes;
#  6. runs the unit tests for aarch64 under qemu-aarch64 (the cargo runner): unity-shared,
#     unity-agent and unity-controller --lib, all but the few named in AGENT_SKIP and
#     CONTROLLER_SKIP below, each with its reason (--no-tests skips this step).
#
# Prints the time of every step; its budget in CI is about 15 minutes (packaging/README.md).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
run_tests=1
keep=0
for arg in "$@"; do
    case $arg in
        --no-tests) run_tests=0 ;;
        --keep) keep=1 ;;
        -h | --help) sed -n '2,24s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) echo "arm64.sh: unknown argument $arg" >&2; exit 64 ;;
    esac
done

triple=aarch64-unknown-linux-gnu
sysroot=/usr/aarch64-linux-gnu
# Unit tests left out under qemu, by name (`cargo test -- --skip NAME` skips every test whose path
# contains NAME); everything else runs. Tests that re-run their own test binary as a child
# cannot run here: qemu-aarch64 runs the parent, but the kernel cannot exec the AArch64 child
# without a binfmt_misc registration, which these machines do not have (../shared/TESTBED-2.md
# §8). They test host behaviour, not code generation, and run in the native suite.
AGENT_SKIP=(
    # unshare -n, then execs the test binary inside the namespace (ICMP echo to loopback).
    service_checks::icmp_live_tests::issue_18_icmp_echo_to_loopback_is_answered_in_its_own_network_namespace
    # execs the test binary with LD_PRELOAD=libnss_wrapper.so (an amd64 library, too).
    ssh_access::tests::issue_16_users_only_known_to_nss_are_managed
)
CONTROLLER_SKIP=(
    # execs the test binary to abort it mid-write (crash safety of the series files).
    storage::series::tests::crash_loses_nothing_acknowledged
)

export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8
started=$SECONDS
step_started=$SECONDS
current_step="setup"
timings=()
step() {
    [ "$current_step" = setup ] || timings+=("$(printf '%4ds  %s' $((SECONDS - step_started)) "$current_step")")
    current_step=$*
    step_started=$SECONDS
    printf '\n==> [%4ds] arm64: %s\n' $((SECONDS - started)) "$*"
}
fail() { echo "FAIL (arm64: $current_step): $*" >&2; exit 1; }
ok() { echo "  ok: $*"; }
expect_eq() { # ACTUAL EXPECTED WHAT
    [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"
    ok "$3 = $2"
}

work=$(mktemp -d /tmp/unity-arm64.XXXXXX)
cleanup() {
    local status=$?
    if [ "$keep" = 0 ]; then rm -rf "$work"; else echo "kept $work"; fi
    if [ "$status" = 0 ]; then
        step done
        printf '\narm64 step times:\n'
        printf '  %s\n' "${timings[@]}"
        printf 'arm64 packages and tests passed in %ds\n' $((SECONDS - started))
    else
        printf '\narm64 FAILED in step "%s" after %ds\n' "$current_step" $((SECONDS - started)) >&2
    fi
}
trap cleanup EXIT

skip() { # REASON...
    local line=================================================================================
    printf '\n%s\n  arm64 SKIPPED: %s\n  Nothing was built or tested for arm64.\n%s\n\n' "$line" "$*" "$line"
    if [ "${UNITY_REQUIRE_ARM64:-0}" = 1 ]; then
        fail "UNITY_REQUIRE_ARM64=1 and arm64 cannot be built"
    fi
    trap - EXIT
    rm -rf "$work"
    exit 0
}

step "Debian packages (cross gcc and libc, qemu-user-static, lintian, rpmlint)"
needed=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static lintian rpmlint rpm dpkg-dev
    help2man binutils fakeroot python3)
missing=()
for package in "${needed[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}"
    { timeout 300 apt-get update && timeout 900 apt-get install -y --no-install-recommends "${missing[@]}"; } \
        >"$work/apt.log" 2>&1 || { tail -20 "$work/apt.log" >&2; fail "apt-get install ${missing[*]}"; }
fi
ok "all present"
qemu=(qemu-aarch64-static -L "$sysroot")

step "Rust target $triple"
if [ -d "$(rustc --print sysroot)/lib/rustlib/$triple/lib" ]; then
    ok "installed"
elif ! command -v rustup >/dev/null; then
    skip "the Rust standard library for $triple is not installed and there is no rustup to install it"
elif timeout 600 rustup target add "$triple" >"$work/rustup.log" 2>&1; then
    ok "rustup target add $triple"
else
    cat "$work/rustup.log" >&2
    skip "\`rustup target add $triple\` failed (above): its server, static.rust-lang.org, is" \
        "unreachable from here, and no package registry we reach ships rust-std for $triple" \
        "at this toolchain's version ($(rustc --version))"
fi

# Cargo for aarch64: Debian's cross gcc links (and compiles ring's C), qemu runs the tests. Set
# here, not in a .cargo/config, so native builds never see them.
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="${qemu[*]}"

step "Build the arm64 packages (packaging/build.sh --arch arm64)"
timeout 2400 "$repo/packaging/build.sh" --arch arm64 --out "$work/pkgs"
version=$(cd "$repo" && cargo pkgid -p unity-agent | sed 's/.*[#@]//')
deb() { echo "$work/pkgs/$1_${version}_arm64.deb"; }
rpmfile() { echo "$work/pkgs/$1-${version//-/_}-1.aarch64.rpm"; }
for package in unity-agent unity-controller; do
    [ -f "$(deb $package)" ] || fail "missing $(deb $package)"
    [ -f "$(rpmfile $package)" ] || fail "missing $(rpmfile $package)"
done
ok "$(cd "$work/pkgs" && echo *)"

step "dpkg-deb --info, the binaries' ELF machine"
for package in unity-agent unity-controller; do
    file=$(deb $package)
    dpkg-deb --info "$file"
    expect_eq "$(dpkg-deb -f "$file" Architecture)" arm64 "$package.deb Architecture"
    depends=$(dpkg-deb -f "$file" Depends)
    echo "$depends" | grep -Eq '(^|, )libc6 \(>= 2\.[0-9]+\)' || fail "$package.deb Depends lacks libc6: $depends"
    case $depends in
        *-cross* | *:arm64*) fail "$package.deb depends on a cross-build package: $depends" ;;
    esac
    ok "$package.deb Depends: $depends"
    dpkg-deb -x "$file" "$work/root"
    machine=$(readelf -h "$work/root/usr/bin/$package" | sed -n 's/^ *Machine: *//p')
    expect_eq "$machine" AArch64 "ELF machine of /usr/bin/$package"
    readelf -S "$work/root/usr/bin/$package" | grep -q ' \.symtab ' && fail "/usr/bin/$package is not stripped"
    ok "/usr/bin/$package stripped"
done

step "lintian (fails on errors and warnings)"
timeout 600 lintian --fail-on error,warning --info "$(deb unity-agent)" "$(deb unity-controller)" ||
    fail "lintian reported errors or warnings (above)"
ok "lintian clean"

step "rpm -qip / -K, rpmlint"
for package in unity-agent unity-controller; do
    file=$(rpmfile $package)
    rpm -qip "$file"
    expect_eq "$(rpm -qp --qf '%{ARCH}' "$file")" aarch64 "$package.rpm Arch"
    rpm -K "$file" | grep -q 'digests OK' || fail "rpm -K $file"
    ok "rpm -K $file"
done
# rpmlint (openSUSE's and Fedora's rules): warnings are printed, errors fail; the deliberate
# exceptions (unsigned, private data directories, a secret config) are filtered, each with its
# reason, in packaging/rpm/rpmlint.toml.
timeout 300 rpmlint -c "$repo/packaging/rpm/rpmlint.toml" "$(rpmfile unity-agent)" "$(rpmfile unity-controller)" ||
    fail "rpmlint reported errors (above)"
ok "rpmlint: no errors"

step "The packaged binaries under qemu-aarch64"
agent=$work/root/usr/bin/unity-agent
controller=$work/root/usr/bin/unity-controller
"${qemu[@]}" "$agent" --version
"${qemu[@]}" "$controller" --version
timeout 120 "${qemu[@]}" "$agent" collect system --json >"$work/system.json" ||
    fail "unity-agent collect system --json exited with $?"
memtotal_kib=$(awk '$1 == "MemTotal:" { print $2 }' /proc/meminfo)
python3 - "$work/system.json" "$memtotal_kib" "$(nproc --all)" <<'EOF' || fail "unity-agent collect system --json (above)"
import json, sys

path, memtotal_kib, cpus = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
samples = json.load(open(path))
assert isinstance(samples, list) and samples, "not a non-empty JSON array"
by_metric = {}
for s in samples:
    assert set(s) == {"metric", "labels", "value"}, f"unexpected fields {sorted(s)}"
    assert isinstance(s["metric"], str) and isinstance(s["labels"], dict), s
    assert isinstance(s["value"], (int, float)), s
    by_metric.setdefault(s["metric"], []).append(s)
for name in ["cpu_usage_ratio", "memory_total_bytes", "memory_available_bytes", "memory_used_bytes",
             "swap_total_bytes", "load_average", "uptime_seconds", "filesystem_size_bytes"]:
    assert name in by_metric, f"no {name} in {sorted(by_metric)}"
# qemu-user passes /proc through: the figures are this machine's.
memory = by_metric["memory_total_bytes"][0]["value"]
assert memory == memtotal_kib * 1024, f"memory_total_bytes {memory} != MemTotal {memtotal_kib} KiB"
cpu = {s["labels"]["cpu"]: s["value"] for s in by_metric["cpu_usage_ratio"]}
assert "total" in cpu and len(cpu) == cpus + 1, f"cpu_usage_ratio for {sorted(cpu)}, {cpus} CPUs"
assert all(0.0 <= v <= 1.0 for v in cpu.values()), cpu
assert sorted(s["labels"]["period"] for s in by_metric["load_average"]) == ["15m", "1m", "5m"]
assert by_metric["uptime_seconds"][0]["value"] > 0
print(f"  ok: {len(samples)} samples, {len(by_metric)} series names, memory_total_bytes = MemTotal, "
      f"{cpus} CPUs + total")
EOF
timeout 120 "${qemu[@]}" "$controller" check-config --config "$work/root/etc/unity/controller.toml" >/dev/null ||
    fail "unity-controller check-config with the shipped config"
ok "unity-controller check-config accepts the shipped config"
echo "arm64 binary sizes (stripped, as packaged):"
for binary in "$agent" "$controller"; do
    printf '  %-18s %9d bytes (%s MiB)\n' "${binary##*/}" "$(stat -c %s "$binary")" \
        "$(awk -v b="$(stat -c %s "$binary")" 'BEGIN { printf "%.2f", b / 1048576 }')"
done

if [ "$run_tests" = 0 ]; then
    step "Unit tests under qemu skipped (--no-tests)"
    exit 0
fi

cd "$repo"
step "Unit tests under qemu-aarch64: unity-shared (whole)"
timeout 1200 cargo test --locked --target "$triple" -p unity-shared --lib
skip_args() { for name in "$@"; do printf -- '--skip\n%s\n' "$name"; done; }
step "Unit tests under qemu-aarch64: unity-agent (all but ${#AGENT_SKIP[@]}, named above)"
mapfile -t skips < <(skip_args "${AGENT_SKIP[@]}")
timeout 1800 cargo test --locked --target "$triple" -p unity-agent --lib -- "${skips[@]}"
step "Unit tests under qemu-aarch64: unity-controller (all but ${#CONTROLLER_SKIP[@]}, named above)"
mapfile -t skips < <(skip_args "${CONTROLLER_SKIP[@]}")
timeout 2400 cargo test --locked --target "$triple" -p unity-controller --lib -- "${skips[@]}"
