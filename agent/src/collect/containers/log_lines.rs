//! A container's log output as lines (pure): the engine's frames (`<RFC 3339 stamp> <text>`,
//! as the logs endpoint writes them with `timestamps=true`) in, [`ContainerLogLine`]s out, and
//! the collection that keeps only the newest within the bounds while reading, so an endless or
//! binary log never grows the agent's memory past twice the bound.

use std::collections::VecDeque;
use unity_shared::model::container_logs::{ContainerLogLine, ContainerLogs, LogStream};

/// Nanoseconds since the Unix epoch of an RFC 3339 stamp as the engines write it
/// (`2024-05-01T12:00:00.123456789Z`, Podman also `+02:00`); `None` for anything else.
pub fn parse_stamp(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    if bytes.len() < 20 || bytes.get(4) != Some(&b'-') || bytes.get(10) != Some(&b'T') {
        return None;
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }
    let mut rest = text.get(19..)?;
    let mut nanos = 0i64;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let kept = fraction.get(..digits.min(9))?;
        nanos = kept.parse::<i64>().ok()? * 10i64.pow(9 - kept.len() as u32);
        rest = fraction.get(digits..)?;
    }
    let offset_seconds = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            if rest.len() != 6 || rest.as_bytes().get(3) != Some(&b':') {
                return None;
            }
            let hours = rest.get(1..3)?.parse::<i64>().ok()?;
            let minutes = rest.get(4..6)?.parse::<i64>().ok()?;
            sign * (hours * 3600 + minutes * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_seconds;
    seconds.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The lines of one frame of the logs endpoint: its stamp (when it has one) goes to every line
/// in it, the line endings go, invalid UTF-8 becomes U+FFFD.
pub fn frame_lines(stream: LogStream, frame: &[u8]) -> Vec<ContainerLogLine> {
    let (at_ns, body) = match frame.iter().position(|&b| b == b' ') {
        Some(space) => match std::str::from_utf8(frame.get(..space).unwrap_or_default())
            .ok()
            .and_then(parse_stamp)
        {
            Some(at_ns) => (Some(at_ns), frame.get(space + 1..).unwrap_or_default()),
            None => (None, frame),
        },
        None => (None, frame),
    };
    let body = body.strip_suffix(b"\n").unwrap_or(body);
    body.split(|&b| b == b'\n')
        .map(|line| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            ContainerLogLine {
                at_ns,
                stream,
                text: String::from_utf8_lossy(line).into_owned(),
            }
        })
        .collect()
}

/// The newest lines read so far, within the bounds.
#[derive(Debug)]
pub struct Collector {
    lines: VecDeque<ContainerLogLine>,
    bytes: usize,
    max_lines: usize,
    max_bytes: usize,
    /// Only lines stamped after this are kept (following a log).
    after_ns: Option<i64>,
    truncated: bool,
}

impl Collector {
    pub fn new(max_lines: usize, max_bytes: usize, after_ns: Option<i64>) -> Collector {
        Collector {
            lines: VecDeque::new(),
            bytes: 0,
            max_lines,
            max_bytes,
            after_ns,
            truncated: false,
        }
    }

    /// Takes one frame of the logs endpoint.
    pub fn push(&mut self, stream: LogStream, frame: &[u8]) {
        for mut line in frame_lines(stream, frame) {
            if let (Some(after), Some(at)) = (self.after_ns, line.at_ns) {
                if at <= after {
                    continue;
                }
            }
            if line.text.len() > self.max_bytes {
                let mut end = self.max_bytes;
                while !line.text.is_char_boundary(end) {
                    end -= 1;
                }
                line.text.truncate(end);
                self.truncated = true;
            }
            self.bytes += line.text.len();
            self.lines.push_back(line);
            while self.lines.len() > self.max_lines || self.bytes > self.max_bytes {
                match self.lines.pop_front() {
                    Some(old) => {
                        self.bytes -= old.text.len();
                        self.truncated = true;
                    }
                    None => break,
                }
            }
        }
    }

    /// The answer: oldest first, within both bounds.
    pub fn finish(self) -> ContainerLogs {
        ContainerLogs {
            lines: self.lines.into(),
            truncated: self.truncated,
        }
        .bounded(self.max_lines, self.max_bytes)
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_stamp(text: &str, expect: Option<i64>) {
        assert_eq!(parse_stamp(text), expect, "{text}");
    }

    #[test]
    fn stamps_as_docker_and_podman_write_them() {
        check_stamp("1970-01-01T00:00:00Z", Some(0));
        check_stamp("1970-01-01T00:00:01.5Z", Some(1_500_000_000));
        check_stamp(
            "2023-11-14T22:13:20.123456789Z",
            Some(1_700_000_000_123_456_789),
        );
        check_stamp(
            "2023-11-14T23:13:20.123456789+01:00",
            Some(1_700_000_000_123_456_789),
        );
        check_stamp("2024-02-29T00:00:00Z", Some(1_709_164_800_000_000_000));
    }

    #[test]
    fn anything_else_is_no_stamp() {
        for text in [
            "",
            "hello",
            "2023-11-14",
            "2023-13-14T22:13:20Z",
            "2023-11-14T22:13:20",
            "2023-11-14T22:13:20.Z",
            "2023-11-14T22:13:20+0100",
            "2023-11-14T2x:13:20Z",
            "２０２３-11-14T22:13:20Z",
        ] {
            check_stamp(text, None);
        }
    }

    #[test]
    fn a_frame_loses_its_stamp_and_line_ending_and_keeps_its_text() {
        let lines = frame_lines(
            LogStream::Stderr,
            b"2023-11-14T22:13:20Z <b>hi</b> \x1b[31mred\r\n",
        );
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].at_ns, Some(1_700_000_000_000_000_000));
        assert_eq!(lines[0].text, "<b>hi</b> \u{1b}[31mred");
        assert_eq!(lines[0].stream, LogStream::Stderr);
    }

    #[test]
    fn invalid_utf8_and_unstamped_frames_are_kept_safely() {
        let lines = frame_lines(LogStream::Stdout, b"no-stamp \xff\xfe end\nsecond\n");
        let texts: Vec<&str> = lines.iter().map(|line| line.text.as_str()).collect();
        assert_eq!(texts, ["no-stamp \u{fffd}\u{fffd} end", "second"]);
        assert!(lines.iter().all(|line| line.at_ns.is_none()));
    }

    #[test]
    fn the_collector_keeps_the_newest_within_bounds_and_after_the_given_stamp() {
        let mut collector = Collector::new(2, 1000, Some(1_000_000_000));
        for second in 0..5 {
            let frame = format!("1970-01-01T00:00:0{second}Z line {second}\n");
            collector.push(LogStream::Stdout, frame.as_bytes());
        }
        let logs = collector.finish();
        let texts: Vec<&str> = logs.lines.iter().map(|line| line.text.as_str()).collect();
        assert_eq!(texts, ["line 3", "line 4"]);
        assert!(logs.truncated);
    }

    #[test]
    fn an_endless_line_is_cut_to_the_byte_bound() {
        let mut collector = Collector::new(10, 8, None);
        collector.push(LogStream::Console, &[b'x'; 100]);
        collector.push(LogStream::Console, "ééééé".as_bytes());
        let logs = collector.finish();
        assert!(logs.text_bytes() <= 8);
        assert_eq!(
            logs.lines.last().map(|line| line.text.as_str()),
            Some("éééé")
        );
        assert!(logs.truncated);
    }
}
