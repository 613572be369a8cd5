//! The pool page (issue 19): a ZFS pool's verdict and risk in plain words, capacity, the vdev
//! tree with each leaf's errors and a link to its drive's page, the scrub in progress or last
//! finished, scrub and resilver history read from the stored series, error counts over time
//! (charts), and the pool's datasets. Pure: the view in, markup out.

use super::find;
use super::history::{self, Run};
use super::parts;
use super::risk::Subject;
use crate::http::auth::Caller;
use crate::web::badge;
use crate::web::format::{ago, datetime, or_dash};
use crate::web::labels;
use crate::web::layout::{self, Frame, Nav};
use crate::web::metric_names::{bytes, unix_time};
use maud::{html, Markup};
use unity_shared::model::storage::zfs::{PoolResult, Vdev};
use unity_shared::proto::{AgentId, StorageState};

/// Everything the pool page shows.
#[derive(Debug)]
pub struct PoolPageView {
    pub agent_id: AgentId,
    pub hostname: String,
    pub collected_at_ms: Option<i64>,
    pub state: StorageState,
    pub name: String,
    /// Stored `zfs_last_scrub_timestamp_seconds` points.
    pub last_scrub_points: Vec<(i64, f64)>,
    /// Stored `zfs_scan_progress_ratio` points, by scan kind (`scrub`, `resilver`).
    pub scan_points: Vec<(String, Vec<(i64, f64)>)>,
    pub range: &'static str,
}

fn drive_link(view: &PoolPageView, vdev: &Vdev) -> Markup {
    let drive = find::pool_drives(&view.state, &view.name)
        .into_iter()
        .find(|(leaf, _)| *leaf == vdev.name)
        .and_then(|(_, drive)| find::device_of(&view.state, drive));
    html! {
        @if let Some(device) = drive {
            a href=(find::disk_href(&view.agent_id, device)) { (device.device) }
            " " (badge::verdict(device.verdict.as_ref().map(|v| v.status)))
        }
    }
}

fn vdev_rows(view: &PoolPageView, vdev: &Vdev, depth: usize) -> Markup {
    html! {
        tr {
            td style={ "padding-left:" (depth) "em" } { (vdev.name) }
            td { (labels::vdev_state(&vdev.state)) }
            td { (or_dash(vdev.read_errors)) }
            td { (or_dash(vdev.write_errors)) }
            td { (or_dash(vdev.checksum_errors)) }
            td { @if vdev.children.is_empty() { (drive_link(view, vdev)) } }
            td.sub { (vdev.note.as_deref().unwrap_or("")) }
        }
        @for child in &vdev.children { (vdev_rows(view, child, depth + 1)) }
    }
}

fn tree(view: &PoolPageView, result: &PoolResult) -> Markup {
    let status = &result.status;
    let sections = [
        ("Logs", &status.logs),
        ("Special", &status.special),
        ("Dedup", &status.dedup),
        ("Cache", &status.cache),
        ("Spares", &status.spares),
    ];
    html! {
        h2 #vdevs { "Vdevs" }
        div.table { table #vdev-tree {
            thead { tr { th { "Vdev" } th { "State" } th { "Read errors" } th { "Write errors" } th { "Checksum errors" } th { "Drive" } th { "Note" } } }
            tbody {
                (vdev_rows(view, &status.root, 0))
                @for (name, vdevs) in sections {
                    @if !vdevs.is_empty() {
                        tr { td colspan="7" { b { (name) } } }
                        @for vdev in vdevs { (vdev_rows(view, vdev, 1)) }
                    }
                }
            }
        } }
    }
}

fn capacity(view: &PoolPageView) -> Markup {
    let capacity = view.state.zfs.capacity.iter().find(|c| c.name == view.name);
    let Some(capacity) = capacity else {
        return html! {};
    };
    let rows: [(&str, String); 5] = [
        (
            "Size",
            or_dash(capacity.size_bytes.map(|b| bytes(b as f64))),
        ),
        (
            "Allocated",
            or_dash(capacity.allocated_bytes.map(|b| bytes(b as f64))),
        ),
        (
            "Free",
            or_dash(capacity.free_bytes.map(|b| bytes(b as f64))),
        ),
        (
            "Fragmentation",
            or_dash(capacity.fragmentation_percent.map(|p| format!("{p} %"))),
        ),
        (
            "Deduplication",
            or_dash(capacity.dedup_ratio.map(|r| format!("{r:.2}×"))),
        ),
    ];
    html! { h2 #capacity { "Capacity" } (parts::facts("pool-capacity", &rows)) }
}

fn runs_table(kind: &str, runs: &[Run]) -> Markup {
    html! {
        @for run in runs {
            tr {
                td { (kind) }
                td { (datetime(run.first_ms)) }
                td { (datetime(run.last_ms)) }
                td { (format!("{:.0} %", run.peak * 100.0)) }
            }
        }
    }
}

fn scans(view: &PoolPageView, result: &PoolResult, now: i64) -> Markup {
    let finished = history::finished_scrubs(&view.last_scrub_points);
    let runs: Vec<(&str, Vec<Run>)> = view
        .scan_points
        .iter()
        .map(|(kind, points)| (kind.as_str(), history::runs(points, history::RUN_GAP_MS)))
        .collect();
    let any_runs = runs.iter().any(|(_, runs)| !runs.is_empty());
    html! {
        h2 #scrubs { "Scrubs and resilvers" }
        @match &result.status.scan {
            Some(scan) => p #scan-now {
                (labels::scan_kind(scan.kind)) " " (labels::scan_state(scan.state))
                @if let Some(finished) = scan.finished_unix { ", " (unix_time(finished as f64, now)) }
                div.sub { (scan.text) }
            },
            None => p #scan-now { "Never scrubbed." },
        }
        @if finished.is_empty() && !any_runs {
            p.muted { "No scrub or resilver recorded in the stored history yet." }
        }
        @if !finished.is_empty() {
            h3 { "Finished scrubs" }
            ul #finished-scrubs { @for unix in &finished { li { (unix_time(*unix as f64, now)) } } }
        }
        @if any_runs {
            h3 { "Runs seen" }
            div.table { table #scan-runs {
                thead { tr { th { "Kind" } th { "First seen" } th { "Last seen" } th { "Progress reached" } } }
                tbody { @for (kind, runs) in &runs { (runs_table(kind, runs)) } }
            } }
        }
    }
}

fn datasets(view: &PoolPageView) -> Markup {
    let prefix = format!("{}/", view.name);
    let datasets: Vec<_> = view
        .state
        .zfs
        .datasets
        .iter()
        .filter(|d| d.name == view.name || d.name.starts_with(&prefix))
        .collect();
    html! {
        @if !datasets.is_empty() {
            h2 #datasets { "Datasets" }
            div.table { table #dataset-list {
                thead { tr { th { "Dataset" } th { "Used" } th { "Free" } th { "Snapshots" } } }
                tbody { @for d in datasets { tr {
                    td { (d.name) }
                    td { (or_dash(d.used_bytes.map(|b| bytes(b as f64)))) }
                    td { (or_dash(d.available_bytes.map(|b| bytes(b as f64)))) }
                    td { (or_dash(d.used_by_snapshots_bytes.map(|b| bytes(b as f64)))) }
                } } }
            } }
        }
    }
}

fn charts(view: &PoolPageView) -> Markup {
    let labels = format!("pool={}", view.name);
    let charts = [
        ("Checksum errors", "zfs_vdev_checksum_errors_total"),
        ("Read errors", "zfs_vdev_read_errors_total"),
        ("Write errors", "zfs_vdev_write_errors_total"),
        ("Allocated", "zfs_pool_allocated_bytes"),
        ("Scrub or resilver progress", "zfs_scan_progress_ratio"),
    ];
    html! {
        @if find::matchable(&view.name) {
            h2 #history { "History" }
            (parts::chart_ranges(view.range))
            section.charts {
                @for (title, metric) in charts { (parts::chart(&view.agent_id, title, metric, &labels, view.range)) }
            }
        }
    }
}

/// The pool page (pure).
pub fn render(view: &PoolPageView, caller: &Caller, now: i64) -> Markup {
    let content = html! {
        (parts::breadcrumb(&view.agent_id, &view.hostname, "Pools", "pools"))
        @match find::pool(&view.state, &view.name) {
            None => {
                h1 { (view.name) }
                p.muted #gone { "This host's newest report has no such pool." }
            }
            Some(result) => {
                h1 { "Pool " (view.name) " " (badge::verdict(Some(result.verdict.status))) }
                p.sub { (labels::vdev_state(&result.status.state)) " · " (view.hostname)
                    @if let Some(at) = view.collected_at_ms { " · read " (ago(at, now)) } }
                (parts::risk(Some(&result.verdict), Subject::Pool))
                @if let Some(status) = &result.status.status { p.note { (status) } }
                @if let Some(action) = &result.status.action { p.sub { "What ZFS advises: " (action) } }
                (capacity(view))
                (tree(view, result))
                @if let Some(errors) = &result.status.errors {
                    p.sub #pool-errors { "Errors: " (errors.text) }
                    @if !errors.files.is_empty() {
                        ul #damaged-files { @for file in errors.files.iter().take(50) { li { code { (file) } } } }
                    }
                }
                (scans(view, result, now))
                (charts(view))
                (datasets(view))
            }
        }
    };
    layout::page(Frame::new(&view.name, Nav::Overview), caller, content)
}
