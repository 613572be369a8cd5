//! Issue 21: no text a user typed (group, host group and user names, label selectors, member
//! lists) and no message a sign-in page repeats reaches a page as HTML. Names are checked when
//! they are made, but the pages must not rely on that: every string gets every payload, and
//! each payload must show, escaped, and never raw.

use super::{payloads_in, MARKER, PAYLOADS};
use crate::domain::access::Right;
use crate::domain::groups::{GroupView, HostGroupView};
use crate::domain::hosts::{Host, HostStatus};
use crate::domain::second_factor::TotpEnrolment;
use crate::domain::users::UserView;
use crate::health::HealthRollup;
use crate::storage::auth::Role;
use crate::web::layout::tests as layout_tests;
use crate::web::{access, login, second_factor, security};
use unity_shared::proto::AgentId;

fn pages(payload: &str) -> Vec<(&'static str, String)> {
    let text = |what: &str| format!("{what} {payload}");
    let caller = layout_tests::caller(Role::Admin);
    let view = access::AccessView {
        groups: vec![GroupView {
            name: text("group"),
            description: text("description"),
            rights: vec![(text("host group"), Right::Operate)],
            members: vec![text("member")],
        }],
        host_groups: vec![HostGroupView {
            name: text("host group"),
            labels: vec![(text("label"), text("value"))],
            hosts: vec![AgentId::new("nas-1").unwrap_or_else(|_| unreachable!())],
            members: vec![],
        }],
        users: vec![UserView {
            name: text("user"),
            role: "member",
            groups: vec![text("user group")],
            second_factor: false,
            created_at_ms: 0,
        }],
        hosts: vec![(
            Host {
                agent_id: AgentId::new("nas-1").unwrap_or_else(|_| unreachable!()),
                hostname: text("hostname"),
                status: HostStatus::Online,
                last_seen_ms: 0,
                agent_version: String::new(),
                install: unity_shared::proto::InstallKind::Unknown,
                os: String::new(),
                certificate_not_after: 0,
                dropped_reports: 0,
                health: HealthRollup::default(),
                agentless: None,
            },
            vec![(text("host label"), text("host label value"))],
        )],
    };
    let enrolment = TotpEnrolment {
        secret: text("secret"),
        uri: text("otpauth"),
    };
    let security_view = security::SecurityView {
        enrolment: Some(enrolment.clone()),
        new_codes: vec![text("code")],
        message: Some(text("message")),
        notice: Some(text("notice")),
        passkeys: vec![crate::domain::second_factor::passkeys::PasskeyView {
            id: text("passkey id"),
            name: text("passkey name"),
            created_at_ms: 1,
            last_used_ms: Some(2),
        }],
        ..Default::default()
    };
    vec![
        ("access", access::render(&view, &caller).into_string()),
        (
            "security",
            security::render(&security_view, &caller).into_string(),
        ),
        (
            "login",
            login::render(
                Some(&text("message")),
                &login::LoginOptions {
                    oidc_name: Some(text("provider")),
                    password: true,
                },
            )
            .into_string(),
        ),
        (
            "second factor",
            second_factor::render(Some(&text("message")), Some(&enrolment), true).into_string(),
        ),
        (
            "signed out",
            crate::web::oidc::render_signed_out(&text("https://id.test/end")).into_string(),
        ),
        (
            "recovery codes",
            second_factor::render_codes(&[text("code")]).into_string(),
        ),
    ]
}

#[test]
fn issue_21_user_typed_text_is_escaped_on_every_access_and_sign_in_page() {
    for (n, template) in PAYLOADS.iter().enumerate() {
        let payload = template.replace("{n}", &n.to_string());
        for (page, html) in pages(&payload) {
            let (escaped, raw) = payloads_in(&html);
            assert!(
                raw.is_empty() && !html.contains(&format!("<{MARKER}")),
                "{page}: {payload:?} reached the HTML unescaped:\n{html}"
            );
            assert!(
                escaped.contains(&n),
                "{page}: {payload:?} does not show at all:\n{html}"
            );
        }
    }
}
