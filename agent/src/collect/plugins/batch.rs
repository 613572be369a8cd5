//! Building a [`SeriesBatch`] (pure): each metric name, label name and label value is stored
//! once and samples point at them, so an exporter's thousands of lines that repeat `cpu`,
//! `mode` and `idle` cost a few bytes each in memory, in the spool and on the wire.
//!
//! Every sample gets the `source` label of where it came from. A sample that already has a
//! `source` label keeps it as `exported_source` (Prometheus' rule for clashing labels).

use std::collections::HashMap;
use unity_shared::model::plugin::{BatchSample, SeriesBatch, SOURCE_LABEL};

/// The name a sample's own `source` label is kept under.
pub const EXPORTED_SOURCE: &str = "exported_source";

/// Collects the samples of one report.
#[derive(Debug, Default)]
pub struct BatchBuilder {
    index: HashMap<Box<str>, u32>,
    samples: Vec<BatchSample>,
}

impl BatchBuilder {
    fn intern(&mut self, text: &str) -> u32 {
        if let Some(&at) = self.index.get(text) {
            return at;
        }
        let at = u32::try_from(self.index.len()).unwrap_or(u32::MAX);
        self.index.insert(text.into(), at);
        at
    }

    /// Adds one sample of `source`.
    pub fn push<N: AsRef<str>, V: AsRef<str>>(
        &mut self,
        source: &str,
        metric: &str,
        labels: &[(N, V)],
        timestamp_ms: i64,
        value: f64,
    ) {
        let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(labels.len() + 1);
        pairs.push((SOURCE_LABEL, source));
        for (name, value) in labels {
            let name = match name.as_ref() {
                SOURCE_LABEL => EXPORTED_SOURCE,
                name => name,
            };
            pairs.push((name, value.as_ref()));
        }
        pairs.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let metric = self.intern(metric);
        let labels = pairs
            .into_iter()
            .map(|(name, value)| (self.intern(name), self.intern(value)))
            .collect();
        self.samples.push(BatchSample {
            metric,
            labels,
            timestamp_ms,
            value,
        });
    }

    /// Samples so far.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// The batch: strings in the order they were first seen.
    pub fn finish(self) -> SeriesBatch {
        let mut strings = vec![String::new(); self.index.len()];
        for (text, at) in self.index {
            if let Some(slot) = usize::try_from(at).ok().and_then(|at| strings.get_mut(at)) {
                *slot = text.into_string();
            }
        }
        SeriesBatch {
            strings,
            samples: self.samples,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_stored_once_and_labels_sorted_with_the_source() {
        let mut builder = BatchBuilder::default();
        builder.push(
            "exporter/node",
            "node_cpu_seconds_total",
            &[("mode", "idle"), ("cpu", "0")],
            5,
            1.5,
        );
        builder.push(
            "exporter/node",
            "node_cpu_seconds_total",
            &[("mode", "idle"), ("cpu", "1")],
            5,
            2.5,
        );
        builder.push("textfile/a.prom", "up", &[("source", "theirs")], 6, 1.0);
        let batch = builder.finish();
        assert_eq!(batch.strings.len(), 12, "{:?}", batch.strings);
        let resolved: Vec<_> = batch
            .samples
            .iter()
            .map(|sample| batch.resolve(sample).unwrap())
            .collect();
        assert_eq!(
            resolved[1],
            (
                "node_cpu_seconds_total",
                vec![("cpu", "1"), ("mode", "idle"), ("source", "exporter/node")]
            )
        );
        assert_eq!(
            resolved[2],
            (
                "up",
                vec![("exported_source", "theirs"), ("source", "textfile/a.prom")]
            )
        );
    }
}
