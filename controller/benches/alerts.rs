//! Alert evaluation benchmark (issue 18): every rule over 500 hosts, each with 12 SMART
//! disks and 2 ZFS pools built from the committed fixtures (`agent/src/collect/*/testdata`,
//! parsed and judged by the agent's own code), 30 containers' series, 10 local check results,
//! filesystems, plus three operator rules (one scoped to a host group, one with `for`), then
//! the lifecycle: the `for` clocks and the diff against the alerts left open by the previous
//! round. Pure work only (the store is not touched), as the alert loop does per round between
//! reading the state and writing the changes. Prints milliseconds per round.
//!
//! Run: `cargo bench -p unity-controller --bench alerts` (`BENCH_ROUNDS`, `BENCH_HOSTS`).
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};
use unity_agent::collect::{smart, zfs};
use unity_controller::alerts::config::{SeriesRule, Threshold};
use unity_controller::alerts::rules::{self, HostState, RuleConfig};
use unity_controller::alerts::user_rules::UserRules;
use unity_controller::alerts::{diff_with_hosts, lifecycle};
use unity_controller::storage::access::HostGroupRecord;
use unity_controller::storage::alerts::{AlertRecord, Severity};
use unity_controller::storage::series::{Point, SeriesKey};
use unity_shared::model::plugin::{CheckResult, CheckStatus};
use unity_shared::model::storage::{PoolResult, SmartDeviceResult};
use unity_shared::proto::{AgentId, StorageState};

const NOW: i64 = 1_700_000_000_000;

fn testdata(room: &str, name: &str) -> String {
    let path = format!(
        "{}/../agent/src/collect/{room}/testdata/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

/// 12 disks (healthy and failing fixtures mixed) and 2 pools (one degraded).
fn storage() -> StorageState {
    let mut state: StorageState = serde_json::from_str(
        r#"{"smart":{"outcome":"ok","devices":[]},
            "zfs":{"outcome":"ok","pools":[],"capacity":[],"datasets":[],"warnings":[],"errors":[]},
            "raid":{"outcome":"ok","arrays":[],"warnings":[],"errors":[]},
            "stack":{"drives":[],"unlinked":[]}}"#,
    )
    .unwrap();
    let fixtures = [
        "netdata-sat-hdd-wd181kryz-7.3.json",
        "beszel-sat-ssd-crucial-p3-2tb-7.5.json",
        "beszel-nvme-peladn-512gb-7.5.json",
        "linuxfabrik-ata-seagate-ironwolf-st12000vn0007-FAILED-7.0.txt",
        "linuxfabrik-sas-hp-eg1200jemda-7.0-x.txt",
        "linuxhw-ata-hp-mb1000gcehh-realloc-FAILED-7.1.txt",
    ];
    for n in 0..12 {
        let (report, _) = smart::parse(&testdata("smart", fixtures[n % fixtures.len()])).unwrap();
        state.smart.devices.push(SmartDeviceResult {
            device: format!("/dev/sd{}", (b'a' + n as u8) as char),
            device_type: None,
            verdict: Some(smart::verdict(&report, &smart::SmartThresholds::default())),
            report: Some(report),
            warnings: vec![],
            error: None,
        });
    }
    for fixture in [
        "status-degraded-device-removed.txt",
        "status-freebsd-raidz2-diskid-paths.txt",
    ] {
        let (status, _) = zfs::parse_status(&testdata("zfs", fixture)).unwrap();
        let pool = status.pools.into_iter().next().unwrap();
        state.zfs.pools.push(PoolResult {
            verdict: zfs::verdict(&pool, &zfs::ZfsThresholds::default(), None),
            status: pool,
        });
    }
    state
}

/// System, filesystem and 30 containers' series, fresh.
fn latest(host: usize) -> Vec<(SeriesKey, Point)> {
    let key = |metric: &str, labels: &[(&str, String)]| {
        SeriesKey::new(
            metric,
            labels
                .iter()
                .map(|(name, value)| ((*name).to_owned(), value.clone()))
                .collect(),
        )
    };
    let mut series = vec![
        (
            key("cpu_usage_ratio", &[]),
            (NOW, (host % 100) as f64 / 100.0),
        ),
        (key("memory_used_bytes", &[]), (NOW, 1e9)),
    ];
    for mount in ["/", "/srv", "/var"] {
        let labels = [("mount", mount.to_owned()), ("fs_type", "ext4".to_owned())];
        series.push((key("filesystem_size_bytes", &labels), (NOW, 1e12)));
        series.push((
            key("filesystem_available_bytes", &labels),
            (NOW, (host % 20) as f64 * 1e10),
        ));
    }
    for container in 0..30 {
        let labels = [("container", format!("app-{container}"))];
        series.push((
            key("container_cpu_usage_ratio", &labels),
            (NOW, container as f64 / 30.0),
        ));
        series.push((key("container_memory_used_bytes", &labels), (NOW, 5e8)));
        series.push((key("container_restarts_total", &labels), (NOW, 0.0)));
    }
    series
}

fn checks() -> Vec<CheckResult> {
    (0..10)
        .map(|n| CheckResult {
            name: format!("service-{n}"),
            status: [CheckStatus::Ok, CheckStatus::Ok, CheckStatus::Warning][n % 3],
            message: "HTTP 200 in 12 ms".into(),
            exit_code: Some(0),
            started_at_ms: NOW - 10_000,
            duration_ms: 12,
            interval_ms: 30_000,
            error: None,
            n_series: 0,
            n_dropped: 0,
            errors: vec![],
        })
        .collect()
}

fn rule(name: &str, metric: &str, above: f64, for_secs: u64, groups: &[&str]) -> SeriesRule {
    SeriesRule {
        name: name.into(),
        metric: metric.into(),
        labels: vec![],
        threshold: Threshold::Above(above),
        severity: Severity::Warning,
        summary: None,
        for_duration: Duration::from_secs(for_secs),
        groups: groups.iter().map(|group| (*group).to_owned()).collect(),
        hosts: vec![],
    }
}

fn main() {
    let n_hosts: usize = std::env::var("BENCH_HOSTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let storage = storage();
    let checks = checks();
    let agents: Vec<AgentId> = (0..n_hosts)
        .map(|n| AgentId::new(format!("host-{n}")).unwrap())
        .collect();
    let latest: Vec<Vec<(SeriesKey, Point)>> = (0..n_hosts).map(latest).collect();
    let filesystems: Vec<_> = latest
        .iter()
        .map(|latest| rules::filesystems(latest))
        .collect();
    let config = RuleConfig::default();
    let nas = HostGroupRecord {
        name: "nas".into(),
        labels: vec![],
        hosts: agents.iter().step_by(5).cloned().collect(),
        created_at_ms: 0,
    };
    let user_rules = UserRules::new(
        &[
            rule("cpu_hot", "cpu_usage_ratio", 0.9, 600, &["nas"]),
            rule("container_cpu", "container_cpu_usage_ratio", 0.95, 0, &[]),
            rule("restarts", "container_restarts_total", 5.0, 0, &[]),
        ],
        &[],
        vec![nas],
        BTreeMap::new(),
    );
    let mut open: Vec<AlertRecord> = Vec::new();
    let mut pending = BTreeMap::new();
    let mut times = Vec::with_capacity(rounds);
    let mut n_conditions = 0;
    for round in 0..rounds {
        let now = NOW + round as i64 * 30_000;
        let started = Instant::now();
        let mut active = Vec::new();
        let mut candidates = Vec::new();
        for (n, agent_id) in agents.iter().enumerate() {
            let state = HostState {
                agent_id,
                revoked: false,
                last_seen_ms: now,
                storage: Some(&storage),
                databases: None,
                filesystems: &filesystems[n],
                instances: &[],
                checks: &checks,
                latest: &latest[n],
            };
            active.extend(rules::evaluate(&state, now, &config));
            candidates.extend(user_rules.candidates(agent_id, &latest[n], 600_000, now));
        }
        let (held, clocks) = lifecycle::held_for(&pending, candidates, now);
        pending = clocks;
        active.extend(held);
        let changes = diff_with_hosts(
            &open,
            &BTreeSet::new(),
            &active,
            &BTreeSet::new(),
            now,
            120_000,
        );
        let elapsed = started.elapsed();
        // Apply the changes as the store would, outside the timing.
        let mut by_key: BTreeMap<String, AlertRecord> = open
            .into_iter()
            .map(|alert| (alert.key.clone(), alert))
            .collect();
        for change in changes {
            match change {
                unity_controller::alerts::Change::Open(record)
                | unity_controller::alerts::Change::Refresh { record, .. }
                | unity_controller::alerts::Change::Recheck { record } => {
                    by_key.insert(record.key.clone(), record);
                }
                unity_controller::alerts::Change::Resolve { key } => {
                    by_key.remove(&key);
                }
                unity_controller::alerts::Change::Unknown { .. } => {}
            }
        }
        open = by_key.into_values().collect();
        n_conditions = active.len();
        times.push(elapsed);
    }
    times.sort();
    let ms = |duration: Duration| duration.as_secs_f64() * 1000.0;
    println!(
        "hosts {n_hosts} (12 disks, 2 pools, 30 containers, 10 checks each), {n_conditions} active conditions, {} open alerts",
        open.len()
    );
    println!(
        "per round over {rounds} rounds: median {:.1} ms, min {:.1} ms, max {:.1} ms (target < 100 ms)",
        ms(times[times.len() / 2]),
        ms(times[0]),
        ms(times[times.len() - 1])
    );
}
