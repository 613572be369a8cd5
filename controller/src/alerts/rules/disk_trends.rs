//! Disk trends, pure: a host's newest storage state and each drive's accepted baseline in,
//! conditions and the baselines to store out (issue 18 §1). Alerts on a counter that *grew*
//! since the operator last looked, not on its absolute value, so a drive with 8 old
//! reallocated sectors stays quiet until it gets a ninth; "accept as new baseline" (API and
//! the host page) moves the baseline to the values of now.
//!
//! | key | active when | severity |
//! |---|---|---|
//! | `disk/<agent>/<drive>/grown` | reallocated, pending, offline-uncorrectable, UDMA CRC (ATA), media errors (NVMe) or grown defects (SCSI) above the baseline | critical (warning when only CRC errors grew: a cable) |
//! | `disk/<agent>/<drive>/wear` | percentage used crossed 80 / 90 / 100 % since the baseline | warning (critical at 100 %) |
//! | `disk/<agent>/<drive>/temperature` | above the drive's own warning limit (or `temperature_limit_celsius` when it reports none) for `temperature_for` | warning (critical at its critical limit) |
//! | `disk/<agent>/<drive>/self_test` | the newest self-test log entry failed | critical |
//! | `pool/<agent>/<pool>/member/<vdev>/missing` | a ZFS leaf vdev is REMOVED or UNAVAIL | critical |
//! | `array/<agent>/<md>/slot/<n>/missing` | an md array's member status shows slot `n` empty (`_`) | critical |
//!
//! `<drive>` is the drive's WWN, else its serial, else its device name. A drive seen for the
//! first time gets its values of now as baseline (no alert); a counter that went down (a
//! drive reset) lowers its baseline.

use super::{leaf_vdevs, Condition};
pub use crate::alerts::config::DiskTrendConfig;
use crate::storage::alerts::Severity;
use crate::storage::disk_baselines::DiskBaseline;
pub use crate::storage::disk_baselines::{baseline_of, counters, drive_id, WEAR};
use std::collections::BTreeMap;
use unity_shared::model::storage::VdevState;
use unity_shared::proto::{AgentId, StorageState};

/// The counters watched for growth: name, what people call it, and how bad growth is.
const GROWTH: &[(&str, &str, Severity)] = &[
    (
        "reallocated_sectors",
        "reallocated sectors",
        Severity::Critical,
    ),
    ("pending_sectors", "pending sectors", Severity::Critical),
    (
        "offline_uncorrectable",
        "offline uncorrectable sectors",
        Severity::Critical,
    ),
    ("udma_crc_errors", "UDMA CRC errors", Severity::Warning),
    ("media_errors", "media errors", Severity::Critical),
    ("grown_defects", "grown defects", Severity::Critical),
];

/// What one evaluation found, and the baselines that changed (to store).
#[derive(Debug, Default, PartialEq)]
pub struct TrendOutcome {
    pub conditions: Vec<Condition>,
    /// (drive, baseline) to write: first sightings, lowered counters, temperature state.
    pub baselines: Vec<(String, DiskBaseline)>,
}

/// The wear step a percentage has reached: 0, 80, 90 or 100.
fn wear_step(percent: u64) -> u64 {
    match percent {
        100.. => 100,
        90..=99 => 90,
        80..=89 => 80,
        _ => 0,
    }
}

/// The trend rules over one host's storage.
pub fn evaluate(
    agent: &AgentId,
    storage: &StorageState,
    baselines: &BTreeMap<String, DiskBaseline>,
    now_ms: i64,
    config: &DiskTrendConfig,
) -> TrendOutcome {
    let mut outcome = TrendOutcome::default();
    let mut add = |key: String, severity: Severity, summary: String, details: Vec<String>| {
        outcome.conditions.push(Condition {
            key,
            agent_id: agent.clone(),
            severity,
            summary,
            details,
        })
    };
    let mut stored = Vec::new();
    for device in &storage.smart.devices {
        let Some(report) = &device.report else {
            continue;
        };
        if report.in_standby {
            continue;
        }
        let id = drive_id(device);
        let mut name = device.device.clone();
        if let Some(model) = super::known(report.device.model.as_deref()) {
            name = format!("{name} {model}");
        }
        if let Some(serial) = super::known(report.device.serial.as_deref()) {
            name = format!("{name} (serial {serial})");
        }
        let now_counters = counters(report);
        let Some(previous) = baselines.get(&id) else {
            stored.push((id, baseline_of(report, now_ms, None)));
            continue;
        };
        let mut baseline = previous.clone();
        let since = super::duration_text(now_ms.saturating_sub(baseline.accepted_at_ms));
        let mut grown = Vec::new();
        let mut severity = Severity::Warning;
        for (counter, value) in &now_counters {
            match baseline.counters.get(counter).copied() {
                None => {
                    baseline.counters.insert(counter.clone(), *value);
                }
                Some(base) if *value < base => {
                    baseline.counters.insert(counter.clone(), *value);
                }
                Some(base) if *value > base && counter != WEAR => {
                    let (what, bad) = GROWTH
                        .iter()
                        .find(|(known, _, _)| known == counter)
                        .map_or((counter.as_str(), Severity::Warning), |(_, what, bad)| {
                            (*what, *bad)
                        });
                    severity = severity.max(bad);
                    grown.push(format!("{what}: {base} → {value}"));
                }
                Some(_) => {}
            }
        }
        if !grown.is_empty() {
            add(
                format!("disk/{agent}/{id}/grown"),
                severity,
                format!("Disk {name}: {}", grown.join(", ")),
                vec![
                    format!("Grown since the baseline accepted {since} ago."),
                    "Accept the values as the new baseline on the host's page once you have looked.".into(),
                ],
            );
        }
        if let (Some(used), Some(base)) = (
            now_counters.get(WEAR).copied(),
            baseline.counters.get(WEAR).copied(),
        ) {
            let step = wear_step(used);
            if step > wear_step(base) {
                add(
                    format!("disk/{agent}/{id}/wear"),
                    if step >= 100 {
                        Severity::Critical
                    } else {
                        Severity::Warning
                    },
                    format!("Disk {name} has used {used}% of its rated endurance"),
                    vec![format!(
                        "Crossed {step}% (baseline {base}%, accepted {since} ago)."
                    )],
                );
            }
        }
        let temperature = report
            .temperature
            .current_celsius
            .or_else(|| report.nvme.as_ref()?.temperature_celsius);
        let own_limit = report.temperature.warning_limit_celsius;
        let limit = own_limit.unwrap_or(config.temperature_limit_celsius);
        match temperature {
            Some(celsius) if celsius > limit => {
                let since_ms = *baseline.hot_since_ms.get_or_insert(now_ms);
                if now_ms.saturating_sub(since_ms) >= config.temperature_for_ms {
                    let critical = report
                        .temperature
                        .critical_limit_celsius
                        .is_some_and(|critical| celsius >= critical);
                    let whose = if own_limit.is_some() {
                        "its own warning limit"
                    } else {
                        "the configured limit"
                    };
                    add(
                        format!("disk/{agent}/{id}/temperature"),
                        if critical {
                            Severity::Critical
                        } else {
                            Severity::Warning
                        },
                        format!("Disk {name} is at {celsius} °C"),
                        vec![format!(
                            "Above {whose} of {limit} °C for {}.",
                            super::duration_text(now_ms.saturating_sub(since_ms))
                        )],
                    );
                }
            }
            _ => baseline.hot_since_ms = None,
        }
        if let Some(test) = report
            .self_test_log
            .as_ref()
            .and_then(|log| log.entries.first())
        {
            if test.passed == Some(false) {
                let mut details = vec![format!("{}: {}.", test.test_type, test.status)];
                if let Some(lba) = test.lba_of_first_error {
                    details.push(format!("First error at LBA {lba}."));
                }
                add(
                    format!("disk/{agent}/{id}/self_test"),
                    Severity::Critical,
                    format!("Disk {name} failed its latest self-test"),
                    details,
                );
            }
        }
        if &baseline != previous {
            stored.push((id, baseline));
        }
    }
    for pool in &storage.zfs.pools {
        let status = &pool.status;
        for leaf in std::iter::once(&status.root)
            .chain(&status.logs)
            .chain(&status.special)
            .chain(&status.dedup)
            .flat_map(leaf_vdevs)
        {
            if !matches!(leaf.state, VdevState::Removed | VdevState::Unavail) {
                continue;
            }
            let state = super::state_name(&leaf.state);
            let note = leaf.note.as_deref().unwrap_or_default();
            add(
                format!("pool/{agent}/{}/member/{}/missing", status.name, leaf.name),
                Severity::Critical,
                format!("{}: member {} is {state}", status.name, leaf.name),
                vec![format!("ZFS cannot reach this vdev. {note}")
                    .trim_end()
                    .to_owned()],
            );
        }
    }
    for array in &storage.raid.arrays {
        let md = &array.array;
        if md.is_container || !md.active {
            continue;
        }
        let Some(slots) = md.member_status.as_deref() else {
            continue;
        };
        let faulty: Vec<&str> = md
            .members
            .iter()
            .filter(|member| member.faulty)
            .map(|member| member.device.as_str())
            .collect();
        for (slot, _) in slots
            .trim_matches(|c| c == '[' || c == ']')
            .chars()
            .enumerate()
            .filter(|(_, c)| *c == '_')
        {
            let mut details = vec![format!(
                "Member status {slots}: slot {slot} has no working disk."
            )];
            if !faulty.is_empty() {
                details.push(format!("Marked faulty: {}.", faulty.join(", ")));
            }
            add(
                format!("array/{agent}/{}/slot/{slot}/missing", md.name),
                Severity::Critical,
                format!("{}: a member is missing (slot {slot})", md.name),
                details,
            );
        }
    }
    outcome.baselines = stored;
    outcome
}
