//! Reports spooled by an older agent. The spool keeps reports as postcard, which encodes
//! fields by position, so a report written before a field was appended lacks its bytes: an
//! agent upgraded with reports still spooled reads each in the current layout first, then in
//! the older one, and upgrades it (the new fields empty). Layouts:
//!
//! - version 4: up to `containers`;
//! - version 5: `plugin_series`, `plugin_sources` and `checks` appended;
//! - version 6 (to protocol 8): `certificates` appended;
//! - version 9: `image_scans` appended, and `network_mode` appended to each
//!   container of the inventory (`layout_containers.rs` reads the older inventories);
//! - version 10 (issue 18): `service_checks` appended, and `oom_killed` appended to each
//!   container of the inventory.

use super::layout_containers::{self, InventoryV8, InventoryV9};
use serde::Deserialize;
use unity_shared::model::certificate::CertificateInventory;
use unity_shared::model::database::DatabaseInstance;
use unity_shared::model::plugin::{CheckResult, SeriesBatch, SourceStatus};
use unity_shared::model::scan::ImageScans;
use unity_shared::proto::{Report, Sample, StorageState};

/// A report as protocol version 4 spooled it.
#[derive(Deserialize)]
struct ReportV4 {
    seq: u64,
    collected_at_ms: i64,
    samples: Vec<Sample>,
    dropped_reports: u64,
    storage: Option<Box<StorageState>>,
    databases: Option<Vec<DatabaseInstance>>,
    containers: Option<Box<InventoryV8>>,
}

impl ReportV4 {
    fn upgrade(self) -> Report {
        Report {
            seq: self.seq,
            collected_at_ms: self.collected_at_ms,
            samples: self.samples,
            dropped_reports: self.dropped_reports,
            storage: self.storage,
            databases: self.databases,
            containers: layout_containers::upgrade(self.containers),
            plugin_series: None,
            plugin_sources: None,
            checks: None,
            certificates: None,
            image_scans: None,
            service_checks: None,
        }
    }
}

/// A report as protocol version 5 spooled it.
#[derive(Deserialize)]
struct ReportV5 {
    seq: u64,
    collected_at_ms: i64,
    samples: Vec<Sample>,
    dropped_reports: u64,
    storage: Option<Box<StorageState>>,
    databases: Option<Vec<DatabaseInstance>>,
    containers: Option<Box<InventoryV8>>,
    plugin_series: Option<Box<SeriesBatch>>,
    plugin_sources: Option<Vec<SourceStatus>>,
    checks: Option<Vec<CheckResult>>,
}

impl ReportV5 {
    fn upgrade(self) -> Report {
        Report {
            seq: self.seq,
            collected_at_ms: self.collected_at_ms,
            samples: self.samples,
            dropped_reports: self.dropped_reports,
            storage: self.storage,
            databases: self.databases,
            containers: layout_containers::upgrade(self.containers),
            plugin_series: self.plugin_series,
            plugin_sources: self.plugin_sources,
            checks: self.checks,
            certificates: None,
            image_scans: None,
            service_checks: None,
        }
    }
}

/// A report as protocol versions 6 to 8 spooled it.
#[derive(Deserialize)]
struct ReportV8 {
    seq: u64,
    collected_at_ms: i64,
    samples: Vec<Sample>,
    dropped_reports: u64,
    storage: Option<Box<StorageState>>,
    databases: Option<Vec<DatabaseInstance>>,
    containers: Option<Box<InventoryV8>>,
    plugin_series: Option<Box<SeriesBatch>>,
    plugin_sources: Option<Vec<SourceStatus>>,
    checks: Option<Vec<CheckResult>>,
    certificates: Option<Box<CertificateInventory>>,
}

impl ReportV8 {
    fn upgrade(self) -> Report {
        Report {
            seq: self.seq,
            collected_at_ms: self.collected_at_ms,
            samples: self.samples,
            dropped_reports: self.dropped_reports,
            storage: self.storage,
            databases: self.databases,
            containers: layout_containers::upgrade(self.containers),
            plugin_series: self.plugin_series,
            plugin_sources: self.plugin_sources,
            checks: self.checks,
            certificates: self.certificates,
            image_scans: None,
            service_checks: None,
        }
    }
}

/// A report as protocol version 9 spooled it: the current layout without `service_checks`,
/// its containers without `oom_killed`.
#[derive(Deserialize)]
struct ReportV9 {
    seq: u64,
    collected_at_ms: i64,
    samples: Vec<Sample>,
    dropped_reports: u64,
    storage: Option<Box<StorageState>>,
    databases: Option<Vec<DatabaseInstance>>,
    containers: Option<Box<InventoryV9>>,
    plugin_series: Option<Box<SeriesBatch>>,
    plugin_sources: Option<Vec<SourceStatus>>,
    checks: Option<Vec<CheckResult>>,
    certificates: Option<Box<CertificateInventory>>,
    image_scans: Option<Box<ImageScans>>,
}

impl ReportV9 {
    fn upgrade(self) -> Report {
        Report {
            seq: self.seq,
            collected_at_ms: self.collected_at_ms,
            samples: self.samples,
            dropped_reports: self.dropped_reports,
            storage: self.storage,
            databases: self.databases,
            containers: layout_containers::upgrade_v9(self.containers),
            plugin_series: self.plugin_series,
            plugin_sources: self.plugin_sources,
            checks: self.checks,
            certificates: self.certificates,
            image_scans: self.image_scans,
            service_checks: None,
        }
    }
}

/// Decodes a spooled report of any layout this agent knows. The error is the current
/// layout's when no layout fits.
pub fn decode(bytes: &[u8]) -> Result<Report, postcard::Error> {
    let current = match postcard::from_bytes::<Report>(bytes) {
        Ok(report) => return Ok(report),
        Err(error) => error,
    };
    // Each older layout must take the whole file, or it is not that layout either.
    if let Ok((old, [])) = postcard::take_from_bytes::<ReportV9>(bytes) {
        return Ok(old.upgrade());
    }
    if let Ok((old, [])) = postcard::take_from_bytes::<ReportV8>(bytes) {
        return Ok(old.upgrade());
    }
    if let Ok((old, [])) = postcard::take_from_bytes::<ReportV5>(bytes) {
        return Ok(old.upgrade());
    }
    if let Ok((old, [])) = postcard::take_from_bytes::<ReportV4>(bytes) {
        return Ok(old.upgrade());
    }
    Err(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version_4_report() -> Vec<u8> {
        let text = include_str!("testdata/report-v4.hex");
        hex_decode(text.trim())
    }

    fn version_8_report() -> Vec<u8> {
        let text = include_str!("testdata/report-v8.hex");
        hex_decode(text.trim())
    }

    fn version_5_report() -> Vec<u8> {
        let text = include_str!("testdata/report-v5.hex");
        hex_decode(text.trim())
    }

    fn hex_decode(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|at| u8::from_str_radix(&text[at..at + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn issue_22_a_report_spooled_by_version_4_is_read_and_upgraded() {
        let bytes = version_4_report();
        assert!(
            postcard::from_bytes::<Report>(&bytes).is_err(),
            "the current layout alone cannot read it"
        );
        let report = decode(&bytes).unwrap();
        assert_eq!(report.seq, 42);
        assert_eq!(report.dropped_reports, 3);
        assert_eq!(report.samples[0].metric, "cpu_usage_ratio");
        let storage = report.storage.as_ref().unwrap();
        assert!(!storage.smart.devices.is_empty());
        assert!(report.databases.as_ref().is_some_and(|d| !d.is_empty()));
        assert!(report.containers.is_some());
        assert_eq!(
            (report.plugin_series, report.plugin_sources, report.checks),
            (None, None, None)
        );
        assert_eq!(report.certificates, None);
    }

    #[test]
    fn issue_15_a_report_spooled_by_version_5_is_read_and_upgraded() {
        let bytes = version_5_report();
        assert!(
            postcard::from_bytes::<Report>(&bytes).is_err(),
            "the current layout alone cannot read it"
        );
        let report = decode(&bytes).unwrap();
        assert_eq!(report.seq, 42);
        assert!(report.storage.is_some() && report.containers.is_some());
        assert!(report
            .plugin_series
            .is_some_and(|batch| !batch.samples.is_empty()));
        assert!(report.plugin_sources.is_some_and(|s| !s.is_empty()));
        assert!(report.checks.is_some_and(|c| !c.is_empty()));
        assert_eq!(report.certificates, None);
        let old = version_5_report();
        assert!(decode(&old[..old.len() - 1]).is_err());
    }

    /// Written by the protocol-8 agent (the version-5 report with a certificate inventory).
    #[test]
    fn issue_17_a_report_spooled_by_protocol_8_is_read_and_upgraded() {
        let bytes = version_8_report();
        assert!(
            postcard::from_bytes::<Report>(&bytes).is_err(),
            "the current layout alone cannot read it"
        );
        let report = decode(&bytes).unwrap();
        assert_eq!(report.seq, 42);
        assert!(report.storage.is_some() && report.containers.is_some());
        assert!(report.checks.is_some_and(|c| !c.is_empty()));
        let certificates = report.certificates.unwrap();
        assert_eq!(
            (certificates.files_scanned, certificates.ports_probed),
            (7, 2)
        );
        assert_eq!(report.image_scans, None);
        let old = version_8_report();
        assert!(decode(&old[..old.len() - 1]).is_err());
    }

    /// Written by the protocol-9 agent (image scans, no service checks).
    #[test]
    fn issue_18_a_report_spooled_by_protocol_9_is_read_and_upgraded() {
        let text = include_str!("testdata/report-v9.hex");
        let bytes = hex_decode(text.trim());
        assert!(
            postcard::from_bytes::<Report>(&bytes).is_err(),
            "the current layout alone cannot read it"
        );
        let report = decode(&bytes).unwrap();
        assert_eq!(report.seq, 42);
        assert!(report.certificates.is_some() && report.image_scans.is_some());
        assert_eq!(report.service_checks, None);
        assert!(decode(&bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn the_current_layout_round_trips_and_garbage_stays_an_error() {
        let mut report = decode(&version_4_report()).unwrap();
        report.checks = Some(vec![]);
        let bytes = postcard::to_allocvec(&report).unwrap();
        assert_eq!(decode(&bytes).unwrap(), report);
        assert!(decode(b"\xff\xff").is_err());
        // A truncated version 4 report is not mistaken for one.
        let old = version_4_report();
        assert!(decode(&old[..old.len() - 1]).is_err());
    }
}
