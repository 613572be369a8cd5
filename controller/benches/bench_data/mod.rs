//! The benchmarks' data set: `../shared/bench/gen_hostmetrics.py` output (generated on
//! first use), read into series with their points.
#![allow(
    dead_code,
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used
)]

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::Command;

use unity_controller::storage::series::SeriesKey;

pub struct Series {
    pub agent: String,
    pub key: SeriesKey,
    pub points: Vec<(i64, f64)>,
}

/// The data set's directory: `$UNITY_BENCH_DATA`, else `target/bench-data/` (generated
/// there on first use); returns the samples file and the series index.
pub fn locate() -> (PathBuf, PathBuf) {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let data_dir = std::env::var_os("UNITY_BENCH_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target/bench-data"));
    let csv = data_dir.join("hostmetrics.csv.gz");
    let index = data_dir.join("hostmetrics-series.csv");
    if !csv.exists() || !index.exists() {
        generate(&workspace, &data_dir, &csv, &index);
    }
    (csv, index)
}

pub fn generate(workspace: &Path, data_dir: &Path, csv: &Path, index: &Path) {
    let generator = std::env::var_os("UNITY_BENCH_GENERATOR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("../shared/bench/gen_hostmetrics.py"));
    std::fs::create_dir_all(data_dir).unwrap();
    println!("generating the data set with {} ...", generator.display());
    #[allow(clippy::disallowed_methods)] // The benchmark runs the shared data generator.
    let status = Command::new("python3")
        .arg(&generator)
        .args([
            "--seed", "42", "--hosts", "10", "--hours", "24", "--om", "-",
        ])
        .arg("--csv")
        .arg(csv)
        .arg("--series")
        .arg(index)
        .status()
        .expect("running python3");
    assert!(status.success(), "{} failed", generator.display());
}

/// Reads `series_id,metric,"{name=""value"",...}"`; the agent is the `instance` label.
pub fn read_index(path: &Path) -> Vec<Series> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut series = Vec::new();
    for (line_number, line) in text.lines().enumerate().skip(1) {
        let (id, rest) = line.split_once(',').unwrap();
        let (metric, labels) = rest.split_once(',').unwrap();
        assert_eq!(
            id.parse::<usize>().unwrap(),
            line_number - 1,
            "dense series ids"
        );
        let labels = labels.trim_matches('"').replace("\"\"", "\"");
        let mut pairs = Vec::new();
        let mut rest = labels.trim_start_matches('{').trim_end_matches('}');
        while let Some((name, after)) = rest.split_once("=\"") {
            let end = after.find('"').unwrap();
            pairs.push((
                name.trim_start_matches(',').to_owned(),
                after[..end].to_owned(),
            ));
            rest = &after[end + 1..];
        }
        let agent = pairs
            .iter()
            .find(|(name, _)| name == "instance")
            .map(|(_, value)| value.clone())
            .unwrap();
        series.push(Series {
            agent,
            key: SeriesKey::new(metric, pairs),
            points: Vec::with_capacity(5760),
        });
    }
    series
}

pub fn read_samples(path: &Path, series: &mut [Series]) {
    let file = std::fs::File::open(path).unwrap();
    let reader = std::io::BufReader::with_capacity(1 << 20, flate2::read::GzDecoder::new(file));
    for line in reader.lines().skip(1) {
        let line = line.unwrap();
        let mut fields = line.splitn(3, ',');
        let id: usize = fields.next().unwrap().parse().unwrap();
        let ts: i64 = fields.next().unwrap().parse().unwrap();
        let value: f64 = fields.next().unwrap().parse().unwrap();
        series[id].points.push((ts, value));
    }
}
