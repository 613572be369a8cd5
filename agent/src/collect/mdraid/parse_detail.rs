//! Parser for `mdadm --detail /dev/mdX`: right-aligned `Key : Value` lines, then the device
//! table.
//!
//! As in [`super::parse`], whitespace carries no meaning: keys are read as their words, the
//! first line (`/dev/md0:`) is found by its shape, not by its indentation.

use unity_shared::model::storage::{MdDetail, MdDetailDevice, MdLevel, ParseError, ParseWarning};

use super::parse::{md_level, normalized};

/// Parses `mdadm --detail /dev/mdX`.
pub fn parse_detail(input: &str) -> Result<(MdDetail, Vec<ParseWarning>), ParseError> {
    const EXPECTED: &str = "`mdadm --detail` output";
    if input.trim().is_empty() {
        return Err(ParseError::Empty { expected: EXPECTED });
    }
    let mut detail = MdDetail::default();
    let mut warnings = Vec::new();
    let mut recognized = false;
    let mut in_table = false;
    let mut last_key: Option<String> = None;
    for (index, raw_line) in input.lines().enumerate() {
        let line = raw_line.trim_end_matches('\r');
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        // The first line names the array: `/dev/md0:`.
        if !recognized && detail.device.is_none() {
            if let Some(device) = trimmed
                .strip_suffix(':')
                .filter(|d| !d.is_empty() && !d.contains(':') && !d.contains(char::is_whitespace))
            {
                detail.device = Some(device.to_owned());
                continue;
            }
        }
        if trimmed.starts_with("Number") && trimmed.contains("Major") {
            in_table = true;
            recognized = true;
            continue;
        }
        if in_table {
            match device_row(trimmed) {
                Some(device) => detail.devices.push(device),
                None => warnings.push(ParseWarning::at_line(
                    index,
                    line,
                    "unrecognized device row",
                )),
            }
            continue;
        }
        let Some((key, value)) = key_value(trimmed) else {
            // A continuation of the previous value, e.g. the Container GUID's date.
            if last_key.is_some() {
                continue;
            }
            warnings.push(ParseWarning::at_line(index, line, "expected `Key : Value`"));
            continue;
        };
        let key = key.as_str();
        last_key = Some(key.to_owned());
        recognized = true;
        let text = || Some(value.to_owned()).filter(|v| !v.is_empty());
        let count = || {
            value
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<u32>().ok())
        };
        let leading_u64 = || {
            value
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<u64>().ok())
        };
        let percent = || {
            value
                .split('%')
                .next()
                .and_then(|n| n.trim().parse::<u64>().ok())
        };
        match key {
            "Version" => detail.version = text(),
            "Creation Time" => detail.creation_time = text(),
            "Raid Level" => {
                detail.raid_level =
                    Some(md_level(value).unwrap_or_else(|| MdLevel::Other(value.to_owned())));
            }
            "Array Size" => detail.array_size_kib = leading_u64(),
            "Used Dev Size" => detail.used_dev_size_kib = leading_u64(),
            "Raid Devices" => detail.raid_devices = count(),
            "Total Devices" => detail.total_devices = count(),
            "Active Devices" => detail.active_devices = count(),
            "Working Devices" => detail.working_devices = count(),
            "Failed Devices" => detail.failed_devices = count(),
            "Spare Devices" => detail.spare_devices = count(),
            "Intent Bitmap" => detail.intent_bitmap = text(),
            "Update Time" => detail.update_time = text(),
            "State" => {
                detail.state = text();
                detail.state_flags = value
                    .split(',')
                    .map(normalized)
                    .filter(|f| !f.is_empty())
                    .collect();
            }
            "Layout" => detail.layout = text(),
            "Chunk Size" => detail.chunk_size = text(),
            "Consistency Policy" => detail.consistency_policy = text(),
            "Rebuild Status" => detail.rebuild_percent = percent(),
            "Resync Status" => detail.resync_percent = percent(),
            "Reshape Status" => detail.reshape_percent = percent(),
            "Check Status" => detail.check_percent = percent(),
            "Name" => detail.name = text(),
            "UUID" => detail.uuid = text(),
            "Events" => detail.events = text(),
            "Container" => detail.container = text(),
            "Member Arrays" => {
                detail.member_arrays = value.split_whitespace().map(str::to_owned).collect();
            }
            _ => {}
        }
    }
    if !recognized {
        return Err(ParseError::unrecognized(EXPECTED, input));
    }
    Ok((detail, warnings))
}

/// `  Raid Devices : 2` to `("Raid Devices", "2")`: the key's words joined by single spaces, the
/// value trimmed. A key has only letters and spaces, so continuation lines such as
/// `(Linux-MD 08/16/22 16:20:42)` are not read as keys.
fn key_value(line: &str) -> Option<(String, &str)> {
    let (key, value) = line.split_once(':')?;
    if !key.chars().all(|c| c.is_alphabetic() || c.is_whitespace()) {
        return None;
    }
    let key = normalized(key);
    if key.is_empty() {
        return None;
    }
    Some((key, value.trim()))
}

/// `0     254        1        0      active sync   /dev/vda1`, `-  0  0  1  removed`,
/// `-     254        0        -        /dev/vda` (container member).
fn device_row(line: &str) -> Option<MdDetailDevice> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let [number, major, minor, raid_device, rest @ ..] = words.as_slice() else {
        return None;
    };
    let optional = |word: &str| -> Result<Option<u32>, ()> {
        if word == "-" {
            Ok(None)
        } else {
            word.parse().map(Some).map_err(|_| ())
        }
    };
    let (path, state) = match rest.split_last() {
        Some((last, state)) if last.starts_with('/') => (Some((*last).to_owned()), state),
        _ => (None, rest),
    };
    Some(MdDetailDevice {
        number: optional(number).ok()?,
        major: optional(major).ok()?,
        minor: optional(minor).ok()?,
        raid_device: optional(raid_device).ok()?,
        state: state.iter().map(|s| (*s).to_owned()).collect(),
        path,
    })
}
