//! How an agent update moves on (pure): the agent's answer, the hellos that follow, the
//! deadline and a queued update's expiry. The shell (`dispatch.rs`, and the hello in
//! `transport::session::admit`) stores what these functions decide.
//!
//! ```text
//! queued --sent--> sending --Refused--> finished (refused, the agent's reason)
//!    ^                |
//!    +--stream lost---+--Restarting--> awaiting confirmation
//!                                        | hello with to_version -> finished (succeeded)
//!                                        | hello with another    -> finished (rolled back)
//!                                        | confirm_by passes     -> finished (rolled back)
//! ```

use crate::storage::agent_updates::{AgentUpdateRecord, AgentUpdateResult, AgentUpdateState};
use unity_shared::model::agent_build::AgentUpdateOutcome;

/// After the agent's own deadline, the time it takes to put the previous binary back, be
/// restarted by systemd and reconnect; past both, the update reads rolled back even if the
/// agent has not come back at all.
pub const GRACE_MS: i64 = 60_000;

/// A stream lost this many times ends the update.
pub const MAX_ATTEMPTS: u32 = 3;

/// What to do with an update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing changes.
    Wait,
    /// Send the build now.
    Send,
    /// The agent restarts into the build: wait for its hello until `confirm_by_ms`.
    Await { confirm_by_ms: i64 },
    /// End it.
    Finish {
        result: AgentUpdateResult,
        message: String,
    },
}

fn finish(result: AgentUpdateResult, message: impl Into<String>) -> Verdict {
    Verdict::Finish {
        result,
        message: message.into(),
    }
}

/// When the controller stops waiting for the new process: the agent's deadline plus
/// [`GRACE_MS`].
pub fn confirm_by(restarting_at_ms: i64, confirm_within_secs: u32) -> i64 {
    restarting_at_ms
        .saturating_add(i64::from(confirm_within_secs) * 1000)
        .saturating_add(GRACE_MS)
}

/// The agent's answer to the build, read at `now_ms`.
pub fn on_answer(record: &AgentUpdateRecord, answer: &AgentUpdateOutcome, now_ms: i64) -> Verdict {
    match answer {
        AgentUpdateOutcome::Refused { reason } => finish(
            AgentUpdateResult::Refused,
            format!("refused by the agent: {reason}"),
        ),
        AgentUpdateOutcome::Restarting { .. } => Verdict::Await {
            confirm_by_ms: confirm_by(now_ms, record.confirm_within_secs),
        },
    }
}

/// The agent connected and its hello says it runs `version`.
pub fn on_hello(record: &AgentUpdateRecord, version: &str) -> Verdict {
    let arrived = version.trim() == record.to_version;
    match (record.state, arrived) {
        (AgentUpdateState::Finished, _) => Verdict::Wait,
        (AgentUpdateState::AwaitingConfirmation, true) => finish(
            AgentUpdateResult::Succeeded,
            format!("the agent came back running {version}"),
        ),
        (AgentUpdateState::AwaitingConfirmation, false) => finish(
            AgentUpdateResult::RolledBack,
            format!(
                "rolled back: the agent came back running {version}, not {}",
                record.to_version
            ),
        ),
        // The stream was lost after the swap: the answer never arrived, the build runs.
        (AgentUpdateState::Queued | AgentUpdateState::Sending, true) if record.attempts > 0 => {
            finish(
                AgentUpdateResult::Succeeded,
                format!("the agent came back running {version} (its answer was lost)"),
            )
        }
        (AgentUpdateState::Queued | AgentUpdateState::Sending, _) => Verdict::Wait,
    }
}

/// The loop's look at an update at `now_ms`; `connected`: the agent has a live connection.
pub fn on_tick(record: &AgentUpdateRecord, now_ms: i64, connected: bool) -> Verdict {
    match record.state {
        AgentUpdateState::Queued if record.attempts >= MAX_ATTEMPTS => finish(
            AgentUpdateResult::Failed,
            format!(
                "the build could not be delivered in {} attempts{}",
                record.attempts,
                record
                    .message
                    .as_deref()
                    .map(|last| format!(" (last: {last})"))
                    .unwrap_or_default()
            ),
        ),
        AgentUpdateState::Queued if record.expires_at_ms < now_ms => finish(
            AgentUpdateResult::Failed,
            format!(
                "expired: the agent did not take it within {} s",
                (record.expires_at_ms - record.requested_at_ms) / 1000
            ),
        ),
        AgentUpdateState::Queued if connected => Verdict::Send,
        AgentUpdateState::AwaitingConfirmation
            if record.confirm_by_ms.is_some_and(|by| by < now_ms) =>
        {
            finish(
                AgentUpdateResult::RolledBack,
                format!(
                    "rolled back: the agent did not come back running {} within {} s",
                    record.to_version, record.confirm_within_secs
                ),
            )
        }
        _ => Verdict::Wait,
    }
}

/// Stores what `verdict` decided into `record` at `now_ms` (the shell's one way to change
/// an update's state). `Send` and `Wait` change nothing.
pub fn apply(record: &mut AgentUpdateRecord, verdict: &Verdict, now_ms: i64) {
    use crate::storage::agent_updates::AgentUpdateEvent;
    match verdict {
        Verdict::Wait | Verdict::Send => {}
        Verdict::Await { confirm_by_ms } => {
            record.state = AgentUpdateState::AwaitingConfirmation;
            record.restarting_at_ms = Some(now_ms);
            record.confirm_by_ms = Some(*confirm_by_ms);
            record.events.push(AgentUpdateEvent {
                at_ms: now_ms,
                message: format!(
                    "installed; the agent restarts into {} and must come back within {} s",
                    record.to_version, record.confirm_within_secs
                ),
            });
        }
        Verdict::Finish { result, message } => {
            record.state = AgentUpdateState::Finished;
            record.finished_at_ms = Some(now_ms);
            record.result = Some(*result);
            record.message = Some(message.clone());
            record.events.push(AgentUpdateEvent {
                at_ms: now_ms,
                message: message.clone(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use unity_shared::proto::AgentId;

    fn queued() -> AgentUpdateRecord {
        AgentUpdateRecord {
            id: "0001".into(),
            agent_id: AgentId::new("nas").unwrap(),
            requested_by: "cli".into(),
            requested_at_ms: 1_000,
            expires_at_ms: 61_000,
            build: "x86_64-binary-0.2.0".into(),
            from_version: "0.1.0".into(),
            to_version: "0.2.0".into(),
            arch: "x86_64".into(),
            kind: "binary".into(),
            rollback: false,
            confirm_within_secs: 30,
            state: AgentUpdateState::Queued,
            started_at_ms: None,
            restarting_at_ms: None,
            confirm_by_ms: None,
            finished_at_ms: None,
            result: None,
            message: None,
            attempts: 0,
            events: vec![],
        }
    }

    fn step(record: &mut AgentUpdateRecord, verdict: Verdict, now: i64) -> Verdict {
        apply(record, &verdict, now);
        verdict
    }

    fn result(verdict: &Verdict) -> Option<AgentUpdateResult> {
        match verdict {
            Verdict::Finish { result, .. } => Some(*result),
            _ => None,
        }
    }

    #[test]
    fn restarting_then_the_new_version_says_hello() {
        let mut record = queued();
        assert_eq!(on_tick(&record, 2_000, false), Verdict::Wait);
        assert_eq!(on_tick(&record, 2_000, true), Verdict::Send);
        record.state = AgentUpdateState::Sending;
        record.attempts = 1;
        // The old process's hello (a reconnect while sending) changes nothing.
        assert_eq!(on_hello(&record, "0.1.0"), Verdict::Wait);
        let restarting = AgentUpdateOutcome::Restarting {
            from_version: "0.1.0".into(),
            to_version: "0.2.0".into(),
        };
        let answered = on_answer(&record, &restarting, 5_000);
        let verdict = step(&mut record, answered, 5_000);
        assert_eq!(
            verdict,
            Verdict::Await {
                confirm_by_ms: 5_000 + 30_000 + GRACE_MS
            }
        );
        assert_eq!(record.state, AgentUpdateState::AwaitingConfirmation);
        assert_eq!(
            on_tick(&record, 5_000 + 30_000 + GRACE_MS, true),
            Verdict::Wait
        );
        let hello = on_hello(&record, "0.2.0");
        let verdict = step(&mut record, hello, 9_000);
        assert_eq!(result(&verdict), Some(AgentUpdateResult::Succeeded));
        assert_eq!(record.state, AgentUpdateState::Finished);
        assert_eq!(record.finished_at_ms, Some(9_000));
        // Later hellos and ticks leave a finished update alone.
        assert_eq!(on_hello(&record, "0.1.0"), Verdict::Wait);
        assert_eq!(on_tick(&record, i64::MAX, true), Verdict::Wait);
    }

    #[test]
    fn the_old_version_coming_back_or_the_deadline_reads_rolled_back() {
        let mut record = queued();
        record.state = AgentUpdateState::Sending;
        let restarting = AgentUpdateOutcome::Restarting {
            from_version: "0.1.0".into(),
            to_version: "0.2.0".into(),
        };
        let answered = on_answer(&record, &restarting, 5_000);
        step(&mut record, answered, 5_000);
        let mut by_hello = record.clone();
        let verdict = on_hello(&by_hello, "0.1.0");
        assert_eq!(result(&verdict), Some(AgentUpdateResult::RolledBack));
        step(&mut by_hello, verdict, 20_000);
        assert!(by_hello
            .message
            .unwrap()
            .contains("running 0.1.0, not 0.2.0"));

        let deadline = record.confirm_by_ms.unwrap();
        assert_eq!(on_tick(&record, deadline, false), Verdict::Wait);
        let verdict = on_tick(&record, deadline + 1, false);
        assert_eq!(result(&verdict), Some(AgentUpdateResult::RolledBack));
    }

    #[test]
    fn refusal_expiry_and_lost_streams() {
        let mut record = queued();
        record.state = AgentUpdateState::Sending;
        let refused = AgentUpdateOutcome::Refused {
            reason: "the build is for aarch64".into(),
        };
        let answered = on_answer(&record, &refused, 3_000);
        let verdict = step(&mut record, answered, 3_000);
        assert_eq!(result(&verdict), Some(AgentUpdateResult::Refused));
        assert!(record.message.unwrap().contains("aarch64"));

        let expired = queued();
        let verdict = on_tick(&expired, 61_001, true);
        assert_eq!(result(&verdict), Some(AgentUpdateResult::Failed));

        // A stream lost before the answer: queued again; a hello with the new version
        // means the swap happened.
        let mut lost = queued();
        lost.attempts = 1;
        assert_eq!(
            result(&on_hello(&lost, "0.2.0")),
            Some(AgentUpdateResult::Succeeded)
        );
        assert_eq!(on_hello(&lost, "0.1.0"), Verdict::Wait);
        assert_eq!(on_hello(&queued(), "0.2.0"), Verdict::Wait);
        lost.attempts = MAX_ATTEMPTS;
        lost.message = Some("stream reset".into());
        let verdict = on_tick(&lost, 2_000, true);
        assert_eq!(result(&verdict), Some(AgentUpdateResult::Failed));
        let Verdict::Finish { message, .. } = verdict else {
            unreachable!()
        };
        assert!(message.contains("stream reset"), "{message}");
    }
}
