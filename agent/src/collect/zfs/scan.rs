//! The `scan:` section of `zpool status`: scrub and resilver state, progress, durations, and
//! the ctime-format timestamps it prints (read by [`super::ctime`]).

use unity_shared::model::storage::{Scan, ScanKind, ScanState};

use super::ctime::parse_ctime;
use super::fields::parse_size;

/// Parses the `scan:` (or legacy `scrub:`) text and its continuation lines.
pub(crate) fn parse_scan(lines: &[&str]) -> Option<Scan> {
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
            "with" if words.get(i + 2) == Some(&"errors") => {
                scan.errors = next.and_then(|n| n.parse().ok());
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
            total = total
                .checked_mul(60)?
                .checked_add(part.parse::<u64>().ok()?)?;
        }
        total
    } else if let Some((hours, rest)) = clock.split_once('h') {
        let minutes = rest.trim_end_matches('m');
        let minutes: u64 = if minutes.is_empty() {
            0
        } else {
            minutes.parse().ok()?
        };
        hours
            .parse::<u64>()
            .ok()?
            .checked_mul(3600)?
            .checked_add(minutes.checked_mul(60)?)?
    } else {
        return None;
    };
    days.checked_mul(86_400)?.checked_add(clock_seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10:42:32"), Some(10 * 3600 + 42 * 60 + 32));
        assert_eq!(parse_duration("0 days 00:01:25"), Some(85));
        assert_eq!(parse_duration("0h2m"), Some(120));
        assert_eq!(parse_duration("29h37m"), Some(29 * 3600 + 37 * 60));
    }
}
