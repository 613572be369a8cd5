//! Parsers for `/proc/mdstat` and `mdadm --detail`.
//!
//! mdstat: `mdX : active|inactive [(read-only)] [level] member[n](F)...` followed by indented
//! lines for size/layout/status, sync progress and bitmap. mdadm: right-aligned `Key : Value`
//! lines, then the device table.

use unity_shared::model::storage::{
    MdArray, MdBitmap, MdDetail, MdDetailDevice, MdLevel, MdMember, MdSync, MdSyncAction, Mdstat,
    ParseError, ParseWarning,
};

/// Parses `/proc/mdstat`.
pub fn parse_mdstat(input: &str) -> Result<(Mdstat, Vec<ParseWarning>), ParseError> {
    const EXPECTED: &str = "/proc/mdstat contents";
    if input.trim().is_empty() {
        return Err(ParseError::Empty { expected: EXPECTED });
    }
    let mut mdstat = Mdstat::default();
    let mut warnings = Vec::new();
    let mut recognized = false;
    for (index, raw_line) in input.lines().enumerate() {
        let line = raw_line.trim_end_matches('\r');
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix("Personalities :") {
            recognized = true;
            mdstat.personalities = rest
                .split_whitespace()
                .map(|p| p.trim_matches(|c| c == '[' || c == ']').to_owned())
                .filter(|p| !p.is_empty())
                .collect();
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix("unused devices:") {
            recognized = true;
            mdstat.unused_devices = rest
                .split_whitespace()
                .filter(|d| *d != "<none>")
                .map(str::to_owned)
                .collect();
            continue;
        }
        if !line.starts_with(char::is_whitespace) {
            match array_header(trimmed) {
                Some(array) => {
                    recognized = true;
                    mdstat.arrays.push(array);
                }
                None => warnings.push(ParseWarning::at_line(index, line, "unrecognized line")),
            }
            continue;
        }
        let Some(array) = mdstat.arrays.last_mut() else {
            warnings.push(ParseWarning::at_line(
                index,
                line,
                "indented line before any array",
            ));
            continue;
        };
        if !array_detail_line(array, trimmed) {
            warnings.push(ParseWarning::at_line(
                index,
                line,
                "unrecognized array detail line",
            ));
        }
    }
    if !recognized {
        return Err(ParseError::unrecognized(EXPECTED, input));
    }
    Ok((mdstat, warnings))
}

pub(crate) fn md_level(word: &str) -> Option<MdLevel> {
    Some(match word {
        "linear" => MdLevel::Linear,
        "multipath" => MdLevel::Multipath,
        "raid0" => MdLevel::Raid0,
        "raid1" => MdLevel::Raid1,
        "raid4" => MdLevel::Raid4,
        "raid5" => MdLevel::Raid5,
        "raid6" => MdLevel::Raid6,
        "raid10" => MdLevel::Raid10,
        "container" => MdLevel::Container,
        "faulty" => MdLevel::Other("faulty".to_owned()),
        _ => return None,
    })
}

/// `md1 : active raid1 sde1[6](F) sdg1[1]`.
fn array_header(line: &str) -> Option<MdArray> {
    let (name, rest) = line.split_once(" : ")?;
    let name = name.trim();
    if !name.starts_with("md") || name.contains(char::is_whitespace) {
        return None;
    }
    let mut words = rest.split_whitespace().peekable();
    let active = match words.next()? {
        "active" => true,
        "inactive" => false,
        _ => return None,
    };
    let mut read_only = None;
    if let Some(word) = words.peek() {
        if word.starts_with('(') {
            read_only = Some(word.trim_matches(|c| c == '(' || c == ')').to_owned());
            words.next();
        }
    }
    let mut level = None;
    if let Some(word) = words.peek() {
        if !word.contains('[') {
            level = Some(md_level(word).unwrap_or_else(|| MdLevel::Other((*word).to_owned())));
            words.next();
        }
    }
    let members = words.filter_map(member).collect();
    Some(MdArray {
        name: name.to_owned(),
        active,
        read_only,
        level,
        members,
        blocks: None,
        superblock: None,
        chunk_kib: None,
        layout: None,
        raid_disks: None,
        working_disks: None,
        member_status: None,
        sync: None,
        bitmap: None,
        is_container: false,
    })
}

/// `sde1[6](F)`, `sdb[1](S)`, `sdc1[2](W)`.
fn member(word: &str) -> Option<MdMember> {
    let (device, rest) = word.split_once('[')?;
    let (index, flags) = rest.split_once(']')?;
    Some(MdMember {
        device: device.to_owned(),
        index: index.parse().ok(),
        faulty: flags.contains("(F)"),
        spare: flags.contains("(S)"),
        write_mostly: flags.contains("(W)"),
        journal: flags.contains("(J)"),
        replacement: flags.contains("(R)"),
    })
}

/// One indented line under an array; false when not understood.
fn array_detail_line(array: &mut MdArray, line: &str) -> bool {
    if let Some(rest) = line.strip_prefix("bitmap:") {
        array.bitmap = Some(bitmap(rest.trim()));
        return true;
    }
    if let Some(sync) = sync_line(line) {
        array.sync = Some(sync);
        return true;
    }
    let words: Vec<&str> = line.split_whitespace().collect();
    if words.get(1) != Some(&"blocks") {
        return false;
    }
    array.blocks = words.first().and_then(|n| n.parse().ok());
    let mut layout = Vec::new();
    let mut i = 2;
    while let Some(word) = words.get(i) {
        let next = words.get(i + 1).copied();
        match (*word, next) {
            ("super", Some(version)) => {
                array.superblock = Some(version.to_owned());
                i += 1;
            }
            ("level", Some(_)) => i += 1,
            (size, Some(chunk)) if chunk.starts_with("chunk") => {
                array.chunk_kib = kib(size);
                i += 1;
            }
            (count, Some(copies)) if copies.ends_with("-copies") => {
                layout.push(format!("{count} {copies}"));
                i += 1;
            }
            ("algorithm", Some(n)) => {
                layout.push(format!("algorithm {n}"));
                i += 1;
            }
            (status, _) if status.starts_with('[') && status.contains('/') => {
                let inner = status.trim_matches(|c| c == '[' || c == ']');
                if let Some((raid, working)) = inner.split_once('/') {
                    array.raid_disks = raid.parse().ok();
                    array.working_disks = working.parse().ok();
                }
            }
            (status, _) if status.starts_with('[') && status.ends_with(']') => {
                array.member_status = Some(status.to_owned());
            }
            _ => {}
        }
        i += 1;
    }
    if !layout.is_empty() {
        array.layout = Some(layout.join(", "));
    }
    array.is_container = array
        .superblock
        .as_deref()
        .is_some_and(|s| s.starts_with("external:") && !s.contains('/'));
    true
}

/// `64k`, `512K`, `65536KB` to KiB.
fn kib(text: &str) -> Option<u64> {
    let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
    let number: u64 = digits.parse().ok()?;
    let unit = text.get(digits.len()..).unwrap_or("").to_ascii_lowercase();
    match unit.trim_end_matches(',') {
        "" | "k" | "kb" | "kib" => Some(number),
        "m" | "mb" | "mib" => number.checked_mul(1024),
        _ => None,
    }
}

/// `35/84 pages [140KB], 65536KB chunk[, file: /path]`.
fn bitmap(text: &str) -> MdBitmap {
    let mut bitmap = MdBitmap {
        pages_used: None,
        pages_total: None,
        size_kib: None,
        chunk_kib: None,
        file: None,
    };
    for part in text.split(',') {
        let part = part.trim();
        if let Some(file) = part.strip_prefix("file:") {
            bitmap.file = Some(file.trim().to_owned());
        } else if let Some(chunk) = part.strip_suffix("chunk") {
            bitmap.chunk_kib = kib(chunk.trim());
        } else if let Some((pages, size)) = part.split_once(" pages") {
            if let Some((used, total)) = pages.split_once('/') {
                bitmap.pages_used = used.trim().parse().ok();
                bitmap.pages_total = total.trim().parse().ok();
            }
            bitmap.size_kib = kib(size.trim().trim_matches(|c| c == '[' || c == ']'));
        }
    }
    bitmap
}

/// `[==>...]  recovery = 12.6% (37043392/292945152) finish=127.5min speed=33440K/sec`,
/// `resync=DELAYED`, `resync=PENDING`.
fn sync_line(line: &str) -> Option<MdSync> {
    let text = match line.find(']') {
        Some(at) if line.starts_with('[') => line.get(at + 1..)?.trim(),
        _ => line,
    };
    let (action_word, rest) = text.split_once('=')?;
    let action = match action_word.trim() {
        "resync" => MdSyncAction::Resync,
        "recovery" => MdSyncAction::Recovery,
        "check" => MdSyncAction::Check,
        "repair" => MdSyncAction::Repair,
        "reshape" => MdSyncAction::Reshape,
        _ => return None,
    };
    let rest = rest.trim();
    let mut sync = MdSync {
        action,
        percent: None,
        done_blocks: None,
        total_blocks: None,
        finish_minutes: None,
        speed_kib_per_sec: None,
        waiting: rest.starts_with("DELAYED") || rest.starts_with("PENDING"),
    };
    for word in rest.split_whitespace() {
        if let Some(percent) = word.strip_suffix('%') {
            sync.percent = percent.parse::<f64>().ok().filter(|p| p.is_finite());
        } else if let Some(progress) = word.strip_prefix('(').and_then(|w| w.strip_suffix(')')) {
            if let Some((done, total)) = progress.split_once('/') {
                sync.done_blocks = done.parse().ok();
                sync.total_blocks = total.parse().ok();
            }
        } else if let Some(finish) = word.strip_prefix("finish=") {
            sync.finish_minutes = finish
                .trim_end_matches("min")
                .parse::<f64>()
                .ok()
                .filter(|m| m.is_finite());
        } else if let Some(speed) = word.strip_prefix("speed=") {
            sync.speed_kib_per_sec = kib(speed.trim_end_matches("/sec"));
        }
    }
    Some(sync)
}

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
        if !line.starts_with(char::is_whitespace)
            && trimmed.ends_with(':')
            && detail.device.is_none()
        {
            detail.device = Some(trimmed.trim_end_matches(':').to_owned());
            continue;
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
        let Some((key, value)) = trimmed.split_once(" : ") else {
            // A continuation of the previous value, e.g. the Container GUID's date.
            if last_key.is_some() {
                continue;
            }
            warnings.push(ParseWarning::at_line(index, line, "expected `Key : Value`"));
            continue;
        };
        let key = key.trim();
        let value = value.trim();
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
                    .map(|f| f.trim().to_owned())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members() {
        let m = member("sde1[6](F)").unwrap();
        assert_eq!(
            (m.device.as_str(), m.index, m.faulty),
            ("sde1", Some(6), true)
        );
        assert!(member("sdb[1](S)").unwrap().spare);
        assert!(member("sdc1[2](W)").unwrap().write_mostly);
        assert!(member("garbage").is_none());
    }

    #[test]
    fn sync_lines() {
        let sync = sync_line(
            "[==>..................]  recovery = 12.6% (37043392/292945152) finish=127.5min speed=33440K/sec",
        )
        .unwrap();
        assert_eq!(sync.action, MdSyncAction::Recovery);
        assert_eq!(sync.percent, Some(12.6));
        assert_eq!(sync.total_blocks, Some(292945152));
        assert_eq!(sync.finish_minutes, Some(127.5));
        assert_eq!(sync.speed_kib_per_sec, Some(33440));
        assert!(sync_line("resync=DELAYED").unwrap().waiting);
    }

    #[test]
    fn bitmaps() {
        let b = bitmap("35/84 pages [140KB], 65536KB chunk");
        assert_eq!(
            (b.pages_used, b.pages_total, b.size_kib, b.chunk_kib),
            (Some(35), Some(84), Some(140), Some(65536))
        );
    }
}
