//! Rule tests on real tool output: the agent's parsers and verdicts turn committed fixtures
//! (`agent/src/collect/*/testdata`) into the shared model, then the rules run over it.

use super::*;
use proptest::prelude::*;
use unity_agent::collect::{mdraid, smart, zfs};
use unity_shared::model::database::{DatabaseEndpoint, DatabaseEngine};
use unity_shared::model::storage::{ArrayResult, PoolResult, SmartDeviceResult};

const NOW: i64 = 1_700_000_000_000;

static NAS: std::sync::LazyLock<AgentId> =
    std::sync::LazyLock::new(|| AgentId::new("nas").unwrap());

fn testdata(room: &str, name: &str) -> String {
    let path = format!(
        "{}/../agent/src/collect/{room}/testdata/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

fn empty_state() -> StorageState {
    serde_json::from_str(
        r#"{"smart":{"outcome":"ok","devices":[]},
            "zfs":{"outcome":"ok","pools":[],"capacity":[],"datasets":[],"warnings":[],"errors":[]},
            "raid":{"outcome":"ok","arrays":[],"warnings":[],"errors":[]},
            "stack":{"drives":[],"unlinked":[]}}"#,
    )
    .unwrap()
}

/// A storage state from fixtures: SMART outputs by device path, a `zpool status` and an
/// mdstat (empty names are left out).
fn storage(smart_fixtures: &[(&str, &str)], zpool_status: &str, mdstat: &str) -> StorageState {
    let mut state = empty_state();
    for (device, name) in smart_fixtures {
        let (report, _) = smart::parse(&testdata("smart", name)).unwrap();
        state.smart.devices.push(SmartDeviceResult {
            device: (*device).to_owned(),
            device_type: None,
            verdict: Some(smart::verdict(&report, &smart::SmartThresholds::default())),
            report: Some(report),
            warnings: vec![],
            error: None,
        });
    }
    if !zpool_status.is_empty() {
        let (status, _) = zfs::parse_status(&testdata("zfs", zpool_status)).unwrap();
        for pool in status.pools {
            state.zfs.pools.push(PoolResult {
                verdict: zfs::verdict(&pool, &zfs::ZfsThresholds::default(), None),
                status: pool,
            });
        }
    }
    if !mdstat.is_empty() {
        let (parsed, _) = mdraid::parse_mdstat(&testdata("mdraid", mdstat)).unwrap();
        for array in parsed.arrays {
            state.raid.arrays.push(ArrayResult {
                verdict: mdraid::array_verdict(&array, None),
                array,
                detail: None,
            });
        }
    }
    state
}

fn host<'a>(storage: Option<&'a StorageState>) -> HostState<'a> {
    HostState {
        agent_id: &NAS,
        revoked: false,
        last_seen_ms: NOW - 1000,
        storage,
        databases: None,
        filesystems: &[],
        instances: &[],
        checks: &[],
        latest: &[],
    }
}

/// Checks the conditions as `key | severity | summary` lines.
#[track_caller]
fn check(host: HostState, expect: &[&str]) {
    let actual: Vec<String> = evaluate(&host, NOW, &RuleConfig::default())
        .iter()
        .map(|c| format!("{} | {} | {}", c.key, c.severity.as_str(), c.summary))
        .collect();
    assert_eq!(actual, expect);
}

#[test]
fn failing_disk_is_critical() {
    let state = storage(
        &[
            (
                "/dev/sda",
                "linuxhw-ata-hp-mb1000gcehh-realloc-FAILED-7.1.txt",
            ),
            (
                "/dev/sdb",
                "linuxfabrik-ata-seagate-ironwolf-st12000vn0007-FAILED-7.0.txt",
            ),
        ],
        "",
        "",
    );
    // The first drive's serial is redacted to "--": the key falls back to the device name.
    check(
        host(Some(&state)),
        &[
            "disk/nas/sda/smart | critical | Disk /dev/sda MB1000GCEHH is failing: The drive's overall SMART self-assessment is FAILED",
            "disk/nas/0x5000c500b335fb73/smart | critical | Disk /dev/sdb ST12000VN0007-2GS116 (serial LINUXFABRIK) is failing: The drive's overall SMART self-assessment is FAILED",
        ],
    );
}

#[test]
fn a_disk_that_needs_a_look_is_a_warning_in_plain_words() {
    // Real smartctl JSON of an HGST drive with UDMA CRC errors (a cable): a warning, and the
    // summary reads "needs a look", not "is needs a look".
    let state = storage(
        &[(
            "/dev/sdj",
            "smartctl-exporter-sat-hgst-hus724020ale640-exit64.json",
        )],
        "",
        "",
    );
    let conditions = evaluate(&host(Some(&state)), NOW, &RuleConfig::default());
    let disk = conditions
        .iter()
        .find(|condition| condition.key.ends_with("/smart"))
        .unwrap_or_else(|| panic!("{conditions:?}"));
    assert_eq!(disk.severity, Severity::Warning, "{disk:?}");
    assert!(
        disk.summary
            .starts_with("Disk /dev/sdj HGST HUS724020ALE640")
            && disk.summary.contains(" needs a look: "),
        "{}",
        disk.summary
    );
    assert!(!disk.summary.contains(" is needs"), "{}", disk.summary);
}

#[test]
fn healthy_disks_raise_nothing() {
    let state = storage(
        &[
            ("/dev/nvme0", "pysmart-nvme-wd-sn850x-wds200t1x0e-7.4.txt"),
            ("/dev/sdb", "telegraf-standby-7.4.txt"),
        ],
        "status-two-pools-raidz1-and-nvme-mirror-scrubbed.txt",
        "proc-mdstat-raid0-loop.txt",
    );
    check(host(Some(&state)), &[]);
}

#[test]
fn degraded_pool_names_the_missing_disk() {
    let state = storage(&[], "status-degraded-device-removed.txt", "");
    check(
        host(Some(&state)),
        &["pool/nas/dummy | critical | dummy: DEGRADED, 1 of 2 disks REMOVED"],
    );
}

#[test]
fn faulted_pool_and_failed_array() {
    let state = storage(
        &[],
        "status-unavail-permanent-errors-file-list.txt",
        "proc-mdstat-raid1-6way-degraded-failed.txt",
    );
    check(
        host(Some(&state)),
        &[
            "pool/nas/tank | critical | tank: UNAVAIL, 1 of 2 disks UNAVAIL",
            "array/nas/md1 | warning | md1: 4 of 6 disks working, 1 faulty",
        ],
    );
}

#[test]
fn offline_hosts_but_not_revoked_or_never_seen_ones() {
    let offline = HostState {
        last_seen_ms: NOW - 600_000,
        ..host(None)
    };
    check(
        offline,
        &["host/nas/offline | critical | Host offline: nothing heard for 10 min"],
    );
    check(
        HostState {
            revoked: true,
            ..offline
        },
        &[],
    );
    check(
        HostState {
            last_seen_ms: 0,
            ..offline
        },
        &[],
    );
    check(host(None), &[]);
}

#[test]
fn unreachable_databases_are_critical() {
    let instance = |port: u16, reachable: bool| DatabaseInstance {
        engine: DatabaseEngine::Postgres,
        endpoint: DatabaseEndpoint::Tcp {
            host: "127.0.0.1".into(),
            port,
        },
        other_endpoints: vec![],
        discovered_by: vec![],
        process: None,
        container: None,
        version: None,
        reachable,
        auth_required: None,
        tls_offered: None,
        latency_ms: None,
        error: (!reachable).then(|| "connection refused".to_owned()),
        health: None,
    };
    let instances = [instance(5432, true), instance(5433, false)];
    check(
        HostState {
            databases: Some(&instances),
            ..host(None)
        },
        &["database/nas/127.0.0.1:5433/down | critical | PostgreSQL at 127.0.0.1:5433 is down: connection refused"],
    );
}

fn fs(mount: &str, fs_type: &str, used_percent: f64) -> FilesystemUsage {
    FilesystemUsage {
        mount: mount.into(),
        fs_type: fs_type.into(),
        size_bytes: 1e12,
        available_bytes: 1e12 * (100.0 - used_percent) / 100.0,
    }
}

#[test]
fn filesystems_warn_at_90_and_are_critical_at_95() {
    let filesystems = [
        fs("/", "ext4", 50.0),
        fs("/srv", "ext4", 91.0),
        fs("/tank/media", "zfs", 96.5),
        fs("/snap/core/1", "squashfs", 100.0),
    ];
    check(
        HostState {
            filesystems: &filesystems,
            ..host(None)
        },
        &[
            "filesystem/nas//srv/full | warning | /srv is 91% full (90.0 GB of 1.0 TB left)",
            "filesystem/nas//tank/media/full | critical | /tank/media is 96% full (35.0 GB of 1.0 TB left)",
        ],
    );
}

#[test]
fn filesystem_usage_comes_from_the_newest_series() {
    let key = |metric: &str, mount: &str| SeriesKey {
        metric: metric.into(),
        labels: vec![
            ("device".into(), "/dev/sda1".into()),
            ("fstype".into(), "ext4".into()),
            ("mount".into(), mount.into()),
        ],
    };
    let latest = vec![
        (key("filesystem_size_bytes", "/"), (1, 200.0)),
        (key("filesystem_available_bytes", "/"), (1, 10.0)),
        (key("filesystem_used_bytes", "/"), (1, 190.0)),
        (key("cpu_usage_ratio", "/"), (1, 0.5)),
    ];
    assert_eq!(
        filesystems(&latest),
        vec![FilesystemUsage {
            mount: "/".into(),
            fs_type: "ext4".into(),
            size_bytes: 200.0,
            available_bytes: 10.0
        }]
    );
}

#[test]
fn a_mount_without_its_available_bytes_is_unknown_not_full() {
    // A host that reports a mount's size but not its free space (a partial report, a
    // collector that could not stat it) raised "/ is 100% full" on every such host: a missing
    // figure was read as zero.
    let key = |metric: &str, mount: &str| SeriesKey {
        metric: metric.into(),
        labels: vec![
            ("fstype".into(), "ext4".into()),
            ("mount".into(), mount.into()),
        ],
    };
    let latest = vec![
        (key("filesystem_size_bytes", "/"), (1, 64e9)),
        (key("filesystem_used_bytes", "/"), (1, 12e9)),
        (key("filesystem_available_bytes", "/boot"), (1, 1e8)),
    ];
    assert_eq!(filesystems(&latest), vec![]);
    let state = HostState {
        filesystems: &filesystems(&latest),
        ..host(None)
    };
    assert!(evaluate(&state, NOW, &RuleConfig::default()).is_empty());
}

proptest! {
    /// Fullness alerts are monotonic: fuller never means less severe, and nothing is raised
    /// below the warning threshold.
    #[test]
    fn fullness_is_monotonic(a in 0.0f64..=100.0, b in 0.0f64..=100.0) {
        let severity = |percent: f64| {
            let filesystems = [fs("/data", "xfs", percent)];
            let state = HostState { filesystems: &filesystems, ..host(None) };
            evaluate(&state, NOW, &RuleConfig::default()).first().map(|c| c.severity)
        };
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        prop_assert!(severity(low) <= severity(high));
        if high < 89.9 {
            prop_assert_eq!(severity(high), None);
        }
    }
}

#[test]
fn a_vanished_drive_is_critical() {
    let mut state = empty_state();
    state.stack = serde_json::from_str(
        r#"{"drives":[{"identity":{"model":"WDC WD120EFAX","serial":"5QG1ABCD","wwn":null},
            "device_paths":[],"by_id":[],"verdict":"passed","missing":true,"md":[],"zfs":[],"mounts":[]}],
            "unlinked":[]}"#,
    )
    .unwrap();
    check(
        host(Some(&state)),
        &["disk/nas/5QG1ABCD/missing | critical | Disk WDC WD120EFAX (serial 5QG1ABCD) is missing"],
    );
}

#[test]
fn a_second_machine_with_the_identity_raises_an_alert_naming_both() {
    use crate::storage::instances::{InstanceRecord, InstanceStatus};
    use unity_shared::proto::InstanceId;
    let instance = |byte: u8, status, hostname: &str, address: &str, last_seen_ms| InstanceRecord {
        instance_id: InstanceId::from_bytes([byte; 16]),
        status,
        first_seen_ms: NOW - 3_600_000,
        last_seen_ms,
        address: address.into(),
        hostname: hostname.into(),
        admitted_at_seq: None,
        n_refused: 3,
    };
    let instances = [
        instance(1, InstanceStatus::Active, "nas", "10.0.0.5:40001", NOW),
        instance(
            2,
            InstanceStatus::Conflict,
            "nas-clone",
            "10.0.0.7:40002",
            NOW - 60_000,
        ),
        instance(
            3,
            InstanceStatus::Waiting,
            "nas-new",
            "10.0.0.9:40003",
            NOW - 1000,
        ),
        // Re-enrolled long ago: its attempts stopped, so no alert.
        instance(
            4,
            InstanceStatus::Conflict,
            "old-clone",
            "10.0.0.8:1",
            NOW - 20 * 60_000,
        ),
        instance(5, InstanceStatus::Retired, "nas-before", "10.0.0.4:1", NOW),
    ];
    check(
        HostState {
            instances: &instances,
            ..host(None)
        },
        &[
            "identity/nas/02020202020202020202020202020202/conflict | critical | Identity used by two hosts: nas (10.0.0.5:40001) and nas-clone (10.0.0.7:40002)",
            "identity/nas/03030303030303030303030303030303/conflict | warning | nas-new (10.0.0.9:40003) waits to take over the identity of nas (10.0.0.5:40001)",
        ],
    );
}
