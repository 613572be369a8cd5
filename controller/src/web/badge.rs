//! Status badges: a word on a coloured pill. The colour is a [`Tone`], never a class name taken
//! from data.

use crate::domain::hosts::HostStatus;
use crate::storage::instances::InstanceStatus;
use maud::{html, Markup};
use unity_shared::model::plugin::CheckStatus;
use unity_shared::model::storage::VerdictStatus;

/// How good the news is; each tone is one CSS class (`app.css`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Green.
    Good,
    /// Amber: needs a look.
    Attention,
    /// Grey-dark: down, failed.
    Bad,
    /// Red: critical, revoked.
    Critical,
}

impl Tone {
    pub fn class(self) -> &'static str {
        match self {
            Tone::Good => "online",
            Tone::Attention => "stale",
            Tone::Bad => "offline",
            Tone::Critical => "revoked",
        }
    }

    /// The tone of a verdict.
    pub fn of_verdict(status: VerdictStatus) -> Tone {
        match status {
            VerdictStatus::Passed => Tone::Good,
            VerdictStatus::Warning => Tone::Attention,
            VerdictStatus::Failing => Tone::Bad,
        }
    }

    /// The tone of a host status.
    pub fn of_host_status(status: HostStatus) -> Tone {
        match status {
            HostStatus::Online => Tone::Good,
            HostStatus::Offline => Tone::Bad,
            HostStatus::Revoked => Tone::Critical,
            HostStatus::Stale => Tone::Attention,
        }
    }
}

/// A badge saying `text`.
pub fn badge(tone: Tone, text: &str) -> Markup {
    html! { span.badge.(tone.class()) { (text) } }
}

/// A host's status badge.
pub fn host_status(status: HostStatus) -> Markup {
    badge(Tone::of_host_status(status), status.as_str())
}

/// The state of one installation of an agent identity.
pub fn instance_status(status: InstanceStatus) -> Markup {
    let tone = match status {
        InstanceStatus::Active => Tone::Good,
        InstanceStatus::Waiting => Tone::Attention,
        InstanceStatus::Conflict => Tone::Critical,
        InstanceStatus::Retired => Tone::Bad,
    };
    badge(tone, status.as_str())
}

/// A local check's status: ok green, warning amber, critical red, unknown grey.
pub fn check_status(status: CheckStatus) -> Markup {
    let tone = match status {
        CheckStatus::Ok => Tone::Good,
        CheckStatus::Warning => Tone::Attention,
        CheckStatus::Critical => Tone::Critical,
        CheckStatus::Unknown => Tone::Bad,
    };
    badge(tone, super::labels::check_status(status))
}

/// A verdict badge: "passed", "warning", "failing", or "unknown" without a verdict.
pub fn verdict(status: Option<VerdictStatus>) -> Markup {
    match status {
        Some(status) => badge(
            Tone::of_verdict(status),
            super::labels::verdict_status(status),
        ),
        None => badge(Tone::Attention, "unknown"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn badges_escape_their_text_and_take_a_fixed_class() {
        assert_eq!(
            badge(Tone::Attention, "<b>").into_string(),
            "<span class=\"badge stale\">&lt;b&gt;</span>"
        );
        assert_eq!(
            host_status(HostStatus::Revoked).into_string(),
            "<span class=\"badge revoked\">revoked</span>"
        );
        assert_eq!(
            verdict(Some(VerdictStatus::Failing)).into_string(),
            "<span class=\"badge offline\">failing</span>"
        );
    }
}
