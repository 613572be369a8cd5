//! A container's log, for administrators (issue 19 §4): `GET .../logs?lines=N` asks the
//! container's agent for the newest N lines (N ≤ 1000, at most 256 KiB) and shows them; its
//! Follow button (`assets/container_logs.js`) opens `GET .../logs/follow?after=NS`, server-sent
//! events with the lines that come after the newest shown, asked from the agent every two
//! seconds for at most ten minutes. The controller stores none of it. Each line's text goes
//! through [`log_text::clean`] (escape sequences and control characters) and is escaped by maud
//! on the page, and by the script's `textContent` while following.

use super::container_page::href;
use super::format::datetime;
use super::layout::{self, Frame, Nav};
use super::log_text;
use super::PageCaller;
use crate::domain::container_logs::{self, Follow};
use crate::domain::error::DomainError;
use crate::domain::hosts::parse_agent_id;
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{ApiPath, ApiQuery};
use crate::http::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use unity_shared::model::container_logs::{ContainerLogLine, ContainerLogs, LogStream};
use unity_shared::proto::AgentId;

/// How often a follow asks the agent for new lines.
const FOLLOW_EVERY: Duration = Duration::from_secs(2);

/// How long one follow lasts; the page offers to follow again.
const FOLLOW_FOR: Duration = Duration::from_secs(600);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogsParams {
    pub lines: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FollowParams {
    /// The newest line shown, nanoseconds since the Unix epoch.
    pub after: Option<i64>,
}

/// What the page shows: the lines, or why there are none.
#[derive(Debug)]
pub struct LogsView {
    pub agent_id: AgentId,
    pub container: String,
    pub lines_asked: u32,
    pub logs: Result<ContainerLogs, String>,
}

fn stream_word(stream: LogStream) -> &'static str {
    match stream {
        LogStream::Stdout => "stdout",
        LogStream::Stderr => "stderr",
        LogStream::Console => "console",
    }
}

/// A line's time for people: the UTC second (the full stamp stays in `data-at`).
fn line_time(line: &ContainerLogLine) -> String {
    line.at_ns
        .map(|at_ns| datetime(at_ns.div_euclid(1_000_000)))
        .unwrap_or_default()
}

fn lines_list(logs: &ContainerLogs) -> Markup {
    html! {
        @if logs.truncated {
            p.note #logs-truncated { "Older lines were left out (at most 1000 lines and 256 KiB are shown)." }
        }
        @if logs.lines.is_empty() { p.muted #logs-empty { "The container has written nothing yet." } }
        ol.log-lines #log-lines aria-live="polite" {
            @for line in &logs.lines {
                li data-stream=(stream_word(line.stream)) data-at=[line.at_ns] {
                    span.log-time { (line_time(line)) } " "
                    span.log-text { (log_text::clean(&line.text)) }
                }
            }
        }
    }
}

/// The page (pure).
pub fn render(view: &LogsView, caller: &Caller) -> Markup {
    let page_href = href(view.agent_id.as_str(), &view.container);
    let newest = view
        .logs
        .as_ref()
        .ok()
        .and_then(|logs| logs.lines.iter().filter_map(|line| line.at_ns).max());
    let content = html! {
        h1 { "Log of " (view.container) }
        p { a href=(page_href) #container-link { "Back to the container" } }
        form method="get" action={ (page_href) "/logs" } id="logs-form" class="inline" {
            label { "Last " input type="number" name="lines" min="1" max="1000" value=(view.lines_asked) aria-label="Lines"; " lines" }
            " " button type="submit" { "Show" }
        }
        p.sub { "Read from the agent now; the controller keeps no copy." }
        @match &view.logs {
            Err(message) => p.error #logs-error { (message) },
            Ok(logs) => {
                div.log-follow {
                    button type="button" #follow-start data-follow={ (page_href) "/logs/follow" } data-after=[newest] { "Follow" }
                    " " button type="button" #follow-stop hidden { "Stop" }
                    " " span.sub #follow-status aria-live="polite" {}
                }
                (lines_list(logs))
            }
        }
        script src="/assets/container_logs.js" {}
    };
    layout::page(Frame::new("Log", Nav::Overview), caller, content)
}

/// The status a page with this outcome is sent with: 503 when the agent could not be asked.
fn status_of(error: &DomainError) -> Option<StatusCode> {
    match error {
        DomainError::Unavailable(_) => Some(StatusCode::SERVICE_UNAVAILABLE),
        _ => None,
    }
}

/// `GET /hosts/{agent_id}/containers/{name}/logs?lines=200` (administrators of the host).
pub async fn page(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiPath((agent_id, container)): ApiPath<(String, String)>,
    ApiQuery(params): ApiQuery<LogsParams>,
) -> Result<Response, ApiError> {
    let agent_id = parse_agent_id(&agent_id)?;
    let lines_asked = container_logs::lines_wanted(params.lines)?;
    let actor = caller.0.actor();
    let read = container_logs::read(&state.ctx, &actor, &agent_id, &container, lines_asked).await;
    let (status, logs) = match read {
        Ok(logs) => (StatusCode::OK, Ok(logs)),
        Err(error) => match status_of(&error) {
            Some(status) => (status, Err(error.to_string())),
            None => return Err(error.into()),
        },
    };
    let view = LogsView {
        agent_id,
        container,
        lines_asked,
        logs,
    };
    Ok((status, render(&view, &caller.0)).into_response())
}

/// One line as a follow event's JSON (the script sets it as text, never as HTML).
#[derive(Debug, Serialize)]
struct LineEvent {
    at_ns: Option<i64>,
    time: String,
    stream: &'static str,
    text: String,
}

fn line_payload(line: &ContainerLogLine) -> LineEvent {
    LineEvent {
        at_ns: line.at_ns,
        time: line_time(line),
        stream: stream_word(line.stream),
        text: log_text::clean(&line.text),
    }
}

fn line_event(line: &ContainerLogLine) -> Event {
    let payload = line_payload(line);
    Event::default()
        .event("line")
        .json_data(&payload)
        .unwrap_or_else(|_| Event::default().event("line"))
}

fn end_event(message: &str) -> Event {
    Event::default().event("end").data(log_text::clean(message))
}

/// Where a follow stands between two polls.
struct Following {
    state: AppState,
    follow: Option<Follow>,
    until: tokio::time::Instant,
    first: bool,
}

/// `GET /hosts/{agent_id}/containers/{name}/logs/follow?after=NS`: server-sent events, `line`
/// per new line, `end` with the reason when the follow stops (ten minutes, the agent gone).
pub async fn follow(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiPath((agent_id, container)): ApiPath<(String, String)>,
    ApiQuery(params): ApiQuery<FollowParams>,
) -> Result<Response, ApiError> {
    let agent_id = parse_agent_id(&agent_id)?;
    let actor = caller.0.actor();
    let follow = Follow::start(&state.ctx, &actor, &agent_id, &container, params.after).await?;
    let start = Following {
        state,
        follow: Some(follow),
        until: tokio::time::Instant::now() + FOLLOW_FOR,
        first: true,
    };
    let events = futures_util::stream::unfold(start, |mut following| async move {
        let mut follow = following.follow.take()?;
        if !following.first {
            if tokio::time::Instant::now() >= following.until {
                let end = end_event("Following stopped after ten minutes; follow again to go on.");
                return Some((vec![end], following));
            }
            tokio::time::sleep(FOLLOW_EVERY).await;
        }
        following.first = false;
        match follow.next(&following.state.ctx).await {
            Ok(logs) => {
                let events = logs.lines.iter().map(line_event).collect();
                following.follow = Some(follow);
                Some((events, following))
            }
            Err(error) => Some((vec![end_event(&error.to_string())], following)),
        }
    });
    let events = futures_util::StreamExt::flat_map(events, |batch| {
        futures_util::stream::iter(batch.into_iter().map(Ok::<_, std::convert::Infallible>))
    });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::auth::Role;
    use crate::web::layout::tests::caller;

    fn view(logs: Result<ContainerLogs, String>) -> LogsView {
        LogsView {
            agent_id: AgentId::new("nas-1").unwrap(),
            container: "web".into(),
            lines_asked: 50,
            logs,
        }
    }

    fn line(at_ns: Option<i64>, stream: LogStream, text: &str) -> ContainerLogLine {
        ContainerLogLine {
            at_ns,
            stream,
            text: text.into(),
        }
    }

    #[test]
    fn issue_19_hostile_log_lines_are_shown_escaped_without_escape_sequences() {
        let logs = ContainerLogs {
            lines: vec![
                line(
                    Some(1_700_000_000_000_000_000),
                    LogStream::Stdout,
                    "<script>alert(1)</script>",
                ),
                line(
                    None,
                    LogStream::Stderr,
                    "\u{1b}[31mred\u{1b}[0m \u{fffd} end\r",
                ),
            ],
            truncated: true,
        };
        let html = render(&view(Ok(logs)), &caller(Role::Admin)).into_string();
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains("red \u{fffd} end␍"), "{html}");
        assert!(!html.contains('\u{1b}'), "{html}");
        assert!(html.contains("data-stream=\"stderr\""), "{html}");
        assert!(html.contains("2023-11-14 22:13:20 UTC"), "{html}");
        assert!(html.contains("id=\"logs-truncated\""), "{html}");
        assert!(
            html.contains("data-follow=\"/hosts/nas-1/containers/web/logs/follow\""),
            "{html}"
        );
        assert!(
            html.contains("data-after=\"1700000000000000000\""),
            "{html}"
        );
    }

    #[test]
    fn issue_19_an_unreachable_agent_is_said_plainly_with_no_follow() {
        let html = render(
            &view(Err("nas-1 is offline: logs are read from its agent".into())),
            &caller(Role::Admin),
        )
        .into_string();
        assert!(html.contains("id=\"logs-error\""), "{html}");
        assert!(html.contains("nas-1 is offline"), "{html}");
        assert!(!html.contains("follow-start"), "{html}");
    }

    #[test]
    fn follow_events_carry_cleaned_text_as_json() {
        let payload = line_payload(&line(None, LogStream::Stderr, "<a>\u{1b}[1mb\nc"));
        let json = serde_json::to_string(&payload).unwrap();
        assert_eq!(
            json,
            r#"{"at_ns":null,"time":"","stream":"stderr","text":"<a>b␊c"}"#
        );
    }
}
