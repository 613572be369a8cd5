//! Parsers for `zpool list -Hp` (pool capacity) and `zfs list -Hp` (datasets).
//!
//! `-H` output is tab-separated without a header; `-p` prints exact numbers. Columns depend on
//! `-o`; these parsers know the column sets the run side asks for ([`ZPOOL_LIST_COLUMNS`],
//! [`ZFS_LIST_COLUMNS`]) and `zpool list`'s default set, and also accept the headed
//! `zpool list -p -v` layout (columns named by the header, vdev rows indented).
//!
//! In `-v` output a row named `logs`, `cache`, `spares`, `special` or `dedup` whose other
//! columns are all `-` is a section header of the pool above it, never a pool: it is kept in
//! that pool's `vdevs` as a row of depth 0, and the rows after it belong to that section.

use unity_shared::model::storage::{Dataset, ParseError, ParseWarning, PoolCapacity, VdevCapacity};

use super::fields::{parse_size, vdev_state};

/// The `-o` list the run side passes to `zpool list -Hp`.
pub const ZPOOL_LIST_COLUMNS: &str =
    "name,health,size,alloc,free,fragmentation,capacity,dedupratio";
/// The `-o` list the run side passes to `zfs list -Hp`.
pub const ZFS_LIST_COLUMNS: &str = "name,avail,used,usedsnap,usedds";

/// The section rows `zpool list -v` prints between a pool's vdevs (OpenZFS `print_line`).
const SECTIONS: &[&str] = &["logs", "cache", "spares", "special", "dedup"];

/// `zpool list` without `-o`: the header names of its default columns.
const ZPOOL_DEFAULT_COLUMNS: &[&str] = &[
    "NAME", "SIZE", "ALLOC", "FREE", "CKPOINT", "EXPANDSZ", "FRAG", "CAP", "DEDUP", "HEALTH",
    "ALTROOT",
];
const ZPOOL_RUN_COLUMNS: &[&str] = &[
    "NAME", "HEALTH", "SIZE", "ALLOC", "FREE", "FRAG", "CAP", "DEDUP",
];

/// Parses `zpool list -Hp -o` [`ZPOOL_LIST_COLUMNS`] (or the default columns, or the headed
/// `-p -v` layout).
pub fn parse_zpool_list(input: &str) -> Result<(Vec<PoolCapacity>, Vec<ParseWarning>), ParseError> {
    const EXPECTED: &str = "`zpool list -Hp` output";
    if input.trim().is_empty() {
        return Err(ParseError::Empty { expected: EXPECTED });
    }
    let mut warnings = Vec::new();
    let mut pools: Vec<PoolCapacity> = Vec::new();
    let mut header: Option<Vec<String>> = None;
    for (index, raw_line) in input.lines().enumerate() {
        let line = raw_line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        if header.is_none() && pools.is_empty() && line.trim_start().starts_with("NAME") {
            header = Some(line.split_whitespace().map(str::to_owned).collect());
            continue;
        }
        let fields: Vec<&str> = if line.contains('\t') {
            line.split('\t').map(str::trim).collect()
        } else {
            line.split_whitespace().collect()
        };
        if is_section_row(line, &fields) {
            let section = VdevCapacity {
                name: fields.first().copied().unwrap_or("").to_owned(),
                depth: 0,
                size_bytes: None,
                allocated_bytes: None,
                free_bytes: None,
                health: None,
            };
            match pools.last_mut() {
                Some(pool) => pool.vdevs.push(section),
                None => warnings.push(ParseWarning::at_line(
                    index,
                    line,
                    "section row before any pool",
                )),
            }
            continue;
        }
        let columns: Vec<&str> = match &header {
            Some(names) => names.iter().map(String::as_str).collect(),
            None if fields.len() == ZPOOL_RUN_COLUMNS.len() => ZPOOL_RUN_COLUMNS.to_vec(),
            None if fields.len() == ZPOOL_DEFAULT_COLUMNS.len() => ZPOOL_DEFAULT_COLUMNS.to_vec(),
            None => {
                warnings.push(ParseWarning::at_line(
                    index,
                    line,
                    format!(
                        "expected {} or {} columns",
                        ZPOOL_RUN_COLUMNS.len(),
                        ZPOOL_DEFAULT_COLUMNS.len()
                    ),
                ));
                continue;
            }
        };
        let get = |name: &str| {
            columns
                .iter()
                .position(|c| *c == name)
                .and_then(|i| fields.get(i).copied())
                .filter(|v| *v != "-" && !v.is_empty())
        };
        let percent = |name: &str| get(name).and_then(|v| v.trim_end_matches('%').parse().ok());
        let indent = line.len() - line.trim_start().len();
        let name = fields.first().copied().unwrap_or("").to_owned();
        if header.is_some() && indent > 0 {
            let vdev = VdevCapacity {
                name,
                depth: u32::try_from(indent / 2).unwrap_or(u32::MAX),
                size_bytes: get("SIZE").and_then(parse_size),
                allocated_bytes: get("ALLOC").and_then(parse_size),
                free_bytes: get("FREE").and_then(parse_size),
                health: get("HEALTH").map(vdev_state),
            };
            match pools.last_mut() {
                Some(pool) => pool.vdevs.push(vdev),
                None => warnings.push(ParseWarning::at_line(
                    index,
                    line,
                    "vdev row before any pool",
                )),
            }
            continue;
        }
        if name.is_empty() {
            warnings.push(ParseWarning::at_line(
                index,
                line,
                "row without a pool name",
            ));
            continue;
        }
        pools.push(PoolCapacity {
            name,
            health: get("HEALTH").map(vdev_state),
            size_bytes: get("SIZE").and_then(parse_size),
            allocated_bytes: get("ALLOC").and_then(parse_size),
            free_bytes: get("FREE").and_then(parse_size),
            fragmentation_percent: percent("FRAG"),
            capacity_percent: percent("CAP"),
            dedup_ratio: get("DEDUP")
                .and_then(|v| v.trim_end_matches('x').parse::<f64>().ok())
                .filter(|r| r.is_finite()),
            vdevs: Vec::new(),
        });
    }
    if pools.is_empty() {
        return Err(ParseError::unrecognized(EXPECTED, input));
    }
    Ok((pools, warnings))
}

/// `logs      -  -  -  …`: an unindented row named after a section with nothing but `-` after
/// the name. A pool row prints its health, so a pool that happens to be called `logs` is not
/// taken for one (unless `-o` leaves the health out and every other value is unknown).
fn is_section_row(line: &str, fields: &[&str]) -> bool {
    let Some((name, values)) = fields.split_first() else {
        return false;
    };
    !line.starts_with(char::is_whitespace)
        && SECTIONS.contains(name)
        && values.iter().all(|value| *value == "-" || value.is_empty())
}

/// Parses `zfs list -Hp -o` [`ZFS_LIST_COLUMNS`]; `-` values become `None`.
pub fn parse_zfs_list(input: &str) -> Result<(Vec<Dataset>, Vec<ParseWarning>), ParseError> {
    const EXPECTED: &str = "`zfs list -Hp -o name,avail,used,usedsnap,usedds` output";
    if input.trim().is_empty() {
        return Err(ParseError::Empty { expected: EXPECTED });
    }
    let mut warnings = Vec::new();
    let mut datasets = Vec::new();
    for (index, raw_line) in input.lines().enumerate() {
        let line = raw_line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = if line.contains('\t') {
            line.split('\t').collect()
        } else {
            line.split_whitespace().collect()
        };
        let [name, available, used, used_by_snapshots, used_by_dataset] = fields.as_slice() else {
            warnings.push(ParseWarning::at_line(
                index,
                line,
                "expected 5 columns: name, avail, used, usedsnap, usedds",
            ));
            continue;
        };
        let number = |text: &str| -> Option<u64> {
            let text = text.trim();
            if text == "-" {
                None
            } else {
                parse_size(text)
            }
        };
        let numbers = [available, used, used_by_snapshots, used_by_dataset];
        if numbers
            .iter()
            .any(|v| v.trim() != "-" && number(v).is_none())
        {
            warnings.push(ParseWarning::at_line(
                index,
                line,
                "a size column is not a number",
            ));
        }
        datasets.push(Dataset {
            name: name.trim().to_owned(),
            available_bytes: number(available),
            used_bytes: number(used),
            used_by_snapshots_bytes: number(used_by_snapshots),
            used_by_dataset_bytes: number(used_by_dataset),
        });
    }
    if datasets.is_empty() {
        return Err(ParseError::unrecognized(EXPECTED, input));
    }
    Ok((datasets, warnings))
}
