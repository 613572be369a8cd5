//! One pass over the store from an endpoint's positions: the series that hold unsent
//! samples (as of the pass's start), cut into batches of at most `batch_max_samples`, each
//! series' samples in timestamp order and a long series spread over consecutive batches.
//! Or the replay of the batch that was in flight when the exporter stopped: the very same
//! ranges, so the receiver gets the same samples again and nothing else with them.
//! Reads go through [`crate::storage::series`]'s reader calls (blocking; run them through
//! `spawn_blocking`), which take the state lock briefly and never the ingest writer's.

use super::encode::{self, Label, SeriesIdentity};
use crate::storage::remote_write::{Positions, Range};
use crate::storage::series::{ExportSeries, SeriesError, TimeRange};
use crate::storage::{StorageError, Store};
use std::collections::{BTreeMap, HashMap, VecDeque};

/// One request's worth of samples (none when it only moves positions past deleted data).
#[derive(Debug, Default)]
pub struct Batch {
    pub request: encode::WriteRequest,
    /// Each series' part: after which timestamp and up to which it holds (the new position).
    pub ranges: Vec<Range>,
    pub n_samples: u64,
}

/// A series to read: after which timestamp (None: from its first) up to which.
struct Todo {
    series: ExportSeries,
    after: Option<i64>,
    upto: i64,
}

/// The rest of a series that did not fit the previous batch.
struct Carry {
    series_id: u64,
    labels: Vec<Label>,
    after: Option<i64>,
    points: VecDeque<(i64, f64)>,
}

/// Where a pass stands.
pub struct PassReader {
    todo: VecDeque<Todo>,
    carry: Option<Carry>,
    hostnames: HashMap<String, String>,
    labels: BTreeMap<String, String>,
}

fn hostnames(store: &Store) -> Result<HashMap<String, String>, StorageError> {
    Ok(store
        .agents
        .agents()?
        .into_iter()
        .map(|agent| (agent.agent_id.to_string(), agent.hostname))
        .collect())
}

impl PassReader {
    /// Starts a pass: every series with samples after its position, up to its newest
    /// sample now. Note that this uses blocking I/O.
    pub fn start(
        store: &Store,
        positions: &Positions,
        labels: BTreeMap<String, String>,
    ) -> Result<PassReader, StorageError> {
        let behind = store
            .series
            .series_newer_than(|series_id| positions.get(&series_id).copied())?;
        let todo = behind
            .into_iter()
            .map(|series| Todo {
                after: positions.get(&series.series_id).copied(),
                upto: series.last_ts,
                series,
            })
            .collect();
        Ok(PassReader {
            todo,
            carry: None,
            hostnames: hostnames(store)?,
            labels,
        })
    }

    /// The batch that was in flight, to be read as one batch (`usize::MAX` samples). Note
    /// that this uses blocking I/O.
    pub fn replay(
        store: &Store,
        ranges: &[Range],
        labels: BTreeMap<String, String>,
    ) -> Result<PassReader, StorageError> {
        let ids: Vec<u64> = ranges.iter().map(|range| range.0).collect();
        let mut series: HashMap<u64, ExportSeries> = store
            .series
            .series_by_id(&ids)?
            .into_iter()
            .map(|series| (series.series_id, series))
            .collect();
        let todo = ranges
            .iter()
            .filter_map(|&(series_id, after, upto)| {
                Some(Todo {
                    series: series.remove(&series_id)?,
                    after,
                    upto,
                })
            })
            .collect();
        Ok(PassReader {
            todo,
            carry: None,
            hostnames: hostnames(store)?,
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
            let carry = match self.carry.take() {
                Some(carry) => carry,
                None => {
                    let Some(todo) = self.todo.pop_front() else {
                        break;
                    };
                    let range = TimeRange {
                        from_ms: todo.after.map_or(i64::MIN, |after| after.saturating_add(1)),
                        // Up to the newest sample as of the pass's start: later ones wait
                        // for the next pass, so a position never skips one.
                        to_ms: todo.upto.saturating_add(1),
                    };
                    let points = store.series.series_points(todo.series.series_id, range)?;
                    if points.is_empty() {
                        // Nothing left to read (retention deleted it): move past it.
                        batch
                            .ranges
                            .push((todo.series.series_id, todo.after, todo.upto));
                        continue;
                    }
                    Carry {
                        series_id: todo.series.series_id,
                        labels: self.labels_of(&todo.series),
                        after: todo.after,
                        points: VecDeque::from(points),
                    }
                }
            };
            let Carry {
                series_id,
                labels,
                after,
                mut points,
            } = carry;
            let room = max_samples - batch.n_samples as usize;
            let taken: Vec<(i64, f64)> = points.drain(..room.min(points.len())).collect();
            let Some(&(newest, _)) = taken.last() else {
                continue;
            };
            batch.ranges.push((series_id, after, newest));
            batch.n_samples += taken.len() as u64;
            if !points.is_empty() {
                self.carry = Some(Carry {
                    series_id,
                    labels: labels.clone(),
                    after: Some(newest),
                    points,
                });
            }
            batch
                .request
                .timeseries
                .push(encode::time_series(labels, &taken));
        }
        Ok((!batch.ranges.is_empty()).then_some(batch))
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
                        .map(|(name, value)| (name.as_str(), value.as_str())),
                ),
            },
            &self.labels,
        )
    }
}
