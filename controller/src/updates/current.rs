//! Check records as they stand now: each container's newest check, corrected by what the
//! container runs (its newest report) and its update history ([`super::offer`]): an update
//! applied since the check shows as up to date, a candidate that failed on the container
//! carries its mark. Also the backup "roll back" restores. Note that this uses blocking I/O.

use super::offer::{self, FailedMark, OfferState, PastUpdate, RunningNow};
use crate::context::Context;
use crate::storage::agents::StateKind;
use crate::storage::containers::{CheckOutcome, UpdateCheckRecord};
use crate::storage::operations::OperationRecord;
use crate::storage::StorageError;
use std::collections::HashMap;
use unity_shared::model::container::ContainerInventory;
use unity_shared::proto::AgentId;

/// A check record as it stands now.
#[derive(Debug, Clone, PartialEq)]
pub struct CurrentCheck {
    /// The record; its outcome is `UpToDate` when the update was applied since.
    pub record: UpdateCheckRecord,
    /// The offered candidate failed on this container: manual updates only.
    pub failed: Option<FailedMark>,
}

/// What the container's newest report says it runs (digests without their repository).
fn running_now(
    inventories: &mut HashMap<AgentId, Option<(i64, ContainerInventory)>>,
    ctx: &Context,
    agent_id: &AgentId,
    container: &str,
) -> Result<Option<RunningNow>, StorageError> {
    if !inventories.contains_key(agent_id) {
        let latest = ctx.store.agents.latest(agent_id, StateKind::Containers)?;
        inventories.insert(agent_id.clone(), latest);
    }
    let Some(Some((reported_at_ms, inventory))) = inventories.get(agent_id) else {
        return Ok(None);
    };
    Ok(inventory
        .containers
        .iter()
        .find(|running| running.name == container)
        .map(|running| RunningNow {
            digests: running
                .repo_digests
                .iter()
                .filter_map(|text| text.rsplit_once('@').map(|(_, digest)| digest.to_owned()))
                .collect(),
            reported_at_ms: *reported_at_ms,
        }))
}

/// Every container's update history, from all operations.
fn histories(operations: Vec<OperationRecord>) -> HashMap<(AgentId, String), Vec<OperationRecord>> {
    let mut by_container: HashMap<(AgentId, String), Vec<OperationRecord>> = HashMap::new();
    for record in operations {
        by_container
            .entry((record.agent_id.clone(), record.container.clone()))
            .or_default()
            .push(record);
    }
    by_container
}

/// The newest check of every container, as it stands now.
pub fn checks(ctx: &Context) -> Result<Vec<CurrentCheck>, StorageError> {
    let records = ctx.store.containers.all_checks()?;
    let by_container = histories(ctx.store.operations.all()?);
    let mut inventories = HashMap::new();
    let mut current = Vec::with_capacity(records.len());
    for mut record in records {
        let mut failed = None;
        if let CheckOutcome::Update(update) = &record.outcome {
            let key = (record.agent_id.clone(), record.container.clone());
            let history: Vec<PastUpdate> = by_container
                .get(&key)
                .map(|records| offer::history_of(records))
                .unwrap_or_default();
            let running = running_now(&mut inventories, ctx, &record.agent_id, &record.container)?;
            match offer::offer_state(&update.candidate_digest, running.as_ref(), &history) {
                OfferState::Applied => record.outcome = CheckOutcome::UpToDate,
                OfferState::Offered { failed: mark } => failed = mark,
            }
        }
        current.push(CurrentCheck { record, failed });
    }
    Ok(current)
}

/// The container's update history (oldest first).
pub fn history(
    ctx: &Context,
    agent_id: &AgentId,
    container: &str,
) -> Result<Vec<PastUpdate>, StorageError> {
    let records: Vec<OperationRecord> = ctx
        .store
        .operations
        .all()?
        .into_iter()
        .filter(|record| record.agent_id == *agent_id && record.container == container)
        .collect();
    Ok(offer::history_of(&records))
}

/// The backup "roll back" restores: the one the newest successful update took.
pub fn rollback_backup(
    ctx: &Context,
    agent_id: &AgentId,
    container: &str,
) -> Result<Option<String>, StorageError> {
    Ok(offer::rollback_target(&history(ctx, agent_id, container)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::storage::agents::AgentRecord;
    use crate::storage::containers::{DetectedUpdate, UpdateKind, UpdateMode};
    use crate::storage::operations::{OperationKind, OperationState};
    use std::sync::Arc;
    use unity_shared::model::container::{Container, RunState};
    use unity_shared::model::update::{CommandResult, ContainerCommand, OperationId, Outcome};

    async fn context() -> (tempfile::TempDir, Arc<Context>) {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::with_data_dir(dir.path().into());
        let ctx = crate::service::offline_context(config).await.unwrap();
        ctx.store
            .agents
            .put_agent(&AgentRecord::enrolled_for_tests(
                AgentId::new("nas-1").unwrap(),
                "nas",
            ))
            .unwrap();
        (dir, ctx)
    }

    fn agent() -> AgentId {
        AgentId::new("nas-1").unwrap()
    }

    fn report(ctx: &Context, at_ms: i64, digest: &str) {
        let container = Container {
            id: "id-app".into(),
            name: "app".into(),
            image: "registry.home.arpa/app:1.0".into(),
            image_id: "sha256:image".into(),
            repo_digests: vec![format!("registry.home.arpa/app@{digest}")],
            platform: None,
            image_created_ms: None,
            state: RunState::Running,
            health: None,
            exit_code: None,
            restart_policy: None,
            restart_count: 0,
            created_ms: None,
            started_ms: None,
            ports: Vec::new(),
            mounts: Vec::new(),
            networks: Vec::new(),
            labels: Vec::new(),
            compose: None,
            usage: None,
            network_mode: None,
            oom_killed: false,
        };
        let inventory = ContainerInventory {
            containers: vec![container],
            ..ContainerInventory::default()
        };
        ctx.store
            .agents
            .put_latest(&agent(), StateKind::Containers, at_ms, &inventory)
            .unwrap();
    }

    fn offer(ctx: &Context, candidate: &str) {
        offer_image(ctx, "registry.home.arpa/app:1.0", "1.1", candidate);
    }

    /// `app` runs `image` (`repo:tag`), offered `candidate_tag` at digest `candidate`.
    fn offer_image(ctx: &Context, image: &str, candidate_tag: &str, candidate: &str) {
        let current_tag = image.rsplit(':').next().map(str::to_owned);
        ctx.store
            .containers
            .put_check(&UpdateCheckRecord {
                agent_id: agent(),
                container: "app".into(),
                image: image.into(),
                checked_at_ms: 50,
                outcome: CheckOutcome::Update(DetectedUpdate {
                    kind: UpdateKind::Minor,
                    current_tag,
                    current_digest: Some("sha256:v1".into()),
                    candidate_tag: candidate_tag.into(),
                    candidate_digest: candidate.into(),
                    candidate_created_ms: None,
                    first_seen_ms: 0,
                    mode: UpdateMode::Auto,
                    offered: true,
                    held_back: None,
                }),
            })
            .unwrap();
    }

    fn update_op(ctx: &Context, id: &str, to: &str, at_ms: i64, outcome: Outcome, backup: &str) {
        ctx.store
            .operations
            .put(&OperationRecord {
                id: id.into(),
                agent_id: agent(),
                container: "app".into(),
                action: OperationKind::Update,
                command: ContainerCommand::Rollback {
                    id: OperationId(id.into()),
                    container: "app".into(),
                },
                requested_by: "policy".into(),
                requested_at_ms: at_ms - 10,
                expires_at_ms: at_ms + 1000,
                from_image: None,
                to_image: Some("registry.home.arpa/app:1.1".into()),
                to_digest: Some(to.into()),
                state: OperationState::Finished,
                started_at_ms: Some(at_ms - 5),
                finished_at_ms: Some(at_ms),
                progress: Vec::new(),
                result: Some(CommandResult {
                    id: OperationId(id.into()),
                    container: "app".into(),
                    outcome,
                    message: format!("{outcome:?}: health check failed"),
                    old_image_id: None,
                    new_image_id: None,
                    backup: Some(backup.into()),
                    log: Vec::new(),
                    backup_taken: None,
                    data_restored: None,
                    evidence: None,
                }),
                error: None,
                attempts: 1,
            })
            .unwrap();
    }

    #[tokio::test]
    async fn issue_17_an_update_applied_since_the_check_is_no_longer_offered() {
        let (_dir, ctx) = context().await;
        report(&ctx, 100, "sha256:v1");
        offer(&ctx, "sha256:v2");
        let before = checks(&ctx).unwrap();
        assert!(matches!(before[0].record.outcome, CheckOutcome::Update(_)));
        // Applied after the newest report: no longer offered, even before the next report.
        update_op(
            &ctx,
            "op-1",
            "sha256:v2",
            200,
            Outcome::Succeeded,
            "v1.json",
        );
        let after = checks(&ctx).unwrap();
        assert_eq!(after[0].record.outcome, CheckOutcome::UpToDate);
        // The next report names it: still not offered.
        report(&ctx, 300, "sha256:v2");
        assert_eq!(
            checks(&ctx).unwrap()[0].record.outcome,
            CheckOutcome::UpToDate
        );
        // The domain view (API and page) agrees.
        let views =
            crate::domain::updates::checks(&ctx, crate::domain::updates::CheckFilter::Update)
                .unwrap();
        assert!(views.is_empty(), "{views:?}");
    }

    #[tokio::test]
    async fn issue_17_a_database_major_version_change_is_never_applied_automatically() {
        use crate::domain::operations::{submit, OperationRequest};
        let (_dir, ctx) = context().await;
        report(&ctx, 100, "sha256:v1");
        offer_image(&ctx, "postgres:15", "16", "sha256:v2");
        assert!(super::super::auto::plan_now(&ctx, jiff::Timestamp::now())
            .unwrap()
            .is_empty());
        let views =
            crate::domain::updates::checks(&ctx, crate::domain::updates::CheckFilter::Update)
                .unwrap();
        let waiting = views[0].waiting.clone().unwrap();
        assert!(
            waiting.contains("postgres 15 → 16 needs a dump and restore"),
            "{waiting}"
        );
        // By hand: refused without force, with the reason; queued with force.
        let update = OperationKind::Update;
        let refused = submit(
            &ctx,
            &crate::domain::actor::Actor::user("admin"),
            &agent(),
            "app",
            update,
            &OperationRequest::default(),
        );
        let error = refused.unwrap_err().to_string();
        assert!(error.contains("only with force"), "{error}");
        let forced = OperationRequest {
            force: true,
            ..OperationRequest::default()
        };
        submit(
            &ctx,
            &crate::domain::actor::Actor::user("admin"),
            &agent(),
            "app",
            update,
            &forced,
        )
        .unwrap();
        // A minor version of the same database is applied by policy.
        let (_dir, ctx) = context().await;
        report(&ctx, 100, "sha256:v1");
        offer_image(&ctx, "postgres:15.4", "15.6", "sha256:v2");
        let planned = super::super::auto::plan_now(&ctx, jiff::Timestamp::now()).unwrap();
        assert_eq!(planned.len(), 1);
    }

    #[tokio::test]
    async fn issue_17_a_failed_candidate_is_marked_and_not_applied_automatically() {
        let (_dir, ctx) = context().await;
        report(&ctx, 100, "sha256:v1");
        offer(&ctx, "sha256:v2");
        update_op(
            &ctx,
            "op-1",
            "sha256:v2",
            200,
            Outcome::RolledBack,
            "v1.json",
        );
        report(&ctx, 300, "sha256:v1");
        let current = checks(&ctx).unwrap();
        let failed = current[0].failed.clone().expect("marked failed");
        assert_eq!(failed.at_ms, 200);
        assert!(failed.reason.contains("health check failed"), "{failed:?}");
        let views =
            crate::domain::updates::checks(&ctx, crate::domain::updates::CheckFilter::Update)
                .unwrap();
        assert_eq!(views.len(), 1);
        assert!(views[0].waiting.as_deref().unwrap().contains("failed"));
        let json = serde_json::to_value(&views[0]).unwrap();
        assert_eq!(json["failed"]["at_ms"], 200);
        assert!(super::super::auto::plan_now(&ctx, jiff::Timestamp::now())
            .unwrap()
            .is_empty());
        // A candidate that did not fail is applied by policy.
        offer(&ctx, "sha256:v3");
        let planned = super::super::auto::plan_now(&ctx, jiff::Timestamp::now()).unwrap();
        assert_eq!(planned.len(), 1);
    }

    #[tokio::test]
    async fn issue_17_roll_back_restores_the_backup_of_the_last_successful_update() {
        let (_dir, ctx) = context().await;
        report(&ctx, 100, "sha256:v2");
        update_op(
            &ctx,
            "op-1",
            "sha256:v2",
            200,
            Outcome::Succeeded,
            "v1.json",
        );
        update_op(
            &ctx,
            "op-2",
            "sha256:v3",
            300,
            Outcome::RolledBack,
            "v2.json",
        );
        assert_eq!(
            rollback_backup(&ctx, &agent(), "app").unwrap().as_deref(),
            Some("v1.json")
        );
        let record = crate::domain::operations::submit(
            &ctx,
            &crate::domain::actor::Actor::user("ada"),
            &agent(),
            "app",
            OperationKind::Rollback,
            &crate::domain::operations::OperationRequest::default(),
        )
        .unwrap();
        match record.command {
            ContainerCommand::Restore { backup, .. } => assert_eq!(backup, "v1.json"),
            other => panic!("expected a restore of v1.json, got {other:?}"),
        }
    }
}
