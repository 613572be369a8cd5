//! `unity-agent collect smart|zfs|raid [--json]`: run a storage collector once on this host and
//! render the result as a table for people or as JSON.
//!
//! The collectors never fail as a whole: a missing tool is reported as
//! [`CollectorOutcome::NotInstalled`] inside the result, so these functions return `Ok` and
//! the CLI picks the exit code with [`Collected::exit_code`].

use std::fmt::Write as _;

use anyhow::Context;
use unity_shared::model::storage::{
    CollectorOutcome, RaidCollection, ScanState, SmartCollection, Verdict, VerdictStatus,
    ZfsCollection,
};

use crate::collect::mdraid::{self, RaidConfig};
use crate::collect::smart::{self, SmartConfig};
use crate::collect::zfs::{self, ZfsConfig};

/// The result of one storage collector run.
#[derive(Debug, Clone, PartialEq)]
pub enum Collected {
    Smart(SmartCollection),
    Zfs(ZfsCollection),
    Raid(RaidCollection),
}

impl Collected {
    fn outcome(&self) -> &CollectorOutcome {
        match self {
            Collected::Smart(c) => &c.outcome,
            Collected::Zfs(c) => &c.outcome,
            Collected::Raid(c) => &c.outcome,
        }
    }

    fn verdicts(&self) -> Vec<&Verdict> {
        match self {
            Collected::Smart(c) => c
                .devices
                .iter()
                .filter_map(|d| d.verdict.as_ref())
                .collect(),
            Collected::Zfs(c) => c.pools.iter().map(|p| &p.verdict).collect(),
            Collected::Raid(c) => c.arrays.iter().map(|a| &a.verdict).collect(),
        }
    }

    /// 0 when everything passed (or the tool is not installed), 1 when a warning, 2 when
    /// something is failing, 3 when the collector itself failed.
    pub fn exit_code(&self) -> i32 {
        if matches!(self.outcome(), CollectorOutcome::Failed { .. }) {
            return 3;
        }
        match self.verdicts().iter().map(|v| v.status).max() {
            Some(VerdictStatus::Failing) => 2,
            Some(VerdictStatus::Warning) => 1,
            _ => 0,
        }
    }
}

/// Runs the SMART collector once.
pub async fn collect_smart(config: &SmartConfig) -> anyhow::Result<Collected> {
    Ok(Collected::Smart(smart::collect(config).await))
}

/// Runs the ZFS collector once.
pub async fn collect_zfs(config: &ZfsConfig) -> anyhow::Result<Collected> {
    Ok(Collected::Zfs(zfs::collect(config).await))
}

/// Runs the md RAID collector once.
pub async fn collect_raid(config: &RaidConfig) -> anyhow::Result<Collected> {
    Ok(Collected::Raid(mdraid::collect(config).await))
}

/// The result as pretty JSON (the shared model's field names).
pub fn render_json(collected: &Collected) -> anyhow::Result<String> {
    match collected {
        Collected::Smart(c) => serde_json::to_string_pretty(c),
        Collected::Zfs(c) => serde_json::to_string_pretty(c),
        Collected::Raid(c) => serde_json::to_string_pretty(c),
    }
    .context("rendering JSON")
}

/// The result as text tables with each verdict's reasons below its row.
pub fn render_table(collected: &Collected) -> String {
    let mut out = String::new();
    match collected.outcome() {
        CollectorOutcome::Ok => {}
        CollectorOutcome::NotInstalled { tool } => {
            let _ = writeln!(
                out,
                "{tool} is not installed (or not present) on this host."
            );
            return out;
        }
        CollectorOutcome::Failed { message } => {
            let _ = writeln!(out, "Collector failed: {message}");
            return out;
        }
    }
    match collected {
        Collected::Smart(c) => smart_table(c, &mut out),
        Collected::Zfs(c) => zfs_table(c, &mut out),
        Collected::Raid(c) => raid_table(c, &mut out),
    }
    out
}

fn status_word(verdict: Option<&Verdict>) -> String {
    match verdict.map(|v| v.status) {
        Some(VerdictStatus::Passed) => "PASSED".to_owned(),
        Some(VerdictStatus::Warning) => "WARNING".to_owned(),
        Some(VerdictStatus::Failing) => "FAILING".to_owned(),
        None => "ERROR".to_owned(),
    }
}

/// A table: rows of cells, each followed by indented detail lines.
struct Table {
    header: Vec<&'static str>,
    rows: Vec<(Vec<String>, Vec<String>)>,
}

impl Table {
    fn write(&self, out: &mut String) {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for (cells, _) in &self.rows {
            for (i, cell) in cells.iter().enumerate() {
                if let Some(width) = widths.get_mut(i) {
                    *width = (*width).max(cell.chars().count());
                }
            }
        }
        let line = |cells: Vec<&str>, out: &mut String| {
            let mut text = String::new();
            for (cell, width) in cells.iter().zip(&widths) {
                let _ = write!(text, "{cell:<width$}  ");
            }
            let _ = writeln!(out, "{}", text.trim_end());
        };
        line(self.header.clone(), out);
        for (cells, details) in &self.rows {
            line(cells.iter().map(String::as_str).collect(), out);
            for detail in details {
                let _ = writeln!(out, "    - {detail}");
            }
        }
    }
}

fn reasons(verdict: Option<&Verdict>) -> Vec<String> {
    verdict
        .map(|v| v.reasons.iter().map(|r| r.message.clone()).collect())
        .unwrap_or_default()
}

fn or_dash<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

fn smart_table(collection: &SmartCollection, out: &mut String) {
    if collection.devices.is_empty() {
        let _ = writeln!(out, "No SMART devices found.");
        return;
    }
    let mut table = Table {
        header: vec![
            "DEVICE", "TYPE", "MODEL", "SERIAL", "TEMP", "HOURS", "VERDICT",
        ],
        rows: Vec::new(),
    };
    for device in &collection.devices {
        let report = device.report.as_ref();
        let cells = vec![
            device.device.clone(),
            or_dash(device.device_type.as_deref()),
            or_dash(report.and_then(|r| r.device.model.as_deref())),
            or_dash(report.and_then(|r| r.device.serial.as_deref())),
            report
                .and_then(|r| r.temperature.current_celsius)
                .map_or_else(|| "-".to_owned(), |t| format!("{t} °C")),
            or_dash(report.and_then(|r| r.power_on_hours)),
            status_word(device.verdict.as_ref()),
        ];
        let mut details = reasons(device.verdict.as_ref());
        details.extend(device.error.clone());
        table.rows.push((cells, details));
    }
    table.write(out);
}

fn zfs_table(collection: &ZfsCollection, out: &mut String) {
    if collection.pools.is_empty() {
        let _ = writeln!(out, "No ZFS pools imported.");
    } else {
        let mut table = Table {
            header: vec!["POOL", "STATE", "SIZE", "CAP", "LAST SCAN", "VERDICT"],
            rows: Vec::new(),
        };
        for pool in &collection.pools {
            let capacity = collection
                .capacity
                .iter()
                .find(|c| c.name == pool.status.name);
            let scan = pool.status.scan.as_ref().map_or_else(
                || "never".to_owned(),
                |scan| match scan.state {
                    ScanState::InProgress => format!(
                        "{:?} {}% done",
                        scan.kind,
                        scan.percent_done
                            .map_or_else(|| "?".to_owned(), |p| format!("{p:.1}"))
                    )
                    .to_lowercase(),
                    _ => scan
                        .finished_at
                        .clone()
                        .unwrap_or_else(|| scan.text.clone()),
                },
            );
            let cells = vec![
                pool.status.name.clone(),
                format!("{:?}", pool.status.state).to_uppercase(),
                capacity
                    .and_then(|c| c.size_bytes)
                    .map_or_else(|| "-".to_owned(), human_bytes),
                capacity
                    .and_then(|c| c.capacity_percent)
                    .map_or_else(|| "-".to_owned(), |p| format!("{p}%")),
                scan,
                status_word(Some(&pool.verdict)),
            ];
            table.rows.push((cells, reasons(Some(&pool.verdict))));
        }
        table.write(out);
    }
    for error in &collection.errors {
        let _ = writeln!(out, "error: {error}");
    }
}

fn raid_table(collection: &RaidCollection, out: &mut String) {
    if collection.arrays.is_empty() {
        let _ = writeln!(out, "No md arrays.");
    } else {
        let mut table = Table {
            header: vec![
                "ARRAY", "LEVEL", "STATE", "DISKS", "STATUS", "SYNC", "VERDICT",
            ],
            rows: Vec::new(),
        };
        for result in &collection.arrays {
            let array = &result.array;
            let disks = match (array.working_disks, array.raid_disks) {
                (Some(working), Some(raid)) => format!("{working}/{raid}"),
                _ => array.members.len().to_string(),
            };
            let sync = array.sync.as_ref().map_or_else(
                || "-".to_owned(),
                |s| {
                    format!(
                        "{:?} {}%",
                        s.action,
                        s.percent
                            .map_or_else(|| "?".to_owned(), |p| format!("{p:.1}"))
                    )
                    .to_lowercase()
                },
            );
            let cells = vec![
                array.name.clone(),
                array
                    .level
                    .as_ref()
                    .map_or_else(|| "-".to_owned(), |l| format!("{l:?}").to_lowercase()),
                if array.active { "active" } else { "inactive" }.to_owned(),
                disks,
                or_dash(array.member_status.as_deref()),
                sync,
                status_word(Some(&result.verdict)),
            ];
            table.rows.push((cells, reasons(Some(&result.verdict))));
        }
        table.write(out);
    }
    for error in &collection.errors {
        let _ = writeln!(out, "error: {error}");
    }
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS.get(unit).copied().unwrap_or("B"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn testdata(collector: &str, file: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("src/collect")
            .join(collector)
            .join("testdata")
            .join(file)
    }

    #[tokio::test]
    async fn raid_table_and_exit_code() {
        let config = RaidConfig {
            mdstat_path: testdata("mdraid", "proc-mdstat-raid5-recovery-degraded.txt"),
            mdadm_path: None,
            ..RaidConfig::default()
        };
        let collected = collect_raid(&config).await.unwrap();
        let table = render_table(&collected);
        assert!(table.starts_with("ARRAY"), "{table}");
        assert!(
            table.contains("md127") && table.contains("FAILING"),
            "{table}"
        );
        assert!(table.contains("recovery 12.6%"), "{table}");
        assert_eq!(collected.exit_code(), 2);
        assert!(render_json(&collected).unwrap().contains("\"arrays\""));
    }

    #[tokio::test]
    async fn not_installed_is_a_sentence() {
        let config = SmartConfig {
            smartctl_path: PathBuf::from("/nonexistent/unity-test/smartctl"),
            ..SmartConfig::default()
        };
        let collected = collect_smart(&config).await.unwrap();
        assert!(render_table(&collected).contains("is not installed"));
        assert_eq!(collected.exit_code(), 0);
    }
}
