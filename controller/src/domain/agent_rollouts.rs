//! Fleet rollouts of an agent version, as operators ask for them (issue 20 §2,
//! docs/agent-updates.md): start one (the version, a canary, host groups as stages, how many
//! at once), halt, resume (dismissing the failures that halted it), cancel, and read where it
//! stands host by host. The loop that follows it is `agent_updates::fleet`. The CLI, the API
//! and the dashboard all come here.

use super::audit::{self, AuditAction};
use super::error::DomainError;
use crate::agent_updates::build_for;
use crate::agent_updates::fleet;
use crate::agent_updates::rollout::{self, Step};
use crate::clock::now_ms;
use crate::context::Context;
use crate::domain::actor::Actor;
use crate::storage::agent_rollouts::{AgentRolloutRecord, RolloutState};
use crate::storage::agent_updates::AgentUpdateEvent;
use serde::{Deserialize, Serialize};

/// The most updates a rollout runs at once.
pub const MAX_PARALLEL: u32 = 50;

/// What an operator asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutRequest {
    /// The version every host should run (a build of it must be in the store).
    pub version: String,
    /// The host updated first, alone (an agent id or hostname); default: the first connected
    /// host of the first stage that needs the update.
    pub canary: Option<String>,
    /// Host groups, in order; the hosts in none of them come last.
    pub stages: Vec<String>,
    /// How many updates run at once after the canary.
    pub max_parallel: u32,
    pub confirm_within_secs: u64,
}

/// One host in a rollout, as the API, the CLI and the pages show it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RolloutHostView {
    pub agent_id: String,
    pub host: String,
    /// The version its last hello said.
    pub version: String,
    /// `send`, `waiting`, `done` or `skipped`.
    pub step: String,
    /// Why it waits or was skipped.
    pub reason: Option<String>,
    /// Its newest update in this rollout (an operation id).
    pub update_id: Option<String>,
}

/// A rollout, designed for the API (not derived from the stored record).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RolloutView {
    pub id: String,
    pub version: String,
    /// `rolling`, `halted`, `finished` or `cancelled`.
    pub state: String,
    pub canary: Option<String>,
    pub stages: Vec<String>,
    pub max_parallel: u32,
    pub started_by: String,
    pub started_at_ms: i64,
    pub finished_at_ms: Option<i64>,
    pub message: Option<String>,
    /// Every host it covers, canary first, then by stage (while it is active).
    pub hosts: Vec<RolloutHostView>,
    pub events: Vec<AgentUpdateEvent>,
}

fn new_id() -> String {
    format!("{:013x}-{:08x}", now_ms().max(0), rand::random::<u32>())
}

/// Starts a rollout and audits it. Note that this uses blocking I/O.
pub fn start(
    ctx: &Context,
    actor: &Actor,
    request: &RolloutRequest,
) -> Result<RolloutView, DomainError> {
    let version = semver::Version::parse(request.version.trim())
        .map_err(|error| DomainError::Invalid(format!("version {:?}: {error}", request.version)))?;
    let builds = build_for::candidates(ctx).map_err(DomainError::internal)?;
    if !builds
        .iter()
        .any(|build| semver::Version::parse(&build.version).ok().as_ref() == Some(&version))
    {
        return Err(DomainError::Conflict(format!(
            "no build of version {version} in the store (unity-controller agent-builds add)"
        )));
    }
    if !(1..=MAX_PARALLEL).contains(&request.max_parallel) {
        return Err(DomainError::Invalid(format!(
            "--parallel is 1 to {MAX_PARALLEL}, not {}",
            request.max_parallel
        )));
    }
    let minimum = super::agent_updates::MIN_CONFIRM_WITHIN.as_secs();
    if request.confirm_within_secs < minimum {
        return Err(DomainError::Invalid(format!(
            "the confirmation deadline is at least {minimum} s"
        )));
    }
    let groups = super::groups::host_groups(ctx)?;
    for stage in &request.stages {
        if !groups.iter().any(|group| &group.name == stage) {
            return Err(DomainError::NotFound(format!("no host group {stage:?}")));
        }
    }
    let canary = match &request.canary {
        Some(host) => Some(super::agent_updates::resolve_host(ctx, host)?),
        None => None,
    };
    let now = now_ms();
    let mut record = AgentRolloutRecord {
        id: new_id(),
        version: version.to_string(),
        canary,
        stages: request.stages.clone(),
        max_parallel: request.max_parallel,
        confirm_within_secs: u32::try_from(request.confirm_within_secs).unwrap_or(u32::MAX),
        started_by: actor.to_string(),
        started_at_ms: now,
        state: RolloutState::Rolling,
        finished_at_ms: None,
        message: None,
        updates: Vec::new(),
        dismissed: Vec::new(),
        events: Vec::new(),
    };
    if record.canary.is_none() {
        let snapshot = fleet::snapshot(ctx, &record, now, &|agent_id| {
            ctx.hub.is_connected(agent_id)
        })
        .map_err(DomainError::internal)?;
        record.canary = rollout::choose_canary(&snapshot.rollout, &snapshot.agents);
    }
    record.note(
        now,
        format!(
            "started by {actor}: {version}, canary {}",
            record.canary.as_ref().map_or(
                "none (no host needs it now)".to_owned(),
                ToString::to_string
            )
        ),
    );
    if let Err(active) = ctx.store.agent_rollouts.insert(&record)? {
        return Err(DomainError::Conflict(format!(
            "rollout {active} is active: halt and cancel it first"
        )));
    }
    audit::record(
        ctx,
        actor,
        AuditAction::AgentRollout,
        &format!("start {} -> {version}", record.id),
    )?;
    view(ctx, record)
}

/// Changes the active rollout with `change` (which says what it did, or refuses) and audits
/// it as `verb`.
fn change_active(
    ctx: &Context,
    actor: &Actor,
    verb: &str,
    change: impl Fn(&mut AgentRolloutRecord) -> Result<(), String>,
) -> Result<RolloutView, DomainError> {
    let Some(active) = ctx.store.agent_rollouts.active()? else {
        return Err(DomainError::NotFound("no active agent rollout".into()));
    };
    let refusal = std::cell::RefCell::new(None);
    let changed = ctx.store.agent_rollouts.update(&active.id, |record| {
        *refusal.borrow_mut() = None;
        let mut draft = record.clone();
        match change(&mut draft) {
            Ok(()) => {
                draft.note(now_ms(), format!("{verb} by {actor}"));
                *record = draft;
            }
            Err(why) => *refusal.borrow_mut() = Some(why),
        }
    })?;
    if let Some(why) = refusal.into_inner() {
        return Err(DomainError::Conflict(why));
    }
    let Some(record) = changed else {
        return Err(DomainError::NotFound("no active agent rollout".into()));
    };
    audit::record(
        ctx,
        actor,
        AuditAction::AgentRollout,
        &format!("{verb} {}", record.id),
    )?;
    view(ctx, record)
}

/// Stops sending updates (running ones finish). Note that this uses blocking I/O.
pub fn halt(ctx: &Context, actor: &Actor) -> Result<RolloutView, DomainError> {
    change_active(ctx, actor, "halted", |record| {
        if record.state != RolloutState::Rolling {
            return Err(format!("rollout {} is {}", record.id, record.state.word()));
        }
        record.state = RolloutState::Halted;
        record.message = Some("halted by an operator".into());
        Ok(())
    })
}

/// Sends updates again; the failed updates that halted it are dismissed (their hosts are
/// tried again). Note that this uses blocking I/O.
pub fn resume(ctx: &Context, actor: &Actor) -> Result<RolloutView, DomainError> {
    let failed: Vec<String> = match ctx.store.agent_rollouts.active()? {
        Some(record) => record
            .updates
            .iter()
            .filter(|update| {
                ctx.store
                    .agent_updates
                    .get(&update.update_id)
                    .ok()
                    .flatten()
                    .is_some_and(|stored| {
                        stored.result.is_some_and(|result| {
                            result != crate::storage::agent_updates::AgentUpdateResult::Succeeded
                        })
                    })
            })
            .map(|update| update.update_id.clone())
            .collect(),
        None => Vec::new(),
    };
    change_active(ctx, actor, "resumed", |record| {
        if record.state != RolloutState::Halted {
            return Err(format!("rollout {} is {}", record.id, record.state.word()));
        }
        for id in &failed {
            if !record.dismissed.contains(id) {
                record.dismissed.push(id.clone());
            }
        }
        record.state = RolloutState::Rolling;
        record.message = None;
        Ok(())
    })
}

/// Ends the rollout for good (running updates finish on their own). Note that this uses
/// blocking I/O.
pub fn cancel(ctx: &Context, actor: &Actor) -> Result<RolloutView, DomainError> {
    change_active(ctx, actor, "cancelled", |record| {
        record.state = RolloutState::Cancelled;
        record.finished_at_ms = Some(now_ms());
        record.message = Some("cancelled by an operator".into());
        Ok(())
    })
}

/// The newest rollout, active or not, with its hosts' steps. Note that this uses blocking
/// I/O.
pub fn current(ctx: &Context) -> Result<Option<RolloutView>, DomainError> {
    match ctx.store.agent_rollouts.newest()? {
        Some(record) => view(ctx, record).map(Some),
        None => Ok(None),
    }
}

fn view(ctx: &Context, record: AgentRolloutRecord) -> Result<RolloutView, DomainError> {
    let mut hosts = Vec::new();
    if record.state.is_active() {
        let snapshot = fleet::snapshot(ctx, &record, now_ms(), &|agent_id| {
            ctx.hub.is_connected(agent_id)
        })
        .map_err(DomainError::internal)?;
        let rank = |agent_id: &unity_shared::proto::AgentId| {
            (
                snapshot.rollout.canary.as_ref() != Some(agent_id),
                snapshot
                    .rollout
                    .stages
                    .iter()
                    .position(|stage| stage.contains(agent_id)),
            )
        };
        let mut steps: Vec<_> = snapshot.plan.steps.iter().collect();
        steps.sort_by_key(|(agent_id, _)| rank(agent_id));
        for (agent_id, step) in steps {
            let agent = snapshot.records.get(agent_id);
            let (word, reason) = match step {
                Step::Send => ("send", None),
                Step::Wait(why) => ("waiting", Some(why.to_string())),
                Step::Done => ("done", None),
                Step::Skipped(why) => ("skipped", Some(why.clone())),
            };
            hosts.push(RolloutHostView {
                agent_id: agent_id.to_string(),
                host: agent.map_or_else(|| agent_id.to_string(), |agent| agent.hostname.clone()),
                version: agent
                    .map(|agent| agent.agent_version.clone())
                    .unwrap_or_default(),
                step: word.to_owned(),
                reason,
                update_id: record
                    .updates
                    .iter()
                    .rev()
                    .find(|update| &update.agent_id == agent_id)
                    .map(|update| update.update_id.clone()),
            });
        }
    }
    Ok(RolloutView {
        id: record.id,
        version: record.version,
        state: record.state.word().to_owned(),
        canary: record.canary.map(|canary| canary.to_string()),
        stages: record.stages,
        max_parallel: record.max_parallel,
        started_by: record.started_by,
        started_at_ms: record.started_at_ms,
        finished_at_ms: record.finished_at_ms,
        message: record.message,
        hosts,
        events: record.events,
    })
}
