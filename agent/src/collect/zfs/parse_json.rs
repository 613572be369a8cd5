//! Parser for `zpool status -j` (OpenZFS 2.3 and later), with or without `--json-int` and `-p`,
//! into the same [`ZpoolStatus`] model the text parser builds.
//!
//! Numbers arrive as JSON integers (`--json-int`), exact strings (`-p`) or scaled strings such
//! as `"62.6G"`; times as Unix seconds or as a printed date. Vdev objects keep the order
//! `zpool` printed them in, so the JSON is read into an order-preserving tree first. Pools or
//! vdevs that are not objects become [`ParseWarning`]s, never a failure of the whole input.

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use unity_shared::model::storage::{
    ParseError, ParseWarning, PoolErrors, PoolStatus, Scan, ScanKind, ScanState, Vdev, VdevKind,
    VdevState, ZpoolStatus,
};

use super::ctime::{ctime_utc, parse_ctime, parse_date_output};
use super::fields::{nicenum, parse_size, vdev_kind, vdev_state};

const EXPECTED: &str = "`zpool status -j` output";

/// Parses `zpool status -j` output. An empty `pools` object gives an empty list.
pub fn parse_status_json(input: &str) -> Result<(ZpoolStatus, Vec<ParseWarning>), ParseError> {
    if input.trim().is_empty() {
        return Err(ParseError::Empty { expected: EXPECTED });
    }
    let tree: Json = serde_json::from_str(input).map_err(|error| ParseError::Json {
        message: error.to_string(),
    })?;
    let Json::Object(top) = &tree else {
        return Err(ParseError::unrecognized(EXPECTED, input));
    };
    let Some(pools) = get(top, "pools") else {
        return Err(ParseError::unrecognized(EXPECTED, input));
    };
    let mut warnings = Vec::new();
    let mut status = ZpoolStatus::default();
    match pools {
        Json::Object(entries) => {
            for (key, value) in entries {
                let path = format!("/pools/{key}");
                match value {
                    Json::Object(fields) => {
                        status
                            .pools
                            .push(parse_pool(key, fields, &path, &mut warnings));
                    }
                    _ => warnings.push(warning(&path, "pool is not a JSON object")),
                }
            }
        }
        Json::Null => {}
        _ => warnings.push(warning("/pools", "`pools` is not a JSON object")),
    }
    Ok((status, warnings))
}

/// A JSON value that keeps object members in input order (`serde_json::Value` sorts them).
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, value: bool) -> Result<Json, E> {
        Ok(Json::Bool(value))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Json, E> {
        Ok(Json::Number(value.into()))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Json, E> {
        Ok(Json::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Json, E> {
        Ok(serde_json::Number::from_f64(value).map_or(Json::Null, Json::Number))
    }

    fn visit_str<E>(self, value: &str) -> Result<Json, E> {
        Ok(Json::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Json, E> {
        Ok(Json::String(value))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut members = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Json>()? {
            members.push((key, value));
        }
        Ok(Json::Object(members))
    }
}

type Object = [(String, Json)];

fn get<'a>(object: &'a Object, key: &str) -> Option<&'a Json> {
    object
        .iter()
        .find(|(name, _)| name == key)
        .map(|(_, value)| value)
}

fn text<'a>(object: &'a Object, key: &str) -> Option<&'a str> {
    match get(object, key)? {
        Json::String(value) => Some(value.as_str()),
        _ => None,
    }
}

/// A count or a byte size: an integer, `"123"`, or a scaled `"11.7K"` / `"62.6G"`.
fn number(object: &Object, key: &str) -> Option<u64> {
    match get(object, key)? {
        Json::Number(value) => value.as_u64(),
        Json::String(value) => parse_size(value),
        _ => None,
    }
}

/// A time: Unix seconds (integer or digits), or a printed date.
enum Time {
    Unix(i64),
    Printed(String),
}

fn time(object: &Object, key: &str) -> Option<Time> {
    match get(object, key)? {
        Json::Number(value) => value.as_i64().map(Time::Unix),
        Json::String(value) => {
            let value = value.trim();
            if value.is_empty() {
                None
            } else if value.chars().all(|c| c.is_ascii_digit()) {
                value.parse().ok().map(Time::Unix)
            } else {
                Some(Time::Printed(value.to_owned()))
            }
        }
        _ => None,
    }
}

fn warning(path: &str, message: &str) -> ParseWarning {
    ParseWarning {
        line_number: None,
        line: path.to_owned(),
        message: message.to_owned(),
    }
}

/// Vdev and pool states. `HEALTHY` is the kernel's name for `ONLINE` (`VDEV_STATE_HEALTHY`),
/// which the `zpool-status.8` JSON example prints for vdevs.
fn state(word: &str) -> VdevState {
    match word {
        "HEALTHY" => VdevState::Online,
        other => vdev_state(other),
    }
}

fn parse_pool(
    key: &str,
    fields: &Object,
    path: &str,
    warnings: &mut Vec<ParseWarning>,
) -> PoolStatus {
    let name = text(fields, "name").unwrap_or(key).to_owned();
    let pool_state = text(fields, "state").map_or(VdevState::Other(String::new()), state);
    // `OK` is the status code of a pool without a `status:` paragraph.
    let status = text(fields, "status")
        .filter(|s| !s.is_empty() && *s != "OK")
        .map(str::to_owned);
    let see = text(fields, "moreinfo")
        .or_else(|| text(fields, "see"))
        .map(str::to_owned);
    let mut root = Vdev {
        name: name.clone(),
        kind: VdevKind::Root,
        state: pool_state.clone(),
        read_errors: None,
        write_errors: None,
        checksum_errors: None,
        note: None,
        children: Vec::new(),
    };
    let mut top = vdev_list(fields, "vdevs", path, warnings);
    if !top.is_empty() {
        let first = top.remove(0);
        root.name = first.name;
        if first.state != VdevState::Other(String::new()) {
            root.state = first.state;
        }
        root.read_errors = first.read_errors;
        root.write_errors = first.write_errors;
        root.checksum_errors = first.checksum_errors;
        root.note = first.note;
        root.children = first.children;
        if !top.is_empty() {
            warnings.push(warning(
                &format!("{path}/vdevs"),
                "more than one root vdev (`--json-flat-vdevs` is not supported); \
                 the others are listed as data vdevs",
            ));
            root.children.extend(top);
        }
    }
    let cache_key = if get(fields, "l2cache").is_some() {
        "l2cache"
    } else {
        "cache"
    };
    PoolStatus {
        scan: match get(fields, "scan_stats") {
            Some(Json::Object(scan)) => parse_scan(scan),
            _ => None,
        },
        root,
        logs: vdev_list(fields, "logs", path, warnings),
        cache: vdev_list(fields, cache_key, path, warnings),
        spares: vdev_list(fields, "spares", path, warnings),
        special: vdev_list(fields, "special", path, warnings),
        dedup: vdev_list(fields, "dedup", path, warnings),
        errors: parse_errors(fields),
        name,
        state: pool_state,
        status,
        action: text(fields, "action").map(str::to_owned),
        see,
    }
}

fn vdev_list(
    fields: &Object,
    key: &str,
    path: &str,
    warnings: &mut Vec<ParseWarning>,
) -> Vec<Vdev> {
    let path = format!("{path}/{key}");
    match get(fields, key) {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::Object(entries)) => entries
            .iter()
            .filter_map(|(name, value)| {
                let vdev_path = format!("{path}/{name}");
                match value {
                    Json::Object(vdev) => Some(parse_vdev(name, vdev, &vdev_path, warnings)),
                    _ => {
                        warnings.push(warning(&vdev_path, "vdev is not a JSON object"));
                        None
                    }
                }
            })
            .collect(),
        Some(_) => {
            warnings.push(warning(&path, "vdev list is not a JSON object"));
            Vec::new()
        }
    }
}

fn parse_vdev(key: &str, fields: &Object, path: &str, warnings: &mut Vec<ParseWarning>) -> Vdev {
    let name = text(fields, "name").unwrap_or(key).to_owned();
    let kind = kind_of(&name, text(fields, "vdev_type"));
    let note = match (text(fields, "was"), text(fields, "aux")) {
        (Some(was), _) => Some(format!("was {was}")),
        (None, Some(aux)) if !aux.is_empty() => Some(aux.to_owned()),
        _ => None,
    };
    Vdev {
        state: text(fields, "state").map_or(VdevState::Other(String::new()), state),
        read_errors: number(fields, "read_errors"),
        write_errors: number(fields, "write_errors"),
        checksum_errors: number(fields, "checksum_errors"),
        note,
        children: vdev_list(fields, "vdevs", path, warnings),
        name,
        kind,
    }
}

/// `vdev_type` says what a vdev is; the name (`raidz2-0`, `draid1:4d:11c:1s-0`) carries the
/// parity and the dRAID spec.
fn kind_of(name: &str, vdev_type: Option<&str>) -> VdevKind {
    let from_name = vdev_kind(name);
    match vdev_type {
        Some("root") => VdevKind::Root,
        Some("mirror") => VdevKind::Mirror,
        Some("replacing") => VdevKind::Replacing,
        Some("spare") => VdevKind::Spare,
        Some("indirect") => VdevKind::Indirect,
        Some("dspare") => VdevKind::DistributedSpare,
        Some("disk" | "file") => VdevKind::Disk,
        Some("raidz") => match from_name {
            VdevKind::Raidz { .. } => from_name,
            _ => VdevKind::Raidz { parity: 1 },
        },
        Some("draid") => match from_name {
            VdevKind::Draid { .. } => from_name,
            _ => VdevKind::Draid {
                parity: 1,
                spec: name.to_owned(),
            },
        },
        _ => from_name,
    }
}

/// `error_count` and, with `-v`, `errlist` as the text parser's `errors:` lines. `errlist` is an
/// array of file names, or a string when zpool could not read the error log (`strerror`, e.g.
/// "Permission denied"): that string is the reason, never a file name.
fn parse_errors(fields: &Object) -> Option<PoolErrors> {
    let (files, unavailable): (Vec<String>, Option<&str>) = match get(fields, "errlist") {
        Some(Json::Array(items)) => (
            items
                .iter()
                .filter_map(|item| match item {
                    Json::String(file) => Some(file.clone()),
                    _ => None,
                })
                .collect(),
            None,
        ),
        Some(Json::String(reason)) => (Vec::new(), Some(reason.as_str())),
        _ => (Vec::new(), None),
    };
    let count = number(fields, "error_count");
    if count.is_none() && files.is_empty() && unavailable.is_none() {
        return None;
    }
    let mut texts = Vec::new();
    if let Some(reason) = unavailable {
        texts.push(format!("List of errors unavailable: {reason}"));
    }
    match count {
        _ if !files.is_empty() => {
            texts.push("Permanent errors have been detected in the following files:".to_owned());
        }
        Some(0) => texts.push("No known data errors".to_owned()),
        Some(n) => texts.push(format!("{n} data errors, use '-v' for a list")),
        None => {}
    }
    Some(PoolErrors {
        no_known_errors: count == Some(0) && files.is_empty() && unavailable.is_none(),
        data_errors: count.filter(|n| *n > 0),
        files,
        text: texts.join("; "),
    })
}

fn parse_scan(fields: &Object) -> Option<Scan> {
    let kind = match text(fields, "function")? {
        "SCRUB" => ScanKind::Scrub,
        "RESILVER" => ScanKind::Resilver,
        _ => return None,
    };
    let state = match text(fields, "state")? {
        "SCANNING" => ScanState::InProgress,
        "FINISHED" => ScanState::Finished,
        "CANCELED" => ScanState::Canceled,
        _ => return None,
    };
    let (started_at, started_unix) = printed_and_unix(time(fields, "start_time"));
    let (ended_at, ended_unix) = if state == ScanState::InProgress {
        (None, None)
    } else {
        printed_and_unix(time(fields, "end_time"))
    };
    let duration_seconds = match (started_unix, ended_unix) {
        (Some(start), Some(end)) if end >= start => u64::try_from(end - start).ok(),
        _ => None,
    };
    let issued_bytes = number(fields, "issued");
    let total_bytes = number(fields, "to_examine");
    let percent_done = match (state, issued_bytes, total_bytes) {
        // As `zpool status` computes it: issued over total.
        (ScanState::InProgress, Some(issued), Some(total)) if total > 0 => {
            Some(((issued as f64 / total as f64) * 10_000.0).round() / 100.0)
        }
        _ => None,
    };
    let mut scan = Scan {
        kind,
        state,
        text: String::new(),
        started_at,
        finished_at: ended_at,
        finished_unix: ended_unix,
        duration_seconds,
        repaired_bytes: number(fields, "processed"),
        errors: number(fields, "errors"),
        scanned_bytes: number(fields, "examined"),
        issued_bytes,
        total_bytes,
        percent_done,
        time_to_go: None,
    };
    scan.text = scan_text(&scan);
    Some(scan)
}

/// A time as `zpool status` prints it (ctime format, UTC for Unix seconds) and as Unix seconds
/// (a printed time read as UTC, like the text parser). Zero means "never".
fn printed_and_unix(time: Option<Time>) -> (Option<String>, Option<i64>) {
    match time {
        Some(Time::Unix(seconds)) if seconds > 0 => (ctime_utc(seconds), Some(seconds)),
        Some(Time::Printed(printed)) => {
            let unix = parse_ctime(&printed).or_else(|| parse_date_output(&printed));
            (Some(printed), unix)
        }
        _ => (None, None),
    }
}

/// The JSON has no `scan:` line; this composes one in the text layout so verdict messages read
/// the same for both inputs.
fn scan_text(scan: &Scan) -> String {
    let what = match scan.kind {
        ScanKind::Scrub => "scrub",
        ScanKind::Resilver => "resilver",
    };
    let when = |at: &Option<String>| at.as_deref().unwrap_or("an unknown time").to_owned();
    match scan.state {
        ScanState::InProgress => format!("{what} in progress since {}", when(&scan.started_at)),
        ScanState::Canceled => format!("{what} canceled on {}", when(&scan.finished_at)),
        ScanState::Finished => {
            let verb = match scan.kind {
                ScanKind::Scrub => "scrub repaired",
                ScanKind::Resilver => "resilvered",
            };
            let amount = scan.repaired_bytes.map_or_else(|| "?".to_owned(), nicenum);
            let duration = scan.duration_seconds.map_or_else(
                || "?".to_owned(),
                |s| format!("{:02}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60),
            );
            let errors = scan.errors.unwrap_or(0);
            format!(
                "{verb} {amount} in {duration} with {errors} errors on {}",
                when(&scan.finished_at)
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(
            kind_of("raidz2-0", Some("raidz")),
            VdevKind::Raidz { parity: 2 }
        );
        assert_eq!(kind_of("raidz1-0", None), VdevKind::Raidz { parity: 1 });
        assert_eq!(
            kind_of("draid1-0-0", Some("dspare")),
            VdevKind::DistributedSpare
        );
        assert_eq!(kind_of("sda", Some("disk")), VdevKind::Disk);
        assert_eq!(kind_of("mirror-2", Some("mirror")), VdevKind::Mirror);
    }
}
