//! One source's exposition into the report's batch (pure): parse, apply the caps, add the
//! `source` label and the collection time, and say what was taken, dropped and wrong in a
//! [`SourceStatus`] whose errors name the file (or URL) and line.

use super::batch::BatchBuilder;
use super::limits::{Caps, Tally};
use super::parse::{self, Format};
use unity_shared::model::plugin::{SourceKind, SourceStatus};

/// Where an exposition came from.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub kind: SourceKind,
    /// The `source` label, e.g. `textfile/backup.prom`.
    pub source: &'a str,
    /// A path or URL, for messages.
    pub location: &'a str,
    /// Lines before the exposition starts (a check's first line is its message).
    pub line_offset: usize,
}

/// Adds what `text` holds to `batch`; samples without a timestamp of their own get
/// `collected_at_ms`.
pub fn ingest(
    batch: &mut BatchBuilder,
    origin: Origin<'_>,
    text: &[u8],
    format: Format,
    caps: &Caps,
    collected_at_ms: i64,
) -> SourceStatus {
    let mut tally = Tally::default();
    let parsed = parse::parse(text, format, caps.max_errors, |sample| {
        if caps.admit(sample, collected_at_ms, &mut tally) {
            batch.push(
                origin.source,
                &sample.metric,
                &sample.labels,
                sample.timestamp_ms.unwrap_or(collected_at_ms),
                sample.value,
            );
        }
    });
    let mut errors = tally.describe(caps);
    errors.extend(parsed.errors.iter().map(|error| {
        format!(
            "{}:{}: {}",
            origin.location,
            error.line + origin.line_offset,
            error.message
        )
    }));
    if parsed.n_errors > parsed.errors.len() as u64 {
        errors.push(format!(
            "{}: {} more lines with errors",
            origin.location,
            parsed.n_errors - parsed.errors.len() as u64
        ));
    }
    SourceStatus {
        kind: origin.kind,
        source: origin.source.to_owned(),
        location: origin.location.to_owned(),
        n_series: tally.n_taken,
        n_dropped: tally.n_dropped(),
        n_errors: u32::try_from(parsed.n_errors).unwrap_or(u32::MAX),
        errors,
        failure: None,
        bytes: text.len() as u64,
        duration_ms: 0,
    }
}

/// A source that gave nothing, and why.
pub fn failed(origin: Origin<'_>, failure: String, bytes: u64) -> SourceStatus {
    SourceStatus {
        kind: origin.kind,
        source: origin.source.to_owned(),
        location: origin.location.to_owned(),
        n_series: 0,
        n_dropped: 0,
        n_errors: 0,
        errors: Vec::new(),
        failure: Some(failure),
        bytes,
        duration_ms: 0,
    }
}

/// The series the agent adds about each source (`plugin="<source>"`): whether it gave
/// anything (`plugin_up`), how many series it gave and how many were left out.
pub fn status_samples(sink: &mut crate::collect::series::Sink, statuses: &[SourceStatus]) {
    for status in statuses {
        let labels = [("plugin", status.source.as_str())];
        let up = if status.failure.is_none() { 1.0 } else { 0.0 };
        sink.push("plugin_up", &labels, up);
        sink.push("plugin_series", &labels, f64::from(status.n_series));
        sink.push(
            "plugin_dropped_series",
            &labels,
            f64::from(status.n_dropped),
        );
        sink.push("plugin_parse_errors", &labels, f64::from(status.n_errors));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Origin<'static> {
        Origin {
            kind: SourceKind::Textfile,
            source: "textfile/backup.prom",
            location: "/var/lib/unity-agent/textfile/backup.prom",
            line_offset: 0,
        }
    }

    #[test]
    fn issue_22_errors_name_the_file_and_line_and_drops_are_counted() {
        let mut batch = BatchBuilder::default();
        let caps = Caps {
            max_series: 2,
            ..Caps::default()
        };
        let text = b"backup_ok 1\nbackup_size{} oops\nbackup_age 3 1000\nbackup_more 4\nnan NaN\n";
        let status = ingest(&mut batch, origin(), text, Format::Prometheus, &caps, 5000);
        assert_eq!(
            (status.n_series, status.n_dropped, status.n_errors),
            (2, 2, 1)
        );
        expect_test::expect![[r#"
            [
                "1 series left out: over the cap of 2 series per source",
                "1 series left out: NaN or infinite (only finite values are stored)",
                "/var/lib/unity-agent/textfile/backup.prom:2: invalid value \"oops\"",
            ]
        "#]]
        .assert_debug_eq(&status.errors);
        let batch = batch.finish();
        let stamps: Vec<i64> = batch.samples.iter().map(|s| s.timestamp_ms).collect();
        assert_eq!(stamps, vec![5000, 1000], "own timestamps are kept");
    }

    #[test]
    fn many_errors_are_counted_but_few_kept() {
        let mut batch = BatchBuilder::default();
        let text = "bad line here\n".repeat(100);
        let status = ingest(
            &mut batch,
            origin(),
            text.as_bytes(),
            Format::Prometheus,
            &Caps::default(),
            0,
        );
        assert_eq!(status.n_errors, 100);
        assert_eq!(status.errors.len(), 11, "{:?}", status.errors);
        assert!(status.errors[10].ends_with("90 more lines with errors"));
    }
}
