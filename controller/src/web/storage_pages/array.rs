//! The array page (issue 19): an md array's verdict and risk in plain words, its level, size
//! and state, the member tree (each member's role and a link to its drive's page), the sync
//! in progress, resync history read from the stored series and missing members over time
//! (charts). Pure: the view in, markup out.

use super::find;
use super::history;
use super::parts;
use super::risk::Subject;
use crate::http::auth::Caller;
use crate::web::badge;
use crate::web::format::{ago, datetime, or_dash};
use crate::web::labels;
use crate::web::layout::{self, Frame, Nav};
use crate::web::metric_names::{bytes, duration};
use maud::{html, Markup};
use unity_shared::model::storage::mdraid::{ArrayResult, MdMember};
use unity_shared::proto::{AgentId, StorageState};

/// Everything the array page shows.
#[derive(Debug)]
pub struct ArrayPageView {
    pub agent_id: AgentId,
    pub hostname: String,
    pub collected_at_ms: Option<i64>,
    pub state: StorageState,
    pub name: String,
    /// Stored `md_sync_progress_ratio` points, by sync action.
    pub sync_points: Vec<(String, Vec<(i64, f64)>)>,
    pub range: &'static str,
}

fn role(member: &MdMember) -> &'static str {
    if member.faulty {
        "failed"
    } else if member.spare {
        "spare"
    } else if member.journal {
        "journal"
    } else if member.replacement {
        "replacement"
    } else if member.write_mostly {
        "write-mostly"
    } else {
        "active"
    }
}

fn members(view: &ArrayPageView, result: &ArrayResult) -> Markup {
    let drives = find::array_drives(&view.state, &view.name);
    let detail_state = |device: &str| -> Option<String> {
        let detail = result.detail.as_ref()?;
        detail
            .devices
            .iter()
            .find(|row| {
                row.path
                    .as_deref()
                    .is_some_and(|path| path.trim_start_matches("/dev/") == device)
            })
            .map(|row| row.state.join(", "))
    };
    html! {
        h2 #members { "Members" }
        div.table { table #member-list {
            thead { tr { th { "Member" } th { "Role" } th { "State" } th { "Drive" } } }
            tbody {
                @for member in &result.array.members {
                    @let drive = drives.iter()
                        .find(|(path, _)| path.trim_start_matches("/dev/") == member.device)
                        .and_then(|(_, drive)| find::device_of(&view.state, drive));
                    tr {
                        td { (member.device) }
                        td { @if member.faulty { (badge::verdict(Some(unity_shared::model::storage::VerdictStatus::Failing))) " " } (role(member)) }
                        td { (or_dash(detail_state(&member.device))) }
                        td { @if let Some(device) = drive {
                            a href=(find::disk_href(&view.agent_id, device)) { (device.device) }
                            " " (badge::verdict(device.verdict.as_ref().map(|v| v.status)))
                        } @else { "–" } }
                    }
                }
            }
        } }
    }
}

fn summary(result: &ArrayResult) -> Markup {
    let array = &result.array;
    let detail = result.detail.as_ref();
    let rows: [(&str, String); 8] = [
        (
            "Level",
            or_dash(
                array
                    .level
                    .as_ref()
                    .map(|level| labels::md_level(level).to_owned()),
            ),
        ),
        (
            "State",
            or_dash(detail.and_then(|d| d.state.clone()).or_else(|| {
                Some(if array.active {
                    "active".to_owned()
                } else {
                    "inactive".to_owned()
                })
            })),
        ),
        (
            "Size",
            or_dash(array.blocks.map(|blocks| bytes(blocks as f64 * 1024.0))),
        ),
        (
            "Members working",
            match (array.working_disks, array.raid_disks) {
                (Some(working), Some(wanted)) => format!("{working} of {wanted}"),
                _ => "–".to_owned(),
            },
        ),
        ("Member map", or_dash(array.member_status.as_deref())),
        ("Metadata", or_dash(array.superblock.as_deref())),
        ("Layout", or_dash(array.layout.as_deref())),
        ("UUID", or_dash(detail.and_then(|d| d.uuid.as_deref()))),
    ];
    parts::facts("array-summary", &rows)
}

fn syncs(view: &ArrayPageView, result: &ArrayResult) -> Markup {
    let runs: Vec<(&str, Vec<history::Run>)> = view
        .sync_points
        .iter()
        .map(|(action, points)| (action.as_str(), history::runs(points, history::RUN_GAP_MS)))
        .collect();
    let any = runs.iter().any(|(_, runs)| !runs.is_empty());
    html! {
        h2 #sync { "Resync and checks" }
        @match &result.array.sync {
            Some(sync) => p #sync-now {
                (labels::md_sync_action(sync.action)) " " (or_dash(sync.percent.map(|p| format!("{p:.1} %"))))
                @if sync.waiting { " (waiting for another array)" }
                " · " (or_dash(sync.finish_minutes.map(|minutes| duration(minutes * 60.0)))) " left · "
                (or_dash(sync.speed_kib_per_sec.map(|kib| format!("{}/s", bytes(kib as f64 * 1024.0)))))
            },
            None => p #sync-now { "No resync, recovery or check is running." },
        }
        @if any {
            div.table { table #sync-runs {
                thead { tr { th { "Action" } th { "First seen" } th { "Last seen" } th { "Progress reached" } } }
                tbody { @for (action, runs) in &runs { @for run in runs { tr {
                    td { (action) } td { (datetime(run.first_ms)) } td { (datetime(run.last_ms)) }
                    td { (format!("{:.0} %", run.peak * 100.0)) }
                } } } }
            } }
        } @else {
            p.muted { "No resync or check recorded in the stored history yet." }
        }
    }
}

/// The array page (pure).
pub fn render(view: &ArrayPageView, caller: &Caller, now: i64) -> Markup {
    let labels = format!("array={}", view.name);
    let charts = [
        ("Missing members", "md_array_degraded"),
        ("Sync progress", "md_sync_progress_ratio"),
        ("Sync speed", "md_sync_speed_bytes_per_second"),
    ];
    let content = html! {
        (parts::breadcrumb(&view.agent_id, &view.hostname, "Arrays", "arrays"))
        @match find::array(&view.state, &view.name) {
            None => {
                h1 { (view.name) }
                p.muted #gone { "This host's newest report has no such array." }
            }
            Some(result) => {
                h1 { "Array " (view.name) " " (badge::verdict(Some(result.verdict.status))) }
                p.sub { (view.hostname) @if let Some(at) = view.collected_at_ms { " · read " (ago(at, now)) } }
                (parts::risk(Some(&result.verdict), Subject::Array))
                (summary(result))
                (members(view, result))
                (syncs(view, result))
                @if find::matchable(&view.name) {
                    h2 #history { "History" }
                    (parts::chart_ranges(view.range))
                    section.charts {
                        @for (title, metric) in charts { (parts::chart(&view.agent_id, title, metric, &labels, view.range)) }
                    }
                }
            }
        }
    };
    layout::page(Frame::new(&view.name, Nav::Overview), caller, content)
}
