//! The host page: status, latest values, history charts with a range selector (1 h to 30 d),
//! and the collector sections (disks, pools, arrays, databases, containers), each "not
//! reported yet" until the host reports it.

use super::{ago, badge, datetime, esc, human_value, layout, PageCaller};
use crate::api::host_state::containers_view;
use crate::api::read::{host_detail, parse_agent_id, LatestValue, SECTIONS};
use crate::api::{blocking, ApiError, ApiPath, ApiQuery, AppState};
use crate::service::now_ms;
use crate::storage::registry::StateKind;
use axum::extract::State;
use axum::response::Html;
use serde::Deserialize;
use std::fmt::Write as _;
use unity_shared::model::database::DatabaseInstance;
use unity_shared::proto::StorageState;

/// The ranges the selector offers.
pub const RANGES: &[&str] = &["1h", "6h", "24h", "7d", "30d"];

/// The charts: title, metric, label matchers, unit (how app.js formats values), whether to
/// plot the per-second rate of a counter.
const CHARTS: &[(&str, &str, &str, &str, bool)] = &[
    ("CPU", "cpu_usage_ratio", "cpu=total", "percent", false),
    ("Memory used", "memory_used_bytes", "", "bytes", false),
    ("Load average", "load_average", "", "plain", false),
    (
        "Filesystems used",
        "filesystem_used_bytes",
        "",
        "bytes",
        false,
    ),
    (
        "Network receive",
        "network_receive_bytes_total",
        "",
        "bytes_rate",
        true,
    ),
    (
        "Network transmit",
        "network_transmit_bytes_total",
        "",
        "bytes_rate",
        true,
    ),
    ("Temperatures", "temperature_celsius", "", "celsius", false),
    // History of the storage and database sections (shown when the host reports them).
    (
        "Disk temperatures",
        "smart_temperature_celsius",
        "",
        "celsius",
        false,
    ),
    (
        "Reallocated sectors",
        "smart_attribute_raw",
        "id=5",
        "plain",
        false,
    ),
    (
        "Pending sectors",
        "smart_attribute_raw",
        "id=197",
        "plain",
        false,
    ),
    (
        "NVMe wear (percentage used)",
        "smart_nvme_percentage_used",
        "",
        "plain",
        false,
    ),
    (
        "ZFS checksum errors",
        "zfs_vdev_checksum_errors_total",
        "",
        "plain",
        false,
    ),
    (
        "Pool allocated",
        "zfs_pool_allocated_bytes",
        "",
        "bytes",
        false,
    ),
    (
        "md sync progress",
        "md_sync_progress_ratio",
        "",
        "percent",
        false,
    ),
    ("Databases up", "database_up", "", "plain", false),
    (
        "Database probe latency",
        "database_probe_latency_seconds",
        "",
        "plain",
        false,
    ),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostParams {
    pub range: Option<String>,
}

fn labels_text(value: &LatestValue) -> String {
    let parts: Vec<String> = value
        .labels
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    parts.join(", ")
}

fn latest_table(values: &[&LatestValue], id: &str) -> String {
    let mut html = format!("<div class=\"table\"><table id=\"{id}\"><thead><tr><th>Metric</th><th>Labels</th><th>Value</th></tr></thead><tbody>");
    for value in values {
        let _ = write!(
            html,
            "<tr><td>{}</td><td class=\"sub\">{}</td><td>{}</td></tr>",
            esc(&value.metric),
            esc(&labels_text(value)),
            esc(&human_value(&value.metric, value.value))
        );
    }
    html.push_str("</tbody></table></div>");
    html
}

/// `GET /hosts/{agent_id}?range=24h`.
pub async fn page(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiPath(agent_id): ApiPath<String>,
    ApiQuery(params): ApiQuery<HostParams>,
) -> Result<Html<String>, ApiError> {
    let range = params.range.unwrap_or_else(|| "24h".to_owned());
    if !RANGES.contains(&range.as_str()) {
        return Err(ApiError::BadRequest(format!(
            "bad range {range:?}: expected one of {}",
            RANGES.join(", ")
        )));
    }
    let agent_id = parse_agent_id(&agent_id)?;
    let (detail, storage, databases, containers) = blocking(&state.ctx, move |ctx| {
        let detail = host_detail(ctx, &agent_id)?;
        let registry = &ctx.store.registry;
        let storage: Option<(i64, StorageState)> =
            registry.latest(&agent_id, StateKind::Storage)?;
        let databases: Option<(i64, Vec<DatabaseInstance>)> =
            registry.latest(&agent_id, StateKind::Databases)?;
        let containers = containers_view(ctx, &agent_id)?;
        let operations = ctx.store.operations.recent(Some(agent_id.as_str()), 20)?;
        Ok((
            detail,
            storage.map(|(_, s)| s),
            databases.map(|(_, d)| d),
            (containers, operations),
        ))
    })
    .await?;
    let (containers, operations) = containers;
    let host = &detail.host;
    let now = now_ms();
    let mut body = String::with_capacity(16 * 1024);
    let _ = write!(
        body,
        "<h1>{} {}</h1><p class=\"sub\">{} · {} · agent {} · last seen {} · certificate until {}</p>",
        esc(&host.hostname),
        badge(&host.status),
        esc(&host.agent_id),
        esc(&host.os),
        esc(&host.agent_version),
        ago(host.last_seen_ms, now),
        datetime(host.certificate_not_after * 1000),
    );
    let host_id = host.agent_id.clone();
    let open_alerts = blocking(&state.ctx, move |ctx| {
        crate::api::alerts::list(ctx, crate::api::alerts::Which::Open, Some(&host_id), 1)
    })
    .await?;
    if !open_alerts.is_empty() {
        body.push_str("<h2 id=\"open-alerts\">Open alerts</h2>");
        body.push_str(&super::alerts::table(&open_alerts, now, false));
    }
    body.push_str("<nav class=\"ranges\" id=\"ranges\">");
    for option in RANGES {
        let class = if *option == range {
            " class=\"active\""
        } else {
            ""
        };
        let _ = write!(body, "<a href=\"?range={option}\"{class}>{option}</a>");
    }
    body.push_str("</nav><section class=\"charts\">");
    let mut n_charts = 0;
    for (title, metric, labels, unit, rate) in CHARTS {
        let has_series = detail.latest.iter().any(|value| {
            value.metric == *metric
                && labels
                    .split(',')
                    .filter_map(|pair| pair.split_once('='))
                    .all(|(name, wanted)| value.labels.get(name).is_some_and(|v| v == wanted))
        });
        if !has_series {
            continue;
        }
        n_charts += 1;
        let _ = write!(
            body,
            "<figure class=\"chart-card\"><figcaption>{title}</figcaption><div class=\"chart\" data-agent=\"{}\" \
data-title=\"{title}\" data-metric=\"{metric}\" data-labels=\"{labels}\" data-range=\"{range}\" data-unit=\"{unit}\" data-rate=\"{}\"></div></figure>",
            esc(&host.agent_id),
            if *rate { "1" } else { "" },
        );
    }
    if n_charts == 0 {
        body.push_str("<p class=\"muted\">No system metrics reported yet.</p>");
    }
    body.push_str("</section>");

    let system: Vec<&LatestValue> = detail
        .latest
        .iter()
        .filter(|value| {
            !SECTIONS
                .iter()
                .any(|(_, prefixes)| prefixes.iter().any(|p| value.metric.starts_with(p)))
        })
        .filter(|value| {
            !(value.metric == "cpu_usage_ratio"
                && value.labels.get("cpu").is_some_and(|cpu| cpu != "total"))
        })
        .collect();
    body.push_str("<h2>Latest values</h2>");
    if system.is_empty() {
        body.push_str("<p class=\"muted\">Nothing reported yet.</p>");
    } else {
        body.push_str(&latest_table(&system, "latest"));
    }
    for section in &detail.sections {
        let _ = write!(
            body,
            "<h2 id=\"section-{0}\">{1}</h2>",
            section.name,
            capitalize(section.name)
        );
        let typed = match (section.name, &storage, &databases) {
            ("disks", Some(storage), _)
                if !storage.smart.devices.is_empty() || !storage.stack.drives.is_empty() =>
            {
                Some(super::state::disks(storage))
            }
            ("pools", Some(storage), _) if !storage.zfs.pools.is_empty() => {
                Some(super::state::pools(storage))
            }
            ("arrays", Some(storage), _) if !storage.raid.arrays.is_empty() => {
                Some(super::state::arrays(storage))
            }
            ("databases", _, Some(instances)) if !instances.is_empty() => {
                Some(super::state::databases(instances))
            }
            ("containers", _, _) => containers.inventory.as_ref().map(|inventory| {
                let csrf = caller.is_admin().then(|| caller.0.csrf_token());
                let mut html = super::containers::panel(
                    &host.agent_id,
                    inventory,
                    &containers.update_checks,
                    &containers.recent_events,
                    csrf,
                    now,
                );
                html.push_str("<h3>Operations</h3>");
                html.push_str(&super::operations::history_table(&operations, now));
                html
            }),
            _ => None,
        };
        let reported = section.reported || typed.is_some();
        if let Some(panel) = typed {
            body.push_str(&panel);
        }
        if section.reported {
            let prefixes = SECTIONS
                .iter()
                .find(|(name, _)| *name == section.name)
                .map_or(&[][..], |(_, prefixes)| *prefixes);
            let values: Vec<&LatestValue> = detail
                .latest
                .iter()
                .filter(|value| prefixes.iter().any(|p| value.metric.starts_with(p)))
                .collect();
            body.push_str(&latest_table(&values, section.name));
        } else if !reported {
            let _ = write!(
                body,
                "<p class=\"muted not-reported\">No {} reported yet by this host.</p>",
                section.name
            );
        }
    }
    Ok(layout(&host.hostname, &caller.0, "overview", &body))
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}
