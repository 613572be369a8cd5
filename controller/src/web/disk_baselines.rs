//! The host page's disk baselines (issue 18 §1, disk trends): each drive's accepted SMART
//! counter values, when and by whom they were accepted, and, for those who administer the
//! host, an "Accept as new baseline" button per drive (a CSRF-checked form).

use super::format::{datetime, url_segment};
use super::PageCaller;
use crate::domain::access::Right;
use crate::domain::disk_baselines;
use crate::domain::hosts::parse_agent_id;
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiForm, ApiPath};
use crate::http::state::AppState;
use crate::storage::disk_baselines::{drive_id, DiskBaseline};
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use std::collections::BTreeMap;
use unity_shared::proto::{AgentId, StorageState};

/// The CSRF token when the caller may accept baselines on this host.
fn administer_csrf(caller: &Caller) -> Option<&str> {
    let administers = caller
        .host_right
        .is_some_and(|right| right >= Right::Administer);
    (caller.is_admin() || administers).then(|| caller.csrf_token())
}

/// The baselines table under the disks (pure).
pub fn panel(
    agent_id: &AgentId,
    state: &StorageState,
    baselines: &BTreeMap<String, DiskBaseline>,
    caller: &Caller,
) -> Markup {
    let csrf = administer_csrf(caller);
    let drives: Vec<(String, &str, String)> = state
        .smart
        .devices
        .iter()
        .filter(|device| device.report.is_some())
        .map(|device| {
            let href = super::storage_pages::find::disk_href(agent_id, device);
            (drive_id(device), device.device.as_str(), href)
        })
        .collect();
    html! {
        h3 #disk-baselines { "SMART baselines" }
        p.sub {
            "Alerts fire when a counter grows past the values accepted here (reallocated, pending and "
            "uncorrectable sectors, CRC and media errors, wear steps of 80, 90 and 100 %)."
        }
        div.table { table #baselines {
            thead { tr { th { "Device" } th { "Drive" } th { "Baseline" } th { "Accepted" } th {} } }
            tbody {
                @for (drive, device, href) in &drives {
                    @let baseline = baselines.get(drive);
                    tr {
                        td { a href=(href) { (device) } }
                        td { code { (drive) } }
                        td {
                            @if let Some(baseline) = baseline {
                                @for (counter, value) in &baseline.counters {
                                    div.sub { (counter) " " (value) }
                                }
                            } @else { "–" }
                        }
                        td {
                            @if let Some(baseline) = baseline {
                                (datetime(baseline.accepted_at_ms))
                                div.sub { (baseline.accepted_by.as_deref().unwrap_or("first seen")) }
                            } @else { "–" }
                        }
                        td {
                            @if let Some(csrf) = csrf {
                                form method="post" action={ "/hosts/" (agent_id) "/disks/" (url_segment(drive)) "/baseline" } {
                                    input type="hidden" name="csrf" value=(csrf);
                                    button type="submit" { "Accept as new baseline" }
                                }
                            }
                        }
                    }
                }
            }
        } }
    }
}

/// `POST /hosts/{agent_id}/disks/{drive}/baseline`: accepts, then back to the host's disks.
pub async fn accept(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiPath((agent_id, drive)): ApiPath<(String, String)>,
    ApiForm(_form): ApiForm<super::CsrfForm>,
) -> Result<Response, ApiError> {
    let actor = caller.0.actor();
    let agent_id = parse_agent_id(&agent_id)?;
    let back = format!("/hosts/{}#disk-baselines", url_segment(agent_id.as_str()));
    blocking(&state.ctx, move |ctx| {
        disk_baselines::accept(ctx, &actor, &agent_id, &drive)
    })
    .await?;
    Ok(Redirect::to(&back).into_response())
}
