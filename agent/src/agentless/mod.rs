//! Agentless hosts (issue 16): this agent as the *proxy* of hosts that run no agent. The
//! controller assigns targets ([`Proxy::assign`]); each target gets a task of its own that logs
//! in over SSH every interval ([`ssh`], host key checked by [`host_key`]), runs the collectors
//! there ([`round`]) and spools the report on disk ([`spools`], the agent's own spool per host)
//! and the status in the [`outbox::Outbox`]; the session replays each host's spooled reports in
//! order and deletes them on acknowledgement. A hung or dead target only stalls its own task:
//! every step has a timeout and the agent's own loops never wait for one. See
//! `docs/agentless.md`.

pub mod host_key;
pub mod outbox;
pub mod round;
pub mod spools;
pub mod ssh;

use crate::clock::now_ms;
use anyhow::Context as _;
use outbox::{HostSummary, Outbox};
use spools::Spools;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use unity_shared::model::agentless::{
    AgentlessReport, AgentlessStatus, AgentlessTarget, AssignAgentless,
};
use unity_shared::proto::AgentId;

/// One host's line in the agent's status file (what `unity-agent agentless status` prints).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StatusLine {
    pub host: String,
    pub state: String,
    pub message: Option<String>,
    pub pending: usize,
    pub acknowledged: u64,
    pub dropped: u64,
}

/// The message of an outcome, if it has one (the presented key's line for key outcomes).
fn outcome_message(outcome: &unity_shared::model::agentless::AgentlessOutcome) -> Option<String> {
    use unity_shared::model::agentless::AgentlessOutcome as O;
    match outcome {
        O::Collected => None,
        O::HostKeyToConfirm { presented } | O::HostKeyMismatch { presented } => {
            Some(format!("presented {presented}"))
        }
        O::Unreachable { message } | O::AuthenticationFailed { message } => Some(message.clone()),
        O::CommandFailed { command, message } => Some(format!("{command}: {message}")),
    }
}

/// The agentless targets of this agent and what it owes the controller for them.
#[derive(Default)]
pub struct Proxy {
    store: Arc<Mutex<Store>>,
    /// Woken when a report or a status is ready to send.
    pub ready: Arc<Notify>,
    tasks: Mutex<BTreeMap<AgentId, Running>>,
}

/// The session's bookkeeping and the spools, under one lock.
#[derive(Default)]
struct Store {
    outbox: Outbox,
    spools: Spools,
}

struct Running {
    target: AgentlessTarget,
    task: JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Two assignments of a target ask for the same work (the stored sequence number aside).
fn same_work(a: &AgentlessTarget, b: &AgentlessTarget) -> bool {
    AgentlessTarget {
        last_stored_seq: None,
        ..a.clone()
    } == AgentlessTarget {
        last_stored_seq: None,
        ..b.clone()
    }
}

/// Runs `f` on the store off the async threads.
async fn with_store<T: Send + 'static>(
    store: &Arc<Mutex<Store>>,
    f: impl FnOnce(&mut Store) -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || {
        let mut store = store
            .lock()
            .map_err(|_| anyhow::anyhow!("agentless store lock poisoned"))?;
        f(&mut store)
    })
    .await
    .context("agentless spool task")?
}

impl Proxy {
    /// A proxy with the spools left by an earlier run (replayed on the next session).
    pub fn new(spools: Spools) -> Proxy {
        Proxy {
            store: Arc::new(Mutex::new(Store {
                outbox: Outbox::default(),
                spools,
            })),
            ..Proxy::default()
        }
    }

    /// Puts an assignment in effect: targets missing from it are stopped and their spools
    /// deleted, changed ones are restarted, new ones started (each collects at once, then every
    /// interval). Returns how many targets run.
    pub async fn assign(&self, assignment: AssignAgentless) -> anyhow::Result<u32> {
        let wanted: BTreeSet<AgentId> = assignment
            .targets
            .iter()
            .map(|target| target.host.clone())
            .collect();
        let stored: Vec<(AgentId, Option<u64>)> = assignment
            .targets
            .iter()
            .map(|target| (target.host.clone(), target.last_stored_seq))
            .collect();
        if let Ok(mut tasks) = self.tasks.lock() {
            tasks.retain(|host, _| wanted.contains(host));
        }
        with_store(&self.store, move |store| {
            store.outbox.retain(&wanted);
            store.spools.retain(&wanted);
            for (host, last_stored_seq) in stored {
                store.spools.assigned(&host, last_stored_seq)?;
            }
            Ok(())
        })
        .await?;
        let mut tasks = self
            .tasks
            .lock()
            .map_err(|_| anyhow::anyhow!("agentless tasks lock poisoned"))?;
        for target in assignment.targets {
            if let Some(running) = tasks.get(&target.host) {
                if same_work(&running.target, &target) && !running.task.is_finished() {
                    continue;
                }
            }
            let task = tokio::spawn(target_loop(
                target.clone(),
                self.store.clone(),
                self.ready.clone(),
            ));
            tasks.insert(target.host.clone(), Running { target, task });
        }
        // Spooled reports of the hosts kept are sent at once.
        self.ready.notify_one();
        Ok(u32::try_from(tasks.len()).unwrap_or(u32::MAX))
    }

    /// A new session: everything spooled is sent again, oldest first.
    pub fn new_session(&self) {
        if let Ok(mut store) = self.store.lock() {
            store.outbox.new_session();
        }
    }

    /// Spooled reports not yet sent in this session (up to `room`, oldest first per host) and
    /// statuses to send now.
    pub async fn take_ready(
        &self,
        room: usize,
    ) -> anyhow::Result<(Vec<AgentlessReport>, Vec<AgentlessStatus>)> {
        with_store(&self.store, move |store| {
            let statuses = store.outbox.take_statuses();
            let mut reports = Vec::new();
            for host in store.spools.hosts() {
                let left = room.saturating_sub(reports.len());
                if left == 0 {
                    break;
                }
                let after = store.outbox.cursor(&host);
                for report in store.spools.pending(&host, after, left)? {
                    store.outbox.sent(&host, report.seq);
                    reports.push(AgentlessReport {
                        host: host.clone(),
                        facts: store.outbox.take_facts(&host),
                        report,
                    });
                }
            }
            Ok((reports, statuses))
        })
        .await
    }

    /// Reports sent in this session and not yet acknowledged.
    pub fn in_flight(&self) -> usize {
        self.store
            .lock()
            .map_or(0, |store| store.outbox.in_flight())
    }

    /// The controller stored `host`'s report `seq`: it leaves the spool.
    pub async fn ack(&self, host: &AgentId, seq: u64) -> anyhow::Result<()> {
        let host = host.clone();
        with_store(&self.store, move |store| {
            store.outbox.ack(&host, seq);
            Ok(store.spools.ack(&host, seq)?)
        })
        .await
    }

    /// One line per host for `status.json`.
    pub fn status_lines(&self) -> Vec<StatusLine> {
        self.summary()
            .into_iter()
            .map(|summary| {
                let (state, message) = match &summary.status {
                    Some(status) => (
                        outcome_word(&status.outcome).to_owned(),
                        outcome_message(&status.outcome),
                    ),
                    None => (String::new(), None),
                };
                StatusLine {
                    host: summary.host.to_string(),
                    state,
                    message,
                    pending: summary.pending,
                    acknowledged: summary.acked,
                    dropped: summary.dropped,
                }
            })
            .collect()
    }

    pub fn summary(&self) -> Vec<HostSummary> {
        self.store
            .lock()
            .map(|store| {
                store.outbox.summary(&store.spools.hosts(), |host| {
                    store.spools.depth_and_dropped(host)
                })
            })
            .unwrap_or_default()
    }
}

/// One target: a round at once, then every interval, until the task is aborted. What a round
/// collected is spooled before anything is sent.
async fn target_loop(target: AgentlessTarget, store: Arc<Mutex<Store>>, ready: Arc<Notify>) {
    let interval = Duration::from_secs(u64::from(target.interval_secs.max(1)));
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let started = now_ms();
        let (collected, outcome) = match round::run(&target, started).await {
            Ok((collected, outcome)) => (Some(collected), outcome),
            Err(outcome) => (None, outcome),
        };
        let status = AgentlessStatus {
            host: target.host.clone(),
            at_ms: now_ms(),
            outcome: outcome.clone(),
        };
        let host = target.host.clone();
        let kept = with_store(&store, move |store| {
            if !store.spools.contains(&host) {
                // Unassigned while this round ran: nothing of it is kept.
                return Ok(false);
            }
            let changed = store.outbox.set_status(status);
            if let Some(collected) = collected {
                if let Some(facts) = collected.facts {
                    store.outbox.set_facts(&host, facts);
                }
                store
                    .spools
                    .append(&host, started, collected.samples, collected.storage)?;
            }
            Ok(changed)
        })
        .await;
        match kept {
            Ok(true) => {
                tracing::info!(host = %target.host, outcome = ?outcome_word(&outcome), "Agentless host outcome changed.")
            }
            Ok(false) => {}
            Err(error) => {
                tracing::error!(host = %target.host, error = %format!("{error:#}"), "Spooling an agentless host's report failed.")
            }
        }
        ready.notify_one();
    }
}

/// A short word for the log and the status (the outcome's messages may be long).
pub fn outcome_word(outcome: &unity_shared::model::agentless::AgentlessOutcome) -> &'static str {
    use unity_shared::model::agentless::AgentlessOutcome as O;
    match outcome {
        O::Collected => "collected",
        O::HostKeyToConfirm { .. } => "host key to confirm",
        O::HostKeyMismatch { .. } => "host key mismatch",
        O::Unreachable { .. } => "unreachable",
        O::AuthenticationFailed { .. } => "authentication failed",
        O::CommandFailed { .. } => "command failed",
    }
}
