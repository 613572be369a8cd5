//! The disk page (issue 19): a drive's identity, verdict with its reasons and its risk in plain
//! words, where it sits in the storage stack (pools, arrays, mounts, each linked), every ATA
//! attribute / NVMe / SCSI field with its normalised value, threshold, raw value and a trend
//! sparkline, the temperature history (a chart), and the self-test log. Pure: the view in,
//! markup out.

use super::find;
use super::parts::{self, Trend};
use super::risk::Subject;
use crate::http::auth::Caller;
use crate::web::badge::{self, Tone};
use crate::web::format::{ago, or_dash};
use crate::web::labels;
use crate::web::layout::{self, Frame, Nav};
use crate::web::metric_names::{bytes, celsius, duration};
use maud::{html, Markup};
use std::collections::BTreeMap;
use unity_shared::model::storage::{
    AtaAttribute, NvmeHealth, Protocol, Rotation, ScsiHealth, SelfTestLog, SmartDeviceResult,
    SmartReport, WhenFailed,
};
use unity_shared::proto::{AgentId, StorageState};

/// Everything the disk page shows.
#[derive(Debug)]
pub struct DiskPageView {
    pub agent_id: AgentId,
    pub hostname: String,
    pub collected_at_ms: Option<i64>,
    pub state: StorageState,
    /// The drive's id in the address (WWN, serial or device name).
    pub drive: String,
    /// Recent values of the drive's recorded series: ATA attributes by id (raw value), the
    /// other series by metric.
    pub attribute_trends: BTreeMap<u8, Vec<(i64, f64)>>,
    pub metric_trends: BTreeMap<String, Vec<(i64, f64)>>,
    /// The temperature chart's range (one of `chart_range::RANGES`).
    pub range: &'static str,
}

/// Plain names of the usual ATA attributes; others show smartctl's name without underscores.
fn attribute_name(attribute: &AtaAttribute) -> String {
    let known = match attribute.id {
        1 => "Read error rate",
        3 => "Spin-up time",
        4 => "Start/stop count",
        5 => "Reallocated sectors",
        7 => "Seek error rate",
        9 => "Power-on hours",
        10 => "Spin retries",
        12 => "Power cycles",
        183 => "Runtime bad blocks",
        184 => "End-to-end errors",
        187 => "Reported uncorrectable",
        188 => "Command timeouts",
        190 => "Airflow temperature",
        192 => "Power-off retracts",
        193 => "Load cycles",
        194 => "Temperature",
        196 => "Reallocation events",
        197 => "Pending sectors",
        198 => "Offline uncorrectable",
        199 => "Interface CRC errors",
        241 => "Total LBAs written",
        242 => "Total LBAs read",
        _ => return attribute.name.replace('_', " "),
    };
    known.to_owned()
}

fn identity(report: &SmartReport, device: &SmartDeviceResult) -> Markup {
    let id = &report.device;
    let interface = match id.protocol {
        Some(Protocol::Ata) => "ATA/SATA",
        Some(Protocol::Nvme) => "NVMe",
        Some(Protocol::Scsi) => "SCSI/SAS",
        None => "–",
    };
    let rotation = id.rotation.map(|rotation| match rotation {
        Rotation::SolidState => "solid state".to_owned(),
        Rotation::Rpm(rpm) => format!("{rpm} rpm"),
    });
    let power_on = report
        .power_on_hours
        .or_else(|| report.nvme.as_ref().and_then(|n| n.power_on_hours));
    let rows: [(&str, String); 12] = [
        ("Model family", or_dash(id.model_family.as_deref())),
        (
            "Model",
            or_dash(id.model.as_deref().or(id.vendor.as_deref())),
        ),
        ("Serial", or_dash(id.serial.as_deref())),
        ("WWN", or_dash(id.wwn.as_deref())),
        ("Firmware", or_dash(id.firmware.as_deref())),
        (
            "Capacity",
            or_dash(id.capacity_bytes.map(|b| bytes(b as f64))),
        ),
        ("Type", or_dash(rotation)),
        ("Form factor", or_dash(id.form_factor.as_deref())),
        (
            "Interface",
            format!(
                "{interface} · {}",
                device.device_type.as_deref().unwrap_or("auto")
            ),
        ),
        (
            "Power-on time",
            or_dash(power_on.map(|h| duration(h as f64 * 3600.0))),
        ),
        ("Power cycles", or_dash(report.power_cycles)),
        ("smartctl", or_dash(report.smartctl.version.as_deref())),
    ];
    parts::facts("identity", &rows)
}

fn when_failed(attribute: &AtaAttribute) -> Markup {
    match attribute.when_failed {
        WhenFailed::Never => html! { "–" },
        WhenFailed::Now => badge::badge(Tone::Critical, "failing now"),
        WhenFailed::InThePast => badge::badge(Tone::Warning, "in the past"),
    }
}

fn ata_table(attributes: &[AtaAttribute], trends: &BTreeMap<u8, Vec<(i64, f64)>>) -> Markup {
    html! {
        h2 #attributes { "SMART attributes" }
        p.sub { "Normalised values count down towards the threshold the maker set; at or below it the drive predicts its own failure. Raw values are the drive's own counters." }
        div.table { table #smart-attributes {
            thead { tr { th { "ID" } th { "Attribute" } th { "Value" } th { "Worst" } th { "Threshold" } th { "Raw" } th { "Below threshold" } th { "Trend" } } }
            tbody {
                @for attribute in attributes {
                    @let name = attribute_name(attribute);
                    tr class=[(attribute.when_failed == WhenFailed::Now).then_some("bad")] {
                        td { (attribute.id) }
                        td { (name) @if attribute.flags.prefailure { div.sub { "pre-failure" } } }
                        td { (or_dash(attribute.value)) }
                        td { (or_dash(attribute.worst)) }
                        td { (or_dash(attribute.thresh)) }
                        td { (attribute.raw.string) }
                        td { (when_failed(attribute)) }
                        td { (parts::trend(trends.get(&attribute.id), &name)) }
                    }
                }
            }
        } }
    }
}

/// The NVMe health fields as (name, value, limit, trend).
fn nvme_rows<'a>(
    nvme: &NvmeHealth,
    trends: &'a BTreeMap<String, Vec<(i64, f64)>>,
) -> Vec<(&'static str, String, String, Trend<'a>)> {
    let trend = |metric: &str| trends.get(metric);
    let percent = |value: Option<u64>| or_dash(value.map(|v| format!("{v} %")));
    let data = |units: Option<u64>| or_dash(units.map(|u| bytes(u as f64 * 512_000.0)));
    vec![
        (
            "Critical warning",
            or_dash(nvme.critical_warning.map(|w| {
                if w == 0 {
                    "none".to_owned()
                } else {
                    format!("0x{w:02x}")
                }
            })),
            "0".to_owned(),
            trend("smart_nvme_critical_warning"),
        ),
        (
            "Wear (percentage used)",
            percent(nvme.percentage_used),
            "100 %".to_owned(),
            trend("smart_nvme_percentage_used"),
        ),
        (
            "Available spare",
            percent(nvme.available_spare_percent),
            percent(nvme.available_spare_threshold_percent),
            trend("smart_nvme_available_spare_ratio"),
        ),
        (
            "Media errors",
            or_dash(nvme.media_errors),
            "0".to_owned(),
            trend("smart_nvme_media_errors_total"),
        ),
        (
            "Error log entries",
            or_dash(nvme.error_log_entries),
            "–".to_owned(),
            trend("smart_error_log_entries_total"),
        ),
        (
            "Unsafe shutdowns",
            or_dash(nvme.unsafe_shutdowns),
            "–".to_owned(),
            trend("smart_nvme_unsafe_shutdowns_total"),
        ),
        (
            "Data read",
            data(nvme.data_units_read),
            "–".to_owned(),
            trend("smart_nvme_data_read_bytes_total"),
        ),
        (
            "Data written",
            data(nvme.data_units_written),
            "–".to_owned(),
            trend("smart_nvme_data_written_bytes_total"),
        ),
        (
            "Busy time",
            or_dash(nvme.controller_busy_time.map(|m| duration(m as f64 * 60.0))),
            "–".to_owned(),
            None,
        ),
        (
            "Time above warning temperature",
            or_dash(
                nvme.warning_temperature_minutes
                    .map(|m| duration(m as f64 * 60.0)),
            ),
            "–".to_owned(),
            None,
        ),
        (
            "Time above critical temperature",
            or_dash(
                nvme.critical_temperature_minutes
                    .map(|m| duration(m as f64 * 60.0)),
            ),
            "–".to_owned(),
            None,
        ),
    ]
}

fn scsi_rows<'a>(
    scsi: &ScsiHealth,
    trends: &'a BTreeMap<String, Vec<(i64, f64)>>,
) -> Vec<(&'static str, String, String, Trend<'a>)> {
    let uncorrected: Option<u64> = scsi
        .error_counters
        .iter()
        .filter_map(|c| c.total_uncorrected)
        .reduce(|a, b| a + b);
    let corrected: Option<u64> = scsi
        .error_counters
        .iter()
        .filter_map(|c| c.total_corrected)
        .reduce(|a, b| a + b);
    vec![
        (
            "Grown defects",
            or_dash(scsi.grown_defects),
            "0".to_owned(),
            trends.get("smart_scsi_grown_defects"),
        ),
        (
            "Uncorrected errors",
            or_dash(uncorrected),
            "0".to_owned(),
            trends.get("smart_scsi_errors_uncorrected_total"),
        ),
        (
            "Corrected errors",
            or_dash(corrected),
            "–".to_owned(),
            trends.get("smart_scsi_errors_corrected_total"),
        ),
        (
            "Non-medium errors",
            or_dash(scsi.non_medium_errors),
            "–".to_owned(),
            trends.get("smart_scsi_non_medium_errors_total"),
        ),
        (
            "Endurance used",
            or_dash(scsi.percentage_used_endurance.map(|p| format!("{p} %"))),
            "100 %".to_owned(),
            trends.get("smart_scsi_percentage_used_endurance"),
        ),
        (
            "Start/stop cycles",
            or_dash(scsi.start_stop_cycles),
            "–".to_owned(),
            None,
        ),
        (
            "Load/unload cycles",
            or_dash(scsi.load_unload_cycles),
            "–".to_owned(),
            None,
        ),
    ]
}

fn health_table(
    id: &str,
    title: &str,
    rows: Vec<(&'static str, String, String, Trend<'_>)>,
) -> Markup {
    html! {
        h2 id=(id) { (title) }
        div.table { table.health-fields {
            thead { tr { th { "Field" } th { "Value" } th { "Limit" } th { "Trend" } } }
            tbody {
                @for (name, value, limit, trend) in rows {
                    tr { td { (name) } td { (value) } td { (limit) } td { (parts::trend(trend, name)) } }
                }
            }
        } }
    }
}

fn self_tests(log: Option<&SelfTestLog>) -> Markup {
    html! {
        h2 #self-tests { "Self-test log" }
        @match log.filter(|log| !log.entries.is_empty()) {
            None => p.muted { "The drive has no self-tests on record. Run one with " code { "smartctl -t short" } "." },
            Some(log) => div.table { table #self-test-log {
                thead { tr { th { "Test" } th { "Result" } th { "At power-on hour" } th { "First error at" } } }
                tbody {
                    @for entry in &log.entries {
                        tr {
                            td { (entry.test_type) }
                            td {
                                @match entry.passed {
                                    Some(true) => (badge::badge(Tone::Ok, "passed")),
                                    Some(false) => (badge::badge(Tone::Critical, "failed")),
                                    None => (badge::badge(Tone::Unknown, "running")),
                                }
                                div.sub { (entry.status) }
                            }
                            td { (or_dash(entry.lifetime_hours)) }
                            td { (or_dash(entry.lba_of_first_error.map(|lba| format!("LBA {lba}")))) }
                        }
                    }
                }
            } },
        }
    }
}

fn temperature(view: &DiskPageView, device: &SmartDeviceResult, report: &SmartReport) -> Markup {
    let t = &report.temperature;
    let degrees = |value: Option<i64>| or_dash(value.map(|c| celsius(c as f64)));
    let current = t
        .current_celsius
        .or_else(|| report.nvme.as_ref().and_then(|n| n.temperature_celsius));
    let rows: [(&str, String); 5] = [
        ("Now", degrees(current)),
        ("Lowest ever", degrees(t.lifetime_min_celsius)),
        ("Highest ever", degrees(t.lifetime_max_celsius)),
        ("Warning limit", degrees(t.warning_limit_celsius)),
        ("Critical limit", degrees(t.critical_limit_celsius)),
    ];
    html! {
        h2 #temperature { "Temperature" }
        (parts::facts("temperatures", &rows))
        @if let Some(matcher) = find::series_matcher(device) {
            (parts::chart_ranges(view.range))
            section.charts {
                (parts::chart(&view.agent_id, "Temperature", "smart_temperature_celsius", &find::matcher_text(&matcher), view.range))
            }
        }
    }
}

fn stack(view: &DiskPageView, device: &SmartDeviceResult) -> Markup {
    let drive = find::stack_drive(&view.state, device);
    html! {
        h2 #stack { "In the storage stack" }
        @match drive {
            None => p.muted { "The agent did not link this drive to any pool, array or filesystem." },
            Some(drive) => {
                @if drive.zfs.is_empty() && drive.md.is_empty() && drive.mounts.is_empty() {
                    p.muted { "Not part of a pool or array, and no filesystem on it is mounted." }
                }
                ul.stack {
                    @for member in &drive.zfs {
                        li { "ZFS pool " a href=(find::pool_href(&view.agent_id, &member.pool)) { (member.pool) } " "
                            (badge::verdict(Some(member.pool_verdict)))
                            " · " (member.vdev) @if !member.parent.is_empty() { " in " (member.parent) }
                            " · " (labels::vdev_state(&member.state)) }
                    }
                    @for member in &drive.md {
                        li { "md array " a href=(find::array_href(&view.agent_id, &member.array)) { (member.array) } " "
                            (badge::verdict(Some(member.array_verdict)))
                            " · member " (member.member) " · " (parts::md_member_state(member.state))
                            @for mount in &member.mount_points { " · mounted at " (mount) } }
                    }
                    @for mount in &drive.mounts {
                        li { "Filesystem " (mount.device) " mounted at " (mount.mount_point) }
                    }
                }
            }
        }
    }
}

/// The disk page (pure).
pub fn render(view: &DiskPageView, caller: &Caller, now: i64) -> Markup {
    let device = find::device(&view.state, &view.drive);
    let title = device
        .and_then(|d| d.report.as_ref())
        .and_then(|r| r.device.model.clone())
        .or_else(|| device.map(|d| d.device.clone()))
        .unwrap_or_else(|| view.drive.clone());
    let content = html! {
        (parts::breadcrumb(&view.agent_id, &view.hostname, "Disks", "disks"))
        @match device {
            None => {
                h1 { (title) }
                p.muted #gone { "This host's newest report has no such drive. It may have been removed or renamed." }
            }
            Some(device) => {
                h1 { (title) " " (badge::verdict(device.verdict.as_ref().map(|v| v.status))) }
                p.sub { (device.device) " · " (view.hostname)
                    @if let Some(at) = view.collected_at_ms { " · read " (ago(at, now)) } }
                (parts::risk(device.verdict.as_ref(), Subject::Drive))
                @if let Some(error) = &device.error { p.note #read-error { "smartctl: " (error) } }
                @if let Some(report) = &device.report {
                    h2 #identity-title { "Identity" }
                    (identity(report, device))
                    (stack(view, device))
                    (temperature(view, device, report))
                    @if let Some(ata) = report.ata.as_ref().filter(|ata| !ata.attributes.is_empty()) {
                        (ata_table(&ata.attributes, &view.attribute_trends))
                    }
                    @if let Some(nvme) = &report.nvme {
                        (health_table("nvme", "NVMe health", nvme_rows(nvme, &view.metric_trends)))
                    }
                    @if let Some(scsi) = &report.scsi {
                        (health_table("scsi", "SCSI health", scsi_rows(scsi, &view.metric_trends)))
                    }
                    (self_tests(report.self_test_log.as_ref()))
                    @if let Some(count) = report.error_log.as_ref().and_then(|log| log.count) {
                        p.sub #error-log { "Errors in the drive's error log over its life: " (count) }
                    }
                }
            }
        }
    };
    layout::page(Frame::new(&title, Nav::Overview), caller, content)
}
