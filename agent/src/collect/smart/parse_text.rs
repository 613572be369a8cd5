//! Parser for smartctl's classic text output (`smartctl -x`, `-a`, `--format=brief`), built on nom.
//!
//! The output is a sequence of sections and tables; this module walks it line by line, keeps
//! track of the table it is in, and parses each line with a small nom grammar. Lines it expected
//! to understand but could not become [`ParseWarning`]s; lines it does not care about (capability
//! blurbs, log directories, register dumps) are skipped silently. Numbers may carry locale
//! thousands separators (`1,000`, `1.000`, `1'000`, `1’000`, `1 000`) and are read as integers.

use nom::branch::alt;
use nom::bytes::complete::{tag, take_till1, take_while, take_while1};
use nom::character::complete::{char, digit1, space0, space1};
use nom::combinator::{map, map_res, opt, rest};
use nom::{IResult, Parser};

use unity_shared::model::storage::{
    AtaAttribute, AtaSmart, AttributeFlags, DeviceIdentity, ErrorLogSummary, NvmeHealth,
    ParseError, ParseWarning, Protocol, RawForm, RawValue, Rotation, ScsiErrorCounter,
    ScsiHealth, ScsiOperation, SelfTestEntry, SelfTestLog, SmartReport, SmartctlInfo, Temperature,
    WhenFailed,
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
        if trimmed.starts_with("Device is in STANDBY")
            || trimmed.starts_with("Device is in SLEEP")
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
            "Namespace 1 Size/Capacity" => {
                if self.identity.capacity_bytes.is_none() {
                    self.identity.capacity_bytes = capacity(value);
                }
            }
            "Sector Size" | "Sector Sizes" | "Logical block size" | "Namespace 1 Formatted LBA Size" => {
                self.identity.logical_block_size = leading_u64(value)
                    .ok()
                    .and_then(|n| u32::try_from(n).ok());
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
                    nvme.critical_warning_bits = super::parse_json::nvme_warning_bits(bits);
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

/// The power-on hours from attribute 9, whatever unit the drive counts in.
pub(crate) fn ata_power_on_hours(attributes: &[AtaAttribute]) -> Option<u64> {
    let attribute = attributes.iter().find(|a| a.id == 9)?;
    let value = attribute.raw.value?;
    let name = attribute.name.as_str();
    Some(if name.contains("Half_Min") {
        value / 120
    } else if name.contains("Minutes") {
        value / 60
    } else if name.contains("Seconds") {
        value / 3600
    } else {
        value
    })
}

/// The leading number of an attribute's raw value.
pub(crate) fn attribute_value(attributes: &[AtaAttribute], id: u8) -> Option<u64> {
    attributes
        .iter()
        .find(|a| a.id == id)
        .and_then(|a| a.raw.value)
}

/// `Key:   value` (the key may contain spaces, not colons).
fn key_value(line: &str) -> IResult<&str, (&str, &str)> {
    let (input, _) = space0(line)?;
    let (input, key) = take_till1(|c| c == ':').parse(input)?;
    let (input, _) = char(':').parse(input)?;
    let (input, value) = rest(input)?;
    Ok((input, (key.trim_end(), value)))
}

fn is_group_separator(c: char) -> bool {
    matches!(
        c,
        ',' | '.' | '\'' | '’' | '\u{a0}' | '\u{202f}' | '\u{fffd}'
    )
}

/// A leading integer that may contain locale thousands separators: `1,356`, `1.356`, `6’433`.
fn grouped_u64(input: &str) -> IResult<&str, u64> {
    let (remaining, _) = digit1(input)?;
    let (remaining, _) = take_while(|c: char| c.is_ascii_digit() || is_group_separator(c))
        .parse(remaining)?;
    let consumed = input.len().saturating_sub(remaining.len());
    let digits: String = input
        .get(..consumed)
        .unwrap_or("")
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    match digits.parse::<u64>() {
        Ok(n) => Ok((remaining, n)),
        Err(_) => Err(nom::Err::Error(nom::error::Error::new(
            input,
            nom::error::ErrorKind::Digit,
        ))),
    }
}

/// The leading (possibly grouped) integer of `value`, e.g. `45` from `45 Celsius`.
pub(crate) fn leading_u64(value: &str) -> Result<u64, ()> {
    grouped_u64(value.trim_start())
        .map(|(_, n)| n)
        .map_err(|_| ())
}

fn leading_i64(value: &str) -> Option<i64> {
    let value = value.trim_start();
    let (negative, digits) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let magnitude = i64::try_from(leading_u64(digits).ok()?).ok()?;
    Some(if negative { -magnitude } else { magnitude })
}

/// `0x0d` as a byte.
fn hex_u8(value: &str) -> Option<u8> {
    let hex = value.trim().strip_prefix("0x")?;
    let hex: String = hex.chars().take_while(char::is_ascii_hexdigit).collect();
    u8::from_str_radix(&hex, 16).ok()
}

/// `1,000,204,886,016 bytes [1.00 TB]`, `7 681 501 126 656 bytes [7,68 TB]`,
/// `250,059,350,016 [250 GB]`: every digit before `bytes` or `[`.
fn capacity(value: &str) -> Option<u64> {
    let end = value
        .find("bytes")
        .or_else(|| value.find('['))
        .unwrap_or(value.len());
    let digits: String = value
        .get(..end)
        .unwrap_or("")
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// `5 000c50 0b335fb73` to `0x5000c500b335fb73`; `None` when masked (`XXXXXXXX`, `5 000cca ...`).
fn wwn_from_text(value: &str) -> Option<String> {
    let hex: String = value.split_whitespace().collect();
    (hex.len() == 16 && hex.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| format!("0x{}", hex.to_ascii_lowercase()))
}

/// `0x5000cca25c244870` (SCSI logical unit id), lower-cased.
pub(crate) fn hex_id(value: &str) -> Option<String> {
    let hex = value.trim().strip_prefix("0x")?;
    (!hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| format!("0x{}", hex.to_ascii_lowercase()))
}

/// smartctl prints gigabytes processed with three decimals (`386.568`, `10311,154`); reading all
/// digits gives thousandths of a gigabyte, i.e. megabytes.
pub(crate) fn gigabytes_to_bytes(value: &str) -> Option<u64> {
    let digits: String = value.chars().filter(char::is_ascii_digit).collect();
    let megabytes: u64 = digits.parse().ok()?;
    megabytes.checked_mul(1_000_000)
}

fn normalized(input: &str) -> IResult<&str, Option<u16>> {
    alt((
        map(map_res(digit1, str::parse::<u16>), Some),
        map(tag("---"), |_| None),
    ))
    .parse(input)
}

fn word(input: &str) -> IResult<&str, &str> {
    take_while1(|c: char| !c.is_whitespace()).parse(input)
}

/// One attribute row, brief (`PO--CK ... NOW 4095`) or classic (`0x0033 ... Pre-fail Always
/// FAILING_NOW 4095`).
fn attribute_row(line: &str) -> IResult<&str, AtaAttribute> {
    let (input, _) = space0(line)?;
    let (input, id) = map_res(digit1, str::parse::<u8>).parse(input)?;
    let (input, _) = space1(input)?;
    let (input, name) = word(input)?;
    let (input, _) = space1(input)?;
    let (input, flags_text) = word(input)?;
    let (input, _) = space1(input)?;
    let (input, value) = normalized(input)?;
    let (input, _) = space1(input)?;
    let (input, worst) = normalized(input)?;
    let (input, _) = space1(input)?;
    let (input, thresh) = normalized(input)?;
    let (input, _) = space1(input)?;
    let classic = flags_text.starts_with("0x");
    let (input, when_failed_text) = if classic {
        let (input, _type) = word(input)?;
        let (input, _) = space1(input)?;
        let (input, _updated) = word(input)?;
        let (input, _) = space1(input)?;
        word(input)?
    } else {
        word(input)?
    };
    let (input, _) = space0(input)?;
    let (input, raw_text) = rest(input)?;
    let flags = if classic {
        let value = u16::from_str_radix(flags_text.trim_start_matches("0x"), 16).ok();
        flags_from_word(value.unwrap_or(0), value)
    } else {
        flags_from_letters(flags_text)
    };
    let when_failed = match when_failed_text {
        "NOW" | "FAILING_NOW" => WhenFailed::Now,
        "Past" | "In_the_past" => WhenFailed::InThePast,
        _ => WhenFailed::Never,
    };
    let attribute = AtaAttribute {
        id,
        name: name.to_owned(),
        flags,
        value,
        worst,
        thresh,
        when_failed,
        raw: parse_raw_value(raw_text.trim()),
    };
    Ok((input, attribute))
}

/// Attribute flags from the 16-bit flag word.
pub(crate) fn flags_from_word(bits: u16, value: Option<u16>) -> AttributeFlags {
    AttributeFlags {
        value,
        prefailure: bits & 0x01 != 0,
        updated_online: bits & 0x02 != 0,
        performance: bits & 0x04 != 0,
        error_rate: bits & 0x08 != 0,
        event_count: bits & 0x10 != 0,
        auto_keep: bits & 0x20 != 0,
    }
}

/// Attribute flags from the brief `POSRCK` letters (a `-` is an unset flag).
fn flags_from_letters(letters: &str) -> AttributeFlags {
    let mut bits = 0u16;
    for (letter, bit) in [('P', 0x01), ('O', 0x02), ('S', 0x04), ('R', 0x08), ('C', 0x10), ('K', 0x20)] {
        if letters.contains(letter) {
            bits |= bit;
        }
    }
    flags_from_word(bits, Some(bits))
}

/// Reads an attribute's raw value string (shared with the JSON parser, so both agree).
pub fn parse_raw_value(text: &str) -> RawValue {
    let numbers: Vec<u64> = text
        .split(|c: char| !c.is_ascii_digit())
        .filter(|part| !part.is_empty())
        .filter_map(|part| part.parse().ok())
        .collect();
    let mut raw = RawValue {
        string: text.to_owned(),
        form: RawForm::Text,
        value: None,
        min: None,
        max: None,
        numbers: Vec::new(),
    };
    if let Some(hex) = text.strip_prefix("0x") {
        if !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()) {
            raw.form = RawForm::Hex;
            raw.value = u64::from_str_radix(hex, 16).ok();
            raw.numbers = raw.value.into_iter().collect();
            return raw;
        }
    }
    raw.value = leading_plain_u64(text);
    raw.numbers = numbers;
    raw.form = if text.chars().all(|c| c.is_ascii_digit()) && !text.is_empty() {
        RawForm::Integer
    } else if let Ok((_, (min, max))) = min_max(text) {
        raw.min = Some(min);
        raw.max = Some(max);
        RawForm::MinMax
    } else if duration_form(text).is_ok() {
        RawForm::Duration
    } else if ratio_form(text).is_ok() {
        RawForm::Ratio
    } else if text.contains('(') && raw.value.is_some() {
        RawForm::Annotated
    } else if !text.is_empty() && text.chars().all(|c| c.is_ascii_digit() || c == ' ') {
        RawForm::Composite
    } else {
        RawForm::Text
    };
    raw
}

fn leading_plain_u64(text: &str) -> Option<u64> {
    let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

fn signed(input: &str) -> IResult<&str, i64> {
    let (input, sign) = opt(char('-')).parse(input)?;
    let (input, magnitude) = map_res(digit1, str::parse::<i64>).parse(input)?;
    Ok((input, if sign.is_some() { -magnitude } else { magnitude }))
}

/// `35 (Min/Max 20/45)`
fn min_max(input: &str) -> IResult<&str, (i64, i64)> {
    let (input, _) = digit1(input)?;
    let (input, _) = space1(input)?;
    let (input, _) = tag("(Min/Max ").parse(input)?;
    let (input, min) = signed(input)?;
    let (input, _) = char('/').parse(input)?;
    let (input, max) = signed(input)?;
    let (input, _) = char(')').parse(input)?;
    Ok((input, (min, max)))
}

/// `45449h+00m+00.000s`
fn duration_form(input: &str) -> IResult<&str, ()> {
    let (input, _) = (digit1, char('h'), opt((char('+'), digit1, char('m')))).parse(input)?;
    let (input, _) = take_while(|c: char| c == '+' || c == '.' || c == 's' || c.is_ascii_digit())
        .parse(input)?;
    if input.is_empty() {
        Ok((input, ()))
    } else {
        Err(nom::Err::Error(nom::error::Error::new(
            input,
            nom::error::ErrorKind::Eof,
        )))
    }
}

/// `2765/13191816`, `0/0`
fn ratio_form(input: &str) -> IResult<&str, ()> {
    let (input, _) = (digit1, char('/'), digit1).parse(input)?;
    if input.is_empty() {
        Ok((input, ()))
    } else {
        Err(nom::Err::Error(nom::error::Error::new(
            input,
            nom::error::ErrorKind::Eof,
        )))
    }
}

/// Whether a self-test status means the test passed: `Some(false)` for failures, `None` while
/// running. Shared with the JSON parser so text and JSON agree.
pub fn self_test_passed(status: &str) -> Option<bool> {
    let lower = status.to_ascii_lowercase();
    if lower.contains("in progress") {
        None
    } else if lower.contains("without error") {
        Some(true)
    } else if lower.contains("fail") || lower.contains("fatal") || lower.contains("error") {
        Some(false)
    } else {
        // `Completed` (SCSI), `Aborted by host`, `Interrupted (host reset)`: not a finding.
        Some(true)
    }
}

/// `# 1  Short offline       Completed without error       00%     15690         -` (ATA),
/// `# 1  Background short  Completed   -     302   - [-   -    -]` (SCSI),
/// ` 0   Short   Completed without error   1234   -   ...` is not handled (NVMe rows start
/// without `#`).
fn self_test_row(line: &str) -> Option<SelfTestEntry> {
    let body = line.strip_prefix('#')?.trim_start();
    let (_number, body) = body.split_once(char::is_whitespace)?;
    let body = body.trim();
    // SCSI rows end with `[SK ASC ASQ]`.
    let (body, scsi) = match body.rfind('[') {
        Some(at) if body.ends_with(']') => (body.get(..at)?.trim_end(), true),
        _ => (body, false),
    };
    let tokens = token_spans(body);
    let n_tokens = tokens.len();
    let (_, lba_text) = *tokens.get(n_tokens.checked_sub(1)?)?;
    let (_, lifetime_text) = *tokens.get(n_tokens.checked_sub(2)?)?;
    // ATA: remaining `00%`; SCSI: segment number or `-`.
    let (third_start, third) = *tokens.get(n_tokens.checked_sub(3)?)?;
    if !scsi && !third.ends_with('%') {
        return None;
    }
    let middle = body.get(..third_start)?.trim();
    let (test_type, status) = split_two_spaces(middle);
    Some(SelfTestEntry {
        test_type: test_type.to_owned(),
        status: status.to_owned(),
        passed: self_test_passed(status),
        lifetime_hours: leading_u64(lifetime_text).ok(),
        lba_of_first_error: lba_text.parse().ok(),
    })
}

/// Whitespace-separated tokens with their byte offsets.
fn token_spans(text: &str) -> Vec<(usize, &str)> {
    let mut spans = Vec::new();
    let mut start = None;
    for (at, c) in text.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(begin)) => {
                spans.push((begin, text.get(begin..at).unwrap_or("")));
                start = None;
            }
            (false, None) => start = Some(at),
            _ => {}
        }
    }
    if let Some(begin) = start {
        spans.push((begin, text.get(begin..).unwrap_or("")));
    }
    spans
}

fn split_two_spaces(text: &str) -> (&str, &str) {
    match text.find("  ") {
        Some(at) => (
            text.get(..at).unwrap_or("").trim(),
            text.get(at..).unwrap_or("").trim(),
        ),
        None => (text, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_raw(text: &str, form: RawForm, value: Option<u64>) {
        let raw = parse_raw_value(text);
        assert_eq!((raw.form, raw.value), (form, value), "{text}: {raw:?}");
    }

    #[test]
    fn raw_integer() {
        check_raw("304", RawForm::Integer, Some(304));
    }

    #[test]
    fn raw_min_max() {
        let raw = parse_raw_value("35 (Min/Max 20/45)");
        assert_eq!((raw.form, raw.value, raw.min, raw.max), (RawForm::MinMax, Some(35), Some(20), Some(45)));
    }

    #[test]
    fn raw_ratio() {
        check_raw("0/0", RawForm::Ratio, Some(0));
        check_raw("2765/13191816", RawForm::Ratio, Some(2765));
    }

    #[test]
    fn raw_hex() {
        check_raw("0x0000000a0003", RawForm::Hex, Some(0xa0003));
    }

    #[test]
    fn raw_composite_and_annotated() {
        check_raw("0 0 1", RawForm::Composite, Some(0));
        check_raw("26 (0 17 0 0 0)", RawForm::Annotated, Some(26));
        check_raw("494 (Average 492)", RawForm::Annotated, Some(494));
    }

    #[test]
    fn raw_duration() {
        check_raw("45449h+00m+00.000s", RawForm::Duration, Some(45449));
        check_raw("17h+23m+51.510s", RawForm::Duration, Some(17));
    }

    #[test]
    fn grouped_numbers() {
        assert_eq!(leading_u64("1.356"), Ok(1356));
        assert_eq!(leading_u64("6’433"), Ok(6433));
        assert_eq!(leading_u64("2,683"), Ok(2683));
        assert_eq!(leading_u64("45 Celsius"), Ok(45));
        assert_eq!(capacity("7 681 501 126 656 bytes [7,68 TB]"), Some(7_681_501_126_656));
    }

    #[test]
    fn wwn_forms() {
        assert_eq!(wwn_from_text("5 000c50 0b335fb73").as_deref(), Some("0x5000c500b335fb73"));
        assert_eq!(wwn_from_text("5 000cca ..."), None);
        assert_eq!(wwn_from_text("XXXXXXXX"), None);
    }

    #[test]
    fn self_test_rows() {
        let entry = self_test_row(
            "# 8  Extended offline    Completed: read failure       50%     29788         4023059328",
        )
        .unwrap();
        assert_eq!(entry.test_type, "Extended offline");
        assert_eq!(entry.status, "Completed: read failure");
        assert_eq!(entry.passed, Some(false));
        assert_eq!(entry.lba_of_first_error, Some(4023059328));
        let entry = self_test_row(
            "# 1  Extended offline    Self-test routine in progress 30%       252         -",
        )
        .unwrap();
        assert_eq!(entry.status, "Self-test routine in progress");
        assert_eq!(entry.passed, None);
        let entry = self_test_row(
            "# 1  Background short  Completed                   -     302                 - [-   -    -]",
        )
        .unwrap();
        assert_eq!((entry.test_type.as_str(), entry.status.as_str()), ("Background short", "Completed"));
        assert_eq!(entry.lifetime_hours, Some(302));
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse("").is_err());
        assert!(parse("   \n").is_err());
        assert!(parse("hello world\nthis is not smartctl").is_err());
    }
}
