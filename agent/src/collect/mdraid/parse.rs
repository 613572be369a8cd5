//! Parser for `/proc/mdstat` (`mdadm --detail` is in [`parse_detail`](mod@super::parse_detail)).
//!
//! mdstat: `mdX : active|inactive [(read-only)] [level] member[n](F)...` followed by lines for
//! size/layout/status, sync progress and bitmap.
//!
//! Whitespace carries no meaning: every line is read as its words joined by single spaces, so
//! indentation (or its absence), tabs, trailing blanks and CRLF line ends change nothing. A
//! line is known by what it says, never by how far it is indented.

use unity_shared::model::storage::{
    MdArray, MdBitmap, MdLevel, MdMember, MdSync, MdSyncAction, Mdstat, ParseError, ParseWarning,
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
        let text = normalized(line);
        if text.is_empty() {
            continue;
        }
        if let Some(rest) = after_label(&text, "Personalities") {
            recognized = true;
            mdstat.personalities = rest
                .split_whitespace()
                .map(|p| p.trim_matches(|c| c == '[' || c == ']').to_owned())
                .filter(|p| !p.is_empty())
                .collect();
            continue;
        }
        if let Some(rest) = after_label(&text, "unused devices") {
            recognized = true;
            mdstat.unused_devices = rest
                .split_whitespace()
                .filter(|d| *d != "<none>")
                .map(str::to_owned)
                .collect();
            continue;
        }
        if let Some(array) = array_header(&text) {
            recognized = true;
            mdstat.arrays.push(array);
            continue;
        }
        let Some(array) = mdstat.arrays.last_mut() else {
            warnings.push(ParseWarning::at_line(index, line, "unrecognized line"));
            continue;
        };
        if !array_detail_line(array, &text) {
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

/// The words of `line` joined by single spaces: what the line says, whatever its whitespace.
pub(crate) fn normalized(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The rest of `text` after `label` and a colon (`Personalities : [raid1]`,
/// `unused devices: <none>`), with or without a space before the colon.
fn after_label<'a>(text: &'a str, label: &str) -> Option<&'a str> {
    let rest = text.strip_prefix(label)?.trim_start().strip_prefix(':')?;
    Some(rest.trim_start())
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

/// `md1 : active raid1 sde1[6](F) sdg1[1]` (whitespace already normalized).
fn array_header(line: &str) -> Option<MdArray> {
    let (name, rest) = line.split_once(':')?;
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

/// One line under an array header (whitespace already normalized); false when not understood.
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
