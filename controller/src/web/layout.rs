//! The page frame every dashboard page shares: head (icon, web app manifest), navigation, the
//! logout form (with the session's CSRF token), the content, and the scripts (charts, the
//! confirmation dialogs and phone tables of `controls.js`). Pure.

use crate::http::auth::Caller;
use maud::{html, Markup, DOCTYPE};

/// The navigation's entries; the page's own is highlighted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Overview,
    Updates,
    Certificates,
    Agents,
    Agentless,
    ManagedCertificates,
    SshCa,
    Secrets,
    Ssh,
    Settings,
    Security,
    Services,
    Alerts,
    /// No entry is highlighted (error pages).
    Nothing,
}

const NAV: &[(Nav, &str, &str)] = &[
    (Nav::Overview, "/", "Overview"),
    (Nav::Alerts, "/alerts", "Alerts"),
    (Nav::Services, "/services", "Services"),
    (Nav::Updates, "/updates", "Updates"),
    (Nav::Certificates, "/certificates", "Certificates"),
    (Nav::Agents, "/agents", "Agents"),
    (Nav::Agentless, "/agentless", "Agentless"),
    (
        Nav::ManagedCertificates,
        "/certificates/managed",
        "Managed certificates",
    ),
    (Nav::SshCa, "/ssh/ca", "SSH CA"),
    (Nav::Secrets, "/secrets", "Secrets"),
    (Nav::Ssh, "/ssh", "SSH"),
    (Nav::Settings, "/settings", "Settings"),
    (Nav::Security, "/settings/security", "Sign-in"),
];

/// What the frame needs to know about one page.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// Shown as "{title} · Unity".
    pub title: &'a str,
    pub nav: Nav,
    /// Reload the page every so many seconds (a running operation).
    pub reload_seconds: Option<u32>,
}

impl<'a> Frame<'a> {
    pub fn new(title: &'a str, nav: Nav) -> Frame<'a> {
        Frame {
            title,
            nav,
            reload_seconds: None,
        }
    }
}

/// The theme colour of the header, the manifest and the phone's status bar.
pub const THEME_COLOR: &str = "#1d232b";

/// The whole page around `content`.
pub fn page(frame: Frame<'_>, caller: &Caller, content: Markup) -> Markup {
    page_for(frame, Some(caller), content)
}

/// The whole page around `content`, for a signed-in caller (navigation and logout form) or
/// for nobody (a link to the login form instead).
pub fn page_for(frame: Frame<'_>, caller: Option<&Caller>, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some(seconds) = frame.reload_seconds {
                    meta http-equiv="refresh" content=(seconds);
                }
                meta name="theme-color" content=(THEME_COLOR);
                title { (frame.title) " · Unity" }
                link rel="icon" type="image/svg+xml" href="/assets/favicon.svg";
                link rel="apple-touch-icon" href="/assets/icon-192.png";
                link rel="manifest" href="/manifest.webmanifest";
                link rel="stylesheet" href="/assets/vendor/uPlot.min.css";
                link rel="stylesheet" href="/assets/app.css";
            }
            body {
                header {
                    nav aria-label="Main" {
                        span.brand { "Unity" }
                        @if caller.is_some() {
                            // Open by default (and without JavaScript); below 640 px
                            // controls.js folds it behind the "Menu" button.
                            details.menu #menu open {
                                summary { "Menu" }
                                div.menu-links {
                                    @for (nav, href, label) in NAV {
                                        a href=(href) class=[(*nav == frame.nav).then_some("active")] { (label) }
                                    }
                                }
                            }
                        }
                    }
                    @if let Some(caller) = caller {
                        form method="post" action="/logout" class="logout" {
                            input type="hidden" name="csrf" value=(caller.csrf_token());
                            span.who { (caller.user) " (" (caller.access.role_word()) ")" }
                            button type="submit" id="logout" { "Log out" }
                        }
                    } @else {
                        nav { a href="/login" { "Log in" } }
                    }
                }
                main { (content) }
                script src="/assets/vendor/uPlot.iife.min.js" {}
                script src="/assets/app.js" {}
                script src="/assets/controls.js" {}
            }
        }
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use crate::domain::access::Access;
    use crate::http::auth::Credential;
    use crate::storage::auth::Role;

    /// A logged-in caller for rendering pages in tests: `Admin` administers every host, the
    /// other may do nothing (pages render for them as for a viewer).
    pub fn caller(role: Role) -> Caller {
        Caller {
            user: "ada".to_owned(),
            access: match role {
                Role::Admin => Access::operator(),
                Role::Viewer => Access::nobody("ada"),
            },
            credential: Credential::Session {
                session_hash: [0; 32],
                csrf_token: "csrf-token".to_owned(),
                // Rendering tests look for what the caller hands out, not a random mask.
                csrf_masked: "csrf-token".to_owned(),
            },
            host: None,
            host_right: None,
        }
    }

    #[test]
    fn the_frame_carries_the_csrf_token_and_escapes_the_title() {
        let mut frame = Frame::new("<nas>", Nav::Updates);
        frame.reload_seconds = Some(2);
        let html = page(frame, &caller(Role::Admin), html! { p { "hi" } }).into_string();
        assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
        assert!(
            html.contains("<title>&lt;nas&gt; · Unity</title>"),
            "{html}"
        );
        assert!(
            html.contains("<input type=\"hidden\" name=\"csrf\" value=\"csrf-token\">"),
            "{html}"
        );
        assert!(
            html.contains("<a href=\"/updates\" class=\"active\">Updates</a>"),
            "{html}"
        );
        assert!(html.contains("<a href=\"/agents\">Agents</a>"), "{html}");
        assert!(
            html.contains("<meta http-equiv=\"refresh\" content=\"2\">"),
            "{html}"
        );
        assert!(html.contains("<main><p>hi</p></main>"), "{html}");
    }

    #[test]
    fn issue_19_the_frame_links_the_icon_and_manifest_and_without_a_caller_offers_login() {
        let html = page_for(Frame::new("Not found", Nav::Nothing), None, html! {}).into_string();
        for needle in [
            "<link rel=\"icon\" type=\"image/svg+xml\" href=\"/assets/favicon.svg\">",
            "<link rel=\"manifest\" href=\"/manifest.webmanifest\">",
            "<meta name=\"theme-color\" content=\"#1d232b\">",
            "<script src=\"/assets/controls.js\"></script>",
            "<a href=\"/login\">Log in</a>",
        ] {
            assert!(html.contains(needle), "{needle} in {html}");
        }
        assert!(!html.contains("/logout"), "{html}");
        assert!(
            !html.contains("href=\"/agents\""),
            "no navigation for nobody: {html}"
        );
    }

    #[test]
    fn issue_19_the_navigation_folds_into_a_menu_that_works_without_script() {
        let html = page(
            Frame::new("x", Nav::Alerts),
            &caller(Role::Viewer),
            html! {},
        )
        .into_string();
        let menu = html
            .find("<details class=\"menu\" id=\"menu\" open><summary>Menu</summary>")
            .unwrap_or_else(|| panic!("{html}"));
        let alerts = html
            .find("<a href=\"/alerts\" class=\"active\">Alerts</a>")
            .unwrap();
        assert!(alerts > menu, "the links are inside the menu: {html}");
        assert!(html.contains("<link rel=\"apple-touch-icon\" href=\"/assets/icon-192.png\">"));
    }

    #[test]
    fn issue_16_the_navigation_links_the_agentless_hosts_next_to_the_agents() {
        let html = page(
            Frame::new("Agentless hosts", Nav::Agentless),
            &caller(Role::Viewer),
            html! {},
        )
        .into_string();
        let agents = html.find("<a href=\"/agents\">Agents</a>").unwrap();
        let agentless = html
            .find("<a href=\"/agentless\" class=\"active\">Agentless</a>")
            .unwrap_or_else(|| panic!("{html}"));
        assert!(agentless > agents, "next to the agents: {html}");
    }
}
