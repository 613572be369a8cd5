//! The host page's Plugins panel (pure): the local checks with their state, the textfile and
//! exporter sources with what each gave, dropped and got wrong, and the plugin series grouped
//! by their `source` label, one folding table per source.

use super::badge::{self, Tone};
use super::format::{ago, human_value};
use crate::domain::host_state::PluginsView;
use crate::domain::hosts::LatestValue;
use maud::{html, Markup};
use std::collections::BTreeMap;
use unity_shared::model::plugin::{CheckResult, SourceStatus, SOURCE_LABEL};

/// The plugin series by source, each source's values by metric.
pub fn by_source(latest: &[LatestValue]) -> BTreeMap<&str, Vec<&LatestValue>> {
    let mut groups: BTreeMap<&str, Vec<&LatestValue>> = BTreeMap::new();
    for value in latest.iter().filter(|value| value.is_plugin()) {
        if let Some(source) = value.labels.get(SOURCE_LABEL) {
            groups.entry(source.as_str()).or_default().push(value);
        }
    }
    groups
}

fn labels_text(value: &LatestValue) -> String {
    let parts: Vec<String> = value
        .labels
        .iter()
        .filter(|(name, _)| *name != SOURCE_LABEL)
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    parts.join(", ")
}

fn checks(results: &[CheckResult], now: i64) -> Markup {
    html! {
        h3 { "Checks" }
        div.table { table #checks {
            thead { tr { th { "Check" } th { "State" } th { "Message" } th { "Last run" } th { "Took" } } }
            tbody {
                @for result in results {
                    tr {
                        td { (result.name) }
                        td {
                            (badge::check_status(result.status))
                            @if now > result.overdue_at_ms() { " " (badge::badge(Tone::Warning, "overdue")) }
                        }
                        td {
                            (result.message)
                            // A run without an answer says why in its message already.
                            @if let Some(error) = result.error.as_ref().filter(|error| !result.message.contains(error.as_str())) {
                                div.sub { (error) }
                            }
                            @if !result.errors.is_empty() {
                                ul.reasons { @for error in &result.errors { li { (error) } } }
                            }
                        }
                        td { (ago(result.started_at_ms, now)) }
                        td { (result.duration_ms) " ms" }
                    }
                }
            }
        } }
    }
}

fn source_state(status: &SourceStatus) -> Markup {
    match (&status.failure, status.n_errors + status.n_dropped) {
        (Some(_), _) => badge::badge(Tone::Critical, "failed"),
        (None, 0) => badge::badge(Tone::Ok, "ok"),
        (None, _) => badge::badge(Tone::Warning, "partial"),
    }
}

fn sources(statuses: &[SourceStatus]) -> Markup {
    html! {
        h3 { "Sources" }
        div.table { table #plugin-sources {
            thead { tr { th { "Source" } th { "Where" } th { "State" } th { "Series" } th { "Dropped" } th { "Errors" } } }
            tbody {
                @for status in statuses {
                    tr {
                        td { (status.source) }
                        td.sub { (status.location) }
                        td {
                            (source_state(status))
                            @if let Some(failure) = &status.failure { div.sub { (failure) } }
                            @if !status.errors.is_empty() {
                                ul.reasons { @for error in &status.errors { li { (error) } } }
                            }
                        }
                        td { (status.n_series) }
                        td { (status.n_dropped) }
                        td { (status.n_errors) }
                    }
                }
            }
        } }
    }
}

/// Rows shown per source: an exporter may give thousands of series; the page stays light and
/// the query API has them all.
pub const MAX_ROWS_PER_SOURCE: usize = 300;

fn series(groups: &BTreeMap<&str, Vec<&LatestValue>>, now: i64) -> Markup {
    html! {
        @for (source, values) in groups {
            details.plugin-series {
                summary { (source) " · " (values.len()) " series" }
                div.table { table {
                    thead { tr { th { "Metric" } th { "Labels" } th { "Value" } } }
                    tbody {
                        @for value in values.iter().take(MAX_ROWS_PER_SOURCE) {
                            tr {
                                td { (value.metric) }
                                td.sub { (labels_text(value)) }
                                td { (human_value(&value.metric, value.value, now)) }
                            }
                        }
                    }
                } }
                @if values.len() > MAX_ROWS_PER_SOURCE {
                    p.muted {
                        "The first " (MAX_ROWS_PER_SOURCE) " of " (values.len())
                        " series; all of them: GET /api/v1/hosts/{agent_id}/query?metric=NAME&labels=source=" (source)
                    }
                }
            }
        }
    }
}

/// The panel, when the host has any check, source or plugin series.
pub fn panel(view: &PluginsView, latest: &[LatestValue], now: i64) -> Option<Markup> {
    let results = view.checks.state.as_deref().unwrap_or_default();
    let statuses = view.sources.state.as_deref().unwrap_or_default();
    let groups = by_source(latest);
    if results.is_empty() && statuses.is_empty() && groups.is_empty() {
        return None;
    }
    Some(html! {
        @if !results.is_empty() { (checks(results, now)) }
        @if !statuses.is_empty() { (sources(statuses)) }
        @if !groups.is_empty() {
            h3 { "Series by source" }
            (series(&groups, now))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::host_state::Collected;

    fn value(source: &str, n: usize) -> LatestValue {
        LatestValue {
            metric: "node_cpu_seconds_total".into(),
            labels: [
                ("cpu".to_owned(), n.to_string()),
                (SOURCE_LABEL.to_owned(), source.to_owned()),
            ]
            .into(),
            timestamp_ms: 0,
            value: 1.0,
        }
    }

    #[test]
    fn a_large_source_shows_its_first_rows_and_says_where_the_rest_are() {
        let mut latest: Vec<LatestValue> = (0..MAX_ROWS_PER_SOURCE + 1)
            .map(|n| value("exporter/node", n))
            .collect();
        latest.push(value("textfile/backup.prom", 0));
        // Not a plugin's: no source label.
        latest.push(LatestValue {
            metric: "cpu_usage_ratio".into(),
            labels: Default::default(),
            timestamp_ms: 0,
            value: 0.5,
        });
        let view = PluginsView {
            sources: Collected {
                collected_at_ms: None,
                state: None,
            },
            checks: Collected {
                collected_at_ms: None,
                state: None,
            },
        };
        let html = panel(&view, &latest, 0).unwrap().into_string();
        assert!(html.contains("exporter/node · 301 series"), "{html}");
        assert!(html.contains("textfile/backup.prom · 1 series"));
        assert_eq!(html.matches("<td>node_cpu_seconds_total</td>").count(), 301);
        assert!(html.contains("The first 300 of 301 series"));
        assert!(!html.contains("cpu_usage_ratio"));
        assert!(panel(&view, &latest[latest.len() - 1..], 0).is_none());
    }
}
