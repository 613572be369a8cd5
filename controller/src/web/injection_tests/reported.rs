//! Everything an agent reports that a page shows, fully populated: real `smartctl`,
//! `zpool status`/`list`, `zfs list`, `/proc/mdstat` and `mdadm --detail` output parsed by the
//! agent's own parsers, the container collector's expected inventories, and hand-made
//! databases, events, update checks and operations with every optional text present.

use crate::domain::hosts::{Host, HostStatus};
use crate::health::{rollup, HealthRollup};
use crate::storage::containers::UpdateCheckRecord;
use crate::storage::instances::{InstanceRecord, InstanceStatus};
use crate::storage::operations::OperationRecord;
use serde::{Deserialize, Serialize};
use serde_json::json;
use unity_agent::collect::{mdraid, smart, stack, zfs};
use unity_shared::model::certificate::{
    CertificateInventory, CertificateLocation, ChainProblem, FileFormat, FoundCertificate,
    InventoryProblem, PublicKeyKind, SubjectName,
};
use unity_shared::model::container::{Container, ContainerEvent, ContainerInventory};
use unity_shared::model::container_logs::{ContainerLogLine, ContainerLogs, LogStream};
use unity_shared::model::database::DatabaseInstance;
use unity_shared::model::plugin::{CheckResult, CheckStatus, SourceKind, SourceStatus};
use unity_shared::model::storage::stack::DriveIdentity;
use unity_shared::model::storage::{
    ArrayResult, CollectorOutcome, PoolResult, RaidCollection, SmartCollection, SmartDeviceResult,
    ZfsCollection,
};
use unity_shared::proto::{InstanceId, StorageState};

/// One newest sample of a series.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sample {
    pub metric: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

/// What one host's agent has told the controller, plus the records the controller keeps about
/// its containers (whose names, images and messages come from the agent or its registries).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reported {
    pub host: Host,
    pub latest: Vec<Sample>,
    pub storage: StorageState,
    pub databases: Vec<DatabaseInstance>,
    pub inventory: ContainerInventory,
    pub events: Vec<ContainerEvent>,
    pub update_checks: Vec<UpdateCheckRecord>,
    pub operations: Vec<OperationRecord>,
    /// Installations of the identity: host names come from the agents' hellos.
    pub instances: Vec<InstanceRecord>,
    /// Local check results: names, messages and errors come from the host's scripts.
    pub checks: Vec<CheckResult>,
    /// Textfile and exporter sources: paths, URLs and parse errors quote the host's files.
    pub plugin_sources: Vec<SourceStatus>,
    /// The certificate inventory: subjects, names, paths and process names are the host's.
    pub certificates: CertificateInventory,
    /// A container's log lines as its agent answered (issue 19): anything a container wrote.
    pub logs: ContainerLogs,
}

/// Log lines of every stream, one without a stamp.
fn logs(now_ms: i64) -> ContainerLogs {
    let line = |at_ns, stream, text: &str| ContainerLogLine {
        at_ns,
        stream,
        text: text.to_owned(),
    };
    ContainerLogs {
        lines: vec![
            line(
                Some(now_ms * 1_000_000),
                LogStream::Stdout,
                "listening on :80",
            ),
            line(
                Some(now_ms * 1_000_000 + 1),
                LogStream::Stderr,
                "warning: slow",
            ),
            line(None, LogStream::Console, "\u{1b}[31mred\u{1b}[0m"),
        ],
        truncated: true,
    }
}

/// A certificate inventory with every text present: a file and a served chain.
fn certificates(now_ms: i64) -> CertificateInventory {
    let certificate = |location, position, problems, key| FoundCertificate {
        location,
        position,
        subject: "CN=nas.home.arpa,O=Home".to_owned(),
        names: vec![
            SubjectName::Dns("nas.home.arpa".to_owned()),
            SubjectName::Email("admin@home.arpa".to_owned()),
            SubjectName::Uri("https://nas.home.arpa/".to_owned()),
        ],
        issuer: "CN=R11,O=Let's Encrypt,C=US".to_owned(),
        serial_hex: "0a1b".to_owned(),
        not_before_unix: now_ms / 1000 - 86_400,
        not_after_unix: now_ms / 1000 + 5 * 86_400,
        key,
        is_ca: false,
        sha256_hex: "ab".repeat(32),
        problems,
    };
    CertificateInventory {
        certificates: vec![
            certificate(
                CertificateLocation::File {
                    path: "/etc/letsencrypt/live/nas/fullchain.pem".to_owned(),
                    format: FileFormat::Pem,
                },
                0,
                vec![ChainProblem::WrongOrder],
                PublicKeyKind::Ecdsa {
                    curve: "P-256".to_owned(),
                },
            ),
            certificate(
                CertificateLocation::Port {
                    address: "0.0.0.0".to_owned(),
                    port: 8443,
                    process: Some("nginx".to_owned()),
                    server_name: Some("nas".to_owned()),
                },
                0,
                vec![
                    ChainProblem::MissingIntermediate {
                        issuer: "CN=R11,O=Let's Encrypt,C=US".to_owned(),
                    },
                    ChainProblem::NameMismatch {
                        name: "nas".to_owned(),
                    },
                ],
                PublicKeyKind::Other {
                    oid: "1.2.3.4".to_owned(),
                },
            ),
        ],
        problems: vec![InventoryProblem {
            location: "/etc/ssl/private/broken.pem".to_owned(),
            message: "PEM block 1: incomplete PEM".to_owned(),
        }],
        files_scanned: 3,
        ports_probed: 2,
        truncated: false,
    }
}

fn checks(now_ms: i64) -> Vec<CheckResult> {
    [
        CheckStatus::Critical,
        CheckStatus::Warning,
        CheckStatus::Unknown,
        CheckStatus::Ok,
    ]
    .into_iter()
    .enumerate()
    .map(|(n, status)| CheckResult {
        name: format!("check_{n}"),
        status,
        message: format!("{} - backup is 3 days old", status.as_str()),
        exit_code: Some(n as i32),
        started_at_ms: now_ms - 10_000,
        duration_ms: 40,
        interval_ms: 60_000,
        error: Some("exit code 7 is not 0 to 3: command not found".to_owned()),
        n_series: 2,
        n_dropped: 1,
        errors: vec![format!("check_{n}:3: invalid value \"x\"")],
    })
    .collect()
}

fn plugin_sources() -> Vec<SourceStatus> {
    vec![
        SourceStatus {
            kind: SourceKind::Textfile,
            source: "textfile/backup.prom".to_owned(),
            location: "/var/lib/unity-agent/textfile/backup.prom".to_owned(),
            n_series: 3,
            n_dropped: 1,
            n_errors: 1,
            errors: vec![
                "/var/lib/unity-agent/textfile/backup.prom:2: invalid value \"x\"".to_owned(),
            ],
            failure: None,
            bytes: 120,
            duration_ms: 1,
        },
        SourceStatus {
            kind: SourceKind::Exporter,
            source: "exporter/node".to_owned(),
            location: "http://127.0.0.1:9100/metrics".to_owned(),
            n_series: 0,
            n_dropped: 0,
            n_errors: 0,
            errors: vec![],
            failure: Some("connecting: Connection refused (os error 111)".to_owned()),
            bytes: 0,
            duration_ms: 2,
        },
    ]
}

fn instances(now_ms: i64) -> Vec<InstanceRecord> {
    [
        (InstanceStatus::Active, "nas"),
        (InstanceStatus::Conflict, "nas-clone"),
        (InstanceStatus::Waiting, "nas-restored"),
    ]
    .into_iter()
    .enumerate()
    .map(|(n, (status, hostname))| InstanceRecord {
        instance_id: InstanceId::from_bytes([n as u8; 16]),
        status,
        first_seen_ms: now_ms - 3_600_000,
        last_seen_ms: now_ms - 1_000,
        address: format!("192.0.2.{}:4000{n}", n + 1),
        hostname: hostname.to_owned(),
        admitted_at_seq: None,
        n_refused: n as u64,
    })
    .collect()
}

macro_rules! fixture {
    ($collector:literal, $name:literal) => {
        include_str!(concat!(
            "../../../../agent/src/collect/",
            $collector,
            "/testdata/",
            $name
        ))
    };
}

fn smart_devices() -> Vec<SmartDeviceResult> {
    let inputs = [
        (
            "/dev/sda",
            fixture!(
                "smart",
                "linuxfabrik-ata-seagate-ironwolf-st12000vn0007-FAILED-7.0.txt"
            ),
        ),
        (
            "/dev/nvme0",
            fixture!(
                "smart",
                "linuxhw-nvme-samsung-970evoplus-FAILED-readonly-7.1.txt"
            ),
        ),
        (
            "/dev/sdb",
            fixture!(
                "smart",
                "smartctl-exporter-sat-seagate-st3500418as-realloc304.json"
            ),
        ),
    ];
    let mut devices: Vec<SmartDeviceResult> = inputs
        .into_iter()
        .map(|(device, text)| {
            let (report, warnings) = smart::parse(text).unwrap();
            SmartDeviceResult {
                device: device.to_owned(),
                device_type: Some("sat".to_owned()),
                verdict: Some(smart::verdict(&report, &smart::SmartThresholds::default())),
                report: Some(report),
                warnings,
                error: Some("smartctl exit status 4: some SMART command failed".to_owned()),
            }
        })
        .collect();
    devices.push(SmartDeviceResult {
        device: "/dev/sdz".to_owned(),
        device_type: None,
        report: None,
        verdict: None,
        warnings: Vec::new(),
        error: Some("Smartctl open device: /dev/sdz failed: No such device".to_owned()),
    });
    devices
}

fn zfs_collection() -> ZfsCollection {
    let texts = [
        fixture!("zfs", "status-illumos-degraded-with-log-device.txt"),
        fixture!("zfs", "status-draid1-online-distributed-spare.txt"),
        fixture!("zfs", "status-special-allocation-class-mirror.txt"),
        fixture!("zfs", "status-unavail-permanent-errors-file-list.txt"),
        fixture!("zfs", "status-lifeguard-resilver-in-progress-replacing.txt"),
    ];
    let mut pools: Vec<PoolResult> = texts
        .into_iter()
        .flat_map(|text| zfs::parse_status(text).unwrap().0.pools)
        .map(|pool| PoolResult {
            verdict: zfs::verdict(&pool, &zfs::ZfsThresholds::default(), None),
            status: pool,
        })
        .collect();
    // No fixture has cache or dedup devices: give the first pool some.
    let devices = pools[0].status.root.children.clone();
    pools[0].status.cache = devices.clone();
    pools[0].status.dedup = devices;
    let (capacity, _) = zfs::parse_zpool_list(fixture!("zfs", "list-p-v-mirror-nvme.txt")).unwrap();
    let (datasets, warnings) =
        zfs::parse_zfs_list(fixture!("zfs", "zfs-list-Hp-datasets-numeric.txt")).unwrap();
    ZfsCollection {
        outcome: CollectorOutcome::Ok,
        pools,
        capacity,
        datasets,
        warnings,
        errors: vec!["zfs list: permission denied".to_owned()],
    }
}

fn raid_collection() -> RaidCollection {
    let texts = [
        fixture!("mdraid", "proc-mdstat-raid5-recovery-degraded.txt"),
        fixture!("mdraid", "proc-mdstat-raid1-6way-degraded-failed.txt"),
        fixture!("mdraid", "proc-mdstat-raid10-check-in-progress.txt"),
        fixture!("mdraid", "proc-mdstat-imsm-container-auto-read-only.txt"),
    ];
    let (detail, _) =
        mdraid::parse_detail(fixture!("mdraid", "mdadm-detail-raid1-faulty-degraded.txt")).unwrap();
    let arrays = texts
        .into_iter()
        .flat_map(|text| mdraid::parse_mdstat(text).unwrap().0.arrays)
        .map(|array| ArrayResult {
            verdict: mdraid::array_verdict(&array, Some(&detail)),
            detail: Some(detail.clone()),
            array,
        })
        .collect();
    RaidCollection {
        outcome: CollectorOutcome::Ok,
        arrays,
        warnings: Vec::new(),
        errors: vec!["mdadm --detail /dev/md9: no such device".to_owned()],
    }
}

fn storage() -> StorageState {
    let smart = SmartCollection {
        outcome: CollectorOutcome::Ok,
        devices: smart_devices(),
    };
    let zfs = zfs_collection();
    let raid = raid_collection();
    let vanished = DriveIdentity {
        model: Some("WDC WD40EFRX-68N32N0".to_owned()),
        serial: Some("WD-WCC7K0000000".to_owned()),
        wwn: Some("0x50014ee0aaaaaaaa".to_owned()),
    };
    let stack = stack::link(
        &smart,
        &zfs,
        &raid,
        &[(
            "/dev/disk/by-id/wwn-0x5000c500a0000000".to_owned(),
            "/dev/sda".to_owned(),
        )],
        &[("/dev/sda1".to_owned(), "/srv".to_owned())],
        &[vanished],
    );
    StorageState {
        smart,
        zfs,
        raid,
        stack,
    }
}

fn containers() -> Vec<Container> {
    [
        fixture!("containers", "docker-20.10/web.expect.json"),
        fixture!("containers", "docker-20.10/job.expect.json"),
        fixture!("containers", "docker-20.10/oom.expect.json"),
        fixture!("containers", "docker-20.10/pulled.expect.json"),
    ]
    .into_iter()
    .map(|text| serde_json::from_str(text).unwrap())
    .collect()
}

fn databases() -> Vec<DatabaseInstance> {
    let health = json!({
        "connections": 3, "max_connections": 100,
        "databases": [{"name": "app", "size_bytes": 8_000_000}],
        "replication": {"role": "replica", "lag_seconds": 1.5, "n_replicas": null, "primary_link_up": true},
        "uptime_seconds": 3600, "used_memory_bytes": null, "max_memory_bytes": null,
        "blocked_clients": 0, "slow_queries": 0, "cluster_healthy": null
    });
    let instance = |engine: &str, endpoint: serde_json::Value, reachable: bool| {
        json!({
            "engine": engine,
            "endpoint": endpoint,
            "other_endpoints": [{"unix": {"path": "/run/postgresql/.s.PGSQL.5432"}}],
            "discovered_by": ["listening_socket", "container"],
            "process": {"pid": 42, "name": "postgres"},
            "container": {"name": "db", "image": "postgres:16"},
            "version": "15.18 (Debian 15.18-0+deb12u1)",
            "reachable": reachable,
            "auth_required": true,
            "tls_offered": false,
            "latency_ms": 0.4,
            "error": "password authentication failed for user \"unity\"",
            "health": health,
        })
    };
    [
        instance(
            "postgres",
            json!({"tcp": {"host": "127.0.0.1", "port": 5432}}),
            true,
        ),
        instance(
            "mariadb",
            json!({"tcp": {"host": "::1", "port": 3306}}),
            false,
        ),
        instance(
            "redis",
            json!({"unix": {"path": "/run/redis/redis.sock"}}),
            true,
        ),
    ]
    .into_iter()
    .map(|value| serde_json::from_value(value).unwrap())
    .collect()
}

fn events() -> Vec<ContainerEvent> {
    let kinds = [
        json!("start"),
        json!({"die": {"exit_code": 137}}),
        json!({"health_status": {"status": "unhealthy"}}),
        json!("oom"),
        json!({"other": {"action": "exec_die"}}),
    ];
    kinds
        .into_iter()
        .enumerate()
        .map(|(n, kind)| {
            serde_json::from_value(json!({
                "at_ms": 1_700_000_000_000_i64 + n as i64,
                "container_id": "90c33c5126579ca5337a57b47c76fdd3282b3d29ca0d1e3e662cbfb66e2d124c",
                "name": "web",
                "kind": kind,
            }))
            .unwrap()
        })
        .collect()
}

fn update_checks(agent_id: &str) -> Vec<UpdateCheckRecord> {
    let update = |kind: &str| {
        json!({"update": {
            "kind": kind, "current_tag": "1.0", "current_digest": "sha256:0123456789abcdef0123",
            "candidate_tag": "1.1", "candidate_digest": "sha256:fedcba9876543210fedc",
            "candidate_created_ms": 1_700_000_000_000_i64, "first_seen_ms": 1_700_000_000_000_i64,
            "mode": "notify", "offered": false, "held_back": "cooldown until 2024-01-02"
        }})
    };
    let outcomes = [
        ("web", update("minor")),
        ("job", update("digest")),
        (
            "oom",
            json!({"error": {"message": "registry refused the credentials"}}),
        ),
        ("pulled", json!({"skipped": {"reason": "pinned by digest"}})),
    ];
    outcomes
        .into_iter()
        .map(|(container, outcome)| {
            serde_json::from_value(json!({
                "agent_id": agent_id,
                "container": container,
                "image": "localhost/web:1.0",
                "checked_at_ms": 1_700_000_000_000_i64,
                "outcome": outcome,
            }))
            .unwrap()
        })
        .collect()
}

fn operations(agent_id: &str) -> Vec<OperationRecord> {
    let line = |stage: &str| json!({"stage": stage, "at_ms": 1_700_000_000_000_u64, "message": "pulling localhost/web:1.1"});
    let record = |state: &str, result: serde_json::Value| {
        serde_json::from_value(json!({
            "id": "0190aa-op-1",
            "agent_id": agent_id,
            "container": "web",
            "action": "update",
            "command": {"Restart": {"id": "0190aa-op-1", "container": "web"}},
            "requested_by": "ada",
            "requested_at_ms": 1_700_000_000_000_i64,
            "expires_at_ms": 1_700_000_600_000_i64,
            "from_image": "localhost/web:1.0",
            "to_image": "localhost/web:1.1",
            "to_digest": "sha256:fedcba9876543210fedc",
            "state": state,
            "started_at_ms": 1_700_000_001_000_i64,
            "finished_at_ms": 1_700_000_002_000_i64,
            "progress": [line("pulling"), line("health_checking")],
            "result": result,
            "error": "the agent went away",
            "attempts": 1,
        }))
        .unwrap()
    };
    let result = json!({
        "id": "0190aa-op-1", "container": "web", "outcome": "rolled_back",
        "message": "the new container failed its health check",
        "old_image_id": "sha256:89d3", "new_image_id": "sha256:1111",
        "backup": "1700000000000.json",
        "log": [line("pulling"), line("rolling_back")],
        "backup_taken": {
            "container": "web", "taken_at_ms": 1, "image_ref": "registry.lan/web:1",
            "image_id": "sha256:1", "inspect_json": "{}", "volume_archives": ["1-data.tar.gz"]
        },
        "evidence": {
            "reason": "reported unhealthy after the start grace period",
            "log_tail": "starting\nfatal: no config\n", "log_truncated": true,
            "health_checks": [{ "start": "2026-12-07T09:00:00Z", "end": "2026-12-07T09:00:01Z",
                "exit_code": 1, "output": "curl: (7) refused" }],
            "probe_failure": "TCP 127.0.0.1:8080: refused",
            "capture_error": "logs: gone",
        },
    });
    vec![
        record("finished", result),
        record("running", serde_json::Value::Null),
    ]
}

fn latest() -> Vec<Sample> {
    let sample = |metric: &str, labels: &[(&str, &str)], value: f64| Sample {
        metric: metric.to_owned(),
        labels: labels
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect(),
        value,
    };
    vec![
        sample("cpu_usage_ratio", &[("cpu", "total")], 0.25),
        sample("memory_used_bytes", &[], 3.0 * 1024.0 * 1024.0 * 1024.0),
        sample(
            "filesystem_size_bytes",
            &[("mount", "/srv"), ("fstype", "ext4")],
            100.0,
        ),
        sample(
            "filesystem_available_bytes",
            &[("mount", "/srv"), ("fstype", "ext4")],
            1.0,
        ),
        sample("smart_temperature_celsius", &[("device", "/dev/sda")], 41.0),
        sample("zfs_pool_allocated_bytes", &[("pool", "tank")], 1e12),
        sample("md_sync_progress_ratio", &[("array", "md0")], 0.5),
        sample("database_up", &[("endpoint", "127.0.0.1:5432")], 1.0),
        // Plugin series: names and labels are the exporter's and the textfile's.
        sample(
            "node_hwmon_chip_names",
            &[("chip", "platform_coretemp_0"), ("source", "exporter/node")],
            1.0,
        ),
        sample(
            "backup_last_success_timestamp_seconds",
            &[("job", "nightly"), ("source", "textfile/backup.prom")],
            1.7e9,
        ),
        sample("plugin_up", &[("plugin", "exporter/node")], 0.0),
        sample("container_cpu_usage_ratio", &[("container", "web")], 0.1),
    ]
}

/// One host with everything present.
pub fn reported(agent_id: &str, now_ms: i64) -> Reported {
    let storage = storage();
    let databases = databases();
    let inventory = ContainerInventory {
        engine: serde_json::from_value(json!({
            "kind": "docker", "version": "20.10.24", "socket": "/var/run/docker.sock"
        }))
        .unwrap(),
        containers: containers(),
        events: events(),
        error: Some("stats for job: engine answered 500".to_owned()),
    };
    let health: HealthRollup = rollup(Some(&storage), Some(&databases), Some(&inventory));
    Reported {
        host: Host {
            agent_id: unity_shared::proto::AgentId::new(agent_id).unwrap(),
            hostname: "nas".to_owned(),
            status: HostStatus::Online,
            last_seen_ms: now_ms - 5_000,
            agent_version: "0.1.0".to_owned(),
            install: unity_shared::proto::InstallKind::Deb,
            os: "Debian GNU/Linux 12 (bookworm)".to_owned(),
            certificate_not_after: now_ms / 1000 + 86_400,
            dropped_reports: 0,
            health,
            agentless: Some(crate::domain::hosts::AgentlessMark {
                proxy: unity_shared::proto::AgentId::new("proxy-1").unwrap(),
                down_reason: Some("connection refused".to_owned()),
            }),
        },
        latest: latest(),
        events: inventory.events.clone(),
        storage,
        databases,
        inventory,
        update_checks: update_checks(agent_id),
        operations: operations(agent_id),
        instances: instances(now_ms),
        checks: checks(now_ms),
        plugin_sources: plugin_sources(),
        certificates: certificates(now_ms),
        logs: logs(now_ms),
    }
}
