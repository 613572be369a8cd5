//! Turning collector models into time series: the one place that sorts labels, drops
//! non-finite values and encodes verdicts as numbers. Pure.

use unity_shared::model::storage::VerdictStatus;
use unity_shared::proto;

/// A verdict as a series value: 0 passed, 1 warning, 2 failing.
pub fn verdict_value(status: VerdictStatus) -> f64 {
    match status {
        VerdictStatus::Passed => 0.0,
        VerdictStatus::Warning => 1.0,
        VerdictStatus::Failing => 2.0,
    }
}

/// Collects samples that share one timestamp.
pub struct Sink {
    pub timestamp_ms: i64,
    pub samples: Vec<proto::Sample>,
}

impl Sink {
    /// Adds a sample; NaN and infinities are left out (a missing value means no sample).
    pub fn push(&mut self, metric: &str, labels: &[(&str, &str)], value: f64) {
        if !value.is_finite() {
            return;
        }
        let mut labels: Vec<(String, String)> = labels
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        labels.sort();
        self.samples.push(proto::Sample {
            metric: metric.to_owned(),
            labels,
            timestamp_ms: self.timestamp_ms,
            value,
        });
    }
}
