//! Why a pending update waits or is skipped, and every decision, in words for people (the
//! Updates page and the API's `waiting` show these).

use super::{Decision, Stage};
use std::fmt;

/// Why an update waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitReason {
    /// `next` is the start of the next window for people (`Sat 02:00 CET`), if any.
    OutsideWindow {
        next: Option<String>,
    },
    AwaitingApproval,
    /// Another update of this container is running.
    ContainerBusy,
    /// The host runs as many updates as allowed.
    HostBusy {
        host: String,
        limit: usize,
    },
    /// The canary of this candidate is running (or dispatched in this plan).
    CanaryRunning {
        host: String,
    },
    /// An attempt of this candidate failed; `canary` when nothing succeeded before.
    RolloutStopped {
        host: String,
        canary: bool,
    },
    /// A container this one depends on has an update to make first.
    DependencyFirst {
        dependency: String,
    },
    /// A container this one depends on is being updated (and health-checked).
    DependencyUpdating {
        dependency: String,
    },
    /// The newest update of a container this one depends on failed.
    DependencyFailed {
        dependency: String,
    },
    /// The container lies on a dependency cycle (the cycle's description).
    DependencyCycle {
        cycle: String,
    },
}

/// Why an update is not made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    ModeOff,
    /// A second entry for the same container.
    Duplicate,
    /// This container already updated to the candidate.
    AlreadyApplied,
    /// The candidate changes a database's major version: only by hand, with force (issue 17;
    /// the text says what the owner must do).
    DatabaseMajorVersion(String),
}

impl fmt::Display for WaitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitReason::OutsideWindow { next: Some(next) } => {
                write!(f, "outside the maintenance window, next {next}")
            }
            WaitReason::OutsideWindow { next: None } => {
                f.write_str("outside the maintenance window, which does not open again")
            }
            WaitReason::AwaitingApproval => f.write_str("waiting for approval"),
            WaitReason::ContainerBusy => f.write_str("another update of this container is running"),
            WaitReason::HostBusy { host, limit } => {
                write!(f, "host {host} already runs {limit} update(s), the limit")
            }
            WaitReason::CanaryRunning { host } => write!(f, "canary host {host} running"),
            WaitReason::RolloutStopped { host, canary: true } => {
                write!(f, "canary failed on {host}: rollout stopped")
            }
            WaitReason::RolloutStopped {
                host,
                canary: false,
            } => {
                write!(f, "update failed on {host}: rollout stopped")
            }
            WaitReason::DependencyFirst { dependency } => {
                write!(
                    f,
                    "waits for {dependency}, which it depends on, to update first"
                )
            }
            WaitReason::DependencyUpdating { dependency } => write!(
                f,
                "waits for the update of {dependency}, which it depends on, to finish and pass \
                 its health check"
            ),
            WaitReason::DependencyFailed { dependency } => write!(
                f,
                "the update of {dependency}, which it depends on, failed: updates of what \
                 depends on it stopped"
            ),
            WaitReason::DependencyCycle { cycle } => f.write_str(cycle),
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SkipReason::ModeOff => "policy mode is off",
            SkipReason::Duplicate => "listed twice",
            SkipReason::AlreadyApplied => "already updated to this candidate",
            SkipReason::DatabaseMajorVersion(reason) => {
                return write!(f, "not applied automatically: {reason}")
            }
        })
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decision::Dispatch(Stage::Canary) => f.write_str("dispatch (canary)"),
            Decision::Dispatch(Stage::Rollout) => f.write_str("dispatch"),
            Decision::Dispatch(Stage::Forced) => f.write_str("dispatch (forced)"),
            Decision::Wait(reason) => write!(f, "wait: {reason}"),
            Decision::Skip(reason) => write!(f, "skip: {reason}"),
        }
    }
}
