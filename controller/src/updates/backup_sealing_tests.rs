//! Backups sealed at rest through the controller's own paths: a result stored by dispatch
//! keeps its backup's inspect sealed (the environment is not in the store's bytes), the
//! backups' domain opens it, an inspect stored unsealed before still reads, and a key
//! rotation re-seals both.

use crate::config::Config;
use crate::context::Context;
use crate::storage::agents::AgentRecord;
use crate::storage::operations::{OperationKind, OperationRecord, OperationState};
use std::sync::Arc;
use unity_shared::model::update::{Backup, CommandResult, ContainerCommand, OperationId, Outcome};
use unity_shared::proto::AgentId;

async fn context() -> (tempfile::TempDir, Arc<Context>) {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::with_data_dir(dir.path().into());
    let ctx = crate::service::offline_context(config).await.unwrap();
    ctx.store
        .agents
        .put_agent(&AgentRecord::enrolled_for_tests(agent(), "nas"))
        .unwrap();
    (dir, ctx)
}

fn agent() -> AgentId {
    AgentId::new("nas-1").unwrap()
}

fn running(id: &str) -> OperationRecord {
    OperationRecord {
        id: id.into(),
        agent_id: agent(),
        container: "app".into(),
        action: OperationKind::Backup,
        command: ContainerCommand::Backup {
            id: OperationId(id.into()),
            container: "app".into(),
        },
        requested_by: "ada".into(),
        requested_at_ms: 1,
        expires_at_ms: i64::MAX,
        from_image: None,
        to_image: None,
        to_digest: None,
        state: OperationState::Running,
        started_at_ms: Some(1),
        finished_at_ms: None,
        progress: Vec::new(),
        result: None,
        error: None,
        attempts: 1,
    }
}

fn result(id: &str, taken_at_ms: u64, env: &str) -> CommandResult {
    CommandResult {
        id: OperationId(id.into()),
        container: "app".into(),
        outcome: Outcome::Succeeded,
        message: "backed up".into(),
        old_image_id: None,
        new_image_id: None,
        backup: Some(format!("{taken_at_ms}.json")),
        log: Vec::new(),
        backup_taken: Some(Backup {
            container: "app".into(),
            taken_at_ms,
            image_ref: "app:1".into(),
            image_id: "sha256:1".into(),
            inspect_json: serde_json::json!({ "Config": { "Env": [env] } }).to_string(),
            volume_archives: Vec::new(),
            dump: None,
            excluded_env: vec!["DB_PASSWORD".into()],
        }),
        data_restored: None,
        evidence: None,
    }
}

fn stored_inspect(ctx: &Context, id: &str) -> String {
    let record = ctx.store.operations.get(id).unwrap().unwrap();
    record.result.unwrap().backup_taken.unwrap().inspect_json
}

#[tokio::test]
async fn issue_17_backups_are_sealed_at_rest_old_ones_read_and_rotation_reseals() {
    let (_dir, ctx) = context().await;
    // Stored before sealing: plain text in the record.
    let mut old = running("0001-old");
    old.state = OperationState::Finished;
    old.result = Some(result("0001-old", 1, "OLD_SETTING=plain"));
    ctx.store.operations.put(&old).unwrap();
    // Stored now, through dispatch.
    ctx.store.operations.put(&running("0002-new")).unwrap();
    super::dispatch::finish(
        &ctx,
        "0002-new",
        Some(result("0002-new", 2, "NEW_SETTING=x")),
        None,
    );
    let sealed = stored_inspect(&ctx, "0002-new");
    assert!(
        sealed.starts_with(super::backup_sealing::SEALED_PREFIX),
        "{sealed}"
    );
    assert!(!sealed.contains("NEW_SETTING"), "{sealed}");

    let read = |ctx: &Context| -> Vec<(u64, serde_json::Value, Vec<String>)> {
        crate::domain::backups::of_container(ctx, &agent(), "app")
            .unwrap()
            .into_iter()
            .map(|view| (view.taken_at_ms, view.inspect, view.excluded_env))
            .collect()
    };
    let views = read(&ctx);
    assert_eq!(views.len(), 2);
    assert_eq!(views[0].1["Config"]["Env"][0], "NEW_SETTING=x");
    assert_eq!(views[0].2, ["DB_PASSWORD"]);
    assert_eq!(views[1].1["Config"]["Env"][0], "OLD_SETTING=plain");

    // A rotation seals the old one too, and both still read.
    let report =
        crate::domain::sealing::rotate_key(&ctx, &crate::domain::actor::Actor::user("ada"))
            .unwrap();
    assert_eq!(report.backups, 2);
    assert!(!stored_inspect(&ctx, "0001-old").contains("OLD_SETTING"));
    assert_eq!(read(&ctx), views);
}
