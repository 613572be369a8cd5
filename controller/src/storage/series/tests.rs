//! Store tests: a model test against a `BTreeMap`, a crash test in a child process, and
//! duplicate and ordering rules.

use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;

use super::{
    IngestOutcome, IngestReport, Sample, SeriesKey, SeriesOptions, SeriesStore, TimeRange,
};

pub(super) const ALL_TIME: TimeRange = TimeRange {
    from_ms: i64::MIN,
    to_ms: i64::MAX,
};

/// Small chunks, so that sealing, span cuts and multi-chunk queries happen constantly.
pub(super) const SMALL: SeriesOptions = SeriesOptions {
    wal_dir: None,
    chunk_dir: None,
    max_wal_bytes: 1 << 20,
    max_chunk_samples: 4,
    max_chunk_span_ms: 50,
};

/// Opens the store kept under `root`: sled in `root/db`, the log in `root/wal`, chunk files
/// in `root/chunks`.
pub(super) fn open(root: &Path, options: SeriesOptions) -> (sled::Db, SeriesStore) {
    let db = open_db(root);
    let options = SeriesOptions {
        wal_dir: Some(root.join("wal")),
        chunk_dir: Some(root.join("chunks")),
        ..options
    };
    let store = SeriesStore::open(&db, options).unwrap();
    (db, store)
}

pub(super) fn open_db(root: &Path) -> sled::Db {
    let path = root.join("db");
    let config = sled::Config::new().path(&path).flush_every_ms(None);
    match crate::storage::open_sled(&config) {
        Ok(db) => db,
        Err(error) => panic!("opening {}: {error}", path.display()),
    }
}

fn series_key(index: usize) -> SeriesKey {
    let label = |name: &str, value: &str| (name.to_owned(), value.to_owned());
    match index % 4 {
        0 => SeriesKey::new("cpu", vec![]),
        1 => SeriesKey::new("cpu", vec![label("mode", "idle"), label("cpu", "0")]),
        2 => SeriesKey::new("cpu", vec![label("mode", "user"), label("cpu", "0")]),
        _ => SeriesKey::new("mem", vec![label("kind", "free")]),
    }
}

fn agent_name(index: usize) -> String {
    format!("agent-{index}")
}

type Points = BTreeMap<i64, u64>;

#[derive(Default)]
struct ModelSeries {
    last_ts: Option<i64>,
    points: Points,
}

#[derive(Default)]
struct ModelAgent {
    last_seq: Option<u64>,
    series: BTreeMap<SeriesKey, ModelSeries>,
}

#[derive(Default)]
struct Model {
    agents: BTreeMap<String, ModelAgent>,
}

impl Model {
    fn ingest(&mut self, report: &IngestReport) -> IngestOutcome {
        let agent = self.agents.entry(report.agent.clone()).or_default();
        if agent.last_seq.is_some_and(|last| report.seq <= last) {
            return IngestOutcome::Duplicate;
        }
        agent.last_seq = Some(report.seq);
        for sample in &report.samples {
            let series = agent.series.entry(sample.series.clone()).or_default();
            if series
                .last_ts
                .is_some_and(|last| sample.timestamp_ms <= last)
            {
                continue;
            }
            series.last_ts = Some(sample.timestamp_ms);
            series
                .points
                .insert(sample.timestamp_ms, sample.value.to_bits());
        }
        IngestOutcome::Stored
    }

    /// A series' newest timestamp survives a reopen (the log's snapshot keeps it), even
    /// when retention deleted its points.
    fn reopen(&mut self) {}

    fn n_samples(&self) -> u64 {
        let per_agent =
            |agent: &ModelAgent| -> usize { agent.series.values().map(|s| s.points.len()).sum() };
        self.agents.values().map(per_agent).sum::<usize>() as u64
    }
}

fn as_points(points: &[(i64, f64)]) -> Points {
    let map: Points = points.iter().map(|&(t, v)| (t, v.to_bits())).collect();
    assert_eq!(
        map.len(),
        points.len(),
        "duplicate timestamps in {points:?}"
    );
    assert!(
        points.windows(2).all(|w| w[0].0 < w[1].0),
        "not time-ordered"
    );
    map
}

fn in_range(points: &Points, range: TimeRange) -> Points {
    points
        .range(range.from_ms..range.to_ms)
        .map(|(&t, &v)| (t, v))
        .collect()
}

/// Checks everything the store answers against the model.
fn check(store: &SeriesStore, model: &Model, range: TimeRange) {
    for (agent_name, agent) in &model.agents {
        assert_eq!(store.last_seq(agent_name).unwrap(), agent.last_seq);
        let keys: Vec<SeriesKey> = agent.series.keys().cloned().collect();
        assert_eq!(store.series(agent_name).unwrap(), keys);
        for metric in ["cpu", "mem"] {
            for matchers in [vec![], vec![("cpu".to_owned(), "0".to_owned())]] {
                for range in [ALL_TIME, range] {
                    let got = store.query(agent_name, metric, &matchers, range).unwrap();
                    let got: Vec<(SeriesKey, Points)> = got
                        .iter()
                        .map(|s| (s.series.clone(), as_points(&s.points)))
                        .collect();
                    let expected: Vec<(SeriesKey, Points)> = agent
                        .series
                        .iter()
                        .filter(|(k, _)| k.metric == metric && k.matches(&matchers))
                        .map(|(k, s)| (k.clone(), in_range(&s.points, range)))
                        .filter(|(_, points)| !points.is_empty())
                        .collect();
                    assert_eq!(
                        got, expected,
                        "{agent_name} {metric} {matchers:?} {range:?}"
                    );
                }
            }
        }
        let latest: Vec<(SeriesKey, (i64, u64))> = store
            .latest(agent_name)
            .unwrap()
            .into_iter()
            .map(|(k, (t, v))| (k, (t, v.to_bits())))
            .collect();
        let expected: Vec<(SeriesKey, (i64, u64))> = agent
            .series
            .iter()
            .filter_map(|(k, s)| {
                s.points
                    .iter()
                    .next_back()
                    .map(|(&t, &v)| (k.clone(), (t, v)))
            })
            .collect();
        assert_eq!(latest, expected);
    }
    assert_eq!(store.stats().n_samples, model.n_samples());
}

/// A report as (agent, seq, samples as (series, timestamp, value)).
type RawReport = (usize, u64, Vec<(usize, i64, f64)>);

#[derive(Debug, Clone)]
enum Op {
    Ingest(Vec<RawReport>),
    Checkpoint,
    /// Drop the store and the database without a checkpoint, then open again.
    Reopen,
    Retention(i64),
}

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => (0i64..2000).prop_map(|i| i as f64 / 10.0),
        1 => any::<f64>(),
        1 => Just(f64::NAN),
        1 => Just(-0.0),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let sample = (0usize..4, 0i64..400, value());
    let report = (0usize..3, 0u64..12, prop::collection::vec(sample, 0..12));
    prop_oneof![
        8 => prop::collection::vec(report, 1..4).prop_map(Op::Ingest),
        1 => Just(Op::Checkpoint),
        1 => Just(Op::Reopen),
        1 => (0i64..400).prop_map(Op::Retention),
    ]
}

fn run_model(ops: Vec<Op>, options: SeriesOptions) {
    let dir = tempfile::tempdir().unwrap();
    let (mut db, mut store) = open(dir.path(), options.clone());
    let mut model = Model::default();
    for (step, op) in ops.into_iter().enumerate() {
        match op {
            Op::Ingest(reports) => {
                let reports: Vec<IngestReport> = reports
                    .into_iter()
                    .map(|(agent, seq, samples)| IngestReport {
                        agent: agent_name(agent),
                        seq,
                        samples: samples
                            .into_iter()
                            .map(|(series, timestamp_ms, value)| Sample {
                                series: series_key(series),
                                timestamp_ms,
                                value,
                            })
                            .collect(),
                    })
                    .collect();
                let expected: Vec<IngestOutcome> =
                    reports.iter().map(|r| model.ingest(r)).collect();
                assert_eq!(store.ingest(&reports).unwrap(), expected);
            }
            Op::Checkpoint => store.checkpoint().unwrap(),
            Op::Reopen => {
                drop(store);
                drop(db);
                (db, store) = open(dir.path(), options.clone());
                model.reopen();
            }
            Op::Retention(cutoff) => {
                let before = store.stats().n_samples;
                let report = store.apply_retention(cutoff).unwrap();
                assert_eq!(store.stats().n_samples, before - report.samples_deleted);
                // Whole chunks go: everything at or after the cutoff stays, and what stays
                // before it is a subset of the model, which then adopts it.
                for (agent_name, agent) in &mut model.agents {
                    for (key, series) in &mut agent.series {
                        let matchers = key.labels.clone();
                        let got = store
                            .query(agent_name, &key.metric, &matchers, ALL_TIME)
                            .unwrap();
                        let kept = got
                            .iter()
                            .find(|s| &s.series == key)
                            .map(|s| as_points(&s.points))
                            .unwrap_or_default();
                        let newer = TimeRange {
                            from_ms: cutoff,
                            to_ms: i64::MAX,
                        };
                        assert_eq!(in_range(&kept, newer), in_range(&series.points, newer));
                        assert!(kept.iter().all(|(t, v)| series.points.get(t) == Some(v)));
                        series.points = kept;
                    }
                }
            }
        }
        let range = TimeRange {
            from_ms: (step as i64 * 37) % 300,
            to_ms: (step as i64 * 37) % 300 + 120,
        };
        check(&store, &model, range);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn model_small_chunks(ops in prop::collection::vec(op(), 1..40)) {
        run_model(ops, SMALL);
    }

    #[test]
    fn model_default_chunks(ops in prop::collection::vec(op(), 1..25)) {
        run_model(ops, SeriesOptions::default());
    }
}

pub(super) fn report(agent: &str, seq: u64, ts: i64, values: &[f64]) -> IngestReport {
    IngestReport {
        agent: agent.to_owned(),
        seq,
        samples: values
            .iter()
            .enumerate()
            .map(|(i, &value)| Sample {
                series: series_key(i),
                timestamp_ms: ts,
                value,
            })
            .collect(),
    }
}

#[test]
fn duplicates_are_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, store) = open(dir.path(), SMALL);
    let first = report("a", 1, 10, &[1.0, 2.0]);
    let again = report("a", 1, 20, &[3.0, 4.0]);
    let older = report("a", 0, 30, &[5.0, 6.0]);
    let outcomes = store
        .ingest(&[first.clone(), again, first.clone(), older])
        .unwrap();
    use IngestOutcome::{Duplicate, Stored};
    assert_eq!(outcomes, [Stored, Duplicate, Duplicate, Duplicate]);
    assert_eq!(store.ingest(&[first]).unwrap(), [Duplicate]);
    assert_eq!(store.last_seq("a").unwrap(), Some(1));
    assert_eq!(store.stats().n_samples, 2);
    assert_eq!(store.stats().reports_duplicate, 4);
}

#[test]
fn old_and_repeated_timestamps_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, store) = open(dir.path(), SMALL);
    let reports = [
        report("a", 1, 100, &[1.0]),
        report("a", 2, 100, &[2.0]),
        report("a", 3, 99, &[3.0]),
        report("a", 4, 101, &[4.0]),
    ];
    assert!(store
        .ingest(&reports)
        .unwrap()
        .iter()
        .all(|o| *o == IngestOutcome::Stored));
    let got = store.query("a", "cpu", &[], ALL_TIME).unwrap();
    assert_eq!(got[0].points, [(100, 1.0), (101, 4.0)]);
    assert_eq!(store.stats().samples_ignored, 2);
}

#[test]
fn unsorted_labels_name_the_same_series() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, store) = open(dir.path(), SMALL);
    let sorted = series_key(1);
    let mut unsorted = sorted.clone();
    unsorted.labels.reverse();
    let sample = |series: &SeriesKey, ts| Sample {
        series: series.clone(),
        timestamp_ms: ts,
        value: 1.0,
    };
    let reports = [IngestReport {
        agent: "a".to_owned(),
        seq: 1,
        samples: vec![
            sample(&unsorted, 1),
            sample(&sorted, 2),
            sample(&unsorted, 3),
        ],
    }];
    store.ingest(&reports).unwrap();
    assert_eq!(store.series("a").unwrap(), std::slice::from_ref(&sorted));
    assert_eq!(
        store.query("a", "cpu", &[], ALL_TIME).unwrap()[0]
            .points
            .len(),
        3
    );
}

/// The environment variable that turns `crash_child` into the crashing writer.
const CRASH_DIR: &str = "UNITY_SERIES_CRASH_DIR";

/// Run by `crash_loses_nothing_acknowledged` in a child process: ingests until killed by
/// `abort`, printing each acknowledged sequence number.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CRASH_DIR) else {
        return;
    };
    let (_db, store) = open(Path::new(&dir), SMALL);
    for seq in 1..=200u64 {
        let reports = [report("a", seq, seq as i64 * 10, &[seq as f64, 0.5, -1.0])];
        store.ingest(&reports).unwrap();
        println!("acked {seq}");
        if seq == 60 {
            store.checkpoint().unwrap();
        }
        if seq == 137 {
            std::process::abort();
        }
    }
}

#[test]
fn crash_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let (_crate, module) = module_path!().split_once("::").unwrap();
    let child = format!("{module}::crash_child");
    // The test re-runs its own binary to crash it; no agent::exec in the controller.
    #[allow(clippy::disallowed_methods)]
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", &child, "--nocapture", "--test-threads=1"])
        .env(CRASH_DIR, dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success(), "the child should have aborted");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let acked: Vec<u64> = stdout
        .lines()
        .filter_map(|line| line.split("acked ").nth(1))
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(acked.len(), 137, "{stdout}");
    let (_db, store) = open(dir.path(), SMALL);
    assert_eq!(store.last_seq("a").unwrap(), Some(137));
    let got = store.query("a", "cpu", &[], ALL_TIME).unwrap();
    let expected: Vec<(i64, f64)> = (1..=137).map(|seq| (seq as i64 * 10, seq as f64)).collect();
    assert_eq!(got[0].points, expected);
    assert_eq!(store.stats().n_samples, 137 * 3);
    // A replayed report after the crash is a duplicate and changes nothing.
    assert_eq!(
        store.ingest(&[report("a", 137, 1370, &[9.0])]).unwrap(),
        [IngestOutcome::Duplicate]
    );
}

#[test]
fn corrupt_chunks_are_skipped_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let (db, store) = open(dir.path(), SMALL);
    for seq in 1..=20u64 {
        store
            .ingest(&[report("a", seq, seq as i64 * 10, &[seq as f64])])
            .unwrap();
    }
    store.checkpoint().unwrap();
    // Full heads are sealed at once, and heads at bucket boundaries: only 200 is open.
    assert_eq!(store.stats().head_samples, 1);
    drop(store);
    drop(db);
    // Damage the first chunk's bytes (right after the 20-byte header) of the oldest file.
    let mut files: Vec<_> = std::fs::read_dir(dir.path().join("chunks"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file()) // not the rollup tiers' directories
        .collect();
    files.sort_by_key(|path| std::fs::metadata(path).unwrap().modified().unwrap());
    let mut bytes = std::fs::read(&files[0]).unwrap();
    bytes[21] ^= 0xFF;
    std::fs::write(&files[0], &bytes).unwrap();
    let (_db, store) = open(dir.path(), SMALL);
    let got = store.query("a", "cpu", &[], ALL_TIME).unwrap();
    assert_eq!(got[0].points.len(), 16);
    assert!(got[0].points.windows(2).all(|w| w[0].0 < w[1].0));
    assert_eq!(store.latest("a").unwrap()[0].1, (200, 20.0));
}
