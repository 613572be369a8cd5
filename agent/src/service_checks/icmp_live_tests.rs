//! ICMP's success path: a ping to 127.0.0.1 that is answered. The kernel gives unprivileged
//! ICMP sockets only to groups within `net.ipv4.ping_group_range`, which is `1 0` (no group)
//! on this machine and per network namespace. So the outer test re-runs this test binary
//! inside a fresh network namespace (`unshare -n`, root), brings its loopback up and allows
//! every group there only; the host's namespace and its sysctl are never touched. The inner
//! test runs the real check and must see the echo reply. The refusal's clear message is
//! tested in `tests.rs` (`issue_18_icmp_to_loopback_or_a_clear_refusal`).
#![allow(clippy::disallowed_methods)] // unshare and the test binary are real processes.

use super::*;
use std::process::Command;

/// Set for the inner run (inside the namespace).
const INSIDE: &str = "UNITY_TEST_INSIDE_NETNS";

#[test]
fn issue_18_icmp_echo_to_loopback_is_answered_in_its_own_network_namespace() {
    let host_range = std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range").unwrap();
    let exe = std::env::current_exe().unwrap();
    let script = format!(
        "ip link set lo up && echo '0 2147483647' > /proc/sys/net/ipv4/ping_group_range && \
         exec '{}' --exact --ignored --nocapture \
         service_checks::icmp_live_tests::issue_18_inner_icmp_echo_in_a_namespace",
        exe.display()
    );
    let output = Command::new("unshare")
        .args(["--net", "sh", "-c", &script])
        .env(INSIDE, "1")
        .output()
        .expect("unshare (util-linux)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "inner run failed (root needed for unshare -n): {stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("1 passed"),
        "the inner test did not run: {stdout}"
    );
    assert_eq!(
        std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range").unwrap(),
        host_range,
        "the host's sysctl is untouched"
    );
}

/// Runs only inside the namespace the test above makes.
#[tokio::test]
#[ignore = "run by issue_18_icmp_echo_to_loopback_is_answered_in_its_own_network_namespace"]
async fn issue_18_inner_icmp_echo_in_a_namespace() {
    assert_eq!(
        std::env::var(INSIDE).as_deref(),
        Ok("1"),
        "only inside the namespace made by the outer test"
    );
    let ping = ServiceCheck {
        name: "loopback".into(),
        kind: ServiceCheckKind::Icmp {
            host: "127.0.0.1".into(),
        },
        interval_secs: 30,
        timeout_ms: 2000,
    };
    let runner = Runner {
        roots: tls::Roots::system(),
    };
    let result = run_one(&runner, &ping, 0).await;
    assert!(result.up, "{result:?}");
    assert!(result.latency_ms.is_some(), "{result:?}");
    // Nothing answers an address that is not there: down, with a reason.
    let nowhere = ServiceCheck {
        kind: ServiceCheckKind::Icmp {
            host: "192.0.2.1".into(),
        },
        timeout_ms: 500,
        ..ping
    };
    let result = run_one(&runner, &nowhere, 0).await;
    assert!(!result.up && result.reason.is_some(), "{result:?}");
}
