//! Parser for smartctl's classic text output (`smartctl -x`, `-a`, `--format=brief`), built on nom.
//!
//! The output is a sequence of sections and tables; this module walks it line by line, keeps
//! track of the table it is in, and parses each line with a small nom grammar. Lines it expected
//! to understand but could not become [`ParseWarning`]s; lines it does not care about (capability
//! blurbs, log directories, register dumps) are skipped silently. Numbers may carry locale
//! thousands separators (`1,000`, `1.000`, `1'000`, `1’000`, `1 000`) and are read as integers.

use unity_shared::model::storage::{
    AtaAttribute, AtaSmart, DeviceIdentity, ErrorLogSummary, NvmeHealth, ParseError, ParseWarning,
    Protocol, Rotation, ScsiErrorCounter, ScsiHealth, ScsiOperation, SelfTestLog, SmartReport,
    SmartctlInfo, Temperature,
};

use super::decode::{ata_power_on_hours, attribute_value, nvme_warning_bits};
use super::text_fields::{
    attribute_row, capacity, gigabytes_to_bytes, hex_id, hex_u8, key_value, leading_i64,
    leading_u64, self_test_row, wwn_from_text,
};
use super::Parsed;

const EXPECTED: &str = "smartctl text output";

/// Parses the text output of `smartctl -x` (or `-a`, `-i -H -A`, ...).
pub fn parse(input: &str) -> Parsed {
    if input.trim().is_empty() {
        return Err(ParseError::Empty { expected: EXPECTED });
    }
    let mut state = State::default();
    for (index, raw_line) in input.lines().enumerate() {
        let line = raw_line.trim_end_matches('\r');
        state.line(index, line);
    }
    if !state.recognized {
        return Err(ParseError::unrecognized(EXPECTED, input));
    }
    Ok(state.finish())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Section {
    #[default]
    Preamble,
    Info,
    Data,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Block {
    #[default]
    None,
    Attributes,
    NvmeHealth,
    ScsiErrorCounters,
    SelfTests,
    AtaErrorLog,
    NvmeErrorLog,
}

#[derive(Default)]
struct State {
    recognized: bool,
    section: Section,
    block: Block,
    warnings: Vec<ParseWarning>,
    identity: DeviceIdentity,
    smartctl: SmartctlInfo,
    smart_available: Option<bool>,
    smart_enabled: Option<bool>,
    in_standby: bool,
    self_assessment_passed: Option<bool>,
    attributes: Vec<AtaAttribute>,
    saw_attribute_table: bool,
    nvme: Option<NvmeHealth>,
    scsi: Option<ScsiHealth>,
    self_test_log: Option<SelfTestLog>,
    error_log: Option<ErrorLogSummary>,
    temperature: Temperature,
    /// SCT "Current Temperature" (ATA), preferred over attributes like smartctl does.
    sct_temperature: Option<i64>,
    scsi_power_on_hours: Option<u64>,
    saw_vendor: Option<String>,
    saw_product: Option<String>,
}

impl State {
    fn line(&mut self, index: usize, line: &str) {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            if self.block != Block::AtaErrorLog {
                self.block = Block::None;
            }
            return;
        }
        if let Some(rest) = line.strip_prefix("smartctl ") {
            if self.smartctl.version.is_none() {
                self.recognized = true;
                self.smartctl.version = rest.split_whitespace().next().map(str::to_owned);
            }
            return;
        }
        if trimmed.starts_with("=== START OF") {
            self.recognized = true;
            self.block = Block::None;
            self.section = if trimmed.contains("INFORMATION SECTION") {
                Section::Info
            } else {
                Section::Data
            };
            return;
        }
        if trimmed.starts_with("Device is in STANDBY") || trimmed.starts_with("Device is in SLEEP")
        {
            self.recognized = true;
            self.in_standby = true;
            self.smartctl.messages.push(trimmed.to_owned());
            return;
        }
        if trimmed.starts_with("Smartctl open device")
            || trimmed.starts_with("Read Device Identity failed")
            || trimmed.starts_with("A mandatory SMART command failed")
        {
            self.smartctl.messages.push(trimmed.to_owned());
            return;
        }
        match self.section {
            Section::Info => self.info_line(line),
            Section::Data => self.data_line(index, line),
            Section::Preamble => {}
        }
    }

    fn info_line(&mut self, line: &str) {
        let Ok((_, (key, value))) = key_value(line) else {
            return;
        };
        let value = value.trim();
        let text = || Some(value.to_owned()).filter(|v| !v.is_empty());
        match key {
            "Model Family" => self.identity.model_family = text(),
            "Device Model" => {
                self.identity.model = text();
                self.identity.protocol = Some(Protocol::Ata);
            }
            "Model Number" => {
                self.identity.model = text();
                self.identity.protocol = Some(Protocol::Nvme);
            }
            "Vendor" => {
                self.saw_vendor = text();
                self.identity.protocol = Some(Protocol::Scsi);
            }
            "Product" => {
                self.saw_product = text();
                self.identity.protocol = Some(Protocol::Scsi);
            }
            "Serial Number" | "Serial number" => self.identity.serial = text(),
            "LU WWN Device Id" => self.identity.wwn = wwn_from_text(value),
            "Logical Unit id" => self.identity.wwn = hex_id(value),
            "Firmware Version" | "Revision" => self.identity.firmware = text(),
            "User Capacity" | "Total NVM Capacity" => {
                self.identity.capacity_bytes = capacity(value);
            }
            "Namespace 1 Size/Capacity" if self.identity.capacity_bytes.is_none() => {
                self.identity.capacity_bytes = capacity(value);
            }
            "Sector Size"
            | "Sector Sizes"
            | "Logical block size"
            | "Namespace 1 Formatted LBA Size" => {
                self.identity.logical_block_size =
                    leading_u64(value).ok().and_then(|n| u32::try_from(n).ok());
            }
            "Rotation Rate" => {
                self.identity.rotation = if value.starts_with("Solid State") {
                    Some(Rotation::SolidState)
                } else {
                    leading_u64(value)
                        .ok()
                        .and_then(|n| u32::try_from(n).ok())
                        .map(Rotation::Rpm)
                };
            }
            "Form Factor" => self.identity.form_factor = text(),
            "Transport protocol" => self.identity.transport = text(),
            "SMART support is" => {
                if value.starts_with("Available") {
                    self.smart_available = Some(true);
                } else if value.starts_with("Unavailable") {
                    self.smart_available = Some(false);
                } else if value.starts_with("Enabled") {
                    self.smart_enabled = Some(true);
                } else if value.starts_with("Disabled") {
                    self.smart_enabled = Some(false);
                }
            }
            "Warning  Comp. Temp. Threshold" => {
                self.temperature.warning_limit_celsius = leading_i64(value);
            }
            "Critical Comp. Temp. Threshold" => {
                self.temperature.critical_limit_celsius = leading_i64(value);
            }
            _ => {}
        }
    }

    fn data_line(&mut self, index: usize, line: &str) {
        let trimmed = line.trim();
        // Block headers first: they end whatever block was open.
        if trimmed.starts_with("Vendor Specific SMART Attributes") {
            self.block = Block::Attributes;
            self.saw_attribute_table = true;
            return;
        }
        if trimmed.starts_with("SMART/Health Information (NVMe Log") {
            self.block = Block::NvmeHealth;
            self.nvme.get_or_insert_with(NvmeHealth::default);
            return;
        }
        if trimmed.starts_with("Error counter log:") {
            self.block = Block::ScsiErrorCounters;
            return;
        }
        if trimmed.starts_with("SMART Self-test log")
            || trimmed.starts_with("SMART Extended Self-test Log")
            || trimmed.starts_with("Self-test Log (NVMe Log")
        {
            self.block = Block::SelfTests;
            self.self_test_log.get_or_insert_with(SelfTestLog::default);
            return;
        }
        if trimmed.starts_with("SMART Error Log Version")
            || trimmed.starts_with("SMART Extended Comprehensive Error Log Version")
        {
            self.block = Block::AtaErrorLog;
            self.error_log.get_or_insert_with(ErrorLogSummary::default);
            return;
        }
        if trimmed.starts_with("Error Information (NVMe Log") {
            self.block = Block::NvmeErrorLog;
            return;
        }
        if trimmed.starts_with("SMART Selective self-test log")
            || trimmed.starts_with("SCT Status Version")
            || trimmed.starts_with("General Purpose Log Directory")
            || trimmed.starts_with("Device Statistics")
        {
            self.block = Block::None;
        }
        match self.block {
            Block::Attributes => {
                self.attribute_line(index, line);
                return;
            }
            Block::NvmeHealth => {
                self.nvme_line(index, line);
                return;
            }
            Block::ScsiErrorCounters => {
                self.scsi_counter_line(index, line);
                return;
            }
            Block::SelfTests => {
                self.self_test_line(index, line);
                return;
            }
            Block::AtaErrorLog => {
                self.error_log_line(line);
                return;
            }
            Block::NvmeErrorLog => return,
            Block::None => {}
        }
        self.data_key_value(index, line);
    }

    fn data_key_value(&mut self, index: usize, line: &str) {
        let trimmed = line.trim();
        if let Some(hours) = trimmed
            .strip_prefix("number of hours powered up =")
            .and_then(|rest| leading_u64(rest.trim()).ok())
        {
            self.scsi_power_on_hours = Some(hours);
            return;
        }
        if let Some(rest) = trimmed.strip_prefix("Current temperature =") {
            if self.temperature.current_celsius.is_none() {
                self.temperature.current_celsius = leading_i64(rest.trim());
            }
            return;
        }
        let Ok((_, (key, value))) = key_value(trimmed) else {
            return;
        };
        let value = value.trim();
        match key {
            "SMART overall-health self-assessment test result" => {
                if value.starts_with("PASSED") {
                    self.self_assessment_passed = Some(true);
                } else if value.starts_with("FAILED") {
                    self.self_assessment_passed = Some(false);
                } else {
                    self.warnings.push(ParseWarning::at_line(
                        index,
                        line,
                        "unknown self-assessment result",
                    ));
                }
            }
            "SMART Health Status" => {
                self.self_assessment_passed = Some(value.starts_with("OK"));
            }
            "Current Drive Temperature" => {
                self.temperature.current_celsius = leading_i64(value).filter(|t| *t != 0);
            }
            "Drive Trip Temperature" => {
                self.temperature.critical_limit_celsius = leading_i64(value).filter(|t| *t != 0);
            }
            "Elements in grown defect list" => {
                self.scsi_mut().grown_defects = leading_u64(value).ok();
            }
            "Non-medium error count" => {
                self.scsi_mut().non_medium_errors = leading_u64(value).ok();
            }
            "Percentage used endurance indicator" => {
                self.scsi_mut().percentage_used_endurance = leading_u64(value).ok();
            }
            "Accumulated start-stop cycles" => {
                self.scsi_mut().start_stop_cycles = leading_u64(value).ok();
            }
            "Accumulated load-unload cycles" => {
                self.scsi_mut().load_unload_cycles = leading_u64(value).ok();
            }
            "Accumulated power on time, hours" => {
                // `minutes 9153:46 [549226 minutes]`
                self.scsi_power_on_hours = value
                    .strip_prefix("minutes")
                    .and_then(|rest| leading_u64(rest.trim()).ok());
            }
            "Current Temperature" => self.sct_temperature = leading_i64(value),
            "Lifetime    Min/Max Temperature" | "Lifetime Min/Max Temperature" => {
                if let Some((min, max)) = value.split_once('/') {
                    self.temperature.lifetime_min_celsius = leading_i64(min.trim());
                    self.temperature.lifetime_max_celsius = leading_i64(max.trim());
                }
            }
            "Specified Max Operating Temperature" => {
                self.temperature.warning_limit_celsius = leading_i64(value);
            }
            _ => {}
        }
    }

    fn scsi_mut(&mut self) -> &mut ScsiHealth {
        self.scsi.get_or_insert_with(ScsiHealth::default)
    }

    fn attribute_line(&mut self, index: usize, line: &str) {
        let trimmed = line.trim_start();
        if trimmed.starts_with("ID#") || trimmed.starts_with('|') {
            return;
        }
        if !trimmed.starts_with(|c: char| c.is_ascii_digit()) {
            self.block = Block::None;
            return;
        }
        match attribute_row(line) {
            Ok((_, attribute)) => self.attributes.push(attribute),
            Err(_) => self.warnings.push(ParseWarning::at_line(
                index,
                line,
                "cannot parse ATA attribute row",
            )),
        }
    }

    fn nvme_line(&mut self, index: usize, line: &str) {
        let Ok((_, (key, value))) = key_value(line) else {
            self.warnings.push(ParseWarning::at_line(
                index,
                line,
                "expected `key: value` in NVMe health log",
            ));
            return;
        };
        let value = value.trim();
        let nvme = self.nvme.get_or_insert_with(NvmeHealth::default);
        let number = leading_u64(value).ok();
        match key {
            "Critical Warning" => {
                nvme.critical_warning = hex_u8(value);
                if let Some(bits) = nvme.critical_warning {
                    nvme.critical_warning_bits = nvme_warning_bits(bits);
                }
            }
            "Temperature" => nvme.temperature_celsius = leading_i64(value),
            "Available Spare" => nvme.available_spare_percent = number,
            "Available Spare Threshold" => nvme.available_spare_threshold_percent = number,
            "Percentage Used" => nvme.percentage_used = number,
            "Data Units Read" => nvme.data_units_read = number,
            "Data Units Written" => nvme.data_units_written = number,
            "Host Read Commands" => nvme.host_read_commands = number,
            "Host Write Commands" => nvme.host_write_commands = number,
            "Controller Busy Time" => nvme.controller_busy_time = number,
            "Power Cycles" => nvme.power_cycles = number,
            "Power On Hours" => nvme.power_on_hours = number,
            "Unsafe Shutdowns" => nvme.unsafe_shutdowns = number,
            "Media and Data Integrity Errors" => nvme.media_errors = number,
            "Error Information Log Entries" => nvme.error_log_entries = number,
            "Warning  Comp. Temperature Time" => nvme.warning_temperature_minutes = number,
            "Critical Comp. Temperature Time" => nvme.critical_temperature_minutes = number,
            _ if key.starts_with("Temperature Sensor") => {
                if let Some(celsius) = leading_i64(value) {
                    nvme.temperature_sensors_celsius.push(celsius);
                }
            }
            _ => {}
        }
    }

    fn scsi_counter_line(&mut self, index: usize, line: &str) {
        let trimmed = line.trim_start();
        let operation = if trimmed.starts_with("read:") {
            ScsiOperation::Read
        } else if trimmed.starts_with("write:") {
            ScsiOperation::Write
        } else if trimmed.starts_with("verify:") {
            ScsiOperation::Verify
        } else {
            return;
        };
        let fields: Vec<&str> = trimmed.split_whitespace().skip(1).collect();
        if fields.len() != 7 {
            self.warnings.push(ParseWarning::at_line(
                index,
                line,
                "expected 7 columns in SCSI error counter row",
            ));
            return;
        }
        let number = |i: usize| fields.get(i).and_then(|f| leading_u64(f).ok());
        let counter = ScsiErrorCounter {
            operation,
            corrected_by_ecc_fast: number(0),
            corrected_by_ecc_delayed: number(1),
            corrected_by_rereads_rewrites: number(2),
            total_corrected: number(3),
            correction_algorithm_invocations: number(4),
            bytes_processed: fields.get(5).and_then(|f| gigabytes_to_bytes(f)),
            total_uncorrected: number(6),
        };
        self.scsi_mut().error_counters.push(counter);
    }

    fn self_test_line(&mut self, index: usize, line: &str) {
        let trimmed = line.trim();
        if !trimmed.starts_with('#') {
            return;
        }
        match self_test_row(trimmed) {
            Some(entry) => self
                .self_test_log
                .get_or_insert_with(SelfTestLog::default)
                .entries
                .push(entry),
            None => self.warnings.push(ParseWarning::at_line(
                index,
                line,
                "cannot parse self-test log row",
            )),
        }
    }

    fn error_log_line(&mut self, line: &str) {
        let trimmed = line.trim();
        let log = self.error_log.get_or_insert_with(ErrorLogSummary::default);
        if trimmed.starts_with("No Errors Logged") {
            log.count = Some(0);
            self.block = Block::None;
        } else if let Some(rest) = trimmed
            .strip_prefix("Device Error Count:")
            .or_else(|| trimmed.strip_prefix("ATA Error Count:"))
        {
            log.count = leading_u64(rest.trim()).ok();
            self.block = Block::None;
        }
    }

    fn finish(self) -> (SmartReport, Vec<ParseWarning>) {
        let mut identity = self.identity;
        if identity.protocol == Some(Protocol::Scsi) {
            identity.vendor = self.saw_vendor.clone();
            identity.model = match (&self.saw_vendor, &self.saw_product) {
                (Some(vendor), Some(product)) => Some(format!("{vendor} {product}")),
                (None, Some(product)) => Some(product.clone()),
                _ => identity.model,
            };
        }
        let ata = if self.saw_attribute_table || !self.attributes.is_empty() {
            Some(AtaSmart {
                attributes: self.attributes,
            })
        } else {
            None
        };
        let mut temperature = self.temperature;
        let mut power_on_hours = None;
        let mut power_cycles = None;
        if let Some(ata) = &ata {
            power_on_hours = ata_power_on_hours(&ata.attributes);
            power_cycles = attribute_value(&ata.attributes, 12);
            if temperature.current_celsius.is_none() {
                temperature.current_celsius = self.sct_temperature.or_else(|| {
                    [194u8, 190]
                        .iter()
                        .find_map(|id| attribute_value(&ata.attributes, *id))
                        .and_then(|t| i64::try_from(t).ok())
                });
            }
        }
        if let Some(nvme) = &self.nvme {
            power_on_hours = power_on_hours.or(nvme.power_on_hours);
            power_cycles = power_cycles.or(nvme.power_cycles);
            if temperature.current_celsius.is_none() {
                temperature.current_celsius = nvme.temperature_celsius;
            }
        }
        if identity.protocol == Some(Protocol::Scsi) {
            power_on_hours = power_on_hours.or(self.scsi_power_on_hours);
        }
        let report = SmartReport {
            device: identity,
            smartctl: self.smartctl,
            smart_available: self.smart_available,
            smart_enabled: self.smart_enabled,
            in_standby: self.in_standby,
            self_assessment_passed: self.self_assessment_passed,
            power_on_hours,
            power_cycles,
            temperature,
            ata,
            nvme: self.nvme,
            scsi: self.scsi,
            self_test_log: self.self_test_log,
            error_log: self.error_log,
        };
        (report, self.warnings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error() {
        assert!(parse("").is_err());
        assert!(parse("   \n").is_err());
        assert!(parse("hello world\nthis is not smartctl").is_err());
    }
}
