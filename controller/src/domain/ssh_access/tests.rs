//! The owner's answers to drift on a real offline context: adopted lines dropped again (and
//! audited), a clear with nothing adopted refused.

use super::drift;
use crate::domain::audit;
use crate::domain::error::DomainError;
use crate::storage::agents::AgentRecord;
use crate::storage::ssh_access::AdoptedLines;
use unity_shared::model::ssh::{SshLine, UnixUser};
use unity_shared::proto::AgentId;

#[tokio::test]
async fn issue_16_adopted_lines_can_be_cleared_and_the_clear_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let config = crate::config::Config::with_data_dir(dir.path().into());
    let ctx = crate::service::offline_context(config).await.unwrap();
    let nas = AgentId::new("nas-1").unwrap();
    ctx.store
        .agents
        .put_agent(&AgentRecord::enrolled_for_tests(nas.clone(), "nas"))
        .unwrap();
    let (root, ops) = (
        UnixUser::new("root").unwrap(),
        UnixUser::new("ops").unwrap(),
    );
    let line = |text: &str| SshLine::new(text).unwrap();
    ctx.store
        .ssh_access
        .update_host(&nas, |record| {
            record.adopted = vec![
                AdoptedLines {
                    user: root.clone(),
                    lines: vec![line("ssh-ed25519 AAAA one"), line("ssh-ed25519 AAAB two")],
                },
                AdoptedLines {
                    user: ops.clone(),
                    lines: vec![line("ssh-ed25519 AAAC three")],
                },
            ];
        })
        .unwrap();

    assert_eq!(
        drift::clear_adopted(&ctx, &crate::domain::actor::Actor::user("ada"), &nas, &root).unwrap(),
        2
    );
    let record = ctx.store.ssh_access.host(&nas).unwrap();
    assert_eq!(record.adopted.len(), 1, "only root's lines are dropped");
    assert_eq!(record.adopted[0].user, ops);
    let desired = super::apply::desired_users(&ctx, &nas, &record, true).unwrap();
    let desired: Vec<(&str, usize)> = desired
        .iter()
        .map(|keys| (keys.user.as_str(), keys.lines.len()))
        .collect();
    assert_eq!(
        desired,
        [("ops", 1)],
        "root's adopted lines are no longer desired"
    );
    assert!(matches!(
        drift::clear_adopted(&ctx, &crate::domain::actor::Actor::user("ada"), &nas, &root),
        Err(DomainError::NotFound(_))
    ));
    let entries = audit::recent(&ctx, 10).unwrap();
    let cleared = entries
        .iter()
        .find(|entry| entry.action == "ssh.adopted_clear")
        .expect("audited");
    assert_eq!(cleared.actor, "ada");
    assert!(cleared.target.contains("root@nas-1"), "{}", cleared.target);
}
