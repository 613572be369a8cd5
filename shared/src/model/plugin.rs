//! Plugins model: what the agent's plugin collector reports about the measurements a host
//! already makes: Prometheus textfiles (node_exporter's textfile convention), local Prometheus
//! exporters scraped on loopback, and local check scripts (Nagios exit codes).
//!
//! Their series travel in a [`SeriesBatch`] (every string once: an exporter repeats the same
//! label names and values on every line); each source's status ([`SourceStatus`]) and each
//! check's result ([`CheckResult`]) travel as typed state. Like the rest of the model these
//! types are encoded by position (postcard) and printed as JSON by `unity-agent collect plugins
//! --json`: never reorder fields or variants, only append.

use serde::{Deserialize, Serialize};

/// The label every plugin series carries, naming where it came from
/// (`textfile/backup.prom`, `exporter/node`, `check/backup_age`).
pub const SOURCE_LABEL: &str = "source";

/// Where plugin series come from.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// A `*.prom` file in a textfile directory.
    Textfile,
    /// A Prometheus exporter on this host, scraped over loopback HTTP.
    Exporter,
    /// A local check script.
    Check,
}

impl SourceKind {
    /// The word that starts the `source` label: `textfile`, `exporter`, `check`.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Textfile => "textfile",
            SourceKind::Exporter => "exporter",
            SourceKind::Check => "check",
        }
    }

    /// The kind a `source` label value names, if it is a plugin's.
    pub fn of_source(source: &str) -> Option<SourceKind> {
        let (kind, name) = source.split_once('/')?;
        if name.is_empty() {
            return None;
        }
        match kind {
            "textfile" => Some(SourceKind::Textfile),
            "exporter" => Some(SourceKind::Exporter),
            "check" => Some(SourceKind::Check),
            _ => None,
        }
    }
}

/// One textfile or exporter as of one collection: what it gave and what was left out.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SourceStatus {
    pub kind: SourceKind,
    /// The `source` label of its series, e.g. `exporter/node`.
    pub source: String,
    /// Where it was read: a file path or a URL.
    pub location: String,
    /// Series taken.
    pub n_series: u32,
    /// Series left out by the caps (too many series, too many or too long labels).
    pub n_dropped: u32,
    /// Lines that could not be parsed.
    pub n_errors: u32,
    /// The first parse errors, each naming the file or URL and the line.
    pub errors: Vec<String>,
    /// Why nothing was taken from it (unreachable, over the size cap, ...), if so.
    pub failure: Option<String>,
    /// Bytes read.
    pub bytes: u64,
    pub duration_ms: u64,
}

/// What a check's exit code says (the Nagios plugin convention: 0, 1, 2, 3).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Ok,
    Warning,
    Critical,
    /// The check said so (exit code 3), or it gave no usable answer (another exit code, a
    /// signal, a timeout, not runnable).
    Unknown,
}

impl CheckStatus {
    /// The status an exit code means; `None` for codes outside 0..=3.
    pub fn from_exit_code(code: i32) -> Option<CheckStatus> {
        match code {
            0 => Some(CheckStatus::Ok),
            1 => Some(CheckStatus::Warning),
            2 => Some(CheckStatus::Critical),
            3 => Some(CheckStatus::Unknown),
            _ => None,
        }
    }

    /// `ok`, `warning`, `critical`, `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Ok => "ok",
            CheckStatus::Warning => "warning",
            CheckStatus::Critical => "critical",
            CheckStatus::Unknown => "unknown",
        }
    }

    /// The exit code it stands for, as a series value (0 to 3).
    pub fn value(self) -> f64 {
        match self {
            CheckStatus::Ok => 0.0,
            CheckStatus::Warning => 1.0,
            CheckStatus::Critical => 2.0,
            CheckStatus::Unknown => 3.0,
        }
    }
}

/// One run of a local check.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct CheckResult {
    /// The executable's file name in the checks directory.
    pub name: String,
    pub status: CheckStatus,
    /// The first line of its output (or, when it gave no answer, why).
    pub message: String,
    /// `None` when it was killed or never started.
    pub exit_code: Option<i32>,
    /// Unix milliseconds.
    pub started_at_ms: i64,
    pub duration_ms: u64,
    /// How often it runs, so a result that stopped coming is noticed.
    pub interval_ms: u64,
    /// Why the check gave no answer of its own (timed out, not runnable, ...); the status is
    /// then [`CheckStatus::Unknown`].
    pub error: Option<String>,
    /// Series from the lines after the first.
    pub n_series: u32,
    pub n_dropped: u32,
    /// The first parse errors of those lines.
    pub errors: Vec<String>,
}

impl CheckResult {
    /// When a newer result is overdue: two intervals after this one started, plus a minute
    /// (a run may take up to its timeout, and the report a moment to arrive).
    pub fn overdue_at_ms(&self) -> i64 {
        let interval = i64::try_from(self.interval_ms).unwrap_or(i64::MAX / 4);
        self.started_at_ms
            .saturating_add(interval.saturating_mul(2))
            .saturating_add(60_000)
    }
}

/// Plugin series of one report, with every string stored once.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
pub struct SeriesBatch {
    /// Metric names, label names and label values, each once.
    pub strings: Vec<String>,
    pub samples: Vec<BatchSample>,
}

/// One sample of a [`SeriesBatch`]; names and values are indexes into its `strings`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct BatchSample {
    pub metric: u32,
    /// `(name, value)` index pairs, sorted by name.
    pub labels: Vec<(u32, u32)>,
    pub timestamp_ms: i64,
    pub value: f64,
}

/// A sample's metric name and its `(name, value)` labels, borrowed from its batch.
pub type Resolved<'a> = (&'a str, Vec<(&'a str, &'a str)>);

/// A sample of a [`SeriesBatch`] points at a string the batch does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("series batch: string {index} of {n_strings} does not exist")]
pub struct BadIndex {
    pub index: u32,
    pub n_strings: usize,
}

impl SeriesBatch {
    fn string(&self, index: u32) -> Result<&str, BadIndex> {
        usize::try_from(index)
            .ok()
            .and_then(|at| self.strings.get(at))
            .map(String::as_str)
            .ok_or(BadIndex {
                index,
                n_strings: self.strings.len(),
            })
    }

    /// One sample as `(metric, labels)` strings.
    pub fn resolve(&self, sample: &BatchSample) -> Result<Resolved<'_>, BadIndex> {
        let metric = self.string(sample.metric)?;
        let labels = sample
            .labels
            .iter()
            .map(|(name, value)| Ok((self.string(*name)?, self.string(*value)?)))
            .collect::<Result<_, BadIndex>>()?;
        Ok((metric, labels))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_and_statuses() {
        assert_eq!(
            SourceKind::of_source("exporter/node"),
            Some(SourceKind::Exporter)
        );
        assert_eq!(SourceKind::of_source("check/x/y"), Some(SourceKind::Check));
        assert_eq!(SourceKind::of_source("textfile/"), None);
        assert_eq!(SourceKind::of_source("smartctl"), None);
        assert_eq!(SourceKind::of_source("other/x"), None);
        assert_eq!(CheckStatus::from_exit_code(2), Some(CheckStatus::Critical));
        assert_eq!(CheckStatus::from_exit_code(4), None);
        assert_eq!(CheckStatus::Unknown.value(), 3.0);
    }

    #[test]
    fn a_batch_resolves_its_strings_and_names_a_bad_index() {
        let batch = SeriesBatch {
            strings: vec!["up".into(), "job".into(), "node".into()],
            samples: vec![
                BatchSample {
                    metric: 0,
                    labels: vec![(1, 2)],
                    timestamp_ms: 1,
                    value: 1.0,
                },
                BatchSample {
                    metric: 0,
                    labels: vec![(1, 9)],
                    timestamp_ms: 1,
                    value: 1.0,
                },
            ],
        };
        assert_eq!(
            batch.resolve(&batch.samples[0]),
            Ok(("up", vec![("job", "node")]))
        );
        assert_eq!(
            batch.resolve(&batch.samples[1]),
            Err(BadIndex {
                index: 9,
                n_strings: 3
            })
        );
    }
}
