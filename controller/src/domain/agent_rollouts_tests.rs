//! A fleet rollout on a real store: started through the domain, followed by the loop's tick
//! (`agent_updates::fleet::tick`) with the hosts' connections given, the agent updates it
//! queues ended by hand as the agent-update loop would end them. The agent side of each
//! update is the e2e tests' (tests/e2e/agent_update*.rs).

use super::agent_builds::{self, AddBuild};
use super::agent_rollouts::{self, RolloutRequest};
use super::error::DomainError;
use crate::agent_updates::fleet;
use crate::config::Config;
use crate::context::Context;
use crate::domain::actor::Actor;
use crate::storage::agent_rollouts::RolloutState;
use crate::storage::agent_updates::{AgentUpdateResult, AgentUpdateState};
use crate::storage::agents::AgentRecord;
use std::sync::Arc;
use unity_shared::proto::AgentId;

const HOSTS: &[&str] = &["nas", "proxmox", "pi1", "pi2", "vps"];

fn id(host: &str) -> AgentId {
    AgentId::new(format!("agent-{host}")).unwrap()
}

async fn homelab() -> (tempfile::TempDir, Arc<Context>) {
    let dir = tempfile::tempdir().unwrap();
    let ctx = crate::service::offline_context(Config::with_data_dir(dir.path().join("data")))
        .await
        .unwrap();
    for host in HOSTS {
        let mut record = AgentRecord::enrolled_for_tests(id(host), host);
        record.agent_version = "0.1.0".into();
        ctx.store.agents.put_agent(&record).unwrap();
    }
    let build = dir.path().join("unity-agent");
    std::fs::write(&build, b"\x7fELF a new agent").unwrap();
    agent_builds::add(
        &ctx,
        &Actor::Cli,
        AddBuild {
            path: build.display().to_string(),
            arch: "x86_64".into(),
            kind: "binary".into(),
            version: "0.2.0".into(),
        },
    )
    .unwrap();
    super::groups::put_host_group(&ctx, &Actor::Cli, "pis", vec![], vec![id("pi1"), id("pi2")])
        .unwrap();
    (dir, ctx)
}

fn request(canary: Option<&str>, stages: &[&str]) -> RolloutRequest {
    RolloutRequest {
        version: "0.2.0".into(),
        canary: canary.map(str::to_owned),
        stages: stages.iter().map(|stage| stage.to_string()).collect(),
        max_parallel: 2,
        confirm_within_secs: 60,
    }
}

fn everyone(_: &AgentId) -> bool {
    true
}

/// The hosts the rollout has queued updates for, in order.
fn queued(ctx: &Context) -> Vec<String> {
    let record = ctx.store.agent_rollouts.newest().unwrap().unwrap();
    record
        .updates
        .iter()
        .map(|update| {
            update
                .agent_id
                .as_str()
                .trim_start_matches("agent-")
                .to_owned()
        })
        .collect()
}

/// Ends `host`'s unfinished update with `result`; a success also makes its hello say 0.2.0.
fn end_update(ctx: &Context, host: &str, result: AgentUpdateResult) {
    let pending = ctx.store.agent_updates.pending(&id(host)).unwrap().unwrap();
    assert_eq!(pending.requested_by.split(' ').next(), Some("rollout"));
    ctx.store
        .agent_updates
        .update(&pending.id, |record| {
            record.state = AgentUpdateState::Finished;
            record.result = Some(result);
            record.message = (result != AgentUpdateResult::Succeeded)
                .then(|| "the new agent never reached the controller".into());
        })
        .unwrap();
    if result == AgentUpdateResult::Succeeded {
        ctx.store
            .agents
            .update_agent(&id(host), |record| record.agent_version = "0.2.0".into())
            .unwrap();
    }
}

#[tokio::test]
async fn a_rollout_goes_canary_then_stages_halts_on_a_failure_resumes_and_finishes() {
    let (_dir, ctx) = homelab().await;
    agent_rollouts::start(&ctx, &Actor::Cli, &request(Some("pi1"), &["pis"])).unwrap();

    // The canary alone, once, however often the loop looks.
    fleet::tick(&ctx, 1_000, &everyone).unwrap();
    fleet::tick(&ctx, 2_000, &everyone).unwrap();
    assert_eq!(queued(&ctx), ["pi1"]);

    // The canary's new agent confirmed: the rest of its stage goes (pi2), not yet the others.
    end_update(&ctx, "pi1", AgentUpdateResult::Succeeded);
    fleet::tick(&ctx, 3_000, &everyone).unwrap();
    assert_eq!(queued(&ctx), ["pi1", "pi2"]);
    end_update(&ctx, "pi2", AgentUpdateResult::Succeeded);

    // Stage "pis" done: the other hosts, two at once.
    fleet::tick(&ctx, 4_000, &everyone).unwrap();
    assert_eq!(queued(&ctx), ["pi1", "pi2", "nas", "proxmox"]);

    // One of them rolls back: the rollout halts; vps is never sent the build.
    end_update(&ctx, "proxmox", AgentUpdateResult::RolledBack);
    fleet::tick(&ctx, 5_000, &everyone).unwrap();
    end_update(&ctx, "nas", AgentUpdateResult::Succeeded);
    fleet::tick(&ctx, 6_000, &everyone).unwrap();
    let record = ctx.store.agent_rollouts.active().unwrap().unwrap();
    assert_eq!(record.state, RolloutState::Halted);
    let message = record.message.unwrap();
    assert!(
        message.contains("proxmox") && message.contains("never reached"),
        "{message}"
    );
    assert_eq!(queued(&ctx), ["pi1", "pi2", "nas", "proxmox"]);
    let view = agent_rollouts::current(&ctx).unwrap().unwrap();
    let vps = view.hosts.iter().find(|host| host.host == "vps").unwrap();
    assert_eq!(vps.step, "waiting");
    assert!(
        vps.reason.as_deref().unwrap().contains("proxmox"),
        "{vps:?}"
    );
    assert_eq!(view.hosts[0].host, "pi1", "the canary is listed first");

    // Resumed: proxmox is tried again with vps.
    agent_rollouts::resume(&ctx, &Actor::Cli).unwrap();
    fleet::tick(&ctx, 7_000, &everyone).unwrap();
    assert_eq!(
        queued(&ctx),
        ["pi1", "pi2", "nas", "proxmox", "proxmox", "vps"]
    );
    end_update(&ctx, "proxmox", AgentUpdateResult::Succeeded);
    end_update(&ctx, "vps", AgentUpdateResult::Succeeded);
    fleet::tick(&ctx, 8_000, &everyone).unwrap();
    let record = ctx.store.agent_rollouts.newest().unwrap().unwrap();
    assert_eq!(record.state, RolloutState::Finished);
    assert_eq!(ctx.store.agent_rollouts.active().unwrap(), None);
    // Finished: a new rollout may start (and has nothing to do).
    agent_rollouts::start(&ctx, &Actor::Cli, &request(None, &[])).unwrap();
    fleet::tick(&ctx, 9_000, &everyone).unwrap();
    assert_eq!(
        ctx.store.agent_rollouts.newest().unwrap().unwrap().state,
        RolloutState::Finished
    );
}

#[tokio::test]
async fn halted_by_an_operator_it_sends_nothing_and_offline_hosts_wait() {
    let (_dir, ctx) = homelab().await;
    let offline = |agent_id: &AgentId| agent_id != &id("nas");
    agent_rollouts::start(&ctx, &Actor::Cli, &request(Some("vps"), &[])).unwrap();
    agent_rollouts::halt(&ctx, &Actor::Cli).unwrap();
    fleet::tick(&ctx, 1_000, &offline).unwrap();
    assert!(queued(&ctx).is_empty());
    agent_rollouts::resume(&ctx, &Actor::Cli).unwrap();
    fleet::tick(&ctx, 2_000, &offline).unwrap();
    assert_eq!(queued(&ctx), ["vps"]);
    end_update(&ctx, "vps", AgentUpdateResult::Succeeded);
    fleet::tick(&ctx, 3_000, &offline).unwrap();
    assert!(!queued(&ctx).contains(&"nas".to_owned()), "nas is offline");
    let view = agent_rollouts::current(&ctx).unwrap().unwrap();
    let nas = view.hosts.iter().find(|host| host.host == "nas").unwrap();
    assert_eq!(nas.reason.as_deref(), Some("the agent is offline"));
    agent_rollouts::cancel(&ctx, &Actor::Cli).unwrap();
    assert_eq!(ctx.store.agent_rollouts.active().unwrap(), None);
}

#[tokio::test]
async fn a_rollout_is_refused_clearly() {
    let (_dir, ctx) = homelab().await;
    let refused = |request: RolloutRequest| {
        agent_rollouts::start(&ctx, &Actor::Cli, &request)
            .map(|_| ())
            .unwrap_err()
    };
    let mut bad = request(None, &[]);
    bad.version = "0.3.0".into();
    assert!(
        matches!(refused(bad), DomainError::Conflict(why) if why.contains("no build of version 0.3.0"))
    );
    let mut bad = request(None, &[]);
    bad.version = "latest".into();
    assert!(matches!(refused(bad), DomainError::Invalid(_)));
    assert!(
        matches!(refused(request(None, &["nope"])), DomainError::NotFound(why) if why.contains("nope"))
    );
    assert!(matches!(
        refused(request(Some("router"), &[])),
        DomainError::NotFound(_)
    ));
    let mut bad = request(None, &[]);
    bad.max_parallel = 0;
    assert!(matches!(refused(bad), DomainError::Invalid(_)));
    agent_rollouts::start(&ctx, &Actor::Cli, &request(Some("nas"), &[])).unwrap();
    assert!(
        matches!(refused(request(None, &[])), DomainError::Conflict(why) if why.contains("is active"))
    );
    assert!(matches!(
        agent_rollouts::resume(&ctx, &Actor::Cli).map(|_| ()),
        Err(DomainError::Conflict(why)) if why.contains("rolling")
    ));
}
