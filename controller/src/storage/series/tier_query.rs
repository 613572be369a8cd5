//! Queries of a rollup tier: aggregates from the tier's files for the raw buckets rolled up
//! with their current sample count, and for the rest (the newest buckets, buckets with late
//! samples, a store whose rollups are off) aggregates computed on the fly from the raw
//! samples by the same function. So an answer is seamless across the edge of what was
//! rolled up, and raw samples are used wherever they are newer than the rollup.

use std::collections::BTreeSet;

use super::rollup::{self, bucket_start, Aggregate, Tier};
use super::store::SeriesStore;
use super::{SeriesError, SeriesKey, TimeRange};

/// One series' aggregates.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesAggregates {
    pub series: SeriesKey,
    pub aggregates: Vec<Aggregate>,
}

impl SeriesStore {
    /// The series of `agent` named `metric` whose labels include every matcher, with their
    /// aggregates of `tier` whose bucket starts in `range` (the range's start rounded down
    /// to the tier's step), time-ordered; for [`Tier::Raw`], every sample is its own bucket.
    pub fn query_tier(
        &self,
        agent: &str,
        metric: &str,
        matchers: &[(String, String)],
        range: TimeRange,
        tier: Tier,
    ) -> Result<Vec<SeriesAggregates>, SeriesError> {
        if tier == Tier::Raw {
            return Ok(self
                .query(agent, metric, matchers, range)?
                .into_iter()
                .map(|series| SeriesAggregates {
                    series: series.series,
                    aggregates: series
                        .points
                        .iter()
                        .filter(|point| !point.1.is_nan())
                        .map(|&(ts, value)| Aggregate::of(ts, value))
                        .collect(),
                })
                .collect());
        }
        let step = tier.step_ms();
        let range = TimeRange {
            from_ms: bucket_start(range.from_ms, step),
            to_ms: range.to_ms,
        };
        if range.from_ms >= range.to_ms {
            return Ok(Vec::new());
        }
        let rule = self.rule;
        let span = rule.span_ms;
        let (first_raw, last_raw) = (
            rule.bucket(range.from_ms),
            rule.bucket(range.to_ms.saturating_sub(1)),
        );
        let (targets, raw_files, tier_files, enabled) = {
            let state = self.read_state();
            let Some(agent_entry) = state.agents.get(agent) else {
                return Ok(Vec::new());
            };
            let mut targets = Vec::new();
            for (key, &series_id) in &agent_entry.series {
                if key.metric != metric || !key.matches(matchers) {
                    continue;
                }
                // Buckets with samples not yet in chunk files are read raw.
                let mut unfiled: BTreeSet<i64> = BTreeSet::new();
                if let Some(entry) = state.series.get(series_id as usize) {
                    unfiled.extend(entry.pending.iter().map(|chunk| chunk.bucket));
                    unfiled.extend(entry.head.first().map(|point| rule.bucket(point.0)));
                }
                targets.push((key.clone(), series_id, unfiled));
            }
            let tier_files = state.rollups.tier(tier).cloned().unwrap_or_default();
            (
                targets,
                state.files.clone(),
                tier_files,
                state.rollups.enabled,
            )
        };
        // The raw buckets served from the tier's files: rolled up with every sample their
        // chunk files hold now (or whose chunks retention deleted or filtered).
        let served = |bucket: i64| -> bool {
            enabled
                && tier_files.covered.get(&bucket).is_some_and(|&covered| {
                    raw_files.get(&bucket).is_none_or(|files| {
                        let n_samples = files.iter().map(|file| file.n_samples).sum::<u64>();
                        !super::rollup_store::is_stale(Some(covered), n_samples)
                    })
                })
        };
        let period_len = super::rollup_store::period_ms(tier);
        let periods = tier_files
            .files
            .range(range.from_ms.div_euclid(period_len)..=(range.to_ms - 1).div_euclid(period_len));
        let periods: Vec<_> = periods.map(|(&p, file)| (p, file.clone())).collect();
        let mut result = Vec::with_capacity(targets.len());
        for (series, series_id, unfiled) in targets {
            let use_file = |start: i64| {
                let bucket = start.div_euclid(span);
                range.contains(start) && served(bucket) && !unfiled.contains(&bucket)
            };
            let mut parts = Vec::new();
            for (period, file) in &periods {
                let blocks = file.chunks_of(series_id).unwrap_or_else(|error| {
                    tracing::warn!(%error, series_id, "Rollup file unreadable, its blocks skipped.");
                    Vec::new()
                });
                for block in blocks {
                    match rollup::decode_block(&block, period * period_len) {
                        Ok(mut aggregates) => {
                            aggregates.retain(|a| use_file(a.start_ms));
                            parts.push(aggregates);
                        }
                        Err(error) => {
                            tracing::warn!(series_id, period, %error, "Corrupt rollup block, skipped.")
                        }
                    }
                }
            }
            // Runs of raw buckets not served from the file, read raw and rolled up here.
            let mut bucket = first_raw;
            while bucket <= last_raw {
                if served(bucket) && !unfiled.contains(&bucket) {
                    bucket += 1;
                    continue;
                }
                let run_start = bucket;
                while bucket <= last_raw && (!served(bucket) || unfiled.contains(&bucket)) {
                    bucket += 1;
                }
                let run = TimeRange {
                    from_ms: (run_start * span).max(range.from_ms),
                    to_ms: (bucket * span).min(range.to_ms),
                };
                let points = self.series_points(series_id, run)?;
                parts.push(roll_up_points(&points, tier));
            }
            let aggregates = rollup::merge(parts);
            if !aggregates.is_empty() {
                result.push(SeriesAggregates { series, aggregates });
            }
        }
        result.sort_by(|a, b| a.series.cmp(&b.series));
        Ok(result)
    }
}

/// Raw points rolled up for `tier` as the rollup files are built (1 hour from 5 minutes), so
/// an answer's buckets are the same bits whichever way they were computed.
fn roll_up_points(points: &[super::Point], tier: Tier) -> Vec<Aggregate> {
    let five = rollup::rollup(points, Tier::FiveMinutes.step_ms());
    match tier {
        Tier::OneHour => rollup::coarsen(&five, tier.step_ms()),
        _ => five,
    }
}
