//! The one table of what the agent's metrics mean on a page: each metric's human name ("Memory
//! used", not `memory_used_bytes`) and its [`Unit`] (bytes, bytes per second, a ratio, a
//! duration, a unix timestamp, a count, a verdict, degrees), and how a value of each unit reads.
//! The host page, the "all metrics" page and the charts (through [`Unit::chart_unit`], the
//! formats `app.js` knows) all read it from here. Pure: values in, text out.

/// What a metric's number is, so it is written the way people read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A size in bytes: "175 GiB".
    Bytes,
    /// A throughput: "32.7 MiB/s".
    BytesPerSecond,
    /// A fraction 0..1 shown as a percentage: "25.0 %".
    Ratio,
    /// Already a percentage 0..100: "7 %".
    Percent,
    /// A length of time in seconds: "12.3 ms", "4 h 2 min", "3 d 4 h".
    Duration,
    /// A moment, seconds since 1970: "2016-07-14 (3800 days ago)".
    UnixTime,
    /// A whole number of things: "304".
    Count,
    /// An agent verdict (0 passed, 1 warning, 2 failing): the word.
    Verdict,
    /// A temperature: "41 °C".
    Celsius,
    /// 1 or 0: "yes" / "no".
    Flag,
    /// Hours: "26,280 h".
    Hours,
    /// Days: "12 days".
    Days,
    /// A multiplier: "1.45×".
    Factor,
    /// Anything else: the number, at most three decimals.
    Number,
}

/// Metric, human name, unit. Names say what the number is without the page around it.
#[rustfmt::skip]
const METRICS: &[(&str, &str, Unit)] = &[
    // System.
    ("cpu_usage_ratio", "CPU usage", Unit::Ratio),
    ("memory_used_bytes", "Memory used", Unit::Bytes),
    ("memory_available_bytes", "Memory available", Unit::Bytes),
    ("memory_total_bytes", "Memory total", Unit::Bytes),
    ("swap_used_bytes", "Swap used", Unit::Bytes),
    ("swap_total_bytes", "Swap total", Unit::Bytes),
    ("load_average", "Load average", Unit::Number),
    ("uptime_seconds", "Uptime", Unit::Duration),
    ("filesystem_used_bytes", "Filesystem used", Unit::Bytes),
    ("filesystem_size_bytes", "Filesystem size", Unit::Bytes),
    ("filesystem_available_bytes", "Filesystem free", Unit::Bytes),
    ("network_receive_bytes_total", "Network received", Unit::Bytes),
    ("network_transmit_bytes_total", "Network sent", Unit::Bytes),
    ("network_receive_packets_total", "Packets received", Unit::Count),
    ("network_transmit_packets_total", "Packets sent", Unit::Count),
    ("network_receive_errors_total", "Receive errors", Unit::Count),
    ("network_transmit_errors_total", "Send errors", Unit::Count),
    ("temperature_celsius", "Temperature", Unit::Celsius),
    // Disks.
    ("smart_verdict", "Disk verdict", Unit::Verdict),
    ("smart_device_readable", "SMART readable", Unit::Flag),
    ("smart_self_assessment_passed", "SMART self-assessment passed", Unit::Flag),
    ("smart_temperature_celsius", "Disk temperature", Unit::Celsius),
    ("smart_power_on_hours", "Power-on time", Unit::Hours),
    ("smart_power_cycles_total", "Power cycles", Unit::Count),
    ("smart_attribute_raw", "SMART attribute, raw value", Unit::Count),
    ("smart_attribute_value", "SMART attribute, normalised", Unit::Count),
    ("smart_attribute_threshold", "SMART attribute, threshold", Unit::Count),
    ("smart_self_test_failures", "Failed self-tests", Unit::Count),
    ("smart_error_log_entries_total", "Error log entries", Unit::Count),
    ("smart_nvme_percentage_used", "NVMe wear", Unit::Percent),
    ("smart_nvme_available_spare_ratio", "NVMe spare left", Unit::Ratio),
    ("smart_nvme_available_spare_threshold_ratio", "NVMe spare threshold", Unit::Ratio),
    ("smart_nvme_critical_warning", "NVMe critical warning bits", Unit::Count),
    ("smart_nvme_media_errors_total", "NVMe media errors", Unit::Count),
    ("smart_nvme_unsafe_shutdowns_total", "Unsafe shutdowns", Unit::Count),
    ("smart_nvme_data_read_bytes_total", "Data read", Unit::Bytes),
    ("smart_nvme_data_written_bytes_total", "Data written", Unit::Bytes),
    ("smart_scsi_grown_defects", "Grown defects", Unit::Count),
    ("smart_scsi_errors_corrected_total", "Corrected errors", Unit::Count),
    ("smart_scsi_errors_uncorrected_total", "Uncorrected errors", Unit::Count),
    ("smart_scsi_non_medium_errors_total", "Non-medium errors", Unit::Count),
    ("smart_scsi_percentage_used_endurance", "Endurance used", Unit::Percent),
    // ZFS.
    ("zfs_pool_verdict", "Pool verdict", Unit::Verdict),
    ("zfs_pool_size_bytes", "Pool size", Unit::Bytes),
    ("zfs_pool_allocated_bytes", "Pool allocated", Unit::Bytes),
    ("zfs_pool_free_bytes", "Pool free", Unit::Bytes),
    ("zfs_pool_fragmentation_ratio", "Pool fragmentation", Unit::Ratio),
    ("zfs_pool_dedup_ratio", "Deduplication factor", Unit::Factor),
    ("zfs_pool_data_errors", "Pool data errors", Unit::Count),
    ("zfs_scan_progress_ratio", "Scrub/resilver progress", Unit::Ratio),
    ("zfs_last_scrub_timestamp_seconds", "Last scrub", Unit::UnixTime),
    ("zfs_vdev_read_errors_total", "Vdev read errors", Unit::Count),
    ("zfs_vdev_write_errors_total", "Vdev write errors", Unit::Count),
    ("zfs_vdev_checksum_errors_total", "ZFS checksum errors", Unit::Count),
    ("zfs_vdev_healthy", "Vdev healthy", Unit::Flag),
    ("zfs_dataset_used_bytes", "Dataset used", Unit::Bytes),
    ("zfs_dataset_available_bytes", "Dataset free", Unit::Bytes),
    ("zfs_dataset_used_by_snapshots_bytes", "Used by snapshots", Unit::Bytes),
    // md RAID.
    ("md_array_verdict", "Array verdict", Unit::Verdict),
    ("md_array_active", "Array active", Unit::Flag),
    ("md_array_degraded", "Missing members", Unit::Count),
    ("md_array_size_bytes", "Array size", Unit::Bytes),
    ("md_array_devices", "Members", Unit::Count),
    ("md_array_devices_required", "Members required", Unit::Count),
    ("md_sync_progress_ratio", "Sync progress", Unit::Ratio),
    ("md_sync_speed_bytes_per_second", "Sync speed", Unit::BytesPerSecond),
    ("md_sync_remaining_seconds", "Sync time left", Unit::Duration),
    // Databases.
    ("database_up", "Database up", Unit::Flag),
    ("database_probe_latency_seconds", "Database probe latency", Unit::Duration),
    ("database_uptime_seconds", "Database uptime", Unit::Duration),
    ("database_connections", "Connections", Unit::Count),
    ("database_max_connections", "Connection limit", Unit::Count),
    ("database_used_memory_bytes", "Database memory used", Unit::Bytes),
    ("database_max_memory_bytes", "Database memory limit", Unit::Bytes),
    ("database_size_bytes_total", "Database size", Unit::Bytes),
    ("database_slow_queries", "Slow queries", Unit::Count),
    ("database_blocked_clients", "Blocked clients", Unit::Count),
    // Containers.
    ("container_running", "Container running", Unit::Flag),
    ("container_healthy", "Container healthy", Unit::Flag),
    ("container_cpu_percent", "Container CPU", Unit::Percent),
    ("container_memory_bytes", "Container memory", Unit::Bytes),
    ("container_restart_count", "Container restarts", Unit::Count),
    // Services and plugins.
    ("service_up", "Service up", Unit::Flag),
    ("service_latency_seconds", "Service latency", Unit::Duration),
    ("service_tls_expiry_days", "TLS certificate expires in", Unit::Days),
    ("plugin_up", "Plugin up", Unit::Flag),
    ("plugin_parse_errors", "Plugin parse errors", Unit::Count),
    ("check_duration_seconds", "Check duration", Unit::Duration),
];

/// A metric's entry in the table, when it has one.
fn known(metric: &str) -> Option<(&'static str, Unit)> {
    METRICS
        .iter()
        .find(|(name, _, _)| *name == metric)
        .map(|(_, human, unit)| (*human, *unit))
}

/// The human name of a metric; a metric the table does not know (a plugin's) keeps its own.
pub fn human_name(metric: &str) -> &str {
    known(metric).map_or(metric, |(human, _)| human)
}

/// The unit of a metric: the table's, or guessed from the suffix conventions for others.
pub fn unit_of(metric: &str) -> Unit {
    if let Some((_, unit)) = known(metric) {
        return unit;
    }
    if metric.ends_with("_bytes_per_second") {
        Unit::BytesPerSecond
    } else if metric.ends_with("_bytes") || metric.ends_with("_bytes_total") {
        Unit::Bytes
    } else if metric.ends_with("_timestamp_seconds") {
        Unit::UnixTime
    } else if metric.ends_with("_ratio") {
        Unit::Ratio
    } else if metric.ends_with("_celsius") {
        Unit::Celsius
    } else if metric.ends_with("_seconds") {
        Unit::Duration
    } else if metric.ends_with("_total") || metric.ends_with("_count") {
        Unit::Count
    } else {
        Unit::Number
    }
}

impl Unit {
    /// The format `app.js` draws the unit's axis and legend with; `rate` for a counter plotted
    /// per second.
    pub fn chart_unit(self, rate: bool) -> &'static str {
        match (self, rate) {
            (Unit::Bytes, true) | (Unit::BytesPerSecond, _) => "bytes_rate",
            (_, true) => "per_second",
            (Unit::Bytes, false) => "bytes",
            (Unit::Ratio, false) => "percent",
            (Unit::Percent, false) => "percent100",
            (Unit::Duration, false) => "seconds",
            (Unit::Celsius, false) => "celsius",
            (Unit::Count | Unit::Verdict | Unit::Flag | Unit::Hours | Unit::Days, false) => "count",
            (Unit::UnixTime | Unit::Factor | Unit::Number, false) => "plain",
        }
    }

    /// How `value` reads; `now_ms` for the "days ago" of a timestamp.
    pub fn format(self, value: f64, now_ms: i64) -> String {
        if !value.is_finite() {
            return "–".to_owned();
        }
        match self {
            Unit::Bytes => bytes(value),
            Unit::BytesPerSecond => format!("{}/s", bytes(value)),
            Unit::Ratio => format!("{:.1} %", value * 100.0),
            Unit::Percent => format!("{} %", number(value)),
            Unit::Duration => duration(value),
            Unit::UnixTime => unix_time(value, now_ms),
            Unit::Count => format!("{value:.0}"),
            Unit::Verdict => verdict(value).to_owned(),
            Unit::Celsius => celsius(value),
            Unit::Flag => (if value != 0.0 { "yes" } else { "no" }).to_owned(),
            Unit::Hours => format!("{} h", thousands(value)),
            Unit::Days => format!("{value:.0} days"),
            Unit::Factor => format!("{value:.2}×"),
            Unit::Number => number(value),
        }
    }
}

/// A metric's value as it reads on a page.
pub fn format_value(metric: &str, value: f64, now_ms: i64) -> String {
    unit_of(metric).format(value, now_ms)
}

/// Binary units with three significant digits: "3.00 MiB", "32.7 MiB", "175 GiB".
pub fn bytes(value: f64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut scaled = value;
    let mut unit = 0;
    while scaled.abs() >= 1024.0 && unit + 1 < UNITS.len() {
        scaled /= 1024.0;
        unit += 1;
    }
    let decimals = match (unit, scaled.abs()) {
        (0, _) => 0,
        (_, size) if size < 10.0 => 2,
        (_, size) if size < 100.0 => 1,
        _ => 0,
    };
    format!("{scaled:.decimals$} {}", UNITS[unit])
}

/// A temperature in whole degrees, "47 °C": the one way every page writes one (sensors
/// report hundredths, "46.987 °C" reads as noise). A rounded "-0" reads "0".
pub fn celsius(value: f64) -> String {
    if !value.is_finite() {
        return "–".to_owned();
    }
    let whole = value.round();
    format!("{} °C", if whole == 0.0 { 0.0 } else { whole })
}

/// A plain number: whole numbers as they are, others with at most three decimals.
fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        let text = format!("{value:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// "26,280": a whole number with thousands separators.
fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.abs());
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    if value < 0.0 {
        format!("-{out}")
    } else {
        out
    }
}

/// "850 µs", "12.3 ms", "4.2 s", "5 min 3 s", "4 h 2 min", "3 d 4 h": two units at most.
pub fn duration(seconds: f64) -> String {
    let seconds = seconds.max(0.0);
    if seconds < 0.001 {
        return format!("{:.0} µs", seconds * 1e6);
    }
    if seconds < 1.0 {
        return format!("{} ms", number((seconds * 1e4).round() / 10.0));
    }
    if seconds < 60.0 {
        return format!("{} s", number((seconds * 10.0).round() / 10.0));
    }
    let whole = seconds as u64;
    let (days, hours, minutes, secs) = (
        whole / 86_400,
        whole % 86_400 / 3600,
        whole % 3600 / 60,
        whole % 60,
    );
    match (days, hours) {
        (0, 0) => format!("{minutes} min {secs} s"),
        (0, _) => format!("{hours} h {minutes} min"),
        _ => format!("{days} d {hours} h"),
    }
}

/// "2016-07-14 (3800 days ago)", or "in the future" for a clock ahead of ours.
pub fn unix_time(seconds: f64, now_ms: i64) -> String {
    if seconds <= 0.0 {
        return "never".to_owned();
    }
    let then_ms = (seconds * 1000.0) as i64;
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(then_ms.max(0) as u64);
    let text = humantime::format_rfc3339_seconds(time).to_string();
    let date = text.get(..10).unwrap_or(&text);
    let days = (now_ms - then_ms).div_euclid(86_400_000);
    match days {
        ..=-1 => format!("{date} (in the future)"),
        0 => format!("{date} (today)"),
        1 => format!("{date} (yesterday)"),
        _ => format!("{date} ({days} days ago)"),
    }
}

/// The word of a verdict value the agent encodes 0, 1, 2.
fn verdict(value: f64) -> &'static str {
    match value as i64 {
        0 if value == 0.0 => "passed",
        1 if value == 1.0 => "warning",
        2 if value == 2.0 => "failing",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-07 12:00 UTC.
    const NOW_MS: i64 = 1_796_644_800_000;

    #[test]
    fn issue_19_real_values_read_in_their_units() {
        // md sync speed from /proc/mdstat "speed=33440K/sec", as the agent sends it.
        assert_eq!(
            format_value("md_sync_speed_bytes_per_second", 34_242_560.0, NOW_MS),
            "32.7 MiB/s"
        );
        // A ZFS last-scrub time (zpool status "Thu Jul 14 18:42:06 2016") is a date, not 54 years.
        assert_eq!(
            format_value("zfs_last_scrub_timestamp_seconds", 1_468_521_726.0, NOW_MS),
            "2016-07-14 (3797 days ago)"
        );
        assert_eq!(
            format_value("zfs_last_scrub_timestamp_seconds", 1_796_558_400.0, NOW_MS),
            "2026-12-06 (yesterday)"
        );
        assert_eq!(
            format_value("zfs_last_scrub_timestamp_seconds", 0.0, NOW_MS),
            "never"
        );
        assert_eq!(format_value("md_array_verdict", 2.0, NOW_MS), "failing");
        assert_eq!(format_value("smart_verdict", 0.0, NOW_MS), "passed");
        assert_eq!(format_value("zfs_pool_verdict", 1.0, NOW_MS), "warning");
        assert_eq!(format_value("md_array_verdict", 7.0, NOW_MS), "unknown");
        assert_eq!(format_value("md_array_verdict", 1.5, NOW_MS), "unknown");
        // A pool of 175 GiB allocated, memory, a 4 TB drive.
        assert_eq!(
            format_value("zfs_pool_allocated_bytes", 187_904_819_200.0, NOW_MS),
            "175 GiB"
        );
        assert_eq!(
            format_value("memory_used_bytes", 3.0 * 1024.0 * 1024.0, NOW_MS),
            "3.00 MiB"
        );
        assert_eq!(
            format_value("md_array_size_bytes", 1_499_879_178_240.0, NOW_MS),
            "1.36 TiB"
        );
        assert_eq!(format_value("cpu_usage_ratio", 0.25, NOW_MS), "25.0 %");
        assert_eq!(
            format_value("smart_nvme_percentage_used", 7.0, NOW_MS),
            "7 %"
        );
        assert_eq!(
            format_value("md_sync_remaining_seconds", 6096.0, NOW_MS),
            "1 h 41 min"
        );
        assert_eq!(format_value("uptime_seconds", 350_735.0, NOW_MS), "4 d 1 h");
        assert_eq!(
            format_value("database_probe_latency_seconds", 0.0123, NOW_MS),
            "12.3 ms"
        );
        assert_eq!(
            format_value("smart_power_on_hours", 26_280.0, NOW_MS),
            "26,280 h"
        );
        assert_eq!(
            format_value("smart_temperature_celsius", 41.0, NOW_MS),
            "41 °C"
        );
        assert_eq!(format_value("temperature_celsius", 46.987, NOW_MS), "47 °C");
        assert_eq!(format_value("temperature_celsius", 46.5, NOW_MS), "47 °C");
        assert_eq!(celsius(-0.4), "0 °C");
        assert_eq!(celsius(-12.6), "-13 °C");
        assert_eq!(celsius(f64::NAN), "–");
        assert_eq!(format_value("zfs_vdev_healthy", 0.0, NOW_MS), "no");
        assert_eq!(format_value("smart_attribute_raw", 304.0, NOW_MS), "304");
        assert_eq!(format_value("zfs_pool_dedup_ratio", 1.0, NOW_MS), "1.00×");
        assert_eq!(format_value("load_average", 0.125, NOW_MS), "0.125");
        assert_eq!(format_value("load_average", f64::NAN, NOW_MS), "–");
    }

    #[test]
    fn issue_19_every_agent_metric_has_a_human_name_without_underscores() {
        for (metric, human, _) in METRICS {
            assert!(!human.contains('_'), "{metric}: {human}");
            assert_ne!(*metric, *human);
            assert_eq!(human_name(metric), *human);
        }
        let names: std::collections::BTreeSet<_> = METRICS.iter().map(|(m, _, _)| m).collect();
        assert_eq!(names.len(), METRICS.len(), "a metric listed twice");
        // A plugin's own metric keeps its name and gets a unit from its suffix.
        assert_eq!(
            human_name("node_cpu_seconds_total"),
            "node_cpu_seconds_total"
        );
        assert_eq!(
            unit_of("backup_last_success_timestamp_seconds"),
            Unit::UnixTime
        );
        assert_eq!(unit_of("node_cpu_seconds_total"), Unit::Count);
    }

    #[test]
    fn issue_19_charts_get_integer_formats_for_counts() {
        assert_eq!(unit_of("smart_attribute_raw").chart_unit(false), "count");
        assert_eq!(
            unit_of("network_receive_bytes_total").chart_unit(true),
            "bytes_rate"
        );
        assert_eq!(
            unit_of("md_sync_speed_bytes_per_second").chart_unit(false),
            "bytes_rate"
        );
        assert_eq!(
            unit_of("database_probe_latency_seconds").chart_unit(false),
            "seconds"
        );
    }
}
