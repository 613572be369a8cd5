//! `release-key ...`, `agent-builds ...`, `agents update` and `agents rollout` on the admin socket: the release
//! key, the agent build store ([`crate::domain::agent_builds`]) and agent updates
//! ([`crate::domain::agent_updates`]) as the actor `cli`.

use crate::context::Context;
use crate::domain::actor::Actor;
use crate::domain::agent_builds::{self, AddBuild, BuildView, ReleaseKeyView};
use crate::domain::agent_rollouts::{self, RolloutRequest, RolloutView};
use crate::domain::agent_updates::{self, AgentUpdateRequest};
use crate::domain::error::DomainError;
use crate::storage::agent_updates::AgentUpdateRecord;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// `unity-controller release-key ...` and `agent-builds ...` as sent to the daemon.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum AgentBuildsRequest {
    /// The release keys (made on first use).
    ShowKeys,
    /// A new release key; the old one verifies for `grace_secs` more.
    RotateKey {
        grace_secs: u64,
    },
    /// Store a build and sign its manifest.
    Add(AddBuild),
    List,
    /// Update one host's agent (`agents update HOST`): `host` is an agent id or a hostname.
    UpdateAgent {
        host: String,
        version: Option<String>,
        rollback: bool,
        confirm_within_secs: u64,
    },
    /// One agent update, to follow it (`--wait`).
    UpdateStatus {
        id: String,
    },
    /// `agents rollout start`.
    RolloutStart(RolloutRequest),
    /// `agents rollout status`: the newest rollout.
    RolloutStatus,
    RolloutHalt,
    RolloutResume,
    RolloutCancel,
}

impl AgentBuildsRequest {
    /// Whether it only reads (the `View` right suffices).
    pub fn reads_only(&self) -> bool {
        matches!(
            self,
            AgentBuildsRequest::List
                | AgentBuildsRequest::UpdateStatus { .. }
                | AgentBuildsRequest::RolloutStatus
        )
    }
}

/// The daemon's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum AgentBuildsResponse {
    Keys(Vec<ReleaseKeyView>),
    Builds(Vec<BuildView>),
    Update(AgentUpdateLine),
    /// The rollout after the request (`None`: there never was one).
    Rollout(Option<Box<RolloutView>>),
}

/// An agent update as the CLI prints it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentUpdateLine {
    pub id: String,
    pub agent_id: String,
    pub from_version: String,
    pub to_version: String,
    pub build: String,
    /// `queued`, `sending`, `awaiting_confirmation`, `finished`.
    pub state: String,
    /// `succeeded`, `refused`, `rolled_back`, `failed`; empty until finished.
    pub outcome: String,
    pub message: String,
}

impl From<AgentUpdateRecord> for AgentUpdateLine {
    fn from(record: AgentUpdateRecord) -> AgentUpdateLine {
        AgentUpdateLine {
            state: record.state.word().to_owned(),
            outcome: record
                .result
                .map(|result| result.word().to_owned())
                .unwrap_or_default(),
            id: record.id,
            agent_id: record.agent_id.to_string(),
            from_version: record.from_version,
            to_version: record.to_version,
            build: record.build,
            message: record.message.unwrap_or_default(),
        }
    }
}

/// Answers one request. Note that this uses blocking I/O.
pub fn handle(
    ctx: &Context,
    request: AgentBuildsRequest,
) -> Result<AgentBuildsResponse, DomainError> {
    Ok(match request {
        AgentBuildsRequest::ShowKeys => {
            AgentBuildsResponse::Keys(agent_builds::show_keys(ctx, &Actor::Cli)?)
        }
        AgentBuildsRequest::RotateKey { grace_secs } => AgentBuildsResponse::Keys(
            agent_builds::rotate_key(ctx, &Actor::Cli, Duration::from_secs(grace_secs))?,
        ),
        AgentBuildsRequest::Add(add) => {
            AgentBuildsResponse::Builds(vec![agent_builds::add(ctx, &Actor::Cli, add)?])
        }
        AgentBuildsRequest::List => AgentBuildsResponse::Builds(agent_builds::list(ctx)?),
        AgentBuildsRequest::UpdateAgent {
            host,
            version,
            rollback,
            confirm_within_secs,
        } => {
            let agent_id = agent_updates::resolve_host(ctx, &host)?;
            let request = AgentUpdateRequest {
                version,
                rollback,
                confirm_within: Duration::from_secs(confirm_within_secs),
                ..AgentUpdateRequest::default()
            };
            let record = agent_updates::submit(ctx, &Actor::Cli, &agent_id, &request)?;
            AgentBuildsResponse::Update(record.into())
        }
        AgentBuildsRequest::UpdateStatus { id } => match agent_updates::find(ctx, &id)? {
            Some(record) => AgentBuildsResponse::Update(record.into()),
            None => return Err(DomainError::NotFound(format!("no agent update {id}"))),
        },
        AgentBuildsRequest::RolloutStart(request) => {
            rollout(agent_rollouts::start(ctx, &Actor::Cli, &request)?)
        }
        AgentBuildsRequest::RolloutStatus => {
            AgentBuildsResponse::Rollout(agent_rollouts::current(ctx)?.map(Box::new))
        }
        AgentBuildsRequest::RolloutHalt => rollout(agent_rollouts::halt(ctx, &Actor::Cli)?),
        AgentBuildsRequest::RolloutResume => rollout(agent_rollouts::resume(ctx, &Actor::Cli)?),
        AgentBuildsRequest::RolloutCancel => rollout(agent_rollouts::cancel(ctx, &Actor::Cli)?),
    })
}

fn rollout(view: RolloutView) -> AgentBuildsResponse {
    AgentBuildsResponse::Rollout(Some(Box::new(view)))
}
