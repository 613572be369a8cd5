//! The caps that keep one plugin source from filling the agent (pure): how many bytes are
//! read, how many series are taken, how large one sample may be. What a cap leaves out is
//! counted by reason ([`Tally`]), so the host page can say what was dropped and why.

use super::parse::Sample;

/// Per-source caps (`[plugins]` in the agent's configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// A textfile, an exporter's body or a check's output larger than this is not read.
    pub max_bytes: u64,
    /// Series taken from one source; the rest are dropped.
    pub max_series: u32,
    /// Labels of one sample.
    pub max_labels: usize,
    /// Bytes of one label name or value.
    pub max_label_bytes: usize,
    /// Bytes of one sample line.
    pub max_sample_bytes: usize,
    /// Parse errors kept (with their line) per source; all are counted.
    pub max_errors: usize,
}

impl Default for Caps {
    fn default() -> Caps {
        Caps {
            max_bytes: 8 * 1024 * 1024,
            max_series: 10_000,
            max_labels: 32,
            max_label_bytes: 1024,
            max_sample_bytes: 16 * 1024,
            max_errors: 10,
        }
    }
}

/// Why a parsed sample was left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DropReason {
    /// The source already gave `max_series`.
    TooManySeries,
    /// More than `max_labels` labels.
    TooManyLabels,
    /// A label name or value over `max_label_bytes`.
    LabelTooLong,
    /// A line over `max_sample_bytes`.
    SampleTooLong,
    /// NaN or an infinity: Unity stores finite values only (a missing value is no sample).
    NotFinite,
    /// A timestamp more than a minute ahead of the collection.
    InTheFuture,
}

impl DropReason {
    const ALL: [DropReason; 6] = [
        DropReason::TooManySeries,
        DropReason::TooManyLabels,
        DropReason::LabelTooLong,
        DropReason::SampleTooLong,
        DropReason::NotFinite,
        DropReason::InTheFuture,
    ];

    fn describe(self, caps: &Caps) -> String {
        match self {
            DropReason::TooManySeries => {
                format!("over the cap of {} series per source", caps.max_series)
            }
            DropReason::TooManyLabels => format!("more than {} labels", caps.max_labels),
            DropReason::LabelTooLong => {
                format!("a label name or value over {} bytes", caps.max_label_bytes)
            }
            DropReason::SampleTooLong => format!("a line over {} bytes", caps.max_sample_bytes),
            DropReason::NotFinite => "NaN or infinite (only finite values are stored)".into(),
            DropReason::InTheFuture => "a timestamp more than a minute ahead".into(),
        }
    }
}

/// How far ahead of the collection a sample's own timestamp may be.
pub const FUTURE_SLACK_MS: i64 = 60_000;

/// What one source gave: series taken and dropped, by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub n_taken: u32,
    dropped: [u32; 6],
}

impl Tally {
    pub fn n_dropped(&self) -> u32 {
        self.dropped.iter().sum()
    }

    pub fn dropped(&self, reason: DropReason) -> u32 {
        self.dropped[reason as usize]
    }

    /// One line per reason that dropped something, e.g. "90000 series left out: over the cap
    /// of 10000 series per source".
    pub fn describe(&self, caps: &Caps) -> Vec<String> {
        DropReason::ALL
            .iter()
            .filter(|reason| self.dropped(**reason) > 0)
            .map(|reason| {
                format!(
                    "{} series left out: {}",
                    self.dropped(*reason),
                    reason.describe(caps)
                )
            })
            .collect()
    }
}

impl Caps {
    /// Takes or drops one sample (counted either way); `now_ms` is the collection time.
    pub fn admit(&self, sample: &Sample<'_>, now_ms: i64, tally: &mut Tally) -> bool {
        let verdict = if sample.line_bytes > self.max_sample_bytes {
            Err(DropReason::SampleTooLong)
        } else if sample.labels.len() > self.max_labels {
            Err(DropReason::TooManyLabels)
        } else if sample.metric.len() > self.max_label_bytes
            || sample.labels.iter().any(|(name, value)| {
                name.len() > self.max_label_bytes || value.len() > self.max_label_bytes
            })
        {
            Err(DropReason::LabelTooLong)
        } else if !sample.value.is_finite() {
            Err(DropReason::NotFinite)
        } else if sample
            .timestamp_ms
            .is_some_and(|at| at > now_ms.saturating_add(FUTURE_SLACK_MS))
        {
            Err(DropReason::InTheFuture)
        } else if tally.n_taken >= self.max_series {
            Err(DropReason::TooManySeries)
        } else {
            Ok(())
        };
        match verdict {
            Ok(()) => {
                tally.n_taken += 1;
                true
            }
            Err(reason) => {
                tally.dropped[reason as usize] += 1;
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn sample(labels: usize, label_len: usize, value: f64, ts: Option<i64>) -> Sample<'static> {
        Sample {
            line: 1,
            line_bytes: 40 + labels * label_len,
            metric: Cow::Borrowed("m"),
            labels: (0..labels)
                .map(|n| {
                    (
                        Cow::Owned(format!("l{n}")),
                        Cow::Owned("v".repeat(label_len)),
                    )
                })
                .collect(),
            value,
            timestamp_ms: ts,
        }
    }

    #[test]
    fn each_cap_drops_and_counts_its_reason() {
        let caps = Caps {
            max_series: 2,
            max_labels: 3,
            max_label_bytes: 10,
            max_sample_bytes: 100,
            ..Caps::default()
        };
        let mut tally = Tally::default();
        let now = 1_000_000;
        assert!(caps.admit(&sample(3, 10, 1.0, Some(now + 60_000)), now, &mut tally));
        assert!(!caps.admit(&sample(4, 1, 1.0, None), now, &mut tally));
        assert!(!caps.admit(&sample(1, 11, 1.0, None), now, &mut tally));
        assert!(!caps.admit(&sample(2, 40, 1.0, None), now, &mut tally));
        assert!(!caps.admit(&sample(1, 1, f64::NAN, None), now, &mut tally));
        assert!(!caps.admit(&sample(1, 1, f64::INFINITY, None), now, &mut tally));
        assert!(!caps.admit(&sample(1, 1, 1.0, Some(now + 60_001)), now, &mut tally));
        assert!(caps.admit(&sample(0, 0, -1.0, None), now, &mut tally));
        assert!(!caps.admit(&sample(0, 0, 1.0, None), now, &mut tally));
        assert_eq!(tally.n_taken, 2);
        assert_eq!(tally.n_dropped(), 7);
        expect_test::expect![[r#"
            [
                "1 series left out: over the cap of 2 series per source",
                "1 series left out: more than 3 labels",
                "1 series left out: a label name or value over 10 bytes",
                "1 series left out: a line over 100 bytes",
                "2 series left out: NaN or infinite (only finite values are stored)",
                "1 series left out: a timestamp more than a minute ahead",
            ]
        "#]]
        .assert_debug_eq(&tally.describe(&caps));
    }
}
