//! Status badges: a word on a coloured pill. The colour is a [`Tone`], never a class name taken
//! from data.

use crate::domain::hosts::HostStatus;
use crate::storage::instances::InstanceStatus;
use maud::{html, Markup};
use unity_shared::model::plugin::CheckStatus;
use unity_shared::model::storage::VerdictStatus;

/// How bad the news is: the one mapping from a severity to a CSS class (`app.css`): ok green,
/// warning amber, critical red, unknown grey. Every badge and tile is drawn with one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Green: passed, online, up.
    Ok,
    /// Amber: needs a look (warning, stale, pending).
    Warning,
    /// Red: failing, critical, down, failed, revoked.
    Critical,
    /// Grey: nothing known, or no longer relevant (retired, silenced).
    Unknown,
}

impl Tone {
    pub fn class(self) -> &'static str {
        match self {
            Tone::Ok => "sev-ok",
            Tone::Warning => "sev-warning",
            Tone::Critical => "sev-critical",
            Tone::Unknown => "sev-unknown",
        }
    }

    /// The tone of a verdict: failing is red, never grey.
    pub fn of_verdict(status: VerdictStatus) -> Tone {
        match status {
            VerdictStatus::Passed => Tone::Ok,
            VerdictStatus::Warning => Tone::Warning,
            VerdictStatus::Failing => Tone::Critical,
        }
    }

    /// The tone of a host status.
    pub fn of_host_status(status: HostStatus) -> Tone {
        match status {
            HostStatus::Online => Tone::Ok,
            HostStatus::Stale => Tone::Warning,
            HostStatus::Offline | HostStatus::Revoked => Tone::Critical,
        }
    }

    /// The tone of a local check's status.
    pub fn of_check(status: CheckStatus) -> Tone {
        match status {
            CheckStatus::Ok => Tone::Ok,
            CheckStatus::Warning => Tone::Warning,
            CheckStatus::Critical => Tone::Critical,
            CheckStatus::Unknown => Tone::Unknown,
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
        InstanceStatus::Active => Tone::Ok,
        InstanceStatus::Waiting => Tone::Warning,
        InstanceStatus::Conflict => Tone::Critical,
        InstanceStatus::Retired => Tone::Unknown,
    };
    badge(tone, status.as_str())
}

/// A local check's status: ok green, warning amber, critical red, unknown grey.
pub fn check_status(status: CheckStatus) -> Markup {
    badge(Tone::of_check(status), super::labels::check_status(status))
}

/// A verdict badge: "passed", "warning", "failing", or "unknown" without a verdict.
pub fn verdict(status: Option<VerdictStatus>) -> Markup {
    match status {
        Some(status) => badge(
            Tone::of_verdict(status),
            super::labels::verdict_status(status),
        ),
        None => badge(Tone::Unknown, "unknown"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn badges_escape_their_text_and_take_a_fixed_class() {
        assert_eq!(
            badge(Tone::Warning, "<b>").into_string(),
            "<span class=\"badge sev-warning\">&lt;b&gt;</span>"
        );
        assert_eq!(
            host_status(HostStatus::Revoked).into_string(),
            "<span class=\"badge sev-critical\">revoked</span>"
        );
    }

    #[test]
    fn issue_19_failing_and_critical_are_red_warnings_amber_unknown_grey() {
        assert_eq!(
            verdict(Some(VerdictStatus::Failing)).into_string(),
            "<span class=\"badge sev-critical\">failing</span>"
        );
        assert_eq!(
            verdict(Some(VerdictStatus::Warning)).into_string(),
            "<span class=\"badge sev-warning\">warning</span>"
        );
        assert_eq!(
            verdict(Some(VerdictStatus::Passed)).into_string(),
            "<span class=\"badge sev-ok\">passed</span>"
        );
        assert_eq!(
            verdict(None).into_string(),
            "<span class=\"badge sev-unknown\">unknown</span>"
        );
        assert_eq!(Tone::of_check(CheckStatus::Critical), Tone::Critical);
        assert_eq!(Tone::of_check(CheckStatus::Unknown), Tone::Unknown);
        assert_eq!(Tone::of_host_status(HostStatus::Offline), Tone::Critical);
    }
}
