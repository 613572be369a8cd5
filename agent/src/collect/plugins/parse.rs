//! The Prometheus text exposition format (version 0.0.4, as `prometheus/docs`'
//! `exposition_formats.md` describes it, with quoted UTF-8 names) and the OpenMetrics 1.0 text
//! format, parsed line by line into samples. Pure: bytes in, samples and line errors out.
//!
//! Why a parser of our own: the crates that exist each miss part of the format the agent
//! meets in the wild (see `docs/plugins.md`, "The parser"), and none returns partial results:
//! one bad line of a textfile would lose the whole file. Here a line that does not parse is
//! an error naming its number, and every other line still counts (the style of the agent's
//! other parsers: partial results plus warnings).
//!
//! Samples are handed to a callback as they are parsed, borrowing the input where no escape
//! had to be resolved, so parsing holds no copy of the exposition. `# HELP` and `# TYPE` lines
//! are checked, not kept: the series keep their names, and histograms and summaries arrive as
//! the `_bucket`, `_sum`, `_count` and `quantile` series the format spells out. Exemplars
//! (`# {trace_id="…"} 0.5`) are checked and left out.

use std::borrow::Cow;

/// Which text format the bytes are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `text/plain; version=0.0.4`: timestamps are integer milliseconds.
    Prometheus,
    /// `application/openmetrics-text`: timestamps are seconds (with a fraction), and `# EOF`
    /// ends the exposition.
    OpenMetrics,
}

/// One parsed sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample<'a> {
    /// 1-based line number in the input.
    pub line: usize,
    /// Bytes of the line, for the sample size cap.
    pub line_bytes: usize,
    pub metric: Cow<'a, str>,
    /// In the order written (not sorted); names are unique.
    pub labels: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    pub value: f64,
    /// Milliseconds since the epoch, if the line gave a timestamp.
    pub timestamp_ms: Option<i64>,
}

/// A line that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line number.
    pub line: usize,
    pub message: String,
}

/// What a parse found besides the samples.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// Sample lines that parsed.
    pub n_samples: u64,
    /// Lines that did not parse.
    pub n_errors: u64,
    /// The first `max_errors` of them.
    pub errors: Vec<LineError>,
}

/// The metric types a `# TYPE` line may name (Prometheus' five and OpenMetrics' others).
const TYPES: &[&str] = &[
    "counter",
    "gauge",
    "histogram",
    "summary",
    "untyped",
    "unknown",
    "info",
    "stateset",
    "gaugehistogram",
];

/// Parses `text`, calling `on_sample` for every sample line, and keeps at most `max_errors`
/// error messages (all are counted).
pub fn parse<'a>(
    text: &'a [u8],
    format: Format,
    max_errors: usize,
    mut on_sample: impl FnMut(&Sample<'a>),
) -> Parsed {
    let mut parsed = Parsed::default();
    let mut sample = Sample {
        line: 0,
        line_bytes: 0,
        metric: Cow::Borrowed(""),
        labels: Vec::new(),
        value: 0.0,
        timestamp_ms: None,
    };
    for (index, raw) in text.split(|&byte| byte == b'\n').enumerate() {
        let line = trim(raw.strip_suffix(b"\r").unwrap_or(raw));
        if line.is_empty() {
            continue;
        }
        let outcome = if line[0] == b'#' {
            comment(&line[1..], format)
        } else {
            sample_line(line, format, &mut sample).map(|()| Line::Sample)
        };
        match outcome {
            Ok(Line::Sample) => {
                sample.line = index + 1;
                sample.line_bytes = raw.len();
                parsed.n_samples += 1;
                on_sample(&sample);
            }
            Ok(Line::Other) => {}
            Ok(Line::End) => break,
            Err(message) => {
                parsed.n_errors += 1;
                if parsed.errors.len() < max_errors {
                    parsed.errors.push(LineError {
                        line: index + 1,
                        message,
                    });
                }
            }
        }
    }
    parsed
}

/// What a line was.
enum Line {
    Sample,
    /// A comment, `# HELP`, `# TYPE` or `# UNIT`.
    Other,
    /// OpenMetrics' `# EOF`.
    End,
}

fn is_blank(byte: u8) -> bool {
    byte == b' ' || byte == b'\t'
}

fn trim(mut bytes: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = bytes {
        if !is_blank(*first) {
            break;
        }
        bytes = rest;
    }
    while let [rest @ .., last] = bytes {
        if !is_blank(*last) {
            break;
        }
        bytes = rest;
    }
    bytes
}

/// A cursor over one line.
struct Cursor<'a> {
    line: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.line.get(self.at).copied()
    }

    fn skip_blanks(&mut self) -> bool {
        let start = self.at;
        while self.peek().is_some_and(is_blank) {
            self.at += 1;
        }
        self.at > start
    }

    fn rest(&self) -> &'a [u8] {
        &self.line[self.at.min(self.line.len())..]
    }

    /// Takes bytes up to the next blank.
    fn token(&mut self) -> &'a [u8] {
        let start = self.at;
        while self.peek().is_some_and(|byte| !is_blank(byte)) {
            self.at += 1;
        }
        &self.line[start..self.at]
    }

    /// `[a-zA-Z_:][a-zA-Z0-9_:]*` (metric names) or without `:` (label names).
    fn identifier(&mut self, colon: bool) -> Option<&'a str> {
        let start = self.at;
        while let Some(byte) = self.peek() {
            let ok = byte.is_ascii_alphabetic()
                || byte == b'_'
                || (colon && byte == b':')
                || (self.at > start && byte.is_ascii_digit());
            if !ok {
                break;
            }
            self.at += 1;
        }
        // ASCII only, so this never fails.
        std::str::from_utf8(&self.line[start..self.at])
            .ok()
            .filter(|name| !name.is_empty())
    }

    /// A double-quoted string with `\\`, `\"` and `\n` escapes; the opening quote is next.
    fn quoted(&mut self, what: &str) -> Result<Cow<'a, str>, String> {
        let line = self.line;
        self.at += 1;
        let start = self.at;
        let mut unescaped: Option<Vec<u8>> = None;
        loop {
            let Some(byte) = self.peek() else {
                return Err(format!("{what} has no closing quote"));
            };
            self.at += 1;
            match byte {
                b'"' => break,
                b'\\' => {
                    // `\\`, `\"` and `\n` are the format's escapes. Another escaped character
                    // keeps its backslash, as Prometheus' own scraper and OpenMetrics do.
                    let escaped: &[u8] = match self.peek() {
                        Some(b'\\') => b"\\",
                        Some(b'"') => b"\"",
                        Some(b'n') => b"\n",
                        Some(_) => &line[self.at - 1..=self.at],
                        None => return Err(format!("{what} has no closing quote")),
                    };
                    let buffer = unescaped.get_or_insert_with(|| line[start..self.at - 1].to_vec());
                    buffer.extend_from_slice(escaped);
                    self.at += 1;
                }
                _ => {
                    if let Some(buffer) = &mut unescaped {
                        buffer.push(byte);
                    }
                }
            }
        }
        let not_utf8 = || format!("{what} is not valid UTF-8");
        match unescaped {
            None => std::str::from_utf8(&line[start..self.at - 1])
                .map(Cow::Borrowed)
                .map_err(|_| not_utf8()),
            Some(bytes) => String::from_utf8(bytes)
                .map(Cow::Owned)
                .map_err(|_| not_utf8()),
        }
    }
}

/// A `#` line: `HELP`, `TYPE`, OpenMetrics' `EOF`, or a comment.
fn comment(body: &[u8], format: Format) -> Result<Line, String> {
    let mut cursor = Cursor { line: body, at: 0 };
    cursor.skip_blanks();
    let keyword = cursor.token();
    match keyword {
        b"HELP" | b"TYPE" => {}
        b"EOF" if format == Format::OpenMetrics => return Ok(Line::End),
        _ => return Ok(Line::Other),
    }
    let keyword = if keyword == b"HELP" { "HELP" } else { "TYPE" };
    if !cursor.skip_blanks() {
        return Err(format!("# {keyword} without a metric name"));
    }
    let named = if cursor.peek() == Some(b'"') {
        cursor.quoted("the metric name").map(|_| ())
    } else {
        cursor
            .identifier(true)
            .map(|_| ())
            .ok_or_else(|| format!("# {keyword}: invalid metric name"))
    };
    named?;
    if cursor.peek().is_some() && !cursor.skip_blanks() {
        return Err(format!("# {keyword}: invalid metric name"));
    }
    if keyword == "HELP" {
        // The docstring may hold anything; it is not kept.
        return Ok(Line::Other);
    }
    let kind = cursor.token();
    cursor.skip_blanks();
    if !cursor.rest().is_empty() {
        return Err("# TYPE: unexpected text after the type".into());
    }
    let kind = std::str::from_utf8(kind).unwrap_or("");
    if kind.is_empty() {
        return Err("# TYPE without a type".into());
    }
    if !TYPES.contains(&kind) {
        return Err(format!(
            "# TYPE: unknown type {:?} (expected counter, gauge, histogram, summary or untyped)",
            kind.escape_debug().to_string()
        ));
    }
    Ok(Line::Other)
}

/// A sample line into `sample` (its labels buffer is reused).
fn sample_line<'a>(line: &'a [u8], format: Format, sample: &mut Sample<'a>) -> Result<(), String> {
    let mut cursor = Cursor { line, at: 0 };
    sample.labels.clear();
    sample.timestamp_ms = None;
    let mut metric: Option<Cow<'a, str>> = None;
    if cursor.peek() != Some(b'{') {
        let name = cursor
            .identifier(true)
            .ok_or("expected a metric name (letters, digits, '_' and ':')")?;
        metric = Some(Cow::Borrowed(name));
    }
    let mut separated = cursor.skip_blanks();
    if cursor.peek().is_none() {
        if let Some(metric) = metric {
            return Err(format!("{metric} has no value"));
        }
    }
    if cursor.peek() == Some(b'{') {
        labels(&mut cursor, &mut metric, &mut sample.labels)?;
        // After the closing brace no blank is needed.
        cursor.skip_blanks();
        separated = true;
    }
    sample.metric = metric.ok_or("the braces name no metric")?;
    if !separated {
        return Err("expected a blank between the metric name and the value".into());
    }
    let value = cursor.token();
    if value.is_empty() {
        return Err(format!("{} has no value", sample.metric));
    }
    sample.value = parse_value(value)?;
    cursor.skip_blanks();
    if cursor.peek().is_some() && cursor.peek() != Some(b'#') {
        let timestamp = cursor.token();
        sample.timestamp_ms = Some(parse_timestamp(timestamp, format)?);
        cursor.skip_blanks();
    }
    match cursor.peek() {
        None => Ok(()),
        Some(b'#') => exemplar(&mut cursor),
        Some(_) => Err("unexpected text after the timestamp".into()),
    }
}

/// `{name="value",...}`; a quoted string without `=` first names the metric (UTF-8 names).
fn labels<'a>(
    cursor: &mut Cursor<'a>,
    metric: &mut Option<Cow<'a, str>>,
    labels: &mut Vec<(Cow<'a, str>, Cow<'a, str>)>,
) -> Result<(), String> {
    cursor.at += 1;
    loop {
        cursor.skip_blanks();
        match cursor.peek() {
            Some(b'}') => {
                cursor.at += 1;
                return Ok(());
            }
            None => return Err("the labels have no closing brace".into()),
            _ => {}
        }
        let name = if cursor.peek() == Some(b'"') {
            cursor.quoted("a quoted name")?
        } else {
            Cow::Borrowed(
                cursor
                    .identifier(false)
                    .ok_or_else(|| "expected a label name (letters, digits and '_')".to_owned())?,
            )
        };
        cursor.skip_blanks();
        if cursor.peek() == Some(b'=') {
            cursor.at += 1;
            cursor.skip_blanks();
            if cursor.peek() != Some(b'"') {
                return Err(format!("label {name}: expected a quoted value"));
            }
            let value = cursor.quoted(&format!("the value of label {name}"))?;
            if labels.iter().any(|(other, _)| *other == name) {
                return Err(format!("label {name} is given twice"));
            }
            labels.push((name, value));
        } else if metric.is_none() && labels.is_empty() {
            *metric = Some(name);
        } else {
            return Err(format!("label {name}: expected '='"));
        }
        cursor.skip_blanks();
        match cursor.peek() {
            Some(b',') => cursor.at += 1,
            Some(b'}') => {}
            _ => return Err("expected ',' or '}' after a label".into()),
        }
    }
}

/// A value as Go's `ParseFloat` reads it (`NaN`, `+Inf`, `-Inf` included).
fn parse_value(token: &[u8]) -> Result<f64, String> {
    std::str::from_utf8(token)
        .ok()
        .and_then(|text| text.parse::<f64>().ok())
        .ok_or_else(|| {
            format!(
                "invalid value {:?}",
                String::from_utf8_lossy(token)
                    .chars()
                    .take(40)
                    .collect::<String>()
            )
        })
}

fn parse_timestamp(token: &[u8], format: Format) -> Result<i64, String> {
    let text = std::str::from_utf8(token).unwrap_or("");
    let invalid = || {
        format!(
            "invalid timestamp {:?}",
            String::from_utf8_lossy(token)
                .chars()
                .take(40)
                .collect::<String>()
        )
    };
    // A well-formed timestamp beyond what milliseconds in an i64 hold is far in the future
    // (or past): it saturates, and the caps leave it out as such.
    match format {
        Format::Prometheus => match text.parse::<i64>() {
            Ok(ms) => Ok(ms),
            Err(error) => match error.kind() {
                std::num::IntErrorKind::PosOverflow => Ok(i64::MAX),
                std::num::IntErrorKind::NegOverflow => Ok(i64::MIN),
                _ => Err(invalid()),
            },
        },
        Format::OpenMetrics => text
            .parse::<f64>()
            .ok()
            .filter(|seconds| seconds.is_finite())
            .map(|seconds| (seconds * 1000.0).round() as i64)
            .ok_or_else(invalid),
    }
}

/// An exemplar: `# {labels} value [timestamp]`. Checked, then left out.
fn exemplar(cursor: &mut Cursor<'_>) -> Result<(), String> {
    cursor.at += 1;
    cursor.skip_blanks();
    if cursor.peek() != Some(b'{') {
        return Err("malformed exemplar: expected '{' after '#'".into());
    }
    let mut name = Some(Cow::Borrowed("exemplar"));
    let mut scratch = Vec::new();
    labels(cursor, &mut name, &mut scratch).map_err(|error| format!("exemplar: {error}"))?;
    cursor.skip_blanks();
    parse_value(cursor.token()).map_err(|error| format!("exemplar: {error}"))?;
    cursor.skip_blanks();
    if cursor.peek().is_some() {
        parse_timestamp(cursor.token(), Format::OpenMetrics)
            .map_err(|error| format!("exemplar: {error}"))?;
        cursor.skip_blanks();
    }
    if cursor.peek().is_some() {
        return Err("exemplar: unexpected text at the end".into());
    }
    Ok(())
}
