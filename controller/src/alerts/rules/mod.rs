//! Alert rules, pure: a host's newest state in, the set of active conditions out. Each
//! condition has a stable key (the same problem keeps the same key across evaluations and
//! restarts), a severity, one line for people and the findings behind it.
//!
//! | key | active when | severity |
//! |---|---|---|
//! | `host/<agent>/offline` | nothing heard for `offline_after` | critical |
//! | `disk/<agent>/<wwn, serial or device>/smart` | SMART verdict warning or failing | warning / critical |
//! | `disk/<agent>/<wwn or serial>/missing` | a drive seen earlier is gone | critical |
//! | `pool/<agent>/<pool>` | ZFS pool verdict warning or failing | warning / critical |
//! | `array/<agent>/<md>` | md array verdict warning or failing | warning / critical |
//! | `database/<agent>/<endpoint>/down` | a known database does not answer | critical |
//! | `filesystem/<agent>/<mount>/full` | use at or over the thresholds | warning / critical |
//! | `identity/<agent>/<instance>/conflict` | a second machine presents the identity | critical (a clone) / warning (waiting to take over) |
//! | `check/<agent>/<name>` | a local check says warning, critical or unknown, or its result is overdue ([`checks`]) | warning / critical / warning |
//! | `rule/<agent>/<rule>/<labels>` | an operator's `[[alerts.rule]]` threshold on a series ([`series`]) | as configured |
//! | `certificate/<agent>/<sha256>` | a certificate expires within `certificate_expiry_days` or has expired ([`certificates`]) | warning / critical |
//! | `container/<agent>/<name>/<unhealthy, restart_loop, exited, oom or gone>` | a container's health, loop, exit, OOM kill or removal ([`containers`]) | warning / critical |
//! | `updates/<agent>/available/<batch>`, `updates/<agent>/blocked`, `update/<agent>/<container>/<operation>` | updates offered, held back, or an update that ended ([`updates`]) | warning / critical |
//! | `disk/<agent>/<drive>/<grown, wear, temperature or self_test>`, `pool/…/member/<vdev>/missing`, `array/…/slot/<n>/missing` | SMART counters grown since the accepted baseline, a drive too hot for a while, a failed self-test, a member gone from a pool or array ([`disk_trends`]) | warning / critical |
//! | `service/<check>/down`, `service/<check>/tls` | a service check down from one agent / two or all; its certificate expiring ([`services`]) | warning / critical |

pub mod certificates;
pub mod checks;
pub mod series;
// Issue 18 §1: containers, updates and disk trends.
pub mod containers;
pub mod disk_trends;
pub mod services;
pub mod updates;

use crate::storage::alerts::Severity;
use crate::storage::instances::{InstanceRecord, InstanceStatus};
use crate::storage::series::{Point, SeriesKey};
use std::collections::BTreeMap;
use unity_shared::model::database::DatabaseInstance;
use unity_shared::model::plugin::{CheckResult, SourceKind, SOURCE_LABEL};
use unity_shared::model::storage::{
    MdSyncAction, ReasonKind, Vdev, VdevKind, VdevState, Verdict, VerdictStatus,
};
use unity_shared::proto::{AgentId, StorageState};

/// The thresholds the rules use.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleConfig {
    pub offline_after_ms: i64,
    pub filesystem_warning_percent: f64,
    pub filesystem_critical_percent: f64,
    pub filesystem_ignore_types: Vec<String>,
    /// The operator's `[[alerts.rule]]`s.
    pub series_rules: Vec<crate::alerts::config::SeriesRule>,
}

impl Default for RuleConfig {
    fn default() -> RuleConfig {
        RuleConfig {
            offline_after_ms: 120_000,
            filesystem_warning_percent: 90.0,
            filesystem_critical_percent: 95.0,
            filesystem_ignore_types: super::config::DEFAULT_IGNORED_FS_TYPES
                .iter()
                .map(|fs_type| (*fs_type).to_owned())
                .collect(),
            series_rules: Vec::new(),
        }
    }
}

/// The newest usage of one mounted filesystem, from the `filesystem_*_bytes` series.
#[derive(Debug, Clone, PartialEq)]
pub struct FilesystemUsage {
    pub mount: String,
    pub fs_type: String,
    pub size_bytes: f64,
    pub available_bytes: f64,
}

/// Everything the rules look at for one host.
#[derive(Debug, Clone, Copy)]
pub struct HostState<'a> {
    pub agent_id: &'a AgentId,
    /// Revoked hosts raise nothing: the operator retired them.
    pub revoked: bool,
    /// Unix milliseconds of the last message, or of when the controller started watching if
    /// that is later (so a controller restart does not call every host offline); 0 if never.
    pub last_seen_ms: i64,
    pub storage: Option<&'a StorageState>,
    pub databases: Option<&'a [DatabaseInstance]>,
    pub filesystems: &'a [FilesystemUsage],
    /// Every installation that presented the identity (see `crate::transport::admission`).
    pub instances: &'a [InstanceRecord],
    /// The local checks' newest results.
    pub checks: &'a [CheckResult],
    /// The newest point of every series, for the operator's rules.
    pub latest: &'a [(SeriesKey, Point)],
}

/// A series older than this (or than `offline_after`, if longer) is left out of the
/// operator's rules: its source stopped giving it.
pub const SERIES_STALE_MIN_MS: i64 = 5 * 60 * 1000;

/// A refused instance keeps its alert open this long after its last attempt (it retries at
/// least every minute while it runs).
pub const IDENTITY_CONFLICT_WINDOW_MS: i64 = 15 * 60 * 1000;

/// A problem that is there now.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub key: String,
    pub agent_id: AgentId,
    pub severity: Severity,
    pub summary: String,
    pub details: Vec<String>,
}

/// Runs every rule over one host.
pub fn evaluate(host: &HostState, now_ms: i64, config: &RuleConfig) -> Vec<Condition> {
    if host.revoked {
        return Vec::new();
    }
    let mut conditions = Vec::new();
    let mut add = |key: String, severity: Severity, summary: String, details: Vec<String>| {
        conditions.push(Condition {
            key,
            agent_id: host.agent_id.clone(),
            severity,
            summary,
            details,
        })
    };
    let agent = host.agent_id;
    let silent_ms = now_ms - host.last_seen_ms;
    let offline = host.last_seen_ms > 0 && silent_ms > config.offline_after_ms;
    if offline {
        add(
            format!("host/{agent}/offline"),
            Severity::Critical,
            format!(
                "Host offline: nothing heard for {}",
                duration_text(silent_ms)
            ),
            vec![format!(
                "The agent has not sent anything for longer than {}.",
                duration_text(config.offline_after_ms)
            )],
        );
    }
    if let Some(storage) = host.storage {
        for device in &storage.smart.devices {
            let Some(verdict) = &device.verdict else {
                continue;
            };
            let Some(severity) = severity_of(verdict) else {
                continue;
            };
            let identity = device.report.as_ref().map(|report| &report.device);
            let model = identity.and_then(|id| known(id.model.as_deref()));
            let serial = identity.and_then(|id| known(id.serial.as_deref()));
            let id = identity
                .and_then(|id| known(id.wwn.as_deref()))
                .or(serial)
                .unwrap_or_else(|| device.device.trim_start_matches("/dev/"));
            let mut name = device.device.clone();
            if let Some(model) = model {
                name = format!("{name} {model}");
            }
            if let Some(serial) = serial {
                name = format!("{name} (serial {serial})");
            }
            let state = match verdict.status {
                VerdictStatus::Failing => "is failing",
                _ => "needs a look",
            };
            add(
                format!("disk/{agent}/{id}/smart"),
                severity,
                format!("Disk {name} {state}: {}", worst_reason(verdict)),
                reasons(verdict),
            );
        }
        for drive in storage.stack.drives.iter().filter(|drive| drive.missing) {
            let identity = &drive.identity;
            let serial = known(identity.serial.as_deref());
            let Some(id) = known(identity.wwn.as_deref()).or(serial) else {
                continue;
            };
            let model = known(identity.model.as_deref()).unwrap_or("drive");
            let serial = serial.unwrap_or(id);
            add(
                format!("disk/{agent}/{id}/missing"),
                Severity::Critical,
                format!("Disk {model} (serial {serial}) is missing"),
                vec!["The drive was seen in an earlier collection and is gone now: pulled, dead, or its controller or cable failed.".into()],
            );
        }
        for pool in &storage.zfs.pools {
            let Some(severity) = severity_of(&pool.verdict) else {
                continue;
            };
            let status = &pool.status;
            let leaves: Vec<&Vdev> = std::iter::once(&status.root)
                .chain(&status.logs)
                .chain(&status.special)
                .chain(&status.dedup)
                .flat_map(leaf_vdevs)
                .collect();
            let mut bad: BTreeMap<String, usize> = BTreeMap::new();
            for leaf in leaves.iter().filter(|leaf| leaf.state != VdevState::Online) {
                *bad.entry(state_name(&leaf.state)).or_default() += 1;
            }
            let what = if bad.is_empty() {
                worst_reason(&pool.verdict)
            } else {
                let n_bad: usize = bad.values().sum();
                let n_leaves = leaves.len();
                match bad.iter().next() {
                    Some((state, _)) if bad.len() == 1 => {
                        format!("{n_bad} of {n_leaves} disks {state}")
                    }
                    _ => {
                        let states: Vec<String> = bad
                            .iter()
                            .map(|(state, n)| format!("{n} {state}"))
                            .collect();
                        format!(
                            "{n_bad} of {n_leaves} disks not online ({})",
                            states.join(", ")
                        )
                    }
                }
            };
            add(
                format!("pool/{agent}/{}", status.name),
                severity,
                format!("{}: {}, {what}", status.name, state_name(&status.state)),
                reasons(&pool.verdict),
            );
        }
        for array in &storage.raid.arrays {
            let Some(severity) = severity_of(&array.verdict) else {
                continue;
            };
            let md = &array.array;
            let mut parts = Vec::new();
            if let (Some(raid), Some(working)) = (md.raid_disks, md.working_disks) {
                parts.push(format!("{working} of {raid} disks working"));
            }
            let n_faulty = md.members.iter().filter(|member| member.faulty).count();
            if n_faulty > 0 {
                parts.push(format!("{n_faulty} faulty"));
            }
            if let Some(sync) = &md.sync {
                let action = match sync.action {
                    MdSyncAction::Resync => "resync",
                    MdSyncAction::Recovery => "rebuilding",
                    MdSyncAction::Check => "check",
                    MdSyncAction::Repair => "repair",
                    MdSyncAction::Reshape => "reshape",
                };
                parts.push(match sync.percent {
                    Some(percent) => format!("{action} {percent:.0}%"),
                    None => action.to_owned(),
                });
            }
            if parts.is_empty() {
                parts.push(worst_reason(&array.verdict));
            }
            add(
                format!("array/{agent}/{}", md.name),
                severity,
                format!("{}: {}", md.name, parts.join(", ")),
                reasons(&array.verdict),
            );
        }
    }
    let holder = host
        .instances
        .iter()
        .find(|instance| instance.status == InstanceStatus::Active)
        .map_or_else(
            || "the host that holds it".to_owned(),
            |active| format!("{} ({})", active.hostname, active.address),
        );
    for other in host.instances.iter().filter(|instance| {
        matches!(
            instance.status,
            InstanceStatus::Conflict | InstanceStatus::Waiting
        ) && now_ms - instance.last_seen_ms <= IDENTITY_CONFLICT_WINDOW_MS
    }) {
        let other_name = format!("{} ({})", other.hostname, other.address);
        let key = format!("identity/{agent}/{}/conflict", other.instance_id);
        if other.status == InstanceStatus::Conflict {
            add(
                key,
                Severity::Critical,
                format!("Identity used by two hosts: {holder} and {other_name}"),
                vec![
                    format!("{other_name} presents this agent's certificate while {holder} is online: a cloned VM or a copied data directory. The controller refuses it; its reports stay in its spool and none is stored."),
                    format!("On {other_name}, run `unity-agent enroll --controller ... --token NEW_TOKEN --ca-hash ...` (no --force needed on a copy) to give it an identity of its own; its spooled reports are then sent under the new one."),
                ],
            );
        } else {
            add(
                key,
                Severity::Warning,
                format!("{other_name} waits to take over the identity of {holder}"),
                vec![
                    format!("This agent's data directory turned up on {other_name} (restored from a backup or moved to new hardware) while {holder} was heard from recently."),
                    "It takes over once the previous machine has been silent for identity_takeover_after; if both machines should run, enroll the new one with its own token instead.".into(),
                ],
            );
        }
    }
    for instance in host.databases.unwrap_or_default() {
        if instance.reachable {
            continue;
        }
        let endpoint = instance.endpoint.to_string();
        let error = instance.error.as_deref().unwrap_or("no answer");
        add(
            format!("database/{agent}/{endpoint}/down"),
            Severity::Critical,
            format!(
                "{} at {endpoint} is down: {error}",
                instance.engine.display_name()
            ),
            vec![format!("Probing {endpoint} failed: {error}.")],
        );
    }
    for fs in host.filesystems {
        if fs.size_bytes <= 0.0 || config.filesystem_ignore_types.contains(&fs.fs_type) {
            continue;
        }
        let percent = (fs.size_bytes - fs.available_bytes) / fs.size_bytes * 100.0;
        let severity = if percent >= config.filesystem_critical_percent {
            Severity::Critical
        } else if percent >= config.filesystem_warning_percent {
            Severity::Warning
        } else {
            continue;
        };
        add(
            format!("filesystem/{agent}/{}/full", fs.mount),
            severity,
            format!(
                "{} is {percent:.0}% full ({} of {} left)",
                fs.mount,
                bytes_text(fs.available_bytes),
                bytes_text(fs.size_bytes)
            ),
            vec![format!(
                "Thresholds: warning at {}%, critical at {}%.",
                config.filesystem_warning_percent, config.filesystem_critical_percent
            )],
        );
    }
    conditions.extend(checks::conditions(
        agent,
        host.checks,
        offline || host.last_seen_ms <= 0,
        now_ms,
    ));
    conditions.extend(series::conditions(
        agent,
        &config.series_rules,
        host.latest,
        config.offline_after_ms.max(SERIES_STALE_MIN_MS),
        now_ms,
    ));
    conditions
}

/// Groups a host's newest series into filesystem usages (by the `mount` label). Plugin series
/// (an exporter's own `filesystem_*`) are not the agent's and are left out, and so is a mount
/// without both its size and its available bytes: a missing figure is unknown, never zero
/// (a host that reports only sizes is not 100 % full).
pub fn filesystems(latest: &[(SeriesKey, Point)]) -> Vec<FilesystemUsage> {
    type Figures<'a> = (&'a str, Option<f64>, Option<f64>);
    let mut by_mount: BTreeMap<&str, Figures> = BTreeMap::new();
    for (key, (_, value)) in latest {
        let plugin = key
            .labels
            .iter()
            .any(|(name, value)| name == SOURCE_LABEL && SourceKind::of_source(value).is_some());
        if plugin {
            continue;
        }
        let is_size = key.metric == "filesystem_size_bytes";
        if !is_size && key.metric != "filesystem_available_bytes" {
            continue;
        }
        let label = |name: &str| {
            key.labels
                .iter()
                .find(|(label, _)| label == name)
                .map_or("", |(_, value)| value.as_str())
        };
        let figures = by_mount
            .entry(label("mount"))
            .or_insert((label("fstype"), None, None));
        if is_size {
            figures.1 = Some(*value);
        } else {
            figures.2 = Some(*value);
        }
    }
    by_mount
        .into_iter()
        .filter(|(mount, _)| !mount.is_empty())
        .filter_map(|(mount, (fs_type, size, available))| {
            Some(FilesystemUsage {
                mount: mount.to_owned(),
                fs_type: fs_type.to_owned(),
                size_bytes: size?,
                available_bytes: available?,
            })
        })
        .collect()
}

/// The alert severity of a verdict, if it deserves an alert. A verdict whose only findings
/// are "no health data" (a RAID volume, a USB bridge without SMART) raises nothing: it would
/// stay open forever on hosts where it is normal.
fn severity_of(verdict: &Verdict) -> Option<Severity> {
    let only_no_data = verdict
        .reasons
        .iter()
        .filter(|reason| reason.status != VerdictStatus::Passed)
        .all(|reason| reason.kind == ReasonKind::NoHealthData);
    match verdict.status {
        VerdictStatus::Passed => None,
        _ if only_no_data => None,
        VerdictStatus::Warning => Some(Severity::Warning),
        VerdictStatus::Failing => Some(Severity::Critical),
    }
}

/// An identity field unless it is a placeholder without letters or digits (`--`, ``).
fn known(value: Option<&str>) -> Option<&str> {
    value
        .map(str::trim)
        .filter(|value| value.chars().any(|c| c.is_ascii_alphanumeric()))
}

/// The message of the first finding with the verdict's status, without its final period.
fn worst_reason(verdict: &Verdict) -> String {
    verdict
        .reasons
        .iter()
        .find(|reason| reason.status == verdict.status)
        .map(|reason| reason.message.trim_end_matches('.').to_owned())
        .unwrap_or_default()
}

fn reasons(verdict: &Verdict) -> Vec<String> {
    verdict
        .reasons
        .iter()
        .filter(|reason| reason.status != VerdictStatus::Passed)
        .map(|reason| reason.message.clone())
        .collect()
}

fn leaf_vdevs(vdev: &Vdev) -> Vec<&Vdev> {
    match vdev.kind {
        VdevKind::Disk => vec![vdev],
        _ => vdev.children.iter().flat_map(leaf_vdevs).collect(),
    }
}

fn state_name(state: &VdevState) -> String {
    match state {
        VdevState::Online => "ONLINE".into(),
        VdevState::Degraded => "DEGRADED".into(),
        VdevState::Faulted => "FAULTED".into(),
        VdevState::Offline => "OFFLINE".into(),
        VdevState::Unavail => "UNAVAIL".into(),
        VdevState::Removed => "REMOVED".into(),
        VdevState::Suspended => "SUSPENDED".into(),
        VdevState::Avail => "AVAIL".into(),
        VdevState::Inuse => "INUSE".into(),
        VdevState::Other(word) => word.clone(),
    }
}

fn duration_text(ms: i64) -> String {
    let secs = ms.max(0) / 1000;
    match secs {
        0..=119 => format!("{secs} s"),
        120..=7199 => format!("{} min", secs / 60),
        7200..=172_799 => format!("{} h", secs / 3600),
        _ => format!("{} days", secs / 86_400),
    }
}

fn bytes_text(bytes: f64) -> String {
    let units = ["B", "KB", "MB", "GB", "TB", "PB"];
    let mut value = bytes.max(0.0);
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < units.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0} B")
    } else {
        format!("{value:.1} {}", units[unit])
    }
}

#[cfg(test)]
mod containers_tests;
#[cfg(test)]
mod disk_trends_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod updates_tests;
