//! The Certificates page (`/certificates`): every visible host's certificates, in files and
//! served on TLS ports, soonest expiry first, coloured by urgency, with where each was found
//! and its problems in words; then the files and ports the agents could not read. Viewers see
//! the same as admins: expiry and names, never key material (none reaches the controller).

use super::badge::{badge, Tone};
use super::format::{ago, url_segment};
use super::labels;
use super::layout::{self, Frame, Nav};
use super::PageCaller;
use crate::clock::now_ms;
use crate::domain::certificates::{self, FleetCertificates, Urgency};
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::blocking;
use crate::http::state::AppState;
use axum::extract::State;
use maud::{html, Markup};
use unity_shared::model::certificate::CertificateLocation;

/// `GET /certificates`.
pub async fn page(State(state): State<AppState>, caller: PageCaller) -> Result<Markup, ApiError> {
    let access = caller.0.access.clone();
    let now = now_ms();
    let fleet = blocking(&state.ctx, move |ctx| {
        let visible = crate::domain::access::visible(ctx, &access)?;
        Ok::<_, ApiError>(certificates::list(ctx, &visible, None, now / 1000)?)
    })
    .await?;
    Ok(render(&fleet, &caller.0, now))
}

fn urgency_badge(urgency: Urgency) -> Markup {
    let tone = match urgency {
        Urgency::Expired | Urgency::Critical => Tone::Critical,
        Urgency::Warning => Tone::Warning,
        Urgency::Ok => Tone::Ok,
    };
    badge(tone, labels::certificate_urgency(urgency))
}

fn days_text(days_left: i64) -> String {
    match days_left {
        days if days < -1 => format!("expired {} days ago", -days),
        -1 => "expired".into(),
        0 => "less than a day".into(),
        1 => "1 day".into(),
        days => format!("{days} days"),
    }
}

fn date(unix: i64) -> String {
    super::format::datetime(unix.saturating_mul(1000))
}

fn location(location: &CertificateLocation) -> Markup {
    html! {
        @match location {
            CertificateLocation::File { path, .. } => { "file " code { (path) } }
            CertificateLocation::Port { address, port, process, server_name } => {
                "port " code { (address) ":" (port) }
                @if let Some(process) = process { " (" (process) ")" }
                @if let Some(name) = server_name { div.sub { "probed as " (name) } }
            }
        }
    }
}

/// The certificates as a table (with a host column when `show_host`), soonest expiry first,
/// or a line saying there are none.
pub fn table(fleet: &FleetCertificates, now_ms: i64, show_host: bool) -> Markup {
    html! {
        @if fleet.certificates.is_empty() {
            p.muted #no-certificates { "No certificates reported." }
        } @else {
            div.table { table #certificates {
                thead { tr {
                    th { "Expires" } th { "Left" }
                    @if show_host { th { "Host" } }
                    th { "Subject / names" } th { "Issuer" } th { "Key" } th { "Where" } th { "Problems" }
                } }
                tbody {
                    @for row in &fleet.certificates {
                        tr.certificate data-urgency=(row.urgency.as_str()) data-sha256=(row.certificate.sha256_hex) {
                            td { (urgency_badge(row.urgency)) div.sub { (date(row.certificate.not_after_unix)) } }
                            td { (days_text(row.days_left)) }
                            @if show_host {
                                td {
                                    a.host-link href={ "/hosts/" (url_segment(row.agent_id.as_str())) } { (row.hostname) }
                                    div.sub { "seen " (ago(row.collected_at_ms, now_ms)) }
                                }
                            }
                            td {
                                (row.certificate.subject)
                                @if row.certificate.is_ca { " " (badge(Tone::Ok, "CA")) }
                                @if !row.certificate.names.is_empty() {
                                    div.sub {
                                        @for (n, name) in row.certificate.names.iter().enumerate() {
                                            @if n > 0 { ", " }
                                            (name.to_string())
                                        }
                                    }
                                }
                            }
                            td { (row.certificate.issuer) }
                            td { (labels::certificate_key(&row.certificate.key)) }
                            td {
                                (location(&row.certificate.location))
                                @if row.certificate.position > 0 {
                                    div.sub { "chain position " (row.certificate.position) }
                                }
                            }
                            td {
                                @for problem in &row.certificate.problems {
                                    div.problem { (labels::certificate_problem(problem)) }
                                }
                            }
                        }
                    }
                }
            } }
        }
        @if !fleet.problems.is_empty() {
            h3 { "Could not be read" }
            div.table { table #certificate-problems {
                thead { tr {
                    @if show_host { th { "Host" } }
                    th { "File or port" } th { "Why" }
                } }
                tbody {
                    @for problem in &fleet.problems {
                        tr {
                            @if show_host {
                                td { a.host-link href={ "/hosts/" (url_segment(problem.agent_id.as_str())) } { (problem.hostname) } }
                            }
                            td { code { (problem.problem.location) } }
                            td { (problem.problem.message) }
                        }
                    }
                }
            } }
        }
    }
}

/// The page, pure.
pub fn render(fleet: &FleetCertificates, caller: &Caller, now_ms: i64) -> Markup {
    let content = html! {
        h1 { "Certificates" }
        p.muted {
            (fleet.certificates.len()) " certificates on " (fleet.hosts_reporting)
            " hosts, soonest expiry first."
            @if fleet.truncated { " Some hosts stopped at a cap: their lists are partial." }
        }
        (table(fleet, now_ms, true))
    };
    layout::page(
        Frame::new("Certificates", Nav::Certificates),
        caller,
        content,
    )
}
