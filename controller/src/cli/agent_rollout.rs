//! `unity-controller agents rollout start|status|halt|resume|cancel` (issue 20 §2,
//! docs/agent-updates.md): a fleet rollout of an agent version through the admin socket.

use super::agent_builds::call;
use super::{format_time_ms, print_json};
use crate::admin::{AgentBuildsRequest, AgentBuildsResponse};
use crate::config::Config;
use crate::domain::agent_rollouts::{RolloutRequest, RolloutView};
use anyhow::Context as _;
use unity_shared::outln;

/// `unity-controller agents rollout ...`.
#[derive(Debug, clap::Subcommand)]
pub enum RolloutCommand {
    /// Start rolling a version out to every host.
    #[command(after_help = "\
Examples:
  unity-controller agents rollout start 0.2.0
  unity-controller agents rollout start 0.2.0 --canary pi --stage pis --stage servers --parallel 2

The canary (default: the first connected host of the first stage that needs the update) is
updated alone; when its new agent has reached the controller, the stages follow in order
(host groups, then every other host), at most --parallel at once, each host in its
maintenance window. The first failed update halts the rollout: `agents rollout resume` tries
the failed hosts again, `cancel` ends it. Builds come from the store (agent-builds add), one
per architecture and install kind; hosts without one are skipped and listed.")]
    Start {
        /// The version every host should run.
        version: String,
        /// The host updated first, alone: agent id or hostname.
        #[arg(long)]
        canary: Option<String>,
        /// A host group, updated in the order given (repeat); hosts in none come last.
        #[arg(long = "stage", value_name = "GROUP")]
        stages: Vec<String>,
        /// How many hosts update at once after the canary.
        #[arg(long, default_value_t = 1)]
        parallel: u32,
        /// How long each new agent has to reach the controller before it rolls back.
        #[arg(long, default_value = "5m")]
        confirm_within: String,
        #[arg(long)]
        json: bool,
    },
    /// Show the newest rollout, host by host.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Stop sending updates (running ones finish).
    Halt,
    /// Send updates again; the hosts whose update failed are tried again.
    Resume,
    /// End the rollout (running updates finish).
    Cancel,
}

pub async fn run(command: RolloutCommand, config: &Config) -> anyhow::Result<()> {
    let (request, json) = match command {
        RolloutCommand::Start {
            version,
            canary,
            stages,
            parallel,
            confirm_within,
            json,
        } => {
            let confirm_within = humantime::parse_duration(&confirm_within)
                .with_context(|| format!("--confirm-within {confirm_within:?}"))?;
            let request = RolloutRequest {
                version,
                canary,
                stages,
                max_parallel: parallel,
                confirm_within_secs: confirm_within.as_secs(),
            };
            (AgentBuildsRequest::RolloutStart(request), json)
        }
        RolloutCommand::Status { json } => (AgentBuildsRequest::RolloutStatus, json),
        RolloutCommand::Halt => (AgentBuildsRequest::RolloutHalt, false),
        RolloutCommand::Resume => (AgentBuildsRequest::RolloutResume, false),
        RolloutCommand::Cancel => (AgentBuildsRequest::RolloutCancel, false),
    };
    let view = match call(config, request).await? {
        AgentBuildsResponse::Rollout(view) => view,
        _ => anyhow::bail!("unexpected answer from the controller"),
    };
    match (view, json) {
        (view, true) => print_json(&view),
        (None, false) => {
            outln!("No agent rollout yet (unity-controller agents rollout start VERSION).");
            Ok(())
        }
        (Some(view), false) => {
            print_rollout(&view);
            Ok(())
        }
    }
}

fn print_rollout(view: &RolloutView) {
    outln!(
        "Rollout {} to {}: {}{}",
        view.id,
        view.version,
        view.state,
        view.message
            .as_deref()
            .map(|message| format!(" ({message})"))
            .unwrap_or_default()
    );
    outln!(
        "  started {} by {}; canary {}; stages {}; {} at once",
        format_time_ms(view.started_at_ms),
        view.started_by,
        view.canary.as_deref().unwrap_or("none"),
        if view.stages.is_empty() {
            "all hosts".to_owned()
        } else {
            format!("{} then the rest", view.stages.join(", "))
        },
        view.max_parallel
    );
    for host in &view.hosts {
        outln!(
            "  {:<24} {:<12} {:<8} {}{}",
            host.host,
            host.version,
            host.step,
            host.reason.as_deref().unwrap_or(""),
            host.update_id
                .as_deref()
                .map(|id| format!(" [operation {id}]"))
                .unwrap_or_default()
        );
    }
}
