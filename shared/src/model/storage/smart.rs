//! SMART model: one [`SmartReport`] per drive, from `smartctl -x` text or `smartctl -j -x` JSON.
//!
//! Both parsers fill the same types, so a verdict does not depend on which output was read.

use serde::{Deserialize, Serialize};

use super::{CollectorOutcome, ParseWarning, Verdict};

/// Everything the agent learned about one drive from smartctl.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SmartReport {
    pub device: DeviceIdentity,
    pub smartctl: SmartctlInfo,
    /// `true`/`false` when smartctl says whether the device supports SMART.
    pub smart_available: Option<bool>,
    pub smart_enabled: Option<bool>,
    /// The drive was in standby and smartctl did not wake it (`-n standby`): no health data.
    pub in_standby: bool,
    /// Overall self-assessment: `Some(true)` PASSED/OK, `Some(false)` FAILED, `None` not reported.
    pub self_assessment_passed: Option<bool>,
    pub power_on_hours: Option<u64>,
    pub power_cycles: Option<u64>,
    pub temperature: Temperature,
    pub ata: Option<AtaSmart>,
    pub nvme: Option<NvmeHealth>,
    pub scsi: Option<ScsiHealth>,
    pub self_test_log: Option<SelfTestLog>,
    pub error_log: Option<ErrorLogSummary>,
}

/// Who the drive is.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct DeviceIdentity {
    /// Device path as given to smartctl, e.g. `/dev/sda` or `/dev/bus/0`.
    pub name: Option<String>,
    /// smartctl's display name, e.g. `/dev/sda [SAT]`.
    pub info_name: Option<String>,
    /// The `-d` device type, e.g. `sat`, `nvme`, `sntjmicron`, `sat+megaraid,0`.
    pub device_type: Option<String>,
    pub protocol: Option<Protocol>,
    pub model_family: Option<String>,
    pub model: Option<String>,
    /// SCSI vendor (SAS drives), e.g. `SEAGATE`.
    pub vendor: Option<String>,
    pub serial: Option<String>,
    /// World Wide Name as 16 hex digits with `0x`, e.g. `0x5000c500b335fb73`; `None` when masked.
    pub wwn: Option<String>,
    pub firmware: Option<String>,
    pub capacity_bytes: Option<u64>,
    pub logical_block_size: Option<u32>,
    pub rotation: Option<Rotation>,
    /// E.g. `3.5 inches`, `2.5 inches`, `M.2`.
    pub form_factor: Option<String>,
    /// SCSI transport, e.g. `SAS (SPL-3)`.
    pub transport: Option<String>,
}

/// The command set smartctl used to talk to the drive.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    Ata,
    Nvme,
    Scsi,
}

/// Spinning speed.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Rotation {
    SolidState,
    Rpm(u32),
}

/// About the smartctl run itself.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct SmartctlInfo {
    /// E.g. `7.3`.
    pub version: Option<String>,
    /// The exit status, when known (JSON output, or the run side).
    pub exit_status: Option<ExitStatus>,
    /// Messages smartctl printed about the run (errors, notes).
    pub messages: Vec<String>,
}

/// smartctl's exit status, a bit mask (see `man smartctl`, "RETURN VALUES").
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExitStatus {
    pub raw: u8,
    /// Bit 0: command line did not parse.
    pub command_line_error: bool,
    /// Bit 1: device open failed, or the device did not return an IDENTIFY answer (or is in a
    /// low-power mode with `-n`).
    pub device_open_failed: bool,
    /// Bit 2: some SMART or other ATA command failed, or a data structure checksum error.
    pub command_failed: bool,
    /// Bit 3: SMART status check returned "DISK FAILING".
    pub disk_failing: bool,
    /// Bit 4: prefail attributes are at or below threshold.
    pub prefail_below_threshold: bool,
    /// Bit 5: some usage attributes were at or below threshold in the past.
    pub usage_below_threshold_in_past: bool,
    /// Bit 6: the device error log contains records of errors.
    pub error_log_has_errors: bool,
    /// Bit 7: the device self-test log contains records of errors.
    pub self_test_log_has_errors: bool,
}

/// Temperatures in degrees Celsius.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct Temperature {
    pub current_celsius: Option<i64>,
    pub lifetime_min_celsius: Option<i64>,
    pub lifetime_max_celsius: Option<i64>,
    /// The drive's own warning limit (NVMe WCTEMP, ATA SCT "specified max operating").
    pub warning_limit_celsius: Option<i64>,
    /// The drive's own critical limit (NVMe CCTEMP, SCSI "drive trip temperature").
    pub critical_limit_celsius: Option<i64>,
}

/// ATA/SATA SMART data.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct AtaSmart {
    pub attributes: Vec<AtaAttribute>,
}

/// One row of the ATA attribute table.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct AtaAttribute {
    pub id: u8,
    pub name: String,
    pub flags: AttributeFlags,
    /// Normalized value (1..253 typically); `None` when smartctl prints `---`.
    pub value: Option<u16>,
    pub worst: Option<u16>,
    pub thresh: Option<u16>,
    pub when_failed: WhenFailed,
    pub raw: RawValue,
}

/// Attribute flags (`POSRCK`, or the 16-bit flag word).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AttributeFlags {
    /// The 16-bit flag word, when known.
    pub value: Option<u16>,
    /// P: pre-failure attribute (below threshold predicts failure).
    pub prefailure: bool,
    /// O: updated during normal operation.
    pub updated_online: bool,
    /// S: speed/performance.
    pub performance: bool,
    /// R: error rate.
    pub error_rate: bool,
    /// C: event count.
    pub event_count: bool,
    /// K: auto-keep.
    pub auto_keep: bool,
}

/// When the normalized value was at or below threshold.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum WhenFailed {
    Never,
    Now,
    InThePast,
}

/// An attribute's raw value as smartctl printed it, plus what could be read from it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct RawValue {
    /// Exactly as printed, e.g. `35 (Min/Max 20/45)`, `2765/13191816`, `0 0 1`.
    pub string: String,
    pub form: RawForm,
    /// The leading number: the counter, the current temperature, the hours.
    pub value: Option<u64>,
    /// Minimum from `(Min/Max a/b)`.
    pub min: Option<i64>,
    /// Maximum from `(Min/Max a/b)`.
    pub max: Option<i64>,
    /// Every number in the string, in order (for composite forms such as `0 0 1`, `a/b`).
    pub numbers: Vec<u64>,
}

/// The shape of a raw value string.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RawForm {
    /// `304`
    Integer,
    /// `35 (Min/Max 20/45)`
    MinMax,
    /// `494 (Average 492)`, `26 (0 17 0 0 0)`: a number with details in parentheses.
    Annotated,
    /// `2765/13191816`, `0/0`
    Ratio,
    /// `0 0 1`
    Composite,
    /// `0x0000000a0003`
    Hex,
    /// `45449h+00m+00.000s`
    Duration,
    /// Anything else.
    Text,
}

/// NVMe SMART/Health Information log (log page 0x02) and related limits.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct NvmeHealth {
    pub critical_warning: Option<u8>,
    pub critical_warning_bits: NvmeCriticalWarning,
    pub temperature_celsius: Option<i64>,
    pub available_spare_percent: Option<u64>,
    pub available_spare_threshold_percent: Option<u64>,
    /// May exceed 100.
    pub percentage_used: Option<u64>,
    /// In units of 512 000 bytes.
    pub data_units_read: Option<u64>,
    pub data_units_written: Option<u64>,
    pub host_read_commands: Option<u64>,
    pub host_write_commands: Option<u64>,
    /// Minutes.
    pub controller_busy_time: Option<u64>,
    pub power_cycles: Option<u64>,
    pub power_on_hours: Option<u64>,
    pub unsafe_shutdowns: Option<u64>,
    pub media_errors: Option<u64>,
    pub error_log_entries: Option<u64>,
    /// Minutes spent above the warning composite temperature.
    pub warning_temperature_minutes: Option<u64>,
    /// Minutes spent above the critical composite temperature.
    pub critical_temperature_minutes: Option<u64>,
    pub temperature_sensors_celsius: Vec<i64>,
}

/// The decoded NVMe critical warning byte.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NvmeCriticalWarning {
    /// Bit 0.
    pub spare_below_threshold: bool,
    /// Bit 1.
    pub temperature: bool,
    /// Bit 2.
    pub reliability_degraded: bool,
    /// Bit 3.
    pub media_read_only: bool,
    /// Bit 4.
    pub volatile_memory_backup_failed: bool,
    /// Bit 5.
    pub persistent_memory_region_unreliable: bool,
}

/// SCSI/SAS health data.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct ScsiHealth {
    pub grown_defects: Option<u64>,
    pub error_counters: Vec<ScsiErrorCounter>,
    pub non_medium_errors: Option<u64>,
    /// "Percentage used endurance indicator" (SSDs).
    pub percentage_used_endurance: Option<u64>,
    pub start_stop_cycles: Option<u64>,
    pub load_unload_cycles: Option<u64>,
}

/// One row of the SCSI error counter log.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ScsiErrorCounter {
    pub operation: ScsiOperation,
    pub corrected_by_ecc_fast: Option<u64>,
    pub corrected_by_ecc_delayed: Option<u64>,
    pub corrected_by_rereads_rewrites: Option<u64>,
    pub total_corrected: Option<u64>,
    pub correction_algorithm_invocations: Option<u64>,
    /// Bytes processed (smartctl prints gigabytes with three decimals).
    pub bytes_processed: Option<u64>,
    pub total_uncorrected: Option<u64>,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ScsiOperation {
    Read,
    Write,
    Verify,
}

/// The self-test log, newest first.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct SelfTestLog {
    pub entries: Vec<SelfTestEntry>,
}

/// One self-test log row.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SelfTestEntry {
    /// E.g. `Short offline`, `Extended offline`, `Background short`.
    pub test_type: String,
    /// E.g. `Completed without error`, `Completed: read failure`.
    pub status: String,
    /// `Some(false)` when the test found an error; `None` while in progress.
    pub passed: Option<bool>,
    pub lifetime_hours: Option<u64>,
    pub lba_of_first_error: Option<u64>,
}

/// The device error log, summarized.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct ErrorLogSummary {
    /// Errors the device counted over its life (ATA "Device Error Count", JSON `count`).
    pub count: Option<u64>,
}

/// The result of one SMART collector run: each discovered device, or why there was none.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SmartCollection {
    pub outcome: CollectorOutcome,
    pub devices: Vec<SmartDeviceResult>,
}

/// One discovered device: its report and verdict, or the error that prevented them.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SmartDeviceResult {
    /// Device path, e.g. `/dev/sda`.
    pub device: String,
    /// The `-d` type used, e.g. `sat`.
    pub device_type: Option<String>,
    pub report: Option<SmartReport>,
    pub verdict: Option<Verdict>,
    pub warnings: Vec<ParseWarning>,
    pub error: Option<String>,
}
