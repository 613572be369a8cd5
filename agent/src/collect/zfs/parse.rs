//! Parser for `zpool status` (with or without `-p`): pools, their vdev tree, scan and errors.
//!
//! Handles OpenZFS 0.8 to 2.x, FreeBSD/FreeNAS and Solaris/illumos layouts: tab or space
//! indentation, misaligned long pool names, the legacy ` scrub:` line, `logs`/`cache`/`spares`/
//! `special`/`dedup` sections, and the file list after "Permanent errors".

use crate::collect::text::token_spans;
use unity_shared::model::storage::{
    ParseError, ParseWarning, PoolErrors, PoolStatus, Vdev, VdevKind, VdevState, ZpoolStatus,
};

use super::fields::{parse_size, vdev_kind, vdev_state};
use super::scan::parse_scan;

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
    "pool",
    "id",
    "state",
    "status",
    "action",
    "see",
    "scan",
    "scrub",
    "config",
    "errors",
    "remove",
    "checkpoint",
    "comment",
];

/// `  state: ONLINE` to `("state", "ONLINE")` when the key is one `zpool status` prints.
fn header_key(line: &str) -> Option<(&str, &str)> {
    let (key, value) = line.trim_start().split_once(':')?;
    HEADER_KEYS.contains(&key).then_some((key, value.trim()))
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
            if let Some(("errors", _)) = header_key(line) {
                current_key = "errors";
                error_lines.push(line.trim());
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
                "errors" => error_lines.push(line.trim()),
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
            _ => warnings.push(ParseWarning::at_line(
                index,
                line,
                "unexpected line in pool header",
            )),
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

/// The `errors:` lines and what follows them. There can be more than one `errors:` line: a
/// non-root `zpool status` prints "List of errors unavailable: permission denied" (on stderr,
/// interleaved) and then "N data errors, use '-v' for a list". Each `errors:` line is read for
/// what it says; file names are only the lines listed under "Permanent errors have been
/// detected in the following files:", up to the blank line that ends the list.
fn parse_errors(lines: &[&str]) -> PoolErrors {
    let mut errors = PoolErrors {
        text: String::new(),
        no_known_errors: false,
        data_errors: None,
        files: Vec::new(),
    };
    let mut texts: Vec<&str> = Vec::new();
    let mut saw_no_known = false;
    let mut in_file_list = false;
    for line in lines {
        let line = line.trim();
        if let Some(("errors", value)) = header_key(line) {
            texts.push(value);
            in_file_list = value.starts_with("Permanent errors have been detected");
            if value.starts_with("No known data errors") {
                saw_no_known = true;
            }
            if let Some(count) = data_error_count(value) {
                errors.data_errors = Some(errors.data_errors.unwrap_or(0).max(count));
            }
            continue;
        }
        if !in_file_list {
            continue;
        }
        if line.is_empty() {
            // The blank line after the header comes before the list; one after it ends it.
            in_file_list = errors.files.is_empty();
            continue;
        }
        errors.files.push(line.to_owned());
    }
    errors.text = texts.join("; ");
    errors.no_known_errors =
        saw_no_known && errors.files.is_empty() && errors.data_errors.is_none() && texts.len() == 1;
    errors
}

/// `14 data errors, use '-v' for a list` (also `1 data error`) to 14.
fn data_error_count(text: &str) -> Option<u64> {
    let mut words = text.split_whitespace();
    let count = words.next()?.parse().ok()?;
    let noun = words.next()?;
    let kind = words.next()?;
    (noun == "data" && kind.starts_with("error")).then_some(count)
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
            warnings.push(ParseWarning::at_line(
                index,
                line,
                "config row before the NAME header",
            ));
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
            warnings.push(ParseWarning::at_line(
                index,
                line,
                "unexpected row at pool level",
            ));
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
    let spans = token_spans(text);
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
