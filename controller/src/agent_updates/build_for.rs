//! The update an agent is sent: the build store's candidates read, the build chosen for the
//! agent's architecture, install kind and version ([`super::choose`]), and the queued record
//! described. One place for an operator's `agents update` and the fleet rollout. Note that
//! this uses blocking I/O.

use super::choose::{self, AgentFacts, Candidate, NoBuild, Wanted};
use super::dispatch::{self, NewAgentUpdate};
use crate::context::Context;
use crate::storage::agents::AgentRecord;
use std::time::Duration;

/// What the update is for, besides the build.
#[derive(Debug, Clone)]
pub struct UpdateTerms {
    pub requested_by: String,
    pub confirm_within: Duration,
    pub expires_in: Duration,
}

/// Every build in the store, as candidates. Note that this uses blocking I/O.
pub fn candidates(ctx: &Context) -> anyhow::Result<Vec<Candidate>> {
    Ok(dispatch::build_store(ctx)
        .list()?
        .into_iter()
        .map(|build| Candidate {
            name: build.name,
            version: build.manifest.version,
            arch: build.manifest.arch,
            kind: build.manifest.kind,
        })
        .collect())
}

/// What [`choose::choose`] knows of `agent`.
pub fn facts(agent: &AgentRecord) -> AgentFacts {
    AgentFacts {
        arch: agent.host.arch.clone(),
        install: agent.install,
        version: agent.agent_version.clone(),
    }
}

/// The update to queue for `agent`, or why no build fits.
pub fn new_update(
    agent: &AgentRecord,
    builds: &[Candidate],
    wanted: &Wanted,
    terms: &UpdateTerms,
) -> Result<NewAgentUpdate, NoBuild> {
    let build = choose::choose(&facts(agent), builds, wanted)?;
    Ok(NewAgentUpdate {
        agent_id: agent.agent_id.clone(),
        requested_by: terms.requested_by.clone(),
        build: build.name.clone(),
        to_version: build.version.clone(),
        arch: build.arch.name().to_owned(),
        kind: build.kind.name().to_owned(),
        from_version: agent.agent_version.clone(),
        rollback: wanted.rollback,
        confirm_within_secs: u32::try_from(terms.confirm_within.as_secs()).unwrap_or(u32::MAX),
        expires_in: terms.expires_in,
    })
}
