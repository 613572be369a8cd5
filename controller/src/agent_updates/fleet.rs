//! The fleet rollout's loop (docs/agent-updates.md): every few seconds it reads the active
//! rollout, gathers what [`rollout::plan`] needs — the hosts, the builds, their maintenance
//! windows, the rollout's own updates — and queues the updates the plan says to send now
//! (through [`dispatch::submit`], so they run, are confirmed and roll back like any other);
//! it stores the phase: halted at the first failure, finished when every host runs the
//! version or was skipped.

use super::build_for::{self, UpdateTerms};
use super::choose::{self, Candidate, NoBuild, Wanted};
use super::dispatch;
use super::rollout::{self, AgentState, Attempt, AttemptState, Phase, Plan, Rollout};
use crate::clock::now_ms;
use crate::context::Context;
use crate::storage::agent_rollouts::{AgentRolloutRecord, RolloutState, RolloutUpdate};
use crate::storage::agent_updates::{AgentUpdateResult, AgentUpdateState};
use crate::storage::agents::AgentRecord;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use unity_shared::proto::AgentId;

/// How often the plan runs (windows open on the clock, updates end on their own time).
const POLL: Duration = Duration::from_secs(3);

/// How long a rollout's queued update waits for its host before it fails as expired: the
/// planner only queues for connected hosts, so a long wait means the host went away.
const EXPIRES_IN: Duration = Duration::from_secs(3600);

/// What the planner was given, for the loop and for the pages.
pub struct Snapshot {
    pub rollout: Rollout,
    pub agents: Vec<AgentState>,
    pub attempts: Vec<Attempt>,
    /// Every host the rollout knows, by id.
    pub records: BTreeMap<AgentId, AgentRecord>,
    /// The build store's candidates, read once for the plan and the updates it queues.
    pub builds: Vec<Candidate>,
    pub plan: Plan,
}

/// Host groups in `record.stages` order, resolved to their members now; the hosts in none
/// of them come last.
fn stages(
    ctx: &Context,
    record: &AgentRolloutRecord,
    hosts: &[AgentId],
) -> anyhow::Result<Vec<Vec<AgentId>>> {
    let groups = ctx.store.access.host_groups()?;
    let labels: BTreeMap<AgentId, Vec<(String, String)>> =
        ctx.store.access.all_labels()?.into_iter().collect();
    let members = record
        .stages
        .iter()
        .map(|name| {
            let group = groups.iter().find(|group| &group.name == name);
            hosts
                .iter()
                .filter(|agent_id| {
                    group.is_some_and(|group| {
                        group.contains(
                            agent_id,
                            labels.get(*agent_id).map_or(&[][..], Vec::as_slice),
                        )
                    })
                })
                .cloned()
                .collect()
        })
        .collect::<Vec<Vec<AgentId>>>();
    Ok(rollout::stages(&members, hosts))
}

/// Gathers the planner's input for `record` at `now_ms` and plans. Note that this uses
/// blocking I/O.
pub fn snapshot(
    ctx: &Context,
    record: &AgentRolloutRecord,
    now_ms: i64,
    connected: &dyn Fn(&AgentId) -> bool,
) -> anyhow::Result<Snapshot> {
    let version = semver::Version::parse(&record.version)?;
    let now = jiff::Timestamp::from_millisecond(now_ms)?;
    let builds = build_for::candidates(ctx)?;
    let wanted = Wanted {
        version: Some(record.version.clone()),
        rollback: false,
    };
    let records: BTreeMap<AgentId, AgentRecord> = ctx
        .store
        .agents
        .agents()?
        .into_iter()
        .filter(|agent| agent.revoked_at.is_none())
        .map(|agent| (agent.agent_id.clone(), agent))
        .collect();
    let mut agents = Vec::with_capacity(records.len());
    for agent in records.values() {
        let fits = choose::choose(&build_for::facts(agent), &builds, &wanted);
        let (windows, _) =
            crate::updates::auto::windows_for(ctx, &agent.agent_id, &agent.hostname)?;
        agents.push(AgentState {
            agent_id: agent.agent_id.clone(),
            host_name: agent.hostname.clone(),
            version: semver::Version::parse(agent.agent_version.trim()).ok(),
            connected: connected(&agent.agent_id),
            has_build: matches!(fits, Ok(_) | Err(NoBuild::NotNewer { .. })),
            window: windows.state(now),
        });
    }
    let mut attempts = Vec::new();
    for update in &record.updates {
        if record.dismissed.contains(&update.update_id) {
            continue;
        }
        let Some(stored) = ctx.store.agent_updates.get(&update.update_id)? else {
            continue;
        };
        let state = match (stored.state, stored.result) {
            (AgentUpdateState::Finished, Some(AgentUpdateResult::Succeeded)) => {
                AttemptState::Succeeded
            }
            (AgentUpdateState::Finished, result) => AttemptState::Failed {
                reason: stored
                    .message
                    .clone()
                    .or(result.map(|result| result.word().to_owned()))
                    .unwrap_or_else(|| "failed".to_owned()),
            },
            _ => AttemptState::Running,
        };
        attempts.push(Attempt {
            agent_id: update.agent_id.clone(),
            state,
        });
    }
    let hosts: Vec<AgentId> = records.keys().cloned().collect();
    let rollout = Rollout {
        version,
        canary: record.canary.clone(),
        stages: stages(ctx, record, &hosts)?,
        max_parallel: usize::try_from(record.max_parallel).unwrap_or(1),
    };
    let plan = rollout::plan(&rollout, &agents, &attempts);
    Ok(Snapshot {
        rollout,
        agents,
        attempts,
        records,
        builds,
        plan,
    })
}

/// One look at the active rollout at `now_ms`: queue what the plan sends (when rolling) and
/// store its phase. Note that this uses blocking I/O.
pub fn tick(
    ctx: &Context,
    now_ms: i64,
    connected: &dyn Fn(&AgentId) -> bool,
) -> anyhow::Result<()> {
    let Some(record) = ctx.store.agent_rollouts.active()? else {
        return Ok(());
    };
    let snapshot = snapshot(ctx, &record, now_ms, connected)?;
    let mut queued = Vec::new();
    let mut notes = Vec::new();
    if record.state == RolloutState::Rolling {
        let wanted = Wanted {
            version: Some(record.version.clone()),
            rollback: false,
        };
        let terms = UpdateTerms {
            requested_by: format!("rollout {}", record.id),
            confirm_within: Duration::from_secs(u64::from(record.confirm_within_secs)),
            expires_in: EXPIRES_IN,
        };
        for agent_id in snapshot.plan.to_send() {
            let Some(agent) = snapshot.records.get(agent_id) else {
                continue;
            };
            let new = match build_for::new_update(agent, &snapshot.builds, &wanted, &terms) {
                Ok(new) => new,
                Err(no_build) => {
                    notes.push(format!("{}: {no_build}", agent.hostname));
                    continue;
                }
            };
            match dispatch::submit(ctx, new)? {
                Ok(update) => {
                    notes.push(format!(
                        "{}: {} -> {} queued (operation {})",
                        agent.hostname, update.from_version, update.to_version, update.id
                    ));
                    queued.push(RolloutUpdate {
                        agent_id: agent_id.clone(),
                        update_id: update.id,
                    });
                }
                // An operator's own update of that host runs; the plan asks again later.
                Err(_existing) => {}
            }
        }
    }
    let phase = snapshot.plan.phase.clone();
    let changes_phase = matches!(
        (&phase, record.state),
        (Phase::Halted { .. }, RolloutState::Rolling) | (Phase::Finished, _)
    );
    if queued.is_empty() && notes.is_empty() && !changes_phase {
        return Ok(());
    }
    ctx.store.agent_rollouts.update(&record.id, |stored| {
        stored.updates.extend(queued.iter().cloned());
        for note in &notes {
            stored.note(now_ms, note.clone());
        }
        if !stored.state.is_active() {
            return;
        }
        match &phase {
            Phase::Halted { host, reason } if stored.state == RolloutState::Rolling => {
                stored.state = RolloutState::Halted;
                let message = format!("halted: the update of {host} failed ({reason})");
                stored.note(now_ms, message.clone());
                stored.message = Some(message);
            }
            Phase::Finished => {
                stored.state = RolloutState::Finished;
                stored.finished_at_ms = Some(now_ms);
                stored.note(
                    now_ms,
                    "finished: every host runs the version or was skipped",
                );
                stored.message = None;
            }
            _ => {}
        }
    })?;
    Ok(())
}

/// The fleet rollout loop, spawned by the service.
pub fn spawn(ctx: Arc<Context>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let ctx_blocking = ctx.clone();
            let ticked = tokio::task::spawn_blocking(move || {
                let hub = ctx_blocking.hub.clone();
                tick(&ctx_blocking, now_ms(), &|agent_id| {
                    hub.is_connected(agent_id)
                })
            })
            .await;
            match ticked {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    tracing::warn!(error = format!("{error:#}"), "Agent rollout loop failed.");
                }
                Err(error) => tracing::error!(%error, "Agent rollout loop panicked."),
            }
            tokio::time::sleep(POLL).await;
        }
    })
}
