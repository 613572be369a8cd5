//! The notifications page, for admins (`/settings/notifications`): each alert receiver with
//! its service (never its URL), severity, routing, quiet hours and delivery status (last
//! success, last error, waiting), and a "Send test" button per receiver that shows whether the
//! receiver took the message. Thin handlers over [`crate::domain::notifications`]; `render`
//! is pure.

use super::badge::{badge, Tone};
use super::format::datetime;
use super::layout::{self, Frame, Nav};
use super::PageCaller;
use crate::domain::notifications::{self, ReceiverView};
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{blocking, ApiForm};
use crate::http::state::AppState;
use axum::extract::State;
use maud::{html, Markup};
use serde::Deserialize;
use std::time::Duration;

/// How long "Send test" waits for the receiver's answer before saying it is still trying.
const TEST_WAIT: Duration = Duration::from_secs(20);

/// The outcome of a "Send test", shown at the top.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestNotice {
    Sent { receiver: String },
    Failed { receiver: String, error: String },
    Waiting { receiver: String },
}

fn status_cell(view: &ReceiverView) -> Markup {
    let status = &view.status;
    let failing = match (status.last_error_ms, status.last_success_ms) {
        (Some(error), Some(success)) => error > success,
        (Some(_), None) => true,
        _ => false,
    };
    html! {
        @if failing {
            (badge(Tone::Critical, "failing"))
        } @else if status.last_success_ms.is_some() {
            (badge(Tone::Ok, "ok"))
        } @else {
            (badge(Tone::Warning, "not used yet"))
        }
        div.sub { "last sent " (status.last_success_ms.map_or_else(|| "never".to_owned(), datetime)) }
        @if let Some(error) = &status.last_error {
            div.sub.error { "last error " (status.last_error_ms.map_or_else(String::new, datetime)) ": " (error) }
        }
        div.sub { (status.delivered) " delivered · " (status.failed) " given up · " (view.pending) " waiting" }
    }
}

/// The notifications page (pure).
pub fn render(views: &[ReceiverView], notice: Option<&TestNotice>, caller: &Caller) -> Markup {
    let csrf = caller.csrf_token();
    let content = html! {
        h1 { "Notifications" }
        p.muted {
            "Receivers are configured in the controller's file ([[alerts.receiver]], one URL each; "
            "see docs/notifications.md). Their URLs hold secrets and are not shown."
        }
        @match notice {
            Some(TestNotice::Sent { receiver }) => p.notice #test-result data-outcome="sent" { "Test message sent to " (receiver) "." },
            Some(TestNotice::Failed { receiver, error }) => p.notice.error #test-result data-outcome="failed" { "Test message to " (receiver) " failed: " (error) },
            Some(TestNotice::Waiting { receiver }) => p.notice #test-result data-outcome="waiting" { "The test message to " (receiver) " is still being tried; its status below will say how it went." },
            None => {}
        }
        @if views.is_empty() {
            p.muted #no-receivers { "No receivers configured." }
        } @else {
            div.table { table #receivers {
                thead { tr { th { "Receiver" } th { "Sends" } th { "Status" } th {} } }
                tbody {
                    @for view in views {
                        tr data-receiver=(view.name) {
                            td { (view.name) div.sub { (view.description) } }
                            td {
                                (view.min_severity.as_str()) " and worse"
                                div.sub { (view.routing) }
                                @if let Some(quiet) = &view.quiet { div.sub { "quiet " (quiet) } }
                            }
                            td { (status_cell(view)) }
                            td {
                                form method="post" action="/settings/notifications/test" class="inline" {
                                    input type="hidden" name="csrf" value=(csrf);
                                    input type="hidden" name="receiver" value=(view.name);
                                    button type="submit" { "Send test" }
                                }
                            }
                        }
                    }
                }
            } }
        }
    };
    layout::page(Frame::new("Notifications", Nav::Settings), caller, content)
}

/// `GET /settings/notifications`.
pub async fn page(State(state): State<AppState>, caller: PageCaller) -> Result<Markup, ApiError> {
    let views = blocking(&state.ctx, notifications::list).await?;
    Ok(render(&views, None, &caller.0))
}

#[derive(Deserialize)]
pub struct TestForm {
    pub receiver: String,
}

/// `POST /settings/notifications/test`: queue a test message and wait (a while) for the
/// receiver's answer.
pub async fn send_test(
    State(state): State<AppState>,
    caller: PageCaller,
    ApiForm(form): ApiForm<TestForm>,
) -> Result<Markup, ApiError> {
    let receiver = form.receiver;
    let name = receiver.clone();
    let test_id = blocking(&state.ctx, move |ctx| notifications::queue_test(ctx, &name)).await?;
    let deadline = tokio::time::Instant::now() + TEST_WAIT;
    let notice = loop {
        let outcome = blocking(&state.ctx, move |ctx| {
            notifications::test_outcome(ctx, test_id)
        })
        .await?;
        match outcome {
            Some(outcome) => match outcome.error {
                None => break TestNotice::Sent { receiver },
                Some(error) => break TestNotice::Failed { receiver, error },
            },
            None if tokio::time::Instant::now() >= deadline => {
                break TestNotice::Waiting { receiver }
            }
            None => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
    let views = blocking(&state.ctx, notifications::list).await?;
    Ok(render(&views, Some(&notice), &caller.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::alerts::Severity;
    use crate::storage::auth::Role;
    use crate::storage::outbox::DeliveryStatus;

    #[test]
    fn issue_18_receivers_show_their_status_and_errors_escaped_with_a_test_button() {
        let view = ReceiverView {
            name: "mail <home>".into(),
            description: "smtps://mail.lan:465 to 1 recipient(s)".into(),
            min_severity: Severity::Warning,
            routing: "host groups nas".into(),
            quiet: Some("22:00-07:00 UTC, queue (critical still sent)".into()),
            pending: 2,
            status: DeliveryStatus {
                last_success_ms: Some(1000),
                last_error: Some("receiver answered HTTP 500 <b>".into()),
                last_error_ms: Some(2000),
                delivered: 3,
                failed: 1,
            },
        };
        let notice = TestNotice::Failed {
            receiver: view.name.clone(),
            error: "mail: permanent error (535)".into(),
        };
        let html = render(
            &[view],
            Some(&notice),
            &crate::web::layout::tests::caller(Role::Admin),
        )
        .into_string();
        assert!(html.contains("failing"), "{html}");
        assert!(
            html.contains("receiver answered HTTP 500 &lt;b&gt;"),
            "{html}"
        );
        assert!(html.contains("data-outcome=\"failed\"") && html.contains("permanent error (535)"));
        assert!(
            html.contains("action=\"/settings/notifications/test\"")
                && html.contains("value=\"csrf-token\"")
        );
        assert!(html.contains("mail &lt;home&gt;") && html.contains("2 waiting"));
        let empty =
            render(&[], None, &crate::web::layout::tests::caller(Role::Admin)).into_string();
        assert!(empty.contains("No receivers configured."));
    }
}
