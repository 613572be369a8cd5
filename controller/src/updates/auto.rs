//! Applying updates by policy: every minute (and after every check), the containers whose
//! newest check offers an update under mode `auto` are planned against their host's
//! maintenance windows and the staged rollout ([`super::rollout`]: one canary host first, the
//! rest after it passed its health gate, a failed candidate stopped), and the dispatchable ones
//! are queued as operations requested by `policy`. Detection is never gated; `notify` updates
//! wait for an operator's "Update now" (which applies at once, on that host).

use super::dispatch::{with_tag, Action, NewOperation};
use super::order::DependencyGraph;
use super::reference::ImageRef;
use super::rollout::{
    self, Attempt, AttemptOutcome, Decision, HostDependencies, PendingUpdate, SkipReason,
};
use super::window::{WindowPhase, WindowSet, WindowState};
use crate::context::Context;
use crate::storage::agents::StateKind;
use crate::storage::containers::UpdateMode;
use crate::storage::containers::{CheckOutcome, DetectedUpdate, PolicyScope, UpdateCheckRecord};
use crate::storage::operations::{OperationKind, OperationRecord, OperationState};
use crate::storage::StorageError;
use jiff::Timestamp;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use unity_shared::model::container::ContainerInventory;
use unity_shared::model::database_image::major_version_change;
use unity_shared::model::scan::VulnerabilityGate;
use unity_shared::model::update::Outcome;
use unity_shared::proto::AgentId;

/// How often the plan runs (windows open on the clock, canaries finish on their own time).
const EVERY: Duration = Duration::from_secs(60);
/// How long an automatic operation waits for an offline agent.
const AUTO_EXPIRY: Duration = Duration::from_secs(3600);

/// The host's own window texts (empty when it has none).
pub fn host_window_texts(ctx: &Context, agent_id: &AgentId) -> Result<Vec<String>, StorageError> {
    let scope = PolicyScope::HostWindows {
        agent_id: agent_id.clone(),
    };
    Ok(ctx
        .store
        .containers
        .policy(&scope)?
        .map(|policy| policy.settings.into_iter().map(|(_, text)| text).collect())
        .unwrap_or_default())
}

/// The windows in effect for a host and where they come from: its own, else the first group
/// naming its agent id or host name, else the controller's.
pub fn windows_for(
    ctx: &Context,
    agent_id: &AgentId,
    hostname: &str,
) -> Result<(WindowSet, String), StorageError> {
    let own = host_window_texts(ctx, agent_id)?;
    if !own.is_empty() {
        // Validated when stored; a text that no longer parses (a removed time zone) closes
        // nothing rather than everything.
        if let Ok(windows) = WindowSet::parse_all(&own) {
            return Ok((windows, "host".to_owned()));
        }
    }
    let settings = &ctx.config.updates;
    if let Some(group) = settings.groups.iter().find(|group| {
        group
            .hosts
            .iter()
            .any(|h| h == agent_id.as_str() || h == hostname)
    }) {
        return Ok((group.windows.clone(), format!("group {}", group.name)));
    }
    Ok((settings.windows.clone(), "controller".to_owned()))
}

/// Whether the windows are open at `now`, and when that next changes, for people (`until Sat
/// 05:00 CET`, `next Sat 02:00 CET`).
pub fn describe(windows: &WindowSet, now: Timestamp) -> (WindowPhase, Option<String>) {
    let state = windows.state(now);
    let next = match &state {
        WindowState::Unrestricted => None,
        WindowState::Open { occurrence } => {
            Some(format!("until {}", occurrence.end.strftime("%a %H:%M %Z")))
        }
        WindowState::Closed { next } => next
            .as_ref()
            .map(|occurrence| format!("next {}", occurrence.start_label(now))),
    };
    (state.phase(), next)
}

fn timestamp(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn repository_of(image: &str) -> String {
    ImageRef::parse(image)
        .map(|reference| format!("{}/{}", reference.registry, reference.repository))
        .unwrap_or_else(|_| image.to_owned())
}

/// The container's effective policy from the host's newest inventory (`None`: not reported,
/// or a policy that does not parse). Note that this uses blocking I/O.
pub fn policy_of(
    ctx: &Context,
    agent_id: &AgentId,
    container: &str,
) -> Option<super::policy::Policy> {
    Inventories::default().policy_of(ctx, agent_id, container)
}

/// The hosts' newest container inventories, each read from the store once however many of
/// its containers ask for their policy (a page of pending updates asks for each).
#[derive(Default)]
pub struct Inventories(HashMap<AgentId, Option<ContainerInventory>>);

impl Inventories {
    /// [`policy_of`], reading each host's inventory once. Note that this uses blocking I/O.
    pub fn policy_of(
        &mut self,
        ctx: &Context,
        agent_id: &AgentId,
        container: &str,
    ) -> Option<super::policy::Policy> {
        let inventory = self
            .0
            .entry(agent_id.clone())
            .or_insert_with(|| {
                let latest = ctx.store.agents.latest(agent_id, StateKind::Containers);
                latest.ok().flatten().map(|(_, inventory)| inventory)
            })
            .as_ref()?;
        let running = inventory.containers.iter().find(|c| c.name == container)?;
        super::effective_policy::of(ctx, agent_id, running).ok()
    }
}

/// A candidate held back only by its cooldown that fixes critical or high vulnerabilities
/// (and adds none at the gate's threshold) is applied anyway (issue 17 §2).
fn fixes_inside_cooldown(
    ctx: &Context,
    fleet: &super::scan::Fleet,
    check: &UpdateCheckRecord,
    update: &DetectedUpdate,
) -> bool {
    let in_cooldown = update
        .held_back
        .as_deref()
        .and_then(super::waiting::cooldown_until)
        .is_some();
    if !in_cooldown {
        return false;
    }
    let Some(policy) = policy_of(ctx, &check.agent_id, &check.container) else {
        return false;
    };
    let view = super::scan::view(
        fleet,
        &check.agent_id,
        update.current_digest.as_deref(),
        &update.candidate_digest,
        policy.vulnerabilities,
    );
    super::scan::fixes_inside_cooldown(&view)
}

/// The dependency order of the hosts with pending updates, from their newest inventories
/// (a host whose inventory cannot be read has none), and the containers marked failed.
fn dependencies_of(
    ctx: &Context,
    pending: &[PendingUpdate],
    failed: HashSet<(AgentId, String)>,
) -> HostDependencies {
    let mut dependencies = HostDependencies {
        failed,
        ..Default::default()
    };
    let mut hosts: Vec<&AgentId> = pending.iter().map(|update| &update.agent_id).collect();
    hosts.sort();
    hosts.dedup();
    for agent_id in hosts {
        let inventory: Option<(i64, ContainerInventory)> = match ctx
            .store
            .agents
            .latest(agent_id, StateKind::Containers)
        {
            Ok(inventory) => inventory,
            Err(error) => {
                tracing::warn!(agent = %agent_id, %error, "Reading containers for the dependency order failed.");
                None
            }
        };
        let Some((_, inventory)) = inventory else {
            continue;
        };
        let graph = DependencyGraph::of(&inventory.containers);
        for update in pending.iter().filter(|update| &update.agent_id == agent_id) {
            let key = (agent_id.clone(), update.container.clone());
            if let Some(cycle) = graph.cycle_of(&update.container) {
                dependencies.cycles.insert(key.clone(), cycle.to_string());
            }
            dependencies
                .needs
                .insert(key, graph.needs(&update.container));
        }
    }
    dependencies
}

/// The containers whose newest update with a verdict (succeeded, rolled back, failed; refusals
/// and expiries change nothing and are left out) did not succeed: they stop their dependents
/// until a later update of theirs succeeds (or an operator forces a dependent).
fn newest_verdict_failed(updates: &[OperationRecord]) -> HashSet<(AgentId, String)> {
    let mut newest: HashMap<(AgentId, String), (i64, &str, Outcome)> = HashMap::new();
    for record in updates {
        let Some(outcome) = record.result.as_ref().map(|result| result.outcome) else {
            continue;
        };
        if outcome == Outcome::Refused {
            continue;
        }
        let at = (record.requested_at_ms, record.id.as_str(), outcome);
        let entry = newest
            .entry((record.agent_id.clone(), record.container.clone()))
            .or_insert(at);
        if (at.0, at.1) > (entry.0, entry.1) {
            *entry = at;
        }
    }
    newest
        .into_iter()
        .filter(|(_, (_, _, outcome))| *outcome != Outcome::Succeeded)
        .map(|(key, _)| key)
        .collect()
}

/// One offered `auto` update and what the plan decided for it.
pub struct Planned {
    pub check: UpdateCheckRecord,
    pub update: DetectedUpdate,
    pub decision: Decision,
}

/// The decision for every offered `auto` update now (candidates that failed on their
/// container are left out: they are only applied by hand). Note that this uses blocking I/O.
pub fn decide(ctx: &Context, now: Timestamp) -> anyhow::Result<Vec<Planned>> {
    let store = &ctx.store;
    let hosts: Vec<_> = store.agents.agents()?;
    let hostname_of = |agent_id: &AgentId| {
        hosts
            .iter()
            .find(|agent| agent.agent_id == *agent_id)
            .map_or_else(|| agent_id.to_string(), |agent| agent.hostname.clone())
    };
    let mut pending = Vec::new();
    let mut operations = Vec::new();
    let fleet = super::scan::stored::fleet(ctx)?;
    let mut failed = HashSet::new();
    for current in super::current::checks(ctx)? {
        if current.failed.is_some() {
            failed.insert((
                current.record.agent_id.clone(),
                current.record.container.clone(),
            ));
        }
        let check = current.record;
        let CheckOutcome::Update(update) = &check.outcome else {
            continue;
        };
        let fixes = !update.offered
            && update.mode == UpdateMode::Auto
            && fixes_inside_cooldown(ctx, &fleet, &check, update);
        if update.mode != UpdateMode::Auto || !(update.offered || fixes) || current.failed.is_some()
        {
            continue;
        }
        let host_name = hostname_of(&check.agent_id);
        let (windows, _) = windows_for(ctx, &check.agent_id, &host_name)?;
        pending.push(PendingUpdate {
            agent_id: check.agent_id.clone(),
            host_name,
            container: check.container.clone(),
            repository: repository_of(&check.image),
            candidate_digest: update.candidate_digest.clone(),
            mode: UpdateMode::Auto,
            window: windows.state(now),
            approval: None,
        });
        let update = update.clone();
        operations.push((check, update));
    }
    if pending.is_empty() {
        return Ok(Vec::new());
    }
    let updates: Vec<OperationRecord> = store
        .operations
        .all()?
        .into_iter()
        .filter(|record| record.action == OperationKind::Update)
        .collect();
    // A dependency whose newest verdict is a failure stops its dependents even when its
    // check no longer shows the failed candidate (a check that ran during the rollback).
    failed.extend(newest_verdict_failed(&updates));
    let history: Vec<Attempt> = updates
        .into_iter()
        .map(|record| Attempt {
            host_name: hostname_of(&record.agent_id),
            repository: record
                .to_image
                .as_deref()
                .map(repository_of)
                .unwrap_or_default(),
            candidate_digest: record.to_digest.clone().unwrap_or_default(),
            started: timestamp(record.started_at_ms.unwrap_or(record.requested_at_ms)),
            outcome: match (record.state, record.result.as_ref().map(|r| r.outcome)) {
                (OperationState::Finished, Some(Outcome::Succeeded)) => AttemptOutcome::Succeeded,
                (OperationState::Finished, _) => AttemptOutcome::Failed,
                _ => AttemptOutcome::Running,
            },
            agent_id: record.agent_id,
            container: record.container,
        })
        .collect();
    let dependencies = dependencies_of(ctx, &pending, failed);
    let decisions =
        rollout::plan_ordered(&Default::default(), &pending, &history, &dependencies, now);
    Ok(decisions
        .into_iter()
        .zip(operations)
        .map(|(decision, (check, update))| {
            // A database's major version never changes automatically.
            let candidate = with_tag(&check.image, &update.candidate_tag);
            let decision = match major_version_change(&check.image, &candidate) {
                Some(change) => Decision::Skip(SkipReason::DatabaseMajorVersion(change.reason())),
                None => decision,
            };
            Planned {
                check,
                update,
                decision,
            }
        })
        .collect())
}

/// What may be dispatched now. Note that this uses blocking I/O.
pub fn plan_now(ctx: &Context, now: Timestamp) -> anyhow::Result<Vec<NewOperation>> {
    let mut dispatch = Vec::new();
    for planned in decide(ctx, now)? {
        let Planned {
            check,
            update,
            decision,
        } = planned;
        match decision {
            Decision::Dispatch(stage) => {
                let agent_id = check.agent_id.clone();
                let policy = policy_of(ctx, &check.agent_id, &check.container);
                tracing::info!(agent = %agent_id, container = %check.container, ?stage, "Applying an update by policy.");
                dispatch.push(NewOperation {
                    agent_id,
                    container: check.container.clone(),
                    action: Action::Update {
                        image: with_tag(&check.image, &update.candidate_tag),
                        digest: Some(update.candidate_digest.clone()),
                        force: false,
                        probe: policy.as_ref().and_then(|policy| policy.probe.clone()),
                        gate: policy
                            .as_ref()
                            .and_then(|policy| policy.vulnerabilities)
                            .map(|threshold| VulnerabilityGate {
                                threshold,
                                automatic: true,
                            }),
                    },
                    requested_by: "policy".to_owned(),
                    expires_in: AUTO_EXPIRY,
                    from_image: Some(match &update.current_digest {
                        Some(digest) => format!("{} ({digest})", check.image),
                        None => check.image.clone(),
                    }),
                });
            }
            Decision::Wait(reason) => {
                tracing::debug!(container = %check.container, %reason, "Automatic update waits.");
            }
            Decision::Skip(_) => {}
        }
    }
    Ok(dispatch)
}

/// Plans and queues once; returns how many operations were queued.
pub async fn apply_once(ctx: &Arc<Context>) -> anyhow::Result<usize> {
    let ctx = ctx.clone();
    tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
        let planned = plan_now(&ctx, Timestamp::now())?;
        let n_planned = planned.len();
        for operation in planned {
            super::dispatch::submit(&ctx, operation)?;
        }
        Ok(n_planned)
    })
    .await?
}

/// The policy loop, spawned by the service.
pub fn spawn(ctx: Arc<Context>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(EVERY).await;
            if let Err(error) = apply_once(&ctx).await {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "Applying updates by policy failed."
                );
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use unity_shared::model::update::{CommandResult, ContainerCommand, OperationId};

    fn update(id: &str, container: &str, at: i64, outcome: Option<Outcome>) -> OperationRecord {
        OperationRecord {
            id: id.into(),
            agent_id: AgentId::new("nas").unwrap(),
            container: container.into(),
            action: OperationKind::Update,
            command: ContainerCommand::Restart {
                id: OperationId(id.into()),
                container: container.into(),
            },
            requested_by: "policy".into(),
            requested_at_ms: at,
            expires_at_ms: at + 1000,
            from_image: None,
            to_image: None,
            to_digest: None,
            state: OperationState::Finished,
            started_at_ms: Some(at),
            finished_at_ms: Some(at + 10),
            progress: Vec::new(),
            // From JSON, so that fields appended to the result later need no change here.
            result: outcome.map(|outcome| {
                serde_json::from_value::<CommandResult>(serde_json::json!({
                    "id": id, "container": container, "outcome": outcome, "message": "",
                    "old_image_id": null, "new_image_id": null, "backup": null, "log": [],
                    "backup_taken": null,
                }))
                .unwrap()
            }),
            error: None,
            attempts: 1,
        }
    }

    #[test]
    fn issue_17_a_dependency_counts_as_failed_until_a_later_update_succeeds() {
        let failed = |updates: &[OperationRecord]| {
            let mut names: Vec<String> = newest_verdict_failed(updates)
                .into_iter()
                .map(|(_, name)| name)
                .collect();
            names.sort();
            names
        };
        let db_failed = [
            update("1", "db", 10, Some(Outcome::Succeeded)),
            update("2", "db", 20, Some(Outcome::RolledBack)),
            // Refusals and expiries change nothing: the rollback stays the newest verdict.
            update("3", "db", 30, Some(Outcome::Refused)),
            update("4", "db", 40, None),
            update("5", "web", 5, Some(Outcome::Failed)),
            update("6", "web", 6, Some(Outcome::Succeeded)),
        ];
        assert_eq!(failed(&db_failed), ["db"]);
        let mut fixed = db_failed.to_vec();
        fixed.push(update("7", "db", 50, Some(Outcome::Succeeded)));
        assert!(failed(&fixed).is_empty());
    }
}
