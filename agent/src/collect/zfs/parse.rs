//! Parser for `zpool status` (with or without `-p`): pools, their vdev tree, scan and errors.
//!
//! Handles OpenZFS 0.8 to 2.x, FreeBSD/FreeNAS and Solaris/illumos layouts: tab or space
//! indentation, misaligned long pool names, the legacy ` scrub:` line, `logs`/`cache`/`spares`/
//! `special`/`dedup` sections, and the file list after "Permanent errors".

use unity_shared::model::storage::{
    ParseError, ParseWarning, PoolErrors, PoolStatus, Scan, ScanKind, ScanState, Vdev, VdevKind,
    VdevState, ZpoolStatus,
};

const EXPECTED: &str = "`zpool status` output";

/// Parses `zpool status` output. `no pools available` gives an empty list.
pub fn parse_status(input: &str) -> Result<(ZpoolStatus, Vec<ParseWarning>), ParseError> {
    if input.trim().is_empty() {
        return Err(ParseError::Empty { expected: EXPECTED });
    }
    if input.trim() == "no pools available" {
        return Ok((ZpoolStatus::default(), Vec::new()));
    }
    let lines: Vec<&str> = input.lines().map(|l| l.trim_end_matches('\r')).collect();
    let mut warnings = Vec::new();
    let mut pools = Vec::new();
    let mut starts: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, line)| line.trim_start().starts_with("pool:"))
        .map(|(index, _)| index)
        .collect();
    if starts.is_empty() {
        return Err(ParseError::unrecognized(EXPECTED, input));
    }
    starts.push(lines.len());
    for window in starts.windows(2) {
        let (Some(&start), Some(&end)) = (window.first(), window.get(1)) else {
            continue;
        };
        if let Some(block) = lines.get(start..end) {
            pools.push(parse_pool(block, start, &mut warnings));
        }
    }
    Ok((ZpoolStatus { pools }, warnings))
}

const HEADER_KEYS: &[&str] = &[
    "pool", "id", "state", "status", "action", "see", "scan", "scrub", "config", "errors",
    "remove", "checkpoint", "comment",
];

/// `  state: ONLINE` to `("state", "ONLINE")` when the key is one `zpool status` prints.
fn header_key(line: &str) -> Option<(&str, &str)> {
    let (key, value) = line.trim_start().split_once(':')?;
    HEADER_KEYS
        .contains(&key)
        .then_some((key, value.trim()))
}

fn parse_pool(block: &[&str], offset: usize, warnings: &mut Vec<ParseWarning>) -> PoolStatus {
    let mut pool = PoolStatus {
        name: String::new(),
        state: VdevState::Other(String::new()),
        status: None,
        action: None,
        see: None,
        scan: None,
        root: Vdev {
            name: String::new(),
            kind: VdevKind::Root,
            state: VdevState::Other(String::new()),
            read_errors: None,
            write_errors: None,
            checksum_errors: None,
            note: None,
            children: Vec::new(),
        },
        logs: Vec::new(),
        cache: Vec::new(),
        spares: Vec::new(),
        special: Vec::new(),
        dedup: Vec::new(),
        errors: None,
    };
    let mut current_key = "";
    let mut scan_lines: Vec<&str> = Vec::new();
    let mut config_lines: Vec<(usize, &str)> = Vec::new();
    let mut error_lines: Vec<&str> = Vec::new();
    for (n, line) in block.iter().enumerate() {
        let index = offset + n;
        if current_key == "config" {
            if let Some(("errors", value)) = header_key(line) {
                current_key = "errors";
                error_lines.push(value);
            } else {
                config_lines.push((index, line));
            }
            continue;
        }
        if current_key == "errors" {
            error_lines.push(line.trim());
            continue;
        }
        if let Some((key, value)) = header_key(line) {
            current_key = key;
            match key {
                "pool" => pool.name = value.to_owned(),
                "state" => pool.state = vdev_state(value),
                "status" => pool.status = Some(value.to_owned()),
                "action" => pool.action = Some(value.to_owned()),
                "see" => pool.see = Some(value.to_owned()),
                "scan" | "scrub" => scan_lines.push(value),
                "errors" => error_lines.push(value),
                _ => {}
            }
            continue;
        }
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        let append = |field: &mut Option<String>| {
            if let Some(existing) = field {
                existing.push(' ');
                existing.push_str(text);
            }
        };
        match current_key {
            "status" => append(&mut pool.status),
            "action" => append(&mut pool.action),
            "scan" | "scrub" => scan_lines.push(text),
            _ => warnings.push(ParseWarning::at_line(index, line, "unexpected line in pool header")),
        }
    }
    if !scan_lines.is_empty() {
        pool.scan = parse_scan(&scan_lines);
    }
    parse_config(&config_lines, &mut pool, warnings);
    if !error_lines.is_empty() {
        pool.errors = Some(parse_errors(&error_lines));
    }
    pool
}

fn parse_errors(lines: &[&str]) -> PoolErrors {
    let text = lines.first().copied().unwrap_or("").to_owned();
    let data_errors = text
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .filter(|_| text.contains("data error"));
    let files = lines
        .iter()
        .skip(1)
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    PoolErrors {
        no_known_errors: text.starts_with("No known data errors"),
        data_errors,
        files,
        text,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    Data,
    Logs,
    Cache,
    Spares,
    Special,
    Dedup,
}

fn section_of(name: &str) -> Option<Section> {
    match name {
        "logs" => Some(Section::Logs),
        "cache" => Some(Section::Cache),
        "spares" => Some(Section::Spares),
        "special" => Some(Section::Special),
        "dedup" => Some(Section::Dedup),
        _ => None,
    }
}

fn parse_config(lines: &[(usize, &str)], pool: &mut PoolStatus, warnings: &mut Vec<ParseWarning>) {
    let mut base_indent: Option<usize> = None;
    let mut section = Section::Data;
    let mut saw_root = false;
    for &(index, line) in lines {
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        let indent = indent_width(line);
        if text.starts_with("NAME") && text.contains("STATE") {
            base_indent = Some(indent);
            continue;
        }
        let Some(base) = base_indent else {
            warnings.push(ParseWarning::at_line(index, line, "config row before the NAME header"));
            continue;
        };
        let depth = indent.saturating_sub(base) / 2;
        let mut words = text.split_whitespace();
        let name = words.next().unwrap_or("");
        if depth == 0 {
            if let Some(next_section) = section_of(name).filter(|_| words.next().is_none()) {
                section = next_section;
                continue;
            }
            if !saw_root && section == Section::Data {
                let row = parse_row(text);
                pool.root.name = row.name;
                pool.root.state = row.state;
                pool.root.read_errors = row.read_errors;
                pool.root.write_errors = row.write_errors;
                pool.root.checksum_errors = row.checksum_errors;
                pool.root.note = row.note;
                saw_root = true;
                continue;
            }
            warnings.push(ParseWarning::at_line(index, line, "unexpected row at pool level"));
            continue;
        }
        let vdev = parse_row(text);
        let list = match section {
            Section::Data => &mut pool.root.children,
            Section::Logs => &mut pool.logs,
            Section::Cache => &mut pool.cache,
            Section::Spares => &mut pool.spares,
            Section::Special => &mut pool.special,
            Section::Dedup => &mut pool.dedup,
        };
        insert(list, depth, vdev);
    }
}

/// Columns of indentation, counting a tab as 8 (as a terminal shows it).
fn indent_width(line: &str) -> usize {
    let mut width = 0;
    for c in line.chars() {
        match c {
            ' ' => width += 1,
            '\t' => width = (width / 8 + 1) * 8,
            _ => break,
        }
    }
    width
}

fn insert(list: &mut Vec<Vdev>, depth: usize, vdev: Vdev) {
    if depth <= 1 {
        list.push(vdev);
        return;
    }
    match list.last_mut() {
        Some(parent) => insert(&mut parent.children, depth - 1, vdev),
        None => list.push(vdev),
    }
}

/// `name STATE READ WRITE CKSUM [note]`; spares print only `name STATE [note]`.
fn parse_row(text: &str) -> Vdev {
    let spans = spans(text);
    let word = |i: usize| spans.get(i).map(|(_, w)| *w);
    let name = word(0).unwrap_or("").to_owned();
    let state = word(1).map_or(VdevState::Other(String::new()), vdev_state);
    let counters: Vec<Option<u64>> = (2..5).map(|i| word(i).and_then(parse_size)).collect();
    let has_counters = counters.iter().all(Option::is_some);
    let note_from = if has_counters { 5 } else { 2 };
    let note = spans
        .get(note_from)
        .and_then(|(at, _)| text.get(*at..))
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty());
    let counter = |i: usize| {
        if has_counters {
            counters.get(i).copied().flatten()
        } else {
            None
        }
    };
    Vdev {
        kind: vdev_kind(&name),
        name,
        state,
        read_errors: counter(0),
        write_errors: counter(1),
        checksum_errors: counter(2),
        note,
        children: Vec::new(),
    }
}

fn spans(text: &str) -> Vec<(usize, &str)> {
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

pub(crate) fn vdev_state(word: &str) -> VdevState {
    match word {
        "ONLINE" => VdevState::Online,
        "DEGRADED" => VdevState::Degraded,
        "FAULTED" => VdevState::Faulted,
        "OFFLINE" => VdevState::Offline,
        "UNAVAIL" => VdevState::Unavail,
        "REMOVED" => VdevState::Removed,
        "SUSPENDED" => VdevState::Suspended,
        "AVAIL" => VdevState::Avail,
        "INUSE" => VdevState::Inuse,
        other => VdevState::Other(other.to_owned()),
    }
}

fn vdev_kind(name: &str) -> VdevKind {
    let base = name.rsplit_once('-').map_or(name, |(base, suffix)| {
        if suffix.chars().all(|c| c.is_ascii_digit()) {
            base
        } else {
            name
        }
    });
    if base == "mirror" {
        return VdevKind::Mirror;
    }
    if base == "replacing" {
        return VdevKind::Replacing;
    }
    if base == "spare" {
        return VdevKind::Spare;
    }
    if base == "indirect" {
        return VdevKind::Indirect;
    }
    if let Some(parity) = base.strip_prefix("raidz") {
        if parity.is_empty() {
            return VdevKind::Raidz { parity: 1 };
        }
        if let Ok(parity) = parity.parse() {
            return VdevKind::Raidz { parity };
        }
    }
    if let Some(rest) = base.strip_prefix("draid") {
        if rest.contains(':') {
            let parity = rest
                .split(':')
                .next()
                .and_then(|p| p.parse().ok())
                .unwrap_or(1);
            return VdevKind::Draid {
                parity,
                spec: base.to_owned(),
            };
        }
        // A distributed spare: `draid1-0-0`.
        let parts: Vec<&str> = name.split('-').collect();
        if parts.len() == 3 && parts.iter().skip(1).all(|p| p.chars().all(|c| c.is_ascii_digit())) {
            return VdevKind::DistributedSpare;
        }
    }
    VdevKind::Disk
}

/// `0`, `11.7K`, `1.66T`, `0B`, `21K`: bytes or counts, with 1024-based suffixes.
pub(crate) fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim().trim_end_matches('B');
    if text.is_empty() {
        return None;
    }
    let (number, multiplier) = match text.chars().last() {
        Some(suffix) if suffix.is_ascii_alphabetic() => {
            let power = match suffix.to_ascii_uppercase() {
                'K' => 1,
                'M' => 2,
                'G' => 3,
                'T' => 4,
                'P' => 5,
                'E' => 6,
                _ => return None,
            };
            (text.get(..text.len() - 1)?, 1024f64.powi(power))
        }
        _ => (text, 1.0),
    };
    if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    if multiplier == 1.0 && !number.contains('.') {
        return number.parse().ok();
    }
    let value: f64 = number.parse().ok()?;
    let bytes = (value * multiplier).round();
    (bytes.is_finite() && bytes >= 0.0 && bytes < 1.8e19).then_some(bytes as u64)
}

/// Parses the `scan:` (or legacy `scrub:`) text and its continuation lines.
fn parse_scan(lines: &[&str]) -> Option<Scan> {
    let first = *lines.first()?;
    if first.starts_with("none requested") || first.is_empty() {
        return None;
    }
    // Legacy: `scrub: scrub completed after 0h0m with 0 errors on ...`.
    let line = first.strip_prefix("scrub: ").unwrap_or(first);
    let kind = if line.starts_with("resilver") {
        ScanKind::Resilver
    } else {
        ScanKind::Scrub
    };
    let state = if line.contains("in progress") {
        ScanState::InProgress
    } else if line.contains("canceled") {
        ScanState::Canceled
    } else {
        ScanState::Finished
    };
    let mut scan = Scan {
        kind,
        state,
        text: first.to_owned(),
        started_at: None,
        finished_at: None,
        finished_unix: None,
        duration_seconds: None,
        repaired_bytes: None,
        errors: None,
        scanned_bytes: None,
        issued_bytes: None,
        total_bytes: None,
        percent_done: None,
        time_to_go: None,
    };
    if let Some((_, since)) = line.split_once(" since ") {
        scan.started_at = Some(since.trim().to_owned());
    }
    if let Some((_, on)) = line.rsplit_once(" on ") {
        if state != ScanState::InProgress {
            scan.finished_at = Some(on.trim().to_owned());
            scan.finished_unix = parse_ctime(on.trim());
        }
    }
    let words: Vec<&str> = line.split_whitespace().collect();
    for (i, word) in words.iter().enumerate() {
        let next = words.get(i + 1).copied();
        match *word {
            "repaired" | "resilvered" if next.is_some() && i <= 1 => {
                scan.repaired_bytes = next.and_then(parse_size);
            }
            "with" => {
                if words.get(i + 2) == Some(&"errors") {
                    scan.errors = next.and_then(|n| n.parse().ok());
                }
            }
            _ => {}
        }
    }
    // Duration: between `in`/`after` and `with`.
    let duration_text = line
        .split_once(" in ")
        .or_else(|| line.split_once(" after "))
        .and_then(|(_, rest)| rest.split_once(" with ").map(|(d, _)| d.trim()));
    scan.duration_seconds = duration_text.and_then(parse_duration);
    for continuation in lines.iter().skip(1) {
        for part in continuation.split(',') {
            scan_progress_part(part.trim(), &mut scan);
        }
    }
    Some(scan)
}

fn scan_progress_part(part: &str, scan: &mut Scan) {
    let words: Vec<&str> = part.split_whitespace().collect();
    let word = |i: usize| words.get(i).copied();
    // `704G / 1.66T scanned at 5.67G/s` and `0B / 1.66T issued`.
    if word(1) == Some("/") {
        let done = word(0).and_then(parse_size);
        let total = word(2).and_then(parse_size);
        match word(3) {
            Some("scanned") => scan.scanned_bytes = done,
            Some("issued") => scan.issued_bytes = done,
            _ => {}
        }
        if total.is_some() {
            scan.total_bytes = total;
        }
        return;
    }
    match (word(0), word(1)) {
        (Some(amount), Some("scanned")) => scan.scanned_bytes = parse_size(amount),
        (Some(amount), Some("issued")) => scan.issued_bytes = parse_size(amount),
        (Some(amount), Some("total")) => scan.total_bytes = parse_size(amount),
        (Some(amount), Some("repaired" | "resilvered")) => scan.repaired_bytes = parse_size(amount),
        (Some(percent), Some("done")) => {
            scan.percent_done = percent
                .trim_end_matches('%')
                .parse::<f64>()
                .ok()
                .filter(|p| p.is_finite());
        }
        _ => {
            if let Some(to_go) = part.strip_suffix(" to go") {
                scan.time_to_go = Some(to_go.trim().to_owned());
            }
        }
    }
}

/// `10:42:32`, `0 days 00:01:25`, `0h2m`, `29h37m`, `1 days 02:03:04` to seconds.
fn parse_duration(text: &str) -> Option<u64> {
    let text = text.trim();
    let (days, clock) = match text.split_once(" days ") {
        Some((days, clock)) => (days.trim().parse::<u64>().ok()?, clock.trim()),
        None => (0, text),
    };
    let clock_seconds = if clock.contains(':') {
        let mut total = 0u64;
        for part in clock.split(':') {
            total = total.checked_mul(60)?.checked_add(part.parse::<u64>().ok()?)?;
        }
        total
    } else if let Some((hours, rest)) = clock.split_once('h') {
        let minutes = rest.trim_end_matches('m');
        let minutes: u64 = if minutes.is_empty() { 0 } else { minutes.parse().ok()? };
        hours.parse::<u64>().ok()?.checked_mul(3600)?.checked_add(minutes.checked_mul(60)?)?
    } else {
        return None;
    };
    days.checked_mul(86_400)?.checked_add(clock_seconds)
}

/// `Sun Oct 20 17:29:34 2024` (ctime format, local time) to seconds since the epoch, reading
/// the time as UTC (good to within a day, which is all scrub-age checks need).
pub fn parse_ctime(text: &str) -> Option<i64> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let [_weekday, month, day, clock, year] = words.as_slice() else {
        return None;
    };
    let month = match *month {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let day: i64 = day.parse().ok().filter(|d| (1..=31).contains(d))?;
    let year: i64 = year.parse().ok().filter(|y| (1970..=9999).contains(y))?;
    let mut clock_parts = clock.split(':').map(|p| p.parse::<i64>().ok());
    let hours = clock_parts.next()??;
    let minutes = clock_parts.next()??;
    let seconds = clock_parts.next()??;
    Some(days_from_civil(year, month, day) * 86_400 + hours * 3600 + minutes * 60 + seconds)
}

/// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("0"), Some(0));
        assert_eq!(parse_size("0B"), Some(0));
        assert_eq!(parse_size("21K"), Some(21 * 1024));
        assert_eq!(parse_size("11.7K"), Some(11_981));
        assert_eq!(parse_size("1M"), Some(1 << 20));
        assert_eq!(parse_size("abc"), None);
        assert_eq!(parse_size(""), None);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10:42:32"), Some(10 * 3600 + 42 * 60 + 32));
        assert_eq!(parse_duration("0 days 00:01:25"), Some(85));
        assert_eq!(parse_duration("0h2m"), Some(120));
        assert_eq!(parse_duration("29h37m"), Some(29 * 3600 + 37 * 60));
    }

    #[test]
    fn ctime() {
        assert_eq!(parse_ctime("Thu Jan  1 00:00:00 1970"), Some(0));
        assert_eq!(parse_ctime("Sun Oct 20 17:29:34 2024"), Some(1_729_445_374));
        assert_eq!(parse_ctime("garbage"), None);
    }

    #[test]
    fn kinds() {
        assert_eq!(vdev_kind("mirror-0"), VdevKind::Mirror);
        assert_eq!(vdev_kind("raidz2-0"), VdevKind::Raidz { parity: 2 });
        assert_eq!(vdev_kind("raidz-1"), VdevKind::Raidz { parity: 1 });
        assert_eq!(
            vdev_kind("draid1:4d:11c:1s-0"),
            VdevKind::Draid {
                parity: 1,
                spec: "draid1:4d:11c:1s".to_owned()
            }
        );
        assert_eq!(vdev_kind("draid1-0-0"), VdevKind::DistributedSpare);
        assert_eq!(vdev_kind("replacing-1"), VdevKind::Replacing);
        assert_eq!(vdev_kind("wwn-0x5000c500c65ac66f"), VdevKind::Disk);
        assert_eq!(vdev_kind("nvme0n1p3"), VdevKind::Disk);
    }
}
