//! `unity-agent collect plugins [--json]`: read the textfiles, scrape the exporters and run
//! the checks once, as the daemon does (same configuration, same check user, same caps), and
//! print what each gave: the way to try a new check script or cron job before waiting for the
//! dashboard. The exit code is the worst check's (0 ok, 1 warning, 2 critical, 3 unknown), and
//! at least 1 when a source failed or had errors.

use crate::collect::plugins::batch::BatchBuilder;
use crate::collect::plugins::{checks, run, PluginsConfig};
use serde_json::json;
use std::fmt::Write as _;
use unity_shared::model::plugin::{CheckResult, SeriesBatch, SourceStatus};

/// What one round of the plugins gave.
#[derive(Debug)]
pub struct Collected {
    pub sources: Vec<SourceStatus>,
    pub checks: Vec<CheckResult>,
    /// The textfiles' and exporters' series, then the checks'.
    pub series: Vec<SeriesBatch>,
}

/// Collects every plugin source once.
pub async fn collect(config: &PluginsConfig) -> anyhow::Result<Collected> {
    let collected = run::collect(config).await;
    let mut batch = BatchBuilder::default();
    let results = checks::run_all(config, &mut batch).await.map_err(|error| {
        anyhow::anyhow!(
            "running the checks in {}: {error}",
            config.checks_dir.display()
        )
    })?;
    Ok(Collected {
        sources: collected.sources,
        checks: results,
        series: vec![collected.batch, batch.finish()],
    })
}

/// 0 to 3 as the worst check says; at least 1 when a source failed or had errors.
pub fn exit_code(collected: &Collected) -> u8 {
    let worst_check = collected
        .checks
        .iter()
        .map(|result| result.status.value() as u8)
        .max()
        .unwrap_or(0);
    let source_trouble = collected
        .sources
        .iter()
        .any(|source| source.failure.is_some() || source.n_errors > 0);
    worst_check.max(u8::from(source_trouble))
}

/// One series resolved from its batch: metric, labels, value.
type Line = (String, Vec<(String, String)>, f64);

/// Every series of the batches, resolved.
fn series_lines(batches: &[SeriesBatch]) -> Vec<Line> {
    let mut lines = Vec::new();
    for batch in batches {
        for sample in &batch.samples {
            if let Ok((metric, labels)) = batch.resolve(sample) {
                lines.push((
                    metric.to_owned(),
                    labels
                        .into_iter()
                        .map(|(name, value)| (name.to_owned(), value.to_owned()))
                        .collect(),
                    sample.value,
                ));
            }
        }
    }
    lines
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The JSON form: sources and checks as the model has them, series resolved.
pub fn render_json(collected: &Collected) -> anyhow::Result<String> {
    let series: Vec<serde_json::Value> = series_lines(&collected.series)
        .into_iter()
        .map(|(metric, labels, value)| {
            let labels: serde_json::Map<String, serde_json::Value> = labels
                .into_iter()
                .map(|(name, value)| (name, serde_json::Value::String(value)))
                .collect();
            json!({ "metric": metric, "labels": labels, "value": value })
        })
        .collect();
    Ok(serde_json::to_string_pretty(&json!({
        "sources": collected.sources,
        "checks": collected.checks,
        "series": series,
    }))?)
}

/// The form for people: the checks, the sources with their problems, then the series.
pub fn render_text(collected: &Collected) -> String {
    let mut out = String::new();
    if collected.checks.is_empty() && collected.sources.is_empty() {
        out.push_str("No textfiles, exporters or checks found.\n");
    }
    for result in &collected.checks {
        let _ = writeln!(
            out,
            "check {:<24} {:<8} {} ({} ms)",
            result.name,
            result.status.as_str(),
            result.message,
            result.duration_ms
        );
        for problem in result.error.iter().chain(&result.errors) {
            let _ = writeln!(out, "    {problem}");
        }
    }
    for source in &collected.sources {
        let state = match &source.failure {
            Some(failure) => format!("FAILED: {failure}"),
            None => format!(
                "{} series, {} dropped, {} errors",
                source.n_series, source.n_dropped, source.n_errors
            ),
        };
        let _ = writeln!(out, "{:<30} {state}  ({})", source.source, source.location);
        for error in &source.errors {
            let _ = writeln!(out, "    {error}");
        }
    }
    let lines = series_lines(&collected.series);
    if !lines.is_empty() {
        out.push('\n');
    }
    for (metric, labels, value) in lines {
        let labels: Vec<String> = labels
            .iter()
            .map(|(name, value)| format!("{name}=\"{}\"", escape(value)))
            .collect();
        let _ = writeln!(out, "{metric}{{{}}} {value}", labels.join(","));
    }
    out
}
