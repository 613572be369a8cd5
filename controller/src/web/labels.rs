//! The words people use for the model's states and kinds, one function per enum, so no page
//! shows a Rust `Debug` name (`Raid5`, `Degraded`, `Other("…")`). Text an agent chose (an
//! unknown state kept verbatim) comes back as it is; the templates escape it like any other.
//!
//! Names that already have a canonical human form in their own crate are used from there:
//! [`DatabaseEngine::display_name`](unity_shared::model::database::DatabaseEngine::display_name),
//! `Role::as_str`, `Severity::as_str`.

use crate::domain::certificates::Urgency;
use crate::storage::operations::OperationState;
use std::borrow::Cow;
use unity_shared::model::certificate::{ChainProblem, PublicKeyKind};
use unity_shared::model::container::{ContainerEventKind, EngineKind, HealthStatus, RunState};
use unity_shared::model::plugin::CheckStatus;
use unity_shared::model::storage::{
    MdLevel, MdSyncAction, ScanKind, ScanState, VdevState, VerdictStatus,
};
use unity_shared::model::update::{Outcome, Stage};

/// A local check's status: "ok", "warning", "critical", "unknown".
pub fn check_status(status: CheckStatus) -> &'static str {
    status.as_str()
}

/// A pool or vdev state as `zpool status` means it: "online", "degraded", "unavailable".
pub fn vdev_state(state: &VdevState) -> &str {
    match state {
        VdevState::Online => "online",
        VdevState::Degraded => "degraded",
        VdevState::Faulted => "faulted",
        VdevState::Offline => "offline",
        VdevState::Unavail => "unavailable",
        VdevState::Removed => "removed",
        VdevState::Suspended => "suspended",
        VdevState::Avail => "available",
        VdevState::Inuse => "in use",
        VdevState::Other(word) => word,
    }
}

/// An md RAID level: "RAID 5", "linear", "container".
pub fn md_level(level: &MdLevel) -> &str {
    match level {
        MdLevel::Linear => "linear",
        MdLevel::Multipath => "multipath",
        MdLevel::Raid0 => "RAID 0",
        MdLevel::Raid1 => "RAID 1",
        MdLevel::Raid4 => "RAID 4",
        MdLevel::Raid5 => "RAID 5",
        MdLevel::Raid6 => "RAID 6",
        MdLevel::Raid10 => "RAID 10",
        MdLevel::Container => "container",
        MdLevel::Other(level) => level,
    }
}

/// What a running md sync does, as `/proc/mdstat` says it.
pub fn md_sync_action(action: MdSyncAction) -> &'static str {
    match action {
        MdSyncAction::Resync => "resync",
        MdSyncAction::Recovery => "recovery",
        MdSyncAction::Check => "check",
        MdSyncAction::Repair => "repair",
        MdSyncAction::Reshape => "reshape",
    }
}

pub fn scan_kind(kind: ScanKind) -> &'static str {
    match kind {
        ScanKind::Scrub => "scrub",
        ScanKind::Resilver => "resilver",
    }
}

pub fn scan_state(state: ScanState) -> &'static str {
    match state {
        ScanState::InProgress => "in progress",
        ScanState::Finished => "finished",
        ScanState::Canceled => "canceled",
    }
}

pub fn verdict_status(status: VerdictStatus) -> &'static str {
    match status {
        VerdictStatus::Passed => "passed",
        VerdictStatus::Warning => "warning",
        VerdictStatus::Failing => "failing",
    }
}

/// The container engine's product name.
pub fn engine_kind(kind: EngineKind) -> &'static str {
    match kind {
        EngineKind::Docker => "Docker",
        EngineKind::Podman => "Podman",
    }
}

pub fn run_state(state: RunState) -> &'static str {
    match state {
        RunState::Created => "created",
        RunState::Running => "running",
        RunState::Paused => "paused",
        RunState::Restarting => "restarting",
        RunState::Removing => "removing",
        RunState::Exited => "exited",
        RunState::Dead => "dead",
        RunState::Unknown => "unknown",
    }
}

/// A container's health check result; `None` for "unknown" (no useful word to show).
pub fn health_status(status: HealthStatus) -> Option<&'static str> {
    match status {
        HealthStatus::Healthy => Some("healthy"),
        HealthStatus::Unhealthy => Some("unhealthy"),
        HealthStatus::Starting => Some("starting"),
        HealthStatus::Unknown => None,
    }
}

/// What happened to a container: "exited with code 137", "became unhealthy".
pub fn container_event(kind: &ContainerEventKind) -> Cow<'_, str> {
    match kind {
        ContainerEventKind::Start => "started".into(),
        ContainerEventKind::Die { exit_code } => match exit_code {
            Some(code) => format!("exited with code {code}").into(),
            None => "exited".into(),
        },
        ContainerEventKind::HealthStatus { status } => match status {
            Some(HealthStatus::Healthy) => "became healthy".into(),
            Some(HealthStatus::Unhealthy) => "became unhealthy".into(),
            Some(HealthStatus::Starting) => "health check starting".into(),
            Some(HealthStatus::Unknown) | None => "health check ran".into(),
        },
        ContainerEventKind::Oom => "ran out of memory (OOM)".into(),
        ContainerEventKind::Stop => "stopped".into(),
        ContainerEventKind::Restart => "restarted".into(),
        ContainerEventKind::Create => "created".into(),
        ContainerEventKind::Destroy => "removed".into(),
        ContainerEventKind::Pause => "paused".into(),
        ContainerEventKind::Unpause => "unpaused".into(),
        ContainerEventKind::Kill => "killed".into(),
        ContainerEventKind::Other { action } => action.as_str().into(),
    }
}

/// A container operation's progress stage: [`Stage::label`], the one place its words live.
pub fn stage(stage: Stage) -> &'static str {
    stage.label()
}

/// Where a container operation is, or how it ended.
pub fn operation_state(state: OperationState, outcome: Option<Outcome>) -> &'static str {
    match (state, outcome) {
        (OperationState::Queued, _) => "queued",
        (OperationState::Running, _) => "running",
        (OperationState::Finished, Some(Outcome::Succeeded)) => "succeeded",
        (OperationState::Finished, Some(Outcome::RolledBack)) => "rolled back",
        (OperationState::Finished, Some(Outcome::Refused)) => "refused",
        (OperationState::Finished, Some(Outcome::Failed)) => "failed",
        (OperationState::Finished, None) => "not run",
    }
}

/// A certificate's public key: "RSA 2048", "ECDSA P-256", "Ed25519".
pub fn certificate_key(key: &PublicKeyKind) -> Cow<'_, str> {
    match key {
        PublicKeyKind::Rsa { bits } => Cow::Owned(format!("RSA {bits}")),
        PublicKeyKind::Ecdsa { curve } => Cow::Owned(format!("ECDSA {curve}")),
        PublicKeyKind::Ed25519 => Cow::Borrowed("Ed25519"),
        PublicKeyKind::Ed448 => Cow::Borrowed("Ed448"),
        PublicKeyKind::Other { oid } => Cow::Owned(format!("other key ({oid})")),
    }
}

/// What is wrong with a certificate, in words ("self-signed: clients will warn").
pub fn certificate_problem(problem: &ChainProblem) -> String {
    crate::domain::certificates::problem_text(problem)
}

/// How soon a certificate needs attention: "expired", "critical", "warning", "ok".
pub fn certificate_urgency(urgency: Urgency) -> &'static str {
    urgency.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_not_debug_names() {
        assert_eq!(md_level(&MdLevel::Raid5), "RAID 5");
        assert_eq!(md_level(&MdLevel::Raid10), "RAID 10");
        assert_eq!(md_level(&MdLevel::Other("raid7".into())), "raid7");
        assert_eq!(vdev_state(&VdevState::Degraded), "degraded");
        assert_eq!(vdev_state(&VdevState::Unavail), "unavailable");
        assert_eq!(vdev_state(&VdevState::Other("SPLIT".into())), "SPLIT");
        assert_eq!(md_sync_action(MdSyncAction::Recovery), "recovery");
        assert_eq!(engine_kind(EngineKind::Podman), "Podman");
        assert_eq!(stage(Stage::HealthChecking), "Checking health");
        assert_eq!(stage(Stage::BackingUp), "Backing up");
        assert_eq!(
            container_event(&ContainerEventKind::Die {
                exit_code: Some(137)
            }),
            "exited with code 137"
        );
        assert_eq!(
            container_event(&ContainerEventKind::Other {
                action: "exec_die".into()
            }),
            "exec_die"
        );
        assert_eq!(
            operation_state(OperationState::Finished, Some(Outcome::RolledBack)),
            "rolled back"
        );
    }
}
