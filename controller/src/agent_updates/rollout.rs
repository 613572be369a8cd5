//! Rolling an agent version out to the fleet (pure): which agents are sent the build now.
//!
//! [`plan`] takes a rollout ([`Rollout`]: the version, its canary, its stages, how many at
//! once), what is known of every agent it covers ([`AgentState`]) and the attempts it made so
//! far ([`Attempt`]); it returns one [`Step`] per agent, in the order given, and the rollout's
//! [`Phase`]. The rules, in the order they are checked:
//!
//! 1. **Done**: an agent that runs the rollout's version (or a newer one), or whose attempt
//!    succeeded, is done.
//! 2. **Skipped**: an agent with no build for its architecture and install kind (it is named,
//!    so the operator adds the build; it does not hold the rollout back).
//! 3. **One at a time per agent**: an agent with an attempt running waits for it.
//! 4. **Halt on the first failure**: once any attempt failed (refused, rolled back, lost),
//!    nothing more is sent; running attempts finish. The operator resumes by leaving the
//!    dismissed failures out of `attempts` (or starts a new rollout).
//! 5. **Canary first**: the canary goes alone; every other agent waits until the canary is
//!    done (its update confirmed by its new process' hello).
//! 6. **Stages in order**: an agent of stage *k* waits until every agent of the stages before
//!    is done or skipped. An agent that is offline and was never sent the build does not hold
//!    the later stages back (it is updated when it returns, if the rollout is not halted).
//! 7. **Offline**: an agent that is not connected waits.
//! 8. **Maintenance window**: an agent waits for its host's window to open
//!    ([`WindowState`]; a host without windows is always open).
//! 9. **At most [`Rollout::max_parallel`]** attempts run at once (counting running ones).

use crate::updates::window::WindowState;
use semver::Version;
use unity_shared::proto::AgentId;

/// A rollout, as the operator started it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollout {
    /// The version every covered agent should run.
    pub version: Version,
    /// The agent updated first, alone ([`choose_canary`] when the operator names none).
    pub canary: Option<AgentId>,
    /// The agents in order of stages (the canary may appear in one; it goes first anyway).
    /// An agent in no stage is not covered.
    pub stages: Vec<Vec<AgentId>>,
    /// How many updates run at once after the canary (at least 1).
    pub max_parallel: usize,
}

/// What the controller knows of one agent now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentState {
    pub agent_id: AgentId,
    /// The host's name, for reasons.
    pub host_name: String,
    /// The version its last hello said; `None` when it is not semver (it is sent the build,
    /// and the dispatch decides).
    pub version: Option<Version>,
    pub connected: bool,
    /// A build exists for its architecture and install kind.
    pub has_build: bool,
    pub window: WindowState,
}

/// How one attempt of this rollout on an agent stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptState {
    Running,
    Succeeded,
    /// Refused, rolled back, or abandoned; the reason is shown.
    Failed {
        reason: String,
    },
}

/// An attempt made by this rollout (the newest per agent counts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub agent_id: AgentId,
    pub state: AttemptState,
}

/// What to do with one agent now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send it the build now.
    Send,
    /// Not now; why.
    Wait(WaitReason),
    /// It runs the version.
    Done,
    /// Left out; why.
    Skipped(String),
}

/// Why an agent waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitReason {
    /// Its update is running.
    Running,
    /// The rollout stopped at a failure on `host`.
    Halted {
        host: String,
        reason: String,
    },
    /// The canary (`host`) is not done yet.
    Canary {
        host: String,
    },
    /// Stage `stage` (counted from 1) still has `pending` agents to update.
    Stage {
        stage: usize,
        pending: usize,
    },
    Offline,
    /// Its host's maintenance window is closed.
    Window,
    /// `max_parallel` updates are running.
    Busy,
}

impl std::fmt::Display for WaitReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WaitReason::Running => write!(f, "its update is running"),
            WaitReason::Halted { host, reason } => {
                write!(
                    f,
                    "the rollout stopped: the update of {host} failed ({reason})"
                )
            }
            WaitReason::Canary { host } => write!(f, "waiting for the canary {host}"),
            WaitReason::Stage { stage, pending } => {
                write!(f, "waiting for stage {stage} ({pending} to go)")
            }
            WaitReason::Offline => write!(f, "the agent is offline"),
            WaitReason::Window => write!(f, "outside the host's maintenance window"),
            WaitReason::Busy => write!(f, "other updates are running"),
        }
    }
}

/// Where the rollout as a whole stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Updates are running or waiting.
    Rolling,
    /// A failure stopped it (`host`, `reason`).
    Halted { host: String, reason: String },
    /// Every covered agent is done or skipped.
    Finished,
}

/// The plan: one step per agent, in the order of `agents`, and the phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub steps: Vec<(AgentId, Step)>,
    pub phase: Phase,
}

impl Plan {
    /// The agents to send the build to now.
    pub fn to_send(&self) -> impl Iterator<Item = &AgentId> {
        self.steps
            .iter()
            .filter(|(_, step)| *step == Step::Send)
            .map(|(agent, _)| agent)
    }
}

/// The canary when the operator names none: the first agent of the first stage (in stage
/// order) that is connected, has a build and does not run the version yet.
pub fn choose_canary(rollout: &Rollout, agents: &[AgentState]) -> Option<AgentId> {
    rollout.stages.iter().flatten().find_map(|agent_id| {
        let agent = agents.iter().find(|agent| &agent.agent_id == agent_id)?;
        (agent.connected && agent.has_build && !runs(agent, &rollout.version))
            .then(|| agent_id.clone())
    })
}

/// The stages from host groups' members in order (`groups`): each host goes in the first
/// group that has it; every host of `hosts` in none of them makes the last stage. Empty
/// stages are dropped.
pub fn stages(groups: &[Vec<AgentId>], hosts: &[AgentId]) -> Vec<Vec<AgentId>> {
    let mut placed: Vec<&AgentId> = Vec::new();
    let mut stages = Vec::with_capacity(groups.len() + 1);
    for members in groups {
        let stage: Vec<AgentId> = members
            .iter()
            .filter(|agent_id| hosts.contains(agent_id) && !placed.contains(agent_id))
            .cloned()
            .collect();
        placed.extend(members.iter().filter(|agent_id| hosts.contains(agent_id)));
        stages.push(stage);
    }
    stages.push(
        hosts
            .iter()
            .filter(|agent_id| !placed.contains(agent_id))
            .cloned()
            .collect(),
    );
    stages.retain(|stage| !stage.is_empty());
    stages
}

fn runs(agent: &AgentState, version: &Version) -> bool {
    agent
        .version
        .as_ref()
        .is_some_and(|running| running >= version)
}

/// Decides every covered agent's step (the rules in the module's documentation). Agents in
/// `agents` that no stage names are left out of the plan.
pub fn plan(rollout: &Rollout, agents: &[AgentState], attempts: &[Attempt]) -> Plan {
    let attempt_of = |agent_id: &AgentId| {
        attempts
            .iter()
            .rev()
            .find(|attempt| &attempt.agent_id == agent_id)
            .map(|attempt| &attempt.state)
    };
    let stage_of = |agent_id: &AgentId| {
        rollout
            .stages
            .iter()
            .position(|stage| stage.contains(agent_id))
    };
    let host_of = |agent_id: &AgentId| {
        agents
            .iter()
            .find(|agent| &agent.agent_id == agent_id)
            .map_or_else(|| agent_id.to_string(), |agent| agent.host_name.clone())
    };

    // Rules 1 and 2 first, for every agent: they decide what holds the others back.
    let settled = |agent: &AgentState| -> Option<Step> {
        if runs(agent, &rollout.version)
            || attempt_of(&agent.agent_id) == Some(&AttemptState::Succeeded)
        {
            return Some(Step::Done);
        }
        if !agent.has_build {
            return Some(Step::Skipped(format!(
                "no build of {} for this agent's architecture and install kind",
                rollout.version
            )));
        }
        None
    };
    let is_canary = |agent_id: &AgentId| rollout.canary.as_ref() == Some(agent_id);
    let covered: Vec<&AgentState> = agents
        .iter()
        .filter(|agent| stage_of(&agent.agent_id).is_some() || is_canary(&agent.agent_id))
        .collect();

    let halt = attempts.iter().find_map(|attempt| match &attempt.state {
        AttemptState::Failed { reason } => Some((host_of(&attempt.agent_id), reason.clone())),
        _ => None,
    });
    // A canary that is not among the agents (removed since) holds nothing back.
    let canary_done = covered
        .iter()
        .find(|agent| is_canary(&agent.agent_id))
        .is_none_or(|canary| settled(canary).is_some());
    // Agents of each stage that still hold the next stages back: not done, not skipped, and
    // either online or already sent the build.
    let mut holding = vec![0usize; rollout.stages.len()];
    for agent in &covered {
        if settled(agent).is_some() {
            continue;
        }
        if agent.connected || attempt_of(&agent.agent_id).is_some() {
            if let Some(stage) = stage_of(&agent.agent_id) {
                holding[stage] += 1;
            }
        }
    }
    let first_open_stage = holding.iter().position(|&pending| pending > 0);
    let mut running = covered
        .iter()
        .filter(|agent| attempt_of(&agent.agent_id) == Some(&AttemptState::Running))
        .count();
    let max_parallel = rollout.max_parallel.max(1);

    // The canary is considered first, then the agents in stage order.
    let mut order: Vec<&AgentState> = covered.clone();
    order.sort_by_key(|agent| (!is_canary(&agent.agent_id), stage_of(&agent.agent_id)));
    let mut decided: Vec<(AgentId, Step)> = Vec::with_capacity(order.len());
    for agent in order {
        let canary = is_canary(&agent.agent_id);
        let step = if let Some(step) = settled(agent) {
            step
        } else if attempt_of(&agent.agent_id) == Some(&AttemptState::Running) {
            Step::Wait(WaitReason::Running)
        } else if let Some((host, reason)) = &halt {
            Step::Wait(WaitReason::Halted {
                host: host.clone(),
                reason: reason.clone(),
            })
        } else if !canary && !canary_done {
            Step::Wait(WaitReason::Canary {
                host: rollout.canary.as_ref().map(&host_of).unwrap_or_default(),
            })
        } else if let Some(open) = first_open_stage
            .filter(|&open| !canary && stage_of(&agent.agent_id).is_some_and(|stage| stage > open))
        {
            Step::Wait(WaitReason::Stage {
                stage: open + 1,
                pending: holding[open],
            })
        } else if !agent.connected {
            Step::Wait(WaitReason::Offline)
        } else if matches!(agent.window, WindowState::Closed { .. }) {
            Step::Wait(WaitReason::Window)
        } else if running >= max_parallel || (canary && running > 0) {
            Step::Wait(WaitReason::Busy)
        } else {
            running += 1;
            Step::Send
        };
        // The canary goes alone.
        if canary && step == Step::Send {
            running = max_parallel;
        }
        decided.push((agent.agent_id.clone(), step));
    }

    let phase = if let Some((host, reason)) = halt {
        Phase::Halted { host, reason }
    } else if decided
        .iter()
        .all(|(_, step)| matches!(step, Step::Done | Step::Skipped(_)))
    {
        Phase::Finished
    } else {
        Phase::Rolling
    };
    // Back to the caller's order.
    let steps = covered
        .iter()
        .filter_map(|agent| {
            decided
                .iter()
                .find(|(agent_id, _)| agent_id == &agent.agent_id)
                .cloned()
        })
        .collect();
    Plan { steps, phase }
}
