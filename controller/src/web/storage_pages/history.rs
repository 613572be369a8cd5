//! Scrub and resync history read from the stored series: each distinct "last scrub" time is
//! one finished scrub; each unbroken stretch of progress samples is one scrub, resilver or
//! resync run. Pure: points in, runs out.

/// Samples further apart than this belong to different runs.
pub const RUN_GAP_MS: i64 = 30 * 60 * 1000;

/// One stretch of progress samples: when it was first and last seen, and how far it got.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Run {
    pub first_ms: i64,
    pub last_ms: i64,
    /// The highest progress seen, 0 to 1.
    pub peak: f64,
}

/// The finished scrubs in `points` of `zfs_last_scrub_timestamp_seconds`: each distinct value
/// (Unix seconds) once, newest first.
pub fn finished_scrubs(points: &[(i64, f64)]) -> Vec<i64> {
    let mut times: Vec<i64> = points
        .iter()
        .filter(|(_, value)| value.is_finite() && *value > 0.0)
        .map(|(_, value)| *value as i64)
        .collect();
    times.sort_unstable_by(|a, b| b.cmp(a));
    times.dedup();
    times
}

/// The runs in `points` of a progress ratio, newest first. A run ends where the samples stop
/// for longer than `gap_ms` or the progress falls back (a new run started).
pub fn runs(points: &[(i64, f64)], gap_ms: i64) -> Vec<Run> {
    let mut sorted: Vec<(i64, f64)> = points
        .iter()
        .copied()
        .filter(|(_, value)| value.is_finite())
        .collect();
    sorted.sort_by_key(|(time, _)| *time);
    let mut runs: Vec<Run> = Vec::new();
    let mut last_value = f64::NEG_INFINITY;
    for (time, value) in sorted {
        let value = value.clamp(0.0, 1.0);
        match runs.last_mut() {
            Some(run) if time - run.last_ms <= gap_ms && value + 0.001 >= last_value => {
                run.last_ms = time;
                run.peak = run.peak.max(value);
            }
            _ => runs.push(Run {
                first_ms: time,
                last_ms: time,
                peak: value,
            }),
        }
        last_value = value;
    }
    runs.reverse();
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_distinct_scrub_time_is_one_scrub_newest_first() {
        let points = [
            (1, 100.0),
            (2, 100.0),
            (3, 250.0),
            (4, f64::NAN),
            (5, 0.0),
            (6, 250.0),
        ];
        assert_eq!(finished_scrubs(&points), vec![250, 100]);
        assert!(finished_scrubs(&[]).is_empty());
    }

    #[test]
    fn progress_splits_into_runs_at_gaps_and_restarts() {
        let minute = 60_000;
        let points = [
            (0, 0.1),
            (minute, 0.5),
            (2 * minute, 0.9),
            // a restart without a gap
            (3 * minute, 0.05),
            (4 * minute, 0.2),
            // a gap
            (4 * minute + RUN_GAP_MS + 1, 0.3),
        ];
        let runs = runs(&points, RUN_GAP_MS);
        assert_eq!(runs.len(), 3, "{runs:?}");
        assert_eq!(
            runs[2],
            Run {
                first_ms: 0,
                last_ms: 2 * minute,
                peak: 0.9
            }
        );
        assert_eq!(runs[1].first_ms, 3 * minute);
        assert_eq!(runs[1].peak, 0.2);
        assert_eq!(runs[0].peak, 0.3);
    }
}
