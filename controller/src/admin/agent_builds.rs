//! `release-key ...` and `agent-builds ...` on the admin socket: the release key and the agent
//! build store through [`crate::domain::agent_builds`] as the actor `cli`.

use crate::context::Context;
use crate::domain::actor::Actor;
use crate::domain::agent_builds::{self, AddBuild, BuildView, ReleaseKeyView};
use crate::domain::error::DomainError;
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
}

impl AgentBuildsRequest {
    /// Whether it only reads (the `View` right suffices).
    pub fn reads_only(&self) -> bool {
        matches!(self, AgentBuildsRequest::List)
    }
}

/// The daemon's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum AgentBuildsResponse {
    Keys(Vec<ReleaseKeyView>),
    Builds(Vec<BuildView>),
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
    })
}
