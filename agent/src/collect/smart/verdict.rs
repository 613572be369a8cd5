//! The drive verdict: a pure function of a [`SmartReport`] and [`SmartThresholds`].
//!
//! The verdict reads only the typed model (never the raw text), so text and JSON output of the
//! same drive give the same verdict. See `docs/storage-model.md` for the thresholds' sources.

use unity_shared::model::storage::{
    AtaAttribute, DriveVerdict, Reason, ReasonKind, SmartReport, Verdict, VerdictStatus, WhenFailed,
};

use VerdictStatus::{Failing, Passed, Warning};

/// Limits that turn counters into findings. `None` disables a check.
///
/// Defaults and their sources:
/// - ATA 5, 187, 188, 197, 198: Backblaze, "What SMART Stats Tell Us About Hard Drives"
///   (2016-10) found these five raw counters non-zero far more often on failed drives than on
///   working ones, so any non-zero value is a warning. A drive with 100 or more reallocated
///   sectors, or 10 or more pending or offline-uncorrectable sectors, is called failing: the
///   same study shows failure rates climbing steeply with the count; the cut-offs are ours.
/// - ATA 199 (UDMA CRC errors) count transfer errors on the cable or backplane, not media
///   damage (smartmontools wiki, "FAQ"), so they only ever warn.
/// - NVMe: the critical warning bits (NVM Express Base Specification 2.0, SMART/Health log,
///   byte 0) except the temperature bit mean the controller itself reports a failure; available
///   spare under its threshold is the drive's own "replace me". Percentage used is the vendor's
///   endurance estimate and "a value of 100 indicates that the estimated endurance has been
///   consumed, but may not indicate an NVM subsystem failure" (same spec), hence a warning.
/// - Temperature: the drive's own limits win (NVMe WCTEMP/CCTEMP, ATA SCT max operating, SCSI
///   drive trip). Without them, 60 °C for disks (typical maximum operating temperature in HDD
///   data sheets) and 75 °C for NVMe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmartThresholds {
    /// ATA 5 / SCSI grown defects: warn at or above.
    pub reallocated_warn: Option<u64>,
    /// ATA 5 / SCSI grown defects: failing at or above.
    pub reallocated_fail: Option<u64>,
    /// ATA 197.
    pub pending_warn: Option<u64>,
    pub pending_fail: Option<u64>,
    /// ATA 198.
    pub offline_uncorrectable_warn: Option<u64>,
    pub offline_uncorrectable_fail: Option<u64>,
    /// ATA 187 and SCSI total uncorrected errors.
    pub reported_uncorrectable_warn: Option<u64>,
    /// ATA 188.
    pub command_timeout_warn: Option<u64>,
    /// ATA 199.
    pub crc_errors_warn: Option<u64>,
    /// ATA device error log count.
    pub error_log_warn: Option<u64>,
    /// NVMe percentage used and SCSI endurance indicator: warn at or above.
    pub endurance_used_warn_percent: Option<u64>,
    /// NVMe media and data integrity errors.
    pub nvme_media_errors_warn: Option<u64>,
    /// Used when the drive reports no warning limit of its own.
    pub disk_temperature_warn_celsius: Option<i64>,
    pub nvme_temperature_warn_celsius: Option<i64>,
}

impl Default for SmartThresholds {
    fn default() -> SmartThresholds {
        SmartThresholds {
            reallocated_warn: Some(1),
            reallocated_fail: Some(100),
            pending_warn: Some(1),
            pending_fail: Some(10),
            offline_uncorrectable_warn: Some(1),
            offline_uncorrectable_fail: Some(10),
            reported_uncorrectable_warn: Some(1),
            command_timeout_warn: Some(1),
            crc_errors_warn: Some(1),
            error_log_warn: Some(1),
            endurance_used_warn_percent: Some(100),
            nvme_media_errors_warn: Some(1),
            disk_temperature_warn_celsius: Some(60),
            nvme_temperature_warn_celsius: Some(75),
        }
    }
}

/// The verdict for one drive.
pub fn verdict(report: &SmartReport, thresholds: &SmartThresholds) -> DriveVerdict {
    let mut reasons = Vec::new();
    if report.in_standby {
        reasons.push(Reason::new(
            Passed,
            ReasonKind::NoHealthData,
            "The drive is in standby; smartctl did not wake it, so no health data was read.",
        ));
        return Verdict::from_reasons(reasons);
    }
    let has_data = report.self_assessment_passed.is_some()
        || report.ata.is_some()
        || report.nvme.is_some()
        || report.scsi.is_some();
    if !has_data {
        let detail = report
            .smartctl
            .messages
            .first()
            .map(|m| format!(" smartctl said: {m}"))
            .unwrap_or_default();
        let why = if report.smart_available == Some(false) {
            "The device has no SMART capability (e.g. a RAID volume), so no health data was read."
        } else {
            "No SMART health data could be read."
        };
        reasons.push(Reason::new(
            Warning,
            ReasonKind::NoHealthData,
            format!("{why}{detail}"),
        ));
        return Verdict::from_reasons(reasons);
    }
    if report.self_assessment_passed == Some(false) {
        reasons.push(Reason::new(
            Failing,
            ReasonKind::SelfAssessmentFailed,
            "The drive's overall SMART self-assessment is FAILED.",
        ));
    }
    if let Some(ata) = &report.ata {
        ata_reasons(&ata.attributes, thresholds, &mut reasons);
    }
    if let Some(nvme) = &report.nvme {
        let bits = nvme.critical_warning_bits;
        let serious = [
            (
                bits.spare_below_threshold,
                "available spare below threshold",
            ),
            (
                bits.reliability_degraded,
                "NVM subsystem reliability degraded",
            ),
            (bits.media_read_only, "media placed in read-only mode"),
            (
                bits.volatile_memory_backup_failed,
                "volatile memory backup failed",
            ),
            (
                bits.persistent_memory_region_unreliable,
                "persistent memory region unreliable",
            ),
        ];
        for (set, what) in serious {
            if set {
                reasons.push(Reason::new(
                    Failing,
                    ReasonKind::NvmeCriticalWarning,
                    format!("NVMe critical warning: {what}."),
                ));
            }
        }
        if bits.temperature {
            reasons.push(Reason::new(
                Warning,
                ReasonKind::NvmeCriticalWarning,
                "NVMe critical warning: temperature above or below threshold.",
            ));
        }
        if let (Some(spare), Some(threshold)) = (
            nvme.available_spare_percent,
            nvme.available_spare_threshold_percent,
        ) {
            if spare < threshold && !bits.spare_below_threshold {
                reasons.push(Reason::new(
                    Failing,
                    ReasonKind::SpareBelowThreshold,
                    format!("Available spare {spare}% is below the threshold of {threshold}%."),
                ));
            }
        }
        if let (Some(used), Some(limit)) =
            (nvme.percentage_used, thresholds.endurance_used_warn_percent)
        {
            if used >= limit {
                reasons.push(Reason::new(
                    Warning,
                    ReasonKind::EnduranceUsed,
                    format!("Percentage used is {used}%: the rated endurance is used up."),
                ));
            }
        }
        if let (Some(errors), Some(limit)) = (nvme.media_errors, thresholds.nvme_media_errors_warn)
        {
            if errors >= limit {
                reasons.push(Reason::new(
                    Warning,
                    ReasonKind::MediaErrors,
                    format!("{errors} media and data integrity errors."),
                ));
            }
        }
    }
    if let Some(scsi) = &report.scsi {
        if let Some(defects) = scsi.grown_defects {
            counter_reason(
                defects,
                thresholds.reallocated_warn,
                thresholds.reallocated_fail,
                ReasonKind::ReallocatedSectors,
                &format!("{defects} elements in the grown defect list."),
                &mut reasons,
            );
        }
        let uncorrected: u64 = scsi
            .error_counters
            .iter()
            .filter_map(|c| c.total_uncorrected)
            .sum();
        counter_reason(
            uncorrected,
            thresholds.reported_uncorrectable_warn,
            None,
            ReasonKind::ReportedUncorrectable,
            &format!("{uncorrected} uncorrected errors in the error counter log."),
            &mut reasons,
        );
        if let (Some(used), Some(limit)) = (
            scsi.percentage_used_endurance,
            thresholds.endurance_used_warn_percent,
        ) {
            if used >= limit {
                reasons.push(Reason::new(
                    Warning,
                    ReasonKind::EnduranceUsed,
                    format!("Percentage used endurance indicator is {used}%."),
                ));
            }
        }
    }
    temperature_reasons(report, thresholds, &mut reasons);
    self_test_reasons(report, &mut reasons);
    if let (Some(count), Some(limit)) = (
        report.error_log.as_ref().and_then(|log| log.count),
        thresholds.error_log_warn,
    ) {
        if count >= limit {
            reasons.push(Reason::new(
                Warning,
                ReasonKind::ErrorLogEntries,
                format!("The device error log counts {count} errors."),
            ));
        }
    }
    exit_status_reasons(report, &mut reasons);
    Verdict::from_reasons(reasons)
}

fn counter_reason(
    count: u64,
    warn: Option<u64>,
    fail: Option<u64>,
    kind: ReasonKind,
    message: &str,
    reasons: &mut Vec<Reason>,
) {
    let status = if fail.is_some_and(|limit| count >= limit) {
        Failing
    } else if warn.is_some_and(|limit| count >= limit) {
        Warning
    } else {
        return;
    };
    reasons.push(Reason::new(status, kind, message));
}

fn ata_reasons(attributes: &[AtaAttribute], t: &SmartThresholds, reasons: &mut Vec<Reason>) {
    for attribute in attributes {
        let label = format!("Attribute {} {}", attribute.id, attribute.name);
        match attribute.when_failed {
            WhenFailed::Now => reasons.push(Reason::new(
                Failing,
                ReasonKind::AttributeFailingNow,
                format!(
                    "{label} is at or below its threshold now (value {}, threshold {}).",
                    show(attribute.value),
                    show(attribute.thresh)
                ),
            )),
            WhenFailed::InThePast => reasons.push(Reason::new(
                Warning,
                ReasonKind::AttributeFailedInPast,
                format!("{label} was at or below its threshold in the past."),
            )),
            WhenFailed::Never => {}
        }
        let Some(raw) = attribute.raw.value else {
            continue;
        };
        let (kind, warn, fail) = match attribute.id {
            5 => (
                ReasonKind::ReallocatedSectors,
                t.reallocated_warn,
                t.reallocated_fail,
            ),
            197 => (ReasonKind::PendingSectors, t.pending_warn, t.pending_fail),
            198 => (
                ReasonKind::OfflineUncorrectable,
                t.offline_uncorrectable_warn,
                t.offline_uncorrectable_fail,
            ),
            187 => (
                ReasonKind::ReportedUncorrectable,
                t.reported_uncorrectable_warn,
                None,
            ),
            188 => (ReasonKind::CommandTimeouts, t.command_timeout_warn, None),
            199 => (ReasonKind::CrcErrors, t.crc_errors_warn, None),
            _ => continue,
        };
        let hint = if attribute.id == 199 {
            " This usually means a bad cable or backplane."
        } else {
            ""
        };
        counter_reason(
            raw,
            warn,
            fail,
            kind,
            &format!("{label} raw value is {}.{hint}", attribute.raw.string),
            reasons,
        );
    }
}

fn show(value: Option<u16>) -> String {
    value.map_or_else(|| "?".to_owned(), |v| v.to_string())
}

fn temperature_reasons(report: &SmartReport, t: &SmartThresholds, reasons: &mut Vec<Reason>) {
    let Some(current) = report.temperature.current_celsius else {
        return;
    };
    let is_nvme = report.nvme.is_some();
    let warn_limit = report.temperature.warning_limit_celsius.or(if is_nvme {
        t.nvme_temperature_warn_celsius
    } else {
        t.disk_temperature_warn_celsius
    });
    if let Some(critical) = report.temperature.critical_limit_celsius {
        if current >= critical {
            reasons.push(Reason::new(
                Failing,
                ReasonKind::Temperature,
                format!(
                    "Temperature {current} °C is at or above the critical limit of {critical} °C."
                ),
            ));
            return;
        }
    }
    if let Some(limit) = warn_limit {
        if current >= limit {
            reasons.push(Reason::new(
                Warning,
                ReasonKind::Temperature,
                format!("Temperature {current} °C is at or above the warning limit of {limit} °C."),
            ));
        }
    }
}

/// The newest finished self-test failing is a failure; an older failure is a warning unless a
/// newer extended test passed (smartctl ignores those too).
fn self_test_reasons(report: &SmartReport, reasons: &mut Vec<Reason>) {
    let Some(log) = &report.self_test_log else {
        return;
    };
    let finished: Vec<_> = log.entries.iter().filter(|e| e.passed.is_some()).collect();
    let Some(newest) = finished.first() else {
        return;
    };
    let at = |hours: Option<u64>| hours.map(|h| format!(" at {h} hours")).unwrap_or_default();
    if newest.passed == Some(false) {
        reasons.push(Reason::new(
            Failing,
            ReasonKind::SelfTestFailed,
            format!(
                "The most recent self-test ({}) failed{}: {}.",
                newest.test_type,
                at(newest.lifetime_hours),
                newest.status
            ),
        ));
        return;
    }
    for (position, entry) in finished.iter().enumerate() {
        if entry.passed != Some(false) {
            continue;
        }
        let superseded = finished.iter().take(position).any(|newer| {
            newer.passed == Some(true)
                && (newer.test_type.contains("Extended") || newer.test_type.contains("Long"))
        });
        let status = if superseded { Passed } else { Warning };
        let note = if superseded {
            "; a newer extended self-test passed"
        } else {
            ""
        };
        reasons.push(Reason::new(
            status,
            ReasonKind::SelfTestFailed,
            format!(
                "An earlier self-test ({}) failed{}: {}{note}.",
                entry.test_type,
                at(entry.lifetime_hours),
                entry.status
            ),
        ));
        break;
    }
}

/// Exit status bits that the data does not already explain.
fn exit_status_reasons(report: &SmartReport, reasons: &mut Vec<Reason>) {
    let Some(status) = report.smartctl.exit_status else {
        return;
    };
    let has = |kind: ReasonKind, reasons: &[Reason]| reasons.iter().any(|r| r.kind == kind);
    if status.disk_failing && report.self_assessment_passed != Some(false) {
        reasons.push(Reason::new(
            Failing,
            ReasonKind::ExitStatus,
            "smartctl reports DISK FAILING (exit status bit 3).",
        ));
    }
    if status.prefail_below_threshold && !has(ReasonKind::AttributeFailingNow, reasons) {
        reasons.push(Reason::new(
            Failing,
            ReasonKind::ExitStatus,
            "smartctl reports pre-failure attributes at or below threshold (exit status bit 4).",
        ));
    }
    if status.usage_below_threshold_in_past && !has(ReasonKind::AttributeFailedInPast, reasons) {
        reasons.push(Reason::new(
            Warning,
            ReasonKind::ExitStatus,
            "smartctl reports attributes below threshold in the past (exit status bit 5).",
        ));
    }
    if status.error_log_has_errors && !has(ReasonKind::ErrorLogEntries, reasons) {
        reasons.push(Reason::new(
            Warning,
            ReasonKind::ExitStatus,
            "smartctl reports errors in the device error log (exit status bit 6).",
        ));
    }
    if status.self_test_log_has_errors && !has(ReasonKind::SelfTestFailed, reasons) {
        reasons.push(Reason::new(
            Warning,
            ReasonKind::ExitStatus,
            "smartctl reports errors in the self-test log (exit status bit 7).",
        ));
    }
    if status.command_failed {
        reasons.push(Reason::new(
            Passed,
            ReasonKind::Note,
            "Some SMART command failed or a checksum was wrong (exit status bit 2); data may be incomplete.",
        ));
    }
}
