//! Per-drive history as time series: turns a [`SmartCollection`] into [`proto::Sample`]s
//! (`smart_*` metrics, documented in `docs/storage-model.md`, "Storage time series").
//!
//! Every series carries `device`, `model` and `serial` (and `wwn` when known), so that a drive
//! keeps its history when its `/dev` name changes. Pure: no I/O, no clock.

use unity_shared::model::storage::{AtaAttribute, SmartDeviceResult, SmartReport, WhenFailed};
use unity_shared::model::storage::{ScsiOperation, SmartCollection};
use unity_shared::proto;

/// ATA attributes always recorded when present: the failure predictors, wear and temperature.
/// Any other attribute is recorded too while it is at or below its threshold (now or in the
/// past).
pub const KEY_ATA_ATTRIBUTES: [u8; 15] = [
    5, 9, 10, 183, 184, 187, 188, 190, 194, 196, 197, 198, 199, 241, 242,
];

/// Bytes per NVMe data unit (the spec counts thousands of 512-byte blocks).
const NVME_DATA_UNIT_BYTES: u64 = 512_000;

/// The samples of every drive in `collection`, stamped `timestamp_ms`. Drives without a report
/// only get `smart_device_readable 0`. No sample is NaN or infinite.
pub fn to_samples(collection: &SmartCollection, timestamp_ms: i64) -> Vec<proto::Sample> {
    let mut samples = Vec::new();
    for device in &collection.devices {
        device_samples(device, timestamp_ms, &mut samples);
    }
    samples
}

pub use crate::collect::series::verdict_value;

/// Collects samples that share the drive's identity labels.
struct Drive<'a> {
    identity: Vec<(&'static str, String)>,
    timestamp_ms: i64,
    samples: &'a mut Vec<proto::Sample>,
}

impl Drive<'_> {
    fn push(&mut self, metric: &str, extra: &[(&'static str, String)], value: f64) {
        if !value.is_finite() {
            return;
        }
        let mut labels: Vec<(String, String)> = self
            .identity
            .iter()
            .chain(extra)
            .map(|(name, value)| ((*name).to_owned(), value.clone()))
            .collect();
        labels.sort();
        self.samples.push(proto::Sample {
            metric: metric.to_owned(),
            labels,
            timestamp_ms: self.timestamp_ms,
            value,
        });
    }

    fn push_u64(&mut self, metric: &str, extra: &[(&'static str, String)], value: Option<u64>) {
        if let Some(value) = value {
            self.push(metric, extra, value as f64);
        }
    }
}

/// The `device` label: the device path, plus the `-d` type when it addresses one drive behind
/// a controller (`/dev/bus/0 [sat+megaraid,0]`), since several drives share that path.
fn device_label(device: &SmartDeviceResult) -> String {
    match &device.device_type {
        Some(device_type) if device_type.contains(',') => {
            format!("{} [{device_type}]", device.device)
        }
        _ => device.device.clone(),
    }
}

fn device_samples(device: &SmartDeviceResult, timestamp_ms: i64, samples: &mut Vec<proto::Sample>) {
    let identity_of = |report: Option<&SmartReport>| {
        let field = |get: fn(&SmartReport) -> Option<&String>| {
            report
                .and_then(get)
                .map(|value| value.trim().to_owned())
                .unwrap_or_default()
        };
        let mut labels = vec![
            ("device", device_label(device)),
            ("model", field(|r| r.device.model.as_ref())),
            ("serial", field(|r| r.device.serial.as_ref())),
        ];
        let wwn = field(|r| r.device.wwn.as_ref());
        if !wwn.is_empty() {
            labels.push(("wwn", wwn));
        }
        labels
    };
    let mut drive = Drive {
        identity: identity_of(device.report.as_ref()),
        timestamp_ms,
        samples,
    };
    let Some(report) = &device.report else {
        drive.push("smart_device_readable", &[], 0.0);
        return;
    };
    drive.push("smart_device_readable", &[], 1.0);
    if let Some(verdict) = &device.verdict {
        drive.push("smart_verdict", &[], verdict_value(verdict.status));
    }
    if let Some(passed) = report.self_assessment_passed {
        drive.push(
            "smart_self_assessment_passed",
            &[],
            if passed { 1.0 } else { 0.0 },
        );
    }
    let nvme = report.nvme.as_ref();
    let temperature = report
        .temperature
        .current_celsius
        .or_else(|| nvme.and_then(|n| n.temperature_celsius));
    if let Some(celsius) = temperature {
        drive.push("smart_temperature_celsius", &[], celsius as f64);
    }
    let power_on_hours = report
        .power_on_hours
        .or_else(|| nvme.and_then(|n| n.power_on_hours));
    drive.push_u64("smart_power_on_hours", &[], power_on_hours);
    let power_cycles = report
        .power_cycles
        .or_else(|| nvme.and_then(|n| n.power_cycles));
    drive.push_u64("smart_power_cycles_total", &[], power_cycles);
    let error_log_entries = report
        .error_log
        .as_ref()
        .and_then(|log| log.count)
        .or_else(|| nvme.and_then(|n| n.error_log_entries));
    drive.push_u64("smart_error_log_entries_total", &[], error_log_entries);
    if let Some(log) = &report.self_test_log {
        let n_failed = log
            .entries
            .iter()
            .filter(|entry| entry.passed == Some(false))
            .count();
        drive.push("smart_self_test_failures", &[], n_failed as f64);
    }
    if let Some(ata) = &report.ata {
        for attribute in ata.attributes.iter().filter(|a| is_recorded(a)) {
            let extra = [
                ("id", attribute.id.to_string()),
                ("name", attribute.name.clone()),
            ];
            drive.push_u64("smart_attribute_raw", &extra, attribute.raw.value);
            drive.push_u64(
                "smart_attribute_value",
                &extra,
                attribute.value.map(u64::from),
            );
            drive.push_u64(
                "smart_attribute_threshold",
                &extra,
                attribute.thresh.map(u64::from),
            );
        }
    }
    if let Some(nvme) = nvme {
        drive.push_u64(
            "smart_nvme_critical_warning",
            &[],
            nvme.critical_warning.map(u64::from),
        );
        drive.push_u64("smart_nvme_percentage_used", &[], nvme.percentage_used);
        let ratio = |percent: Option<u64>| percent.map(|p| p as f64 / 100.0);
        if let Some(spare) = ratio(nvme.available_spare_percent) {
            drive.push("smart_nvme_available_spare_ratio", &[], spare);
        }
        if let Some(threshold) = ratio(nvme.available_spare_threshold_percent) {
            drive.push("smart_nvme_available_spare_threshold_ratio", &[], threshold);
        }
        drive.push_u64("smart_nvme_media_errors_total", &[], nvme.media_errors);
        drive.push_u64(
            "smart_nvme_unsafe_shutdowns_total",
            &[],
            nvme.unsafe_shutdowns,
        );
        let bytes = |units: Option<u64>| units.map(|u| u.saturating_mul(NVME_DATA_UNIT_BYTES));
        drive.push_u64(
            "smart_nvme_data_read_bytes_total",
            &[],
            bytes(nvme.data_units_read),
        );
        drive.push_u64(
            "smart_nvme_data_written_bytes_total",
            &[],
            bytes(nvme.data_units_written),
        );
    }
    if let Some(scsi) = &report.scsi {
        drive.push_u64("smart_scsi_grown_defects", &[], scsi.grown_defects);
        drive.push_u64(
            "smart_scsi_non_medium_errors_total",
            &[],
            scsi.non_medium_errors,
        );
        drive.push_u64(
            "smart_scsi_percentage_used_endurance",
            &[],
            scsi.percentage_used_endurance,
        );
        for counter in &scsi.error_counters {
            let operation = match counter.operation {
                ScsiOperation::Read => "read",
                ScsiOperation::Write => "write",
                ScsiOperation::Verify => "verify",
            };
            let extra = [("operation", operation.to_owned())];
            drive.push_u64(
                "smart_scsi_errors_corrected_total",
                &extra,
                counter.total_corrected,
            );
            drive.push_u64(
                "smart_scsi_errors_uncorrected_total",
                &extra,
                counter.total_uncorrected,
            );
        }
    }
}

/// Key attributes, and any attribute at or below its threshold now or in the past.
fn is_recorded(attribute: &AtaAttribute) -> bool {
    let at_threshold = match (attribute.value, attribute.thresh) {
        (Some(value), Some(thresh)) => thresh > 0 && value <= thresh,
        _ => false,
    };
    KEY_ATA_ATTRIBUTES.contains(&attribute.id)
        || attribute.when_failed != WhenFailed::Never
        || at_threshold
}

#[cfg(test)]
pub(crate) mod tests {
    use std::fmt::Write as _;

    use expect_test::{expect_file, ExpectFile};
    use unity_shared::model::storage::{CollectorOutcome, SmartCollection, SmartDeviceResult};
    use unity_shared::proto;

    use super::super::tests::{fixtures, name, read, testdata};
    use super::super::{parse, verdict, SmartThresholds};
    use super::to_samples;

    pub(crate) const TIMESTAMP_MS: i64 = 1_700_000_000_000;

    /// Renders samples one per line, Prometheus text style.
    pub(crate) fn render(samples: &[proto::Sample]) -> String {
        let mut text = String::new();
        for sample in samples {
            assert!(sample.value.is_finite(), "{sample:?}");
            assert_eq!(sample.timestamp_ms, TIMESTAMP_MS);
            let mut sorted = sample.labels.clone();
            sorted.sort();
            assert_eq!(sorted, sample.labels, "labels are sorted by name");
            let labels: Vec<String> = sample
                .labels
                .iter()
                .map(|(name, value)| format!("{name}={value:?}"))
                .collect();
            writeln!(
                text,
                "{}{{{}}} {}",
                sample.metric,
                labels.join(","),
                sample.value
            )
            .unwrap();
        }
        text
    }

    /// A device result as the run side builds it, from a fixture read at `device`.
    pub(crate) fn device(file: &str, device: &str, device_type: Option<&str>) -> SmartDeviceResult {
        let (mut report, warnings) = parse(&read(&testdata().join(file))).unwrap();
        report.device.name = Some(device.to_owned());
        let verdict = verdict(&report, &SmartThresholds::default());
        SmartDeviceResult {
            device: device.to_owned(),
            device_type: device_type.map(str::to_owned),
            report: Some(report),
            verdict: Some(verdict),
            warnings,
            error: None,
        }
    }

    #[track_caller]
    fn check(devices: Vec<SmartDeviceResult>, expect: ExpectFile) {
        let collection = SmartCollection {
            outcome: CollectorOutcome::Ok,
            devices,
        };
        expect.assert_eq(&render(&to_samples(&collection, TIMESTAMP_MS)));
    }

    #[test]
    fn ata_hdd() {
        check(
            vec![device(
                "pysmart-ata-hdd-wd-hc550-wuh721816ale6l4-windows-7.3.txt",
                "/dev/sda",
                Some("sat"),
            )],
            expect_file!["testdata/samples/ata-hc550.prom"],
        );
    }

    #[test]
    fn ata_failing_attribute_is_recorded() {
        check(
            vec![device(
                "linuxfabrik-ata-seagate-ironwolf-st12000vn0007-FAILED-7.0.txt",
                "/dev/sdb",
                Some("sat"),
            )],
            expect_file!["testdata/samples/ata-ironwolf-failed.prom"],
        );
    }

    #[test]
    fn nvme() {
        check(
            vec![device(
                "pysmart-nvme-wd-black-sn770-windows-7.3.json",
                "/dev/nvme0",
                Some("nvme"),
            )],
            expect_file!["testdata/samples/nvme-sn770.prom"],
        );
    }

    #[test]
    fn scsi_behind_megaraid_and_unreadable() {
        let mut unreadable = device("scrutiny-windows-open-failed-exit2.json", "/dev/sdc", None);
        unreadable.report = None;
        unreadable.verdict = None;
        unreadable.error = Some("open failed".to_owned());
        check(
            vec![
                device(
                    "linuxfabrik-sas-hp-eg1200jemda-7.0-x.txt",
                    "/dev/bus/0",
                    Some("megaraid,1"),
                ),
                unreadable,
            ],
            expect_file!["testdata/samples/scsi-and-unreadable.prom"],
        );
    }

    #[test]
    fn every_fixture_gives_finite_samples() {
        for path in fixtures() {
            let name = name(&path);
            let collection = SmartCollection {
                outcome: CollectorOutcome::Ok,
                devices: vec![device(&name, "/dev/sdx", None)],
            };
            let samples = to_samples(&collection, TIMESTAMP_MS);
            assert!(!samples.is_empty(), "{name}");
            render(&samples);
        }
    }
}
