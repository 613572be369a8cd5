//! One pass over the store from an endpoint's positions: the series that hold unsent
//! samples (as of the pass's start), cut into batches of at most `batch_max_samples`, each
//! series' samples in timestamp order and a long series spread over consecutive batches.
//! Reads go through [`crate::storage::series`]'s reader calls (blocking; run them through
//! `spawn_blocking`), which take the state lock briefly and never the ingest writer's.

use super::encode::{self, Label, SeriesIdentity};
use crate::storage::remote_write::Positions;
use crate::storage::series::{ExportSeries, SeriesError, TimeRange};
use crate::storage::Store;
use std::collections::{BTreeMap, HashMap, VecDeque};

/// One request's worth of samples (none when it only moves positions past deleted data).
#[derive(Debug, Default)]
pub struct Batch {
    pub request: encode::WriteRequest,
    /// The newest timestamp of each series in the batch: the positions once it is delivered.
    pub advances: Vec<(u64, i64)>,
    pub n_samples: u64,
}

/// Where a pass stands.
pub struct PassReader {
    /// The series still to read, each with the timestamp after which it is unsent.
    todo: VecDeque<(ExportSeries, Option<i64>)>,
    /// The rest of a series that did not fit the previous batch.
    carry: Option<(u64, Vec<Label>, VecDeque<(i64, f64)>)>,
    hostnames: HashMap<String, String>,
    labels: BTreeMap<String, String>,
}

impl PassReader {
    /// Starts a pass: every series with samples after its position. Note that this uses
    /// blocking I/O.
    pub fn start(
        store: &Store,
        positions: &Positions,
        labels: BTreeMap<String, String>,
    ) -> Result<PassReader, crate::storage::StorageError> {
        let behind = store
            .series
            .series_newer_than(|series_id| positions.get(&series_id).copied())?;
        let hostnames = store
            .agents
            .agents()?
            .into_iter()
            .map(|agent| (agent.agent_id.to_string(), agent.hostname))
            .collect();
        let todo = behind
            .into_iter()
            .map(|series| {
                let sent = positions.get(&series.series_id).copied();
                (series, sent)
            })
            .collect();
        Ok(PassReader {
            todo,
            carry: None,
            hostnames,
            labels,
        })
    }

    /// The series this pass still has to read, the carried one included.
    pub fn n_series_left(&self) -> usize {
        self.todo.len() + usize::from(self.carry.is_some())
    }

    /// The next batch of at most `max_samples` samples; `None` when the pass is done. Note
    /// that this uses blocking I/O.
    pub fn next_batch(
        &mut self,
        store: &Store,
        max_samples: usize,
    ) -> Result<Option<Batch>, SeriesError> {
        let mut batch = Batch::default();
        let max_samples = max_samples.max(1);
        while (batch.n_samples as usize) < max_samples {
            let mut newest_of_empty = None;
            let (series_id, labels, mut points) = match self.carry.take() {
                Some(carried) => carried,
                None => {
                    let Some((series, sent)) = self.todo.pop_front() else {
                        break;
                    };
                    let range = TimeRange {
                        from_ms: sent.map_or(i64::MIN, |sent| sent.saturating_add(1)),
                        // Up to the newest sample as of the pass's start: later ones wait
                        // for the next pass, so a position never skips one.
                        to_ms: series.last_ts.saturating_add(1),
                    };
                    let points = store.series.series_points(series.series_id, range)?;
                    let labels = self.labels_of(&series);
                    newest_of_empty = Some(series.last_ts);
                    (series.series_id, labels, VecDeque::from(points))
                }
            };
            let room = max_samples - batch.n_samples as usize;
            let taken: Vec<(i64, f64)> = points.drain(..room.min(points.len())).collect();
            if let Some(&(newest, _)) = taken.last() {
                batch.advances.push((series_id, newest));
                batch.n_samples += taken.len() as u64;
                let series = encode::time_series(labels.clone(), &taken);
                batch.request.timeseries.push(series);
            } else if let Some(newest) = newest_of_empty.take() {
                // Nothing left to read (retention deleted it): move the position past it.
                batch.advances.push((series_id, newest));
            }
            if !points.is_empty() {
                self.carry = Some((series_id, labels, points));
            }
        }
        Ok((!batch.advances.is_empty()).then_some(batch))
    }

    fn labels_of(&self, series: &ExportSeries) -> Vec<Label> {
        let host = self
            .hostnames
            .get(&series.agent)
            .map_or(series.agent.as_str(), String::as_str);
        encode::series_labels(
            SeriesIdentity {
                metric: &series.key.metric,
                labels: &series.key.labels,
                agent_id: &series.agent,
                host,
                plugin: crate::domain::hosts::is_plugin_series(
                    series
                        .key
                        .labels
                        .iter()
                        .map(|(n, v)| (n.as_str(), v.as_str())),
                ),
            },
            &self.labels,
        )
    }
}
