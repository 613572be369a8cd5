//! What the disk, pool and array pages share: the way back to the host, the risk section, a
//! table of facts, a trend sparkline, a history chart with its range selector. Pure.

use super::risk::{self, Subject};
use crate::web::badge;
use crate::web::chart_range;
use crate::web::format::url_segment;
use crate::web::metric_names::unit_of;
use crate::web::sparkline::sparkline;
use maud::{html, Markup};
use unity_shared::model::storage::stack::MdMemberState;
use unity_shared::model::storage::{Verdict, VerdictStatus};
use unity_shared::proto::AgentId;

/// A series' recent points, when the controller has them.
pub type Trend<'a> = Option<&'a Vec<(i64, f64)>>;

/// "host › Disks": the way back to the host page's section.
pub fn breadcrumb(agent_id: &AgentId, hostname: &str, section: &str, anchor: &str) -> Markup {
    let host = format!("/hosts/{}", url_segment(agent_id.as_str()));
    html! {
        nav.breadcrumb aria-label="Breadcrumb" {
            a href=(host) { (hostname) } " › "
            a href={ (host) "#section-" (anchor) } { (section) }
        }
    }
}

/// The risk in plain words, then the findings behind it (with their numbers).
pub fn risk(verdict: Option<&Verdict>, subject: Subject) -> Markup {
    let words = risk::explain(verdict, subject);
    let findings: Vec<_> = verdict
        .map(|verdict| {
            verdict
                .reasons
                .iter()
                .filter(|r| r.status != VerdictStatus::Passed)
                .collect()
        })
        .unwrap_or_default();
    html! {
        section.risk #risk {
            h2 { "Risk" }
            @for sentence in &words { p { (sentence) } }
            @if !findings.is_empty() {
                h3 { "What was found" }
                ul.reasons #findings {
                    @for reason in findings {
                        li { (badge::verdict(Some(reason.status))) " " (reason.message) }
                    }
                }
            }
        }
    }
}

/// Label and value pairs as a two-column table.
pub fn facts(id: &str, rows: &[(&str, String)]) -> Markup {
    html! {
        div.table { table.facts id=(id) {
            thead { tr { th { "Property" } th { "Value" } } }
            tbody { @for (name, value) in rows { tr { td.fact { (name) } td { (value) } } } }
        } }
    }
}

/// A sparkline of a series' recent points, or a dash when the controller has none.
pub fn trend(points: Trend<'_>, name: &str) -> Markup {
    match points.filter(|points| !points.is_empty()) {
        Some(points) => sparkline(points, &format!("{name}, last 30 days")),
        None => html! { span.muted { "–" } },
    }
}

/// The range selector above a page's charts.
pub fn chart_ranges(range: &str) -> Markup {
    chart_range::selector(range)
}

/// One history chart (drawn by `app.js` from the host's stored series).
pub fn chart(agent_id: &AgentId, title: &str, metric: &str, labels: &str, range: &str) -> Markup {
    html! {
        figure.chart-card {
            figcaption { (title) }
            div.chart data-agent=(agent_id) data-title=(title) data-metric=(metric)
                data-labels=(labels) data-range=(range)
                data-unit=(unit_of(metric).chart_unit(false)) data-rate="" {}
        }
    }
}

/// An md member's state in words.
pub fn md_member_state(state: MdMemberState) -> &'static str {
    match state {
        MdMemberState::Active => "active",
        MdMemberState::Faulty => "failed",
        MdMemberState::Spare => "spare",
        MdMemberState::Rebuilding => "rebuilding",
        MdMemberState::Journal => "journal",
        MdMemberState::Replacement => "replacement",
    }
}
