//! The Alerts page (`/alerts`, issue 18 §2): open alerts and the history, filtered by state
//! (open, acknowledged, silenced, unknown, resolved), severity, host, text and time range,
//! paged (bounded), each linking to its host; for those who may operate on the host an
//! acknowledge form with a note (or un-acknowledge) and a silence button; below, the silences
//! in force and the operator's rules ([`super::alert_forms`] has their forms and the POST
//! handlers, CSRF checked by the route guard).

use super::alert_forms::{ack_cell, rules_section, silences_section};
use super::badge::{badge, Tone};
use super::format::{ago, datetime, url_segment};
use super::layout::{self, Frame, Nav};
use super::PageCaller;
use crate::clock::now_ms;
use crate::domain::access::Right;
use crate::domain::alert_actions::{self, SilenceView};
use crate::domain::alert_rules::{self, RuleView};
use crate::domain::alerts::{
    self, parse_severity, parse_state, AlertFilter, AlertPage, AlertState, AlertView,
};
use crate::domain::error::DomainError;
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiQuery};
use crate::http::state::AppState;
use crate::storage::alerts::Severity;
use axum::extract::State;
use maud::{html, Markup};
use serde::Deserialize;

/// Alerts per page.
pub const PAGE_SIZE: usize = 50;
const PAGE: &str = "/alerts";

/// The filter form's fields, as the browser sends them (empty = any).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct Params {
    pub state: String,
    pub severity: String,
    pub host: String,
    pub q: String,
    /// How far back: `1h`, `24h`, `7d`, `30d` or empty (any time).
    pub within: String,
    pub page: usize,
}

impl Params {
    /// The filter these say.
    pub fn filter(&self, now_ms: i64) -> Result<AlertFilter, DomainError> {
        let some = |text: &str| Some(text.trim().to_owned()).filter(|text| !text.is_empty());
        let since_ms = match self.within.as_str() {
            "" => None,
            "1h" | "24h" | "7d" | "30d" => humantime::parse_duration(&self.within)
                .ok()
                .map(|age| now_ms - age.as_millis() as i64),
            other => {
                return Err(DomainError::Invalid(format!(
                    "bad time range \"{other}\": expected 1h, 24h, 7d or 30d"
                )))
            }
        };
        if self.q.len() > 200 || self.host.len() > 200 {
            return Err(DomainError::Invalid("search text too long".into()));
        }
        Ok(AlertFilter {
            state: match self.state.as_str() {
                "" | "all" => None,
                word => Some(parse_state(word)?),
            },
            severity: some(&self.severity)
                .map(|word| parse_severity(&word))
                .transpose()?,
            host: some(&self.host),
            text: some(&self.q),
            since_ms,
            until_ms: None,
        })
    }

    /// The query string of this filter on page `page`.
    fn link(&self, page: usize) -> String {
        let pairs = [
            ("state", self.state.as_str()),
            ("severity", self.severity.as_str()),
            ("host", self.host.as_str()),
            ("q", self.q.as_str()),
            ("within", self.within.as_str()),
        ];
        let mut link = format!("{PAGE}?page={page}");
        for (name, value) in pairs.iter().filter(|(_, value)| !value.is_empty()) {
            link.push_str(&format!("&{name}={}", url_segment(value)));
        }
        link
    }
}

/// What the page shows.
#[derive(Debug, Clone)]
pub struct AlertsPage {
    pub params: Params,
    pub page: AlertPage,
    /// Keys of the alerts whose host the caller may operate on.
    pub operable: Vec<String>,
    pub silences: Vec<SilenceView>,
    pub rules: Vec<RuleView>,
    pub now_ms: i64,
}

fn state_badge(state: AlertState) -> Markup {
    let tone = match state {
        AlertState::Open => Tone::Critical,
        AlertState::Unknown | AlertState::Acknowledged => Tone::Warning,
        AlertState::Silenced => Tone::Unknown,
        AlertState::Resolved => Tone::Ok,
    };
    badge(tone, state.as_str())
}

fn severity_badge(severity: Severity) -> Markup {
    let tone = match severity {
        Severity::Warning => Tone::Warning,
        Severity::Critical => Tone::Critical,
    };
    badge(tone, severity.as_str())
}

fn filters(params: &Params) -> Markup {
    let option = |value: &str, label: &str, current: &str| {
        html! { option value=(value) selected[value == current] { (label) } }
    };
    html! {
        form method="get" action=(PAGE) class="card" id="alert-filters" {
            label { "State " select name="state" {
                (option("", "any", &params.state))
                @for state in AlertState::ALL { (option(state.as_str(), state.as_str(), &params.state)) }
            } }
            label { "Severity " select name="severity" {
                (option("", "any", &params.severity))
                (option("warning", "warning", &params.severity))
                (option("critical", "critical", &params.severity))
            } }
            label { "Host " input name="host" value=(params.host) placeholder="agent id"; }
            label { "Text " input name="q" value=(params.q) placeholder="search"; }
            label { "Within " select name="within" {
                (option("", "any time", &params.within))
                @for within in ["1h", "24h", "7d", "30d"] { (option(within, within, &params.within)) }
            } }
            button type="submit" { "Filter" }
        }
    }
}

fn row(alert: &AlertView, view: &AlertsPage, csrf: Option<&str>) -> Markup {
    let operable = csrf.filter(|_| view.operable.contains(&alert.key));
    html! {
        tr.alert data-key=(alert.key) data-state=(alert.state.as_str()) {
            td { (severity_badge(alert.severity)) }
            td { (state_badge(alert.state)) }
            td { a.host-link href={ "/hosts/" (url_segment(alert.agent_id.as_str())) } { (alert.hostname) } }
            td {
                (alert.summary)
                div.sub {
                    @for (n, detail) in alert.details.iter().enumerate() {
                        @if n > 0 { br; }
                        (detail)
                    }
                }
                div.sub { code { (alert.key) } }
            }
            td {
                (ago(alert.opened_at_ms, view.now_ms))
                @if let Some(resolved) = alert.resolved_at_ms { div.sub { "resolved " (datetime(resolved)) } }
                @if let Some(since) = alert.unknown_since_ms { div.sub { "host offline since " (datetime(since)) } }
            }
            td { (ack_cell(alert, operable)) }
        }
    }
}

fn pager(view: &AlertsPage) -> Markup {
    let page = view.params.page;
    let pages = view.page.total.div_ceil(PAGE_SIZE).max(1);
    html! {
        p.pager {
            @if page > 0 { a href=(view.params.link(page - 1)) { "Newer" } " " }
            "Page " (page + 1) " of " (pages) " (" (view.page.total) " alerts)"
            @if page + 1 < pages { " " a href=(view.params.link(page + 1)) { "Older" } }
        }
    }
}

/// The page (pure).
pub fn render(view: &AlertsPage, caller: &Caller) -> Markup {
    let csrf = Some(caller.csrf_token());
    let operate_all = caller
        .access
        .on_all_hosts()
        .is_some_and(|right| right >= Right::Operate);
    let content = html! {
        h1 { "Alerts" }
        (filters(&view.params))
        @if view.page.alerts.is_empty() {
            p.muted #no-alerts { "No alerts match." }
        } @else {
            div.table { table #alerts {
                thead { tr {
                    th { "Severity" } th { "State" } th { "Host" } th { "Alert" } th { "Since" } th { "Acknowledged" }
                } }
                tbody { @for alert in &view.page.alerts { (row(alert, view, csrf)) } }
            } }
        }
        (pager(view))
        (silences_section(&view.silences, csrf.filter(|_| operate_all), view.now_ms))
        (rules_section(&view.rules, csrf.filter(|_| caller.is_admin())))
    };
    layout::page(Frame::new("Alerts", Nav::Alerts), caller, content)
}

/// `GET /alerts`.
pub async fn page(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiQuery(params): ApiQuery<Params>,
) -> Result<Markup, ApiError> {
    let access = caller.0.access.clone();
    let view = blocking(&state.ctx, move |ctx| {
        let now_ms = now_ms();
        let filter = params.filter(now_ms)?;
        let visible = crate::domain::access::visible(ctx, &access)?;
        let offset = params.page.saturating_mul(PAGE_SIZE);
        let page = alerts::page(ctx, &filter, &visible, offset, PAGE_SIZE)?;
        let operable = page
            .alerts
            .iter()
            .filter(|alert| visible.can(&alert.agent_id, Right::Operate))
            .map(|alert| alert.key.clone())
            .collect();
        let all_view = access.on_all_hosts().is_some();
        Ok::<_, DomainError>(AlertsPage {
            params,
            page,
            operable,
            silences: if all_view {
                alert_actions::silences(ctx)?
            } else {
                Vec::new()
            },
            rules: if all_view {
                alert_rules::list(ctx)?
            } else {
                Vec::new()
            },
            now_ms,
        })
    })
    .await?;
    Ok(render(&view, &caller.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::alerts::AckView;
    use crate::storage::auth::Role;

    fn alert(note: &str) -> AlertView {
        AlertView {
            key: "pool/nas/<tank>".into(),
            agent_id: unity_shared::proto::AgentId::new("nas").unwrap(),
            hostname: "<i>nas</i>".into(),
            state: AlertState::Acknowledged,
            severity: Severity::Critical,
            summary: "tank DEGRADED".into(),
            details: vec![],
            opened_at_ms: 0,
            last_seen_ms: 0,
            resolved_at_ms: None,
            acknowledged: Some(AckView {
                by: "ada via API token 3f2a".into(),
                at_ms: 0,
                note: note.into(),
            }),
            silenced_by: vec![],
            unknown_since_ms: None,
        }
    }

    #[test]
    fn issue_18_the_page_escapes_notes_and_offers_forms_to_operators_only() {
        let view = AlertsPage {
            params: Params {
                q: "\"><script>".into(),
                ..Params::default()
            },
            page: AlertPage {
                total: 120,
                offset: 0,
                limit: PAGE_SIZE,
                alerts: vec![alert("<script>alert(1)</script>")],
            },
            operable: vec!["pool/nas/<tank>".into()],
            silences: vec![],
            rules: vec![],
            now_ms: 60_000,
        };
        let html = render(&view, &layout::tests::caller(Role::Admin)).into_string();
        assert!(!html.contains("<script>alert(1)"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!html.contains("<i>nas"));
        assert!(html.contains("action=\"/hosts/nas/alerts/unacknowledge\""));
        assert!(html.contains("data-state=\"acknowledged\""));
        assert!(html.contains("href=\"/hosts/nas\""));
        // Three pages; the search is kept in the link, escaped.
        assert!(html.contains("Page 1 of 3"), "{html}");
        assert!(html.contains("q=%22%3E%3Cscript%3E"), "{html}");
        assert!(html.contains("id=\"add-silence\"") && html.contains("id=\"add-rule\""));
        let viewer = AlertsPage {
            operable: vec![],
            ..view
        };
        let html = render(&viewer, &layout::tests::caller(Role::Viewer)).into_string();
        assert!(!html.contains("/acknowledge\"") && !html.contains("/unacknowledge\""));
        assert!(!html.contains("id=\"add-silence\"") && !html.contains("id=\"add-rule\""));
    }

    #[test]
    fn issue_18_cli_config_silences_show_as_from_configuration_without_delete() {
        let silence = |id: u64, from_configuration: bool| SilenceView {
            id,
            host: Some("lab01".into()),
            key_prefix: Some("container/".into()),
            label: None,
            comment: "lab <b>rebuild</b>".into(),
            created_by: if from_configuration {
                "configuration"
            } else {
                "ada"
            }
            .into(),
            created_at_ms: 0,
            expires_at_ms: if from_configuration {
                i64::MAX
            } else {
                7_200_000
            },
            from_configuration,
        };
        let html = super::super::alert_forms::silences_section(
            &[silence(0, true), silence(9, false)],
            Some("token"),
            60_000,
        )
        .into_string();
        let (config_row, stored_row) = html
            .split_once("data-id=\"9\"")
            .unwrap_or_else(|| panic!("{html}"));
        assert!(
            config_row.contains("data-source=\"configuration\""),
            "{html}"
        );
        assert!(
            config_row.contains("from configuration") && config_row.contains("while configured")
        );
        assert!(!config_row.contains("/silences/0/delete"), "{html}");
        assert!(stored_row.contains("/silences/9/delete"), "{html}");
        assert!(!html.contains("<b>rebuild"), "{html}");
    }

    #[test]
    fn issue_18_filters_are_checked() {
        let params = |state: &str, within: &str| Params {
            state: state.into(),
            within: within.into(),
            ..Params::default()
        };
        assert!(params("", "").filter(0).unwrap().state.is_none());
        assert_eq!(
            params("unknown", "24h")
                .filter(86_400_000)
                .unwrap()
                .since_ms,
            Some(0)
        );
        assert!(params("closed", "").filter(0).is_err());
        assert!(params("", "1y").filter(0).is_err());
    }
}
