//! `/metrics`: the latest value of every host series in the Prometheus text format (0.0.4),
//! so Grafana and Prometheus can use Unity's data too.
//!
//! Names are the stored metric names with a `unity_` prefix; every sample carries `agent_id`
//! and `hostname` labels plus the series' own labels. `unity_host_up` is 1 for an online host
//! and 0 otherwise.
//!
//! Plugin series (textfiles, exporters, checks on the hosts) keep the names they were given,
//! without the prefix, and carry their `source` label (`exporter/node`), so
//! `node_cpu_seconds_total` stays what Grafana dashboards expect and never meets Unity's own
//! `unity_*` families; a plugin name that itself starts with `unity_` gets `exported_` in
//! front, and a plugin label called `agent_id` or `hostname` becomes `exported_agent_id` or
//! `exported_hostname` (Prometheus' rule for clashing labels). Their type is not kept, so
//! their families are `untyped`. When `metrics_token` is configured, requests need
//! `Authorization: Bearer <metrics_token>`.

use crate::context::Context;
use crate::domain::hosts::{self, is_plugin_series, HostStatus};
use crate::domain::{alerts, history};
use crate::http::auth::constant_time_eq;
use crate::http::error::ApiError;
use crate::http::extract::blocking;
use crate::http::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// Whether `/metrics` is readable without a token from beyond this machine: `api_listen` is
/// not loopback and no `metrics_token` is set. Open by design (a scraper on the LAN needs no
/// setup), so the controller only warns at start.
pub fn open_beyond_loopback(config: &crate::config::Config) -> bool {
    !config.api_listen.ip().is_loopback() && config.metrics_token.is_none()
}

/// `GET /metrics`.
pub async fn metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(expected) = &state.ctx.config.metrics_token {
        let provided = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .unwrap_or("");
        if !constant_time_eq(provided.trim().as_bytes(), expected.0.as_bytes()) {
            return Err(ApiError::Unauthorized);
        }
    }
    let text = blocking(&state.ctx, render).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

/// A metric or label name reduced to `[a-zA-Z0-9_]`, not starting with a digit.
pub fn sanitize_name(name: &str) -> String {
    let mut clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean.is_empty() || clean.starts_with(|c: char| c.is_ascii_digit()) {
        clean.insert(0, '_');
    }
    clean
}

/// A label value with `\`, `"` and newlines escaped.
pub fn escape_value(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn format_value(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{value}")
    }
}

/// The exported name of a plugin series: its own, unless that is one of Unity's.
pub fn plugin_name(metric: &str) -> String {
    let name = sanitize_name(metric);
    if name.starts_with("unity_") {
        format!("exported_{name}")
    } else {
        name
    }
}

fn labels_text(labels: &[(String, String)]) -> String {
    let parts: Vec<String> = labels
        .iter()
        .map(|(name, value)| format!("{}=\"{}\"", sanitize_name(name), escape_value(value)))
        .collect();
    parts.join(",")
}

/// Renders the exposition. Note that this uses blocking I/O.
pub fn render(ctx: &Context) -> Result<String, ApiError> {
    let hosts = hosts::list(ctx)?;
    // Samples grouped by metric name: the format wants each family in one block.
    let mut families: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut plugin_families: BTreeSet<String> = BTreeSet::new();
    for host in &hosts {
        let host_labels = vec![
            ("agent_id".to_owned(), host.agent_id.to_string()),
            ("hostname".to_owned(), host.hostname.clone()),
        ];
        let up = if host.status == HostStatus::Online {
            1.0
        } else {
            0.0
        };
        families
            .entry("unity_host_up".into())
            .or_default()
            .push(format!(
                "unity_host_up{{{}}} {}",
                labels_text(&host_labels),
                format_value(up)
            ));
        families
            .entry("unity_host_last_seen_timestamp_seconds".into())
            .or_default()
            .push(format!(
                "unity_host_last_seen_timestamp_seconds{{{}}} {}",
                labels_text(&host_labels),
                format_value(host.last_seen_ms as f64 / 1000.0)
            ));
        for (key, (_, value)) in history::latest(ctx, &host.agent_id)? {
            let plugin = is_plugin_series(
                key.labels
                    .iter()
                    .map(|(name, value)| (name.as_str(), value.as_str())),
            );
            let name = if plugin {
                plugin_families.insert(plugin_name(&key.metric));
                plugin_name(&key.metric)
            } else {
                format!("unity_{}", sanitize_name(&key.metric))
            };
            let mut labels = host_labels.clone();
            labels.extend(key.labels.into_iter().filter_map(|(label, value)| {
                match (label.as_str(), plugin) {
                    ("agent_id" | "hostname", true) => Some((format!("exported_{label}"), value)),
                    ("agent_id" | "hostname", false) => None,
                    _ => Some((label, value)),
                }
            }));
            let line = format!("{name}{{{}}} {}", labels_text(&labels), format_value(value));
            families.entry(name).or_default().push(line);
        }
    }
    for (severity, n_open) in alerts::open_counts(ctx)? {
        families
            .entry("unity_alerts_open".into())
            .or_default()
            .push(format!(
                "unity_alerts_open{{severity=\"{}\"}} {n_open}",
                severity.as_str()
            ));
    }
    let now = crate::clock::now_ms();
    for (endpoint, stats) in ctx.remote_write.snapshot() {
        let label = format!("endpoint=\"{}\"", escape_value(&endpoint));
        for (name, value) in [
            ("unity_remote_write_lag_seconds", stats.lag_seconds(now)),
            (
                "unity_remote_write_samples_sent_total",
                stats.samples_sent as f64,
            ),
            (
                "unity_remote_write_samples_failed_total",
                stats.samples_failed as f64,
            ),
            (
                "unity_remote_write_samples_dropped_total",
                stats.samples_dropped as f64,
            ),
        ] {
            let line = format!("{name}{{{label}}} {}", format_value(value));
            families.entry(name.into()).or_default().push(line);
        }
    }
    if ctx.config.backup.dir.is_some() {
        let status = ctx.backup.view();
        for (name, value) in [
            (
                "unity_backup_last_success_timestamp_seconds",
                status.last_success_ms as f64 / 1000.0,
            ),
            (
                "unity_backup_last_failure_timestamp_seconds",
                status.last_failure_ms as f64 / 1000.0,
            ),
            ("unity_backup_failures_total", status.failures as f64),
            ("unity_backup_last_size_bytes", status.last_bytes as f64),
        ] {
            let line = format!("{name} {}", format_value(value));
            families.entry(name.into()).or_default().push(line);
        }
    }
    let mut text = String::new();
    for (name, lines) in families {
        let plugin = plugin_families.contains(&name);
        let kind = if plugin {
            "untyped"
        } else if name.ends_with("_total") {
            "counter"
        } else {
            "gauge"
        };
        let help = match name.as_str() {
            "unity_host_up" => {
                "Whether the host's agent is connected and reporting (1) or not (0)."
            }
            "unity_host_last_seen_timestamp_seconds" => {
                "When the controller last heard from the host."
            }
            "unity_alerts_open" => "Open alerts by severity.",
            "unity_remote_write_lag_seconds" => {
                "Seconds since the remote write endpoint last had every sample stored before then."
            }
            "unity_remote_write_samples_sent_total" => "Samples the endpoint accepted.",
            "unity_remote_write_samples_failed_total" => {
                "Samples in remote write attempts that failed and were retried."
            }
            "unity_remote_write_samples_dropped_total" => {
                "Samples the endpoint refused for good (4xx other than 429)."
            }
            "unity_backup_last_success_timestamp_seconds" => {
                "When the newest good scheduled backup was made (0: none yet)."
            }
            "unity_backup_last_failure_timestamp_seconds" => {
                "When a backup of the daemon last failed (0: none since start)."
            }
            "unity_backup_failures_total" => "Backups of the daemon that failed since start.",
            "unity_backup_last_size_bytes" => "Size of the newest good backup archive.",
            _ if plugin => "Latest value of a plugin series on the host (see its source label).",
            _ => "Latest value reported by the Unity agent.",
        };
        let _ = writeln!(text, "# HELP {name} {help}");
        let _ = writeln!(text, "# TYPE {name} {kind}");
        for line in lines {
            text.push_str(&line);
            text.push('\n');
        }
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_13_open_metrics_beyond_loopback_are_flagged() {
        let check = |api_listen: &str, token: Option<&str>| {
            let mut config = crate::config::Config::with_data_dir("/nonexistent".into());
            config.api_listen = api_listen.parse().unwrap();
            config.metrics_token = token.map(|token| crate::config::Secret(token.into()));
            open_beyond_loopback(&config)
        };
        assert!(check("0.0.0.0:7480", None));
        assert!(check("192.168.1.5:7480", None));
        assert!(check("[::]:7480", None));
        assert!(!check("0.0.0.0:7480", Some("secret")));
        assert!(!check("127.0.0.1:7480", None));
        assert!(!check("[::1]:7480", None));
    }

    #[test]
    fn names_and_values_are_made_safe() {
        assert_eq!(sanitize_name("cpu.usage-ratio"), "cpu_usage_ratio");
        assert_eq!(sanitize_name("1x"), "_1x");
        assert_eq!(escape_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(0.5), "0.5");
        assert_eq!(
            plugin_name("node_cpu_seconds_total"),
            "node_cpu_seconds_total"
        );
        assert_eq!(plugin_name("unity_host_up"), "exported_unity_host_up");
        assert_eq!(plugin_name("my.dotted.metric"), "my_dotted_metric");
    }
}
