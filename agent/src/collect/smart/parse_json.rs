//! Parser for smartctl's JSON output (`smartctl -j -x`, smartmontools 7.0 and newer; 6.7 had an
//! early variant that is also accepted).
//!
//! The JSON is walked as a [`serde_json::Value`] rather than deserialized into strict structs, so
//! a field of an unexpected type costs that one field (and a warning), not the whole report.
//! Values that the text output shows as strings (attribute raw values, self-test statuses) are
//! interpreted by the same functions as in the text parser, so both paths agree.

use serde_json::Value;

use unity_shared::model::storage::{
    AtaAttribute, AtaSmart, DeviceIdentity, ErrorLogSummary, NvmeHealth, ParseError, ParseWarning,
    Protocol, Rotation, ScsiErrorCounter, ScsiHealth, ScsiOperation, SelfTestEntry, SelfTestLog,
    SmartReport, SmartctlInfo, Temperature, WhenFailed,
};

use super::decode::{ata_power_on_hours, nvme_warning_bits};
use super::text_fields::{
    flags_from_word, gigabytes_to_bytes, hex_id, parse_raw_value, self_test_passed,
};
use super::{exit_status, Parsed};

const EXPECTED: &str = "smartctl JSON output";

/// Parses the JSON output of `smartctl -j ...`.
pub fn parse(input: &str) -> Parsed {
    if input.trim().is_empty() {
        return Err(ParseError::Empty { expected: EXPECTED });
    }
    let root: Value = serde_json::from_str(input).map_err(|error| ParseError::Json {
        message: error.to_string(),
    })?;
    let Some(object) = root.as_object() else {
        return Err(ParseError::Json {
            message: "top level is not an object".to_owned(),
        });
    };
    if !object.contains_key("smartctl") && !object.contains_key("json_format_version") {
        return Err(ParseError::unrecognized(EXPECTED, input));
    }
    let mut walker = Walker {
        root: &root,
        warnings: Vec::new(),
    };
    let report = walker.report();
    Ok((report, walker.warnings))
}

struct Walker<'a> {
    root: &'a Value,
    warnings: Vec<ParseWarning>,
}

impl<'a> Walker<'a> {
    /// The value at a `/`-separated path, or `None` when absent or `null`.
    fn at(&self, path: &str) -> Option<&'a Value> {
        let pointer = format!("/{path}");
        self.root.pointer(&pointer).filter(|v| !v.is_null())
    }

    fn string(&mut self, path: &str) -> Option<String> {
        let value = self.at(path)?;
        match value.as_str() {
            Some(text) => Some(text.trim().to_owned()).filter(|t| !t.is_empty()),
            None => {
                self.type_warning(path, "a string");
                None
            }
        }
    }

    fn u64(&mut self, path: &str) -> Option<u64> {
        let value = self.at(path)?;
        match value.as_u64() {
            Some(n) => Some(n),
            None => {
                self.type_warning(path, "a non-negative integer");
                None
            }
        }
    }

    fn i64(&mut self, path: &str) -> Option<i64> {
        let value = self.at(path)?;
        match value.as_i64() {
            Some(n) => Some(n),
            None => {
                self.type_warning(path, "an integer");
                None
            }
        }
    }

    fn bool(&mut self, path: &str) -> Option<bool> {
        let value = self.at(path)?;
        match value.as_bool() {
            Some(b) => Some(b),
            None => {
                self.type_warning(path, "a boolean");
                None
            }
        }
    }

    fn array(&mut self, path: &str) -> &'a [Value] {
        match self.at(path) {
            None => &[],
            Some(value) => match value.as_array() {
                Some(items) => items,
                None => {
                    self.type_warning(path, "an array");
                    &[]
                }
            },
        }
    }

    fn type_warning(&mut self, path: &str, expected: &str) {
        self.warnings.push(ParseWarning::general(
            format!("/{path}"),
            format!("expected {expected}; field ignored"),
        ));
    }

    fn report(&mut self) -> SmartReport {
        let device = self.identity();
        let smartctl = self.smartctl_info();
        let in_standby = smartctl
            .messages
            .iter()
            .any(|m| m.contains("STANDBY") || m.contains("SLEEP"));
        let ata = self.ata();
        let nvme = self.nvme();
        let scsi = self.scsi(device.protocol == Some(Protocol::Scsi));
        let mut power_on_hours = self.u64("power_on_time/hours");
        if power_on_hours.is_none() {
            power_on_hours = ata.as_ref().and_then(|a| ata_power_on_hours(&a.attributes));
        }
        let power_cycles = self
            .u64("power_cycle_count")
            .or_else(|| nvme.as_ref().and_then(|n| n.power_cycles));
        let temperature = self.temperature(device.protocol == Some(Protocol::Scsi));
        SmartReport {
            smart_available: self.bool("smart_support/available"),
            smart_enabled: self.bool("smart_support/enabled"),
            in_standby,
            self_assessment_passed: self.bool("smart_status/passed"),
            power_on_hours,
            power_cycles,
            temperature,
            self_test_log: self.self_test_log(),
            error_log: self.error_log(),
            device,
            smartctl,
            ata,
            nvme,
            scsi,
        }
    }

    fn identity(&mut self) -> DeviceIdentity {
        let protocol = match self.string("device/protocol").as_deref() {
            Some("ATA") => Some(Protocol::Ata),
            Some("NVMe") => Some(Protocol::Nvme),
            Some("SCSI") => Some(Protocol::Scsi),
            Some(other) => {
                self.warnings.push(ParseWarning::general(
                    "/device/protocol",
                    format!("unknown protocol {other:?}"),
                ));
                None
            }
            None => None,
        };
        let wwn = match (self.u64("wwn/naa"), self.u64("wwn/oui"), self.u64("wwn/id")) {
            (Some(naa), Some(oui), Some(id)) => Some(format!("0x{naa:x}{oui:06x}{id:09x}")),
            _ => self.string("logical_unit_id").and_then(|id| hex_id(&id)),
        };
        let capacity_bytes = self
            .u64("nvme_total_capacity")
            .or_else(|| self.u64("user_capacity/bytes"));
        let rotation = self.u64("rotation_rate").map(|rpm| match rpm {
            0 => Rotation::SolidState,
            rpm => Rotation::Rpm(u32::try_from(rpm).unwrap_or(u32::MAX)),
        });
        DeviceIdentity {
            name: self.string("device/name"),
            info_name: self.string("device/info_name"),
            device_type: self.string("device/type"),
            protocol,
            model_family: self.string("model_family"),
            model: self
                .string("model_name")
                .or_else(|| self.string("scsi_model_name")),
            vendor: self.string("vendor").or_else(|| self.string("scsi_vendor")),
            serial: self.string("serial_number"),
            wwn,
            firmware: self
                .string("firmware_version")
                .or_else(|| self.string("revision"))
                .or_else(|| self.string("scsi_revision")),
            capacity_bytes,
            logical_block_size: self
                .u64("logical_block_size")
                .and_then(|n| u32::try_from(n).ok()),
            rotation,
            form_factor: self.string("form_factor/name"),
            transport: self.string("scsi_transport_protocol/name"),
        }
    }

    fn smartctl_info(&mut self) -> SmartctlInfo {
        let version = match (
            self.u64("smartctl/version/0"),
            self.u64("smartctl/version/1"),
        ) {
            (Some(major), Some(minor)) => Some(format!("{major}.{minor}")),
            _ => None,
        };
        let exit_status = self
            .u64("smartctl/exit_status")
            .and_then(|code| i32::try_from(code).ok())
            .map(exit_status::decode);
        let mut messages = Vec::new();
        for message in self.array("smartctl/messages") {
            if let Some(text) = message.get("string").and_then(Value::as_str) {
                messages.push(text.to_owned());
            }
        }
        SmartctlInfo {
            version,
            exit_status,
            messages,
        }
    }

    /// Temperatures. A SCSI device that reports none prints 0 °C (`Current Drive Temperature:
    /// 0 C`), which the text parser reads as unknown; so does this one. smartctl 7.3 and later
    /// print the trip temperature as `scsi_temperature/drive_trip` when the health check read
    /// it, and as `temperature/drive_trip` when the temperature log page did.
    fn temperature(&mut self, is_scsi: bool) -> Temperature {
        let current_celsius = self
            .i64("temperature/current")
            .filter(|t| !(is_scsi && *t == 0));
        Temperature {
            current_celsius,
            lifetime_min_celsius: self.i64("temperature/lifetime_min"),
            lifetime_max_celsius: self.i64("temperature/lifetime_max"),
            warning_limit_celsius: self
                .i64("nvme_composite_temperature_threshold/warning")
                .or_else(|| self.i64("temperature/op_limit_max")),
            critical_limit_celsius: self
                .i64("nvme_composite_temperature_threshold/critical")
                .or_else(|| self.i64("temperature/drive_trip"))
                .or_else(|| self.i64("scsi_temperature/drive_trip"))
                .filter(|t| *t != 0),
        }
    }

    fn ata(&mut self) -> Option<AtaSmart> {
        self.at("ata_smart_attributes")?;
        let rows = self.array("ata_smart_attributes/table");
        let mut attributes = Vec::new();
        for (index, row) in rows.iter().enumerate() {
            match attribute(row) {
                Some(attribute) => attributes.push(attribute),
                None => self.warnings.push(ParseWarning::general(
                    format!("/ata_smart_attributes/table/{index}"),
                    "cannot read attribute (missing id, name or raw value)",
                )),
            }
        }
        Some(AtaSmart { attributes })
    }

    fn nvme(&mut self) -> Option<NvmeHealth> {
        self.at("nvme_smart_health_information_log")?;
        let field = |walker: &mut Self, name: &str| {
            walker.u64(&format!("nvme_smart_health_information_log/{name}"))
        };
        let critical_warning = field(self, "critical_warning").and_then(|n| u8::try_from(n).ok());
        let sensors = self
            .array("nvme_smart_health_information_log/temperature_sensors")
            .iter()
            .filter_map(Value::as_i64)
            .collect();
        Some(NvmeHealth {
            critical_warning,
            critical_warning_bits: nvme_warning_bits(critical_warning.unwrap_or(0)),
            temperature_celsius: self.i64("nvme_smart_health_information_log/temperature"),
            available_spare_percent: field(self, "available_spare"),
            available_spare_threshold_percent: field(self, "available_spare_threshold"),
            percentage_used: field(self, "percentage_used"),
            data_units_read: field(self, "data_units_read"),
            data_units_written: field(self, "data_units_written"),
            host_read_commands: field(self, "host_reads"),
            host_write_commands: field(self, "host_writes"),
            controller_busy_time: field(self, "controller_busy_time"),
            power_cycles: field(self, "power_cycles"),
            power_on_hours: field(self, "power_on_hours"),
            unsafe_shutdowns: field(self, "unsafe_shutdowns"),
            media_errors: field(self, "media_errors"),
            error_log_entries: field(self, "num_err_log_entries"),
            warning_temperature_minutes: field(self, "warning_temp_time"),
            critical_temperature_minutes: field(self, "critical_comp_time"),
            temperature_sensors_celsius: sensors,
        })
    }

    /// The SCSI health fields, or `None` when the device printed none of them.
    fn scsi(&mut self, is_scsi: bool) -> Option<ScsiHealth> {
        if !is_scsi {
            return None;
        }
        let mut error_counters = Vec::new();
        for (operation, name) in [
            (ScsiOperation::Read, "read"),
            (ScsiOperation::Write, "write"),
            (ScsiOperation::Verify, "verify"),
        ] {
            let base = format!("scsi_error_counter_log/{name}");
            if self.at(&base).is_none() {
                continue;
            }
            let mut number = |field: &str| self.u64(&format!("{base}/{field}"));
            let counter = ScsiErrorCounter {
                operation,
                corrected_by_ecc_fast: number("errors_corrected_by_eccfast"),
                corrected_by_ecc_delayed: number("errors_corrected_by_eccdelayed"),
                corrected_by_rereads_rewrites: number("errors_corrected_by_rereads_rewrites"),
                total_corrected: number("total_errors_corrected"),
                correction_algorithm_invocations: number("correction_algorithm_invocations"),
                bytes_processed: None,
                total_uncorrected: number("total_uncorrected_errors"),
            };
            let bytes_processed = self
                .string(&format!("{base}/gigabytes_processed"))
                .and_then(|gb| gigabytes_to_bytes(&gb));
            error_counters.push(ScsiErrorCounter {
                bytes_processed,
                ..counter
            });
        }
        let health = ScsiHealth {
            grown_defects: self.u64("scsi_grown_defect_list"),
            error_counters,
            non_medium_errors: self.u64("scsi_nonmedium_error_count"),
            percentage_used_endurance: self.u64("scsi_percentage_used_endurance_indicator"),
            start_stop_cycles: self
                .u64("scsi_start_stop_cycle_counter/accumulated_start_stop_cycles"),
            load_unload_cycles: self
                .u64("scsi_start_stop_cycle_counter/accumulated_load_unload_cycles"),
        };
        // Like the text parser: a health section only when some health field was printed, so
        // a RAID volume or bridge without health data stays "no health data", not "passed".
        (health != ScsiHealth::default()).then_some(health)
    }

    fn self_test_log(&mut self) -> Option<SelfTestLog> {
        for base in [
            "ata_smart_self_test_log/extended",
            "ata_smart_self_test_log/standard",
        ] {
            if self.at(base).is_none() {
                continue;
            }
            let mut entries = Vec::new();
            for row in self.array(&format!("{base}/table")) {
                let status = text_at(row, "/status/string").unwrap_or_default();
                entries.push(SelfTestEntry {
                    test_type: text_at(row, "/type/string").unwrap_or_default(),
                    passed: self_test_passed(&status),
                    status,
                    lifetime_hours: row.pointer("/lifetime_hours").and_then(Value::as_u64),
                    lba_of_first_error: row.pointer("/lba").and_then(Value::as_u64),
                });
            }
            return Some(SelfTestLog { entries });
        }
        self.at("nvme_self_test_log")?;
        let mut entries = Vec::new();
        for row in self.array("nvme_self_test_log/table") {
            let status = text_at(row, "/self_test_result/string").unwrap_or_default();
            entries.push(SelfTestEntry {
                test_type: text_at(row, "/self_test_code/string").unwrap_or_default(),
                passed: self_test_passed(&status),
                status,
                lifetime_hours: row.pointer("/power_on_hours").and_then(Value::as_u64),
                lba_of_first_error: row.pointer("/lba").and_then(Value::as_u64),
            });
        }
        Some(SelfTestLog { entries })
    }

    fn error_log(&mut self) -> Option<ErrorLogSummary> {
        self.at("ata_smart_error_log")?;
        let count = self
            .u64("ata_smart_error_log/extended/count")
            .or_else(|| self.u64("ata_smart_error_log/summary/count"));
        Some(ErrorLogSummary { count })
    }
}

fn text_at(value: &Value, pointer: &str) -> Option<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(|s| s.trim().to_owned())
}

fn attribute(row: &Value) -> Option<AtaAttribute> {
    let id = u8::try_from(row.get("id")?.as_u64()?).ok()?;
    let name = row.get("name")?.as_str()?.to_owned();
    let flag_word = row
        .pointer("/flags/value")
        .and_then(Value::as_u64)
        .and_then(|n| u16::try_from(n).ok());
    let normalized = |key: &str| {
        row.get(key)
            .and_then(Value::as_u64)
            .and_then(|n| u16::try_from(n).ok())
    };
    let when_failed = match row.get("when_failed").and_then(Value::as_str) {
        Some("now") => WhenFailed::Now,
        Some("past") => WhenFailed::InThePast,
        _ => WhenFailed::Never,
    };
    let raw_string = row.pointer("/raw/string")?.as_str()?;
    Some(AtaAttribute {
        id,
        name,
        flags: flags_from_word(flag_word.unwrap_or(0), flag_word),
        value: normalized("value"),
        worst: normalized("worst"),
        thresh: normalized("thresh"),
        when_failed,
        raw: parse_raw_value(raw_string.trim()),
    })
}
