//! The host page: status, open alerts, the typed collector panels first (disks, pools, arrays,
//! databases, containers, plugins; those the host has not reported share one line, "No disks,
//! pools or arrays reported yet."), then
//! history charts with a range selector (1 h to 30 d) that opens on the range holding the
//! host's data. Raw series are on the "All metrics" page ([`super::host_metrics`]).

use super::badge;
use super::chart_range;
use super::format::{ago, datetime, url_segment};
use super::layout::{self, Frame, Nav};
use super::metric_names::unit_of;
use super::PageCaller;
use crate::clock::now_ms;
use crate::domain::alerts::{self, AlertView, Which};
use crate::domain::host_state::{self, ContainersView, PluginsView};
use crate::domain::hosts::{self, parse_agent_id, HostDetail, LatestValue, SectionView};
use crate::domain::operations;
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiPath, ApiQuery};
use crate::http::state::AppState;
use crate::storage::instances::InstanceRecord;
use crate::storage::operations::OperationRecord;
use axum::extract::State;
use maud::{html, Markup};
use serde::Deserialize;
use unity_shared::model::database::DatabaseInstance;
use unity_shared::proto::StorageState;

/// The charts: title, metric, label matchers, whether to plot the per-second rate of a
/// counter. The unit (how app.js formats values) comes from [`super::metric_names`].
const CHARTS: &[(&str, &str, &str, bool)] = &[
    ("CPU", "cpu_usage_ratio", "cpu=total", false),
    ("Memory used", "memory_used_bytes", "", false),
    ("Load average", "load_average", "", false),
    ("Filesystems used", "filesystem_used_bytes", "", false),
    ("Network receive", "network_receive_bytes_total", "", true),
    ("Network transmit", "network_transmit_bytes_total", "", true),
    ("Temperatures", "temperature_celsius", "", false),
    // History of the storage and database sections (shown when the host reports them).
    ("Disk temperatures", "smart_temperature_celsius", "", false),
    ("Reallocated sectors", "smart_attribute_raw", "id=5", false),
    ("Pending sectors", "smart_attribute_raw", "id=197", false),
    ("NVMe wear", "smart_nvme_percentage_used", "", false),
    (
        "ZFS checksum errors",
        "zfs_vdev_checksum_errors_total",
        "",
        false,
    ),
    ("Pool allocated", "zfs_pool_allocated_bytes", "", false),
    ("md sync progress", "md_sync_progress_ratio", "", false),
    ("md sync speed", "md_sync_speed_bytes_per_second", "", false),
    ("Databases up", "database_up", "", false),
    (
        "Database probe latency",
        "database_probe_latency_seconds",
        "",
        false,
    ),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostParams {
    pub range: Option<String>,
}

/// Everything the host page shows.
#[derive(Debug)]
pub struct HostPageView {
    pub detail: HostDetail,
    pub storage: Option<StorageState>,
    pub databases: Option<Vec<DatabaseInstance>>,
    pub containers: ContainersView,
    /// Plugin sources and local check results.
    pub plugins: PluginsView,
    /// The host's newest container operations.
    pub operations: Vec<OperationRecord>,
    pub open_alerts: Vec<AlertView>,
    /// Every installation that presented the host's identity (more than one: a clone or a
    /// moved data directory).
    pub instances: Vec<InstanceRecord>,
    /// The host's certificates (files and TLS ports), soonest expiry first.
    pub certificates: crate::domain::certificates::FleetCertificates,
    /// One of [`chart_range::RANGES`].
    pub range: &'static str,
    /// The host's oldest sample within the last day (for "collecting since").
    pub first_sample_ms: Option<i64>,
    /// Each drive's accepted SMART baseline (issue 18).
    pub disk_baselines:
        std::collections::BTreeMap<String, crate::storage::disk_baselines::DiskBaseline>,
}

/// The installations of the identity, when there is more than one.
fn instances(records: &[InstanceRecord], now: i64) -> Markup {
    html! {
        h2 #section-identity { "Identity" }
        p.sub {
            "More than one machine has presented this host's identity. Only the active one is stored; "
            "give a clone its own identity with " code { "unity-agent enroll" } " on the clone."
        }
        div.table { table #instances {
            thead { tr { th { "Installation" } th { "State" } th { "Host name" } th { "Address" } th { "First seen" } th { "Last seen" } th { "Refused" } } }
            tbody {
                @for record in records {
                    tr {
                        td.sub { (record.instance_id.to_string()) }
                        td { (badge::instance_status(record.status)) }
                        td { (record.hostname) }
                        td { (record.address) }
                        td { (datetime(record.first_seen_ms)) }
                        td { (ago(record.last_seen_ms, now)) }
                        td { (record.n_refused) }
                    }
                }
            }
        } }
    }
}

/// Whether the host reports a series the chart draws.
fn has_series(latest: &[LatestValue], metric: &str, labels: &str) -> bool {
    latest.iter().any(|value| {
        value.metric == metric
            && !value.is_plugin()
            && labels
                .split(',')
                .filter_map(|pair| pair.split_once('='))
                .all(|(name, wanted)| value.labels.get(name).is_some_and(|v| v == wanted))
    })
}

fn charts(view: &HostPageView, now: i64) -> Markup {
    let latest = &view.detail.latest;
    let agent_id = &view.detail.host.agent_id;
    let shown: Vec<_> = CHARTS
        .iter()
        .filter(|(_, metric, labels, _)| has_series(latest, metric, labels))
        .collect();
    html! {
        h2 #section-history { "History" }
        (chart_range::selector(view.range))
        @if let Some(first) = view.first_sample_ms.filter(|_| chart_range::is_young(view.first_sample_ms, now)) {
            p.sub #collecting-since { "Collecting since " (datetime(first)) " (" (ago(first, now)) ")." }
        }
        section.charts {
            @for (title, metric, labels, rate) in &shown {
                figure.chart-card {
                    figcaption { (title) }
                    div.chart data-agent=(agent_id) data-title=(title) data-metric=(metric)
                        data-labels=(labels) data-range=(view.range)
                        data-unit=(unit_of(metric).chart_unit(*rate))
                        data-rate=(if *rate { "1" } else { "" }) {}
                }
            }
            @if shown.is_empty() {
                p.muted { "No system metrics reported yet." }
            }
        }
    }
}

/// The typed panel of one collector section, when the host reported that state.
fn typed_panel(view: &HostPageView, section: &str, caller: &Caller, now: i64) -> Option<Markup> {
    let storage = view.storage.as_ref();
    match section {
        "disks" => storage
            .filter(|s| !s.smart.devices.is_empty() || !s.stack.drives.is_empty())
            .map(|s| {
                html! {
                    (super::state::disks(&view.detail.host.agent_id, s))
                    // Secondary (accept a drive's counters as normal): folded, so twelve
                    // drives do not list twice.
                    details.disk-baselines {
                        summary { "SMART baselines" }
                        (super::disk_baselines::panel(&view.detail.host.agent_id, s, &view.disk_baselines, caller))
                    }
                }
            }),
        "pools" => storage
            .filter(|s| !s.zfs.pools.is_empty())
            .map(|s| super::state::pools(&view.detail.host.agent_id, s, now)),
        "arrays" => storage
            .filter(|s| !s.raid.arrays.is_empty())
            .map(|s| super::state::arrays(&view.detail.host.agent_id, s)),
        "databases" => view
            .databases
            .as_deref()
            .filter(|instances| !instances.is_empty())
            .map(super::state::databases),
        "containers" => view.containers.inventory.as_ref().map(|inventory| {
            let csrf = super::admin_csrf(caller);
            html! {
                (super::containers::panel(
                    &view.detail.host.agent_id,
                    inventory,
                    &view.containers.update_checks,
                    &view.containers.recent_events,
                    csrf,
                    now,
                ))
                h3 { "Operations" }
                (super::operations::history_table(&view.operations, now))
            }
        }),
        "plugins" => super::plugins::panel(&view.plugins, &view.detail.latest, now),
        _ => None,
    }
}

/// A section the host reported: its typed panel, or a link to its raw metrics.
fn section(view: &HostPageView, section: &SectionView, typed: Option<Markup>) -> Markup {
    html! {
        h2 id={ "section-" (section.name) } { (capitalize(section.name)) }
        @if let Some(panel) = &typed {
            (panel)
        } @else if section.reported {
            p.muted.raw-only {
                "Reported as metrics only; see " a href=(metrics_href(view)) { "all metrics" } "."
            }
        }
    }
}

/// The one line that stands for every section the host has not reported ("No disks, pools,
/// arrays or databases reported yet."), instead of a heading and a sentence each: a container
/// host's phone page would otherwise open on four empty sections.
pub fn nothing_reported(names: &[&str]) -> Option<String> {
    let (last, rest) = names.split_last()?;
    let list = if rest.is_empty() {
        (*last).to_owned()
    } else {
        format!("{} or {last}", rest.join(", "))
    };
    Some(format!("No {list} reported yet."))
}

fn metrics_href(view: &HostPageView) -> String {
    format!(
        "/hosts/{}/metrics",
        url_segment(view.detail.host.agent_id.as_str())
    )
}

/// The host page (pure).
pub fn render(view: &HostPageView, caller: &Caller, now: i64) -> Markup {
    let host = &view.detail.host;
    let mut shown = Vec::new();
    let mut missing = Vec::new();
    for section_view in &view.detail.sections {
        match typed_panel(view, section_view.name, caller, now) {
            None if !section_view.reported => missing.push(section_view.name),
            typed => shown.push(section(view, section_view, typed)),
        }
    }
    let content = html! {
        h1 { (host.hostname) " " (badge::host_status(host.status))
            @if let Some(mark) = &host.agentless {
                " " a.badge.muted #agentless-via href="/agentless" { "agentless via " (mark.proxy.as_str()) }
            }
        }
        @if let Some(mark) = &host.agentless {
            @if let Some(reason) = &mark.down_reason { p.note { "Down: " (reason) } }
            p.note { (super::agentless::NO_CONTAINER_UPDATES) }
        }
        p.sub {
            (host.agent_id) " · " (host.os) " · agent " (host.agent_version)
            @if host.install != unity_shared::proto::InstallKind::Unknown {
                " (" (host.install.as_str()) ")"
            }
            " · last seen " (ago(host.last_seen_ms, now))
            " · certificate until " (datetime(host.certificate_not_after * 1000))
            " · " a #all-metrics-link href=(metrics_href(view)) { "All metrics" }
        }
        @if let (None, Some(csrf)) = (&host.agentless, super::agent_updates::host_csrf(caller)) {
            @if host.status != crate::domain::hosts::HostStatus::Revoked {
                (super::agent_updates::button(&host.agent_id, &host.hostname, &host.agent_version, csrf))
            }
        }
        @if !view.open_alerts.is_empty() {
            h2 #open-alerts { "Open alerts" }
            (super::alerts::table(&view.open_alerts, now, false))
        }
        @if view.instances.len() > 1 {
            (instances(&view.instances, now))
        }
        @for panel in &shown { (panel) }
        @if let Some(line) = nothing_reported(&missing) {
            p.muted.not-reported #not-reported { (line) }
        }
        (charts(view, now))
        @if view.certificates.hosts_reporting > 0 {
            h2 #section-certificates { "Certificates" }
            (super::certificates::table(&view.certificates, now, false))
        }
    };
    layout::page(Frame::new(&host.hostname, Nav::Overview), caller, content)
}

/// `GET /hosts/{agent_id}?range=24h`.
pub async fn page(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiPath(agent_id): ApiPath<String>,
    ApiQuery(params): ApiQuery<HostParams>,
) -> Result<Markup, ApiError> {
    let wanted = match params.range.as_deref() {
        None => None,
        Some(text) => Some(chart_range::parse(text).ok_or_else(|| {
            let offered: Vec<&str> = chart_range::RANGES.iter().map(|(name, _)| *name).collect();
            ApiError::BadRequest(format!(
                "bad range \"{text}\": expected one of {}",
                offered.join(", ")
            ))
        })?),
    };
    let agent_id = parse_agent_id(&agent_id)?;
    let now = now_ms();
    let view = blocking(&state.ctx, move |ctx| {
        let detail = hosts::detail(ctx, &agent_id)?;
        let first_sample_ms =
            chart_range::first_sample_within_a_day(ctx, agent_id.as_str(), &detail.latest, now)?;
        let range = wanted.unwrap_or_else(|| chart_range::default_range(first_sample_ms, now));
        let certificates = crate::domain::certificates::of_one_host(
            ctx,
            &agent_id,
            &detail.host.hostname,
            now_ms() / 1000,
        )?;
        Ok::<_, ApiError>(HostPageView {
            detail,
            storage: host_state::storage(ctx, &agent_id)?.state,
            databases: host_state::databases(ctx, &agent_id)?.state,
            containers: host_state::containers(ctx, &agent_id)?,
            plugins: host_state::plugins(ctx, &agent_id)?,
            operations: operations::recent(ctx, Some(agent_id.as_str()), 20)?,
            open_alerts: alerts::list(ctx, Which::Open, Some(agent_id.as_str()), 1)?,
            instances: hosts::instances(ctx, &agent_id)?,
            certificates,
            range,
            first_sample_ms,
            disk_baselines: crate::domain::disk_baselines::of_host(ctx, &agent_id)?,
        })
    })
    .await?;
    Ok(render(&view, &caller.0, now))
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::nothing_reported;

    #[test]
    fn issue_19_sections_not_reported_share_one_line() {
        assert_eq!(
            nothing_reported(&["disks", "pools", "arrays", "databases"]).as_deref(),
            Some("No disks, pools, arrays or databases reported yet.")
        );
        assert_eq!(
            nothing_reported(&["disks", "pools"]).as_deref(),
            Some("No disks or pools reported yet.")
        );
        assert_eq!(
            nothing_reported(&["plugins"]).as_deref(),
            Some("No plugins reported yet.")
        );
        assert_eq!(nothing_reported(&[]), None);
    }
}
