//! A fleet rollout of one agent version (pure): which hosts to send the build to now. Not
//! wired to a loop or a face yet (docs/agent-updates.md); the rules, in order:
//!
//! 1. **Done**: a host that runs the target version already needs nothing.
//! 2. **Halt on the first failure**: once any host's update of this rollout failed, was
//!    refused or rolled back, no other host starts; those waiting read halted, naming it.
//! 3. **Canary first**: the canary (the one named, else the first host of the first stage by
//!    agent id that this rollout updates) goes alone; everyone else waits until it has
//!    succeeded. A canary outside its window or offline holds the rollout.
//! 4. **Stages**: then the host groups in the order given, and last every host in none of
//!    them; a stage starts when every host of the stages before it is done or succeeded.
//! 5. **Windows and reachability**: a host goes only inside its maintenance window
//!    ([`crate::updates::window`]) and while its agent is connected.
//! 6. **Concurrency**: at most `max_concurrent` updates run at once across the fleet.

use crate::updates::window::WindowPhase;
use unity_shared::proto::AgentId;

/// One host of the fleet, as the rollout sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetHost {
    pub agent_id: AgentId,
    /// The host groups it belongs to.
    pub groups: Vec<String>,
    pub version: String,
    pub connected: bool,
    /// Its maintenance windows now (`Always` without windows).
    pub window: WindowPhase,
}

/// Where one host's update of this rollout is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostProgress {
    NotStarted,
    /// Queued, sending or awaiting its confirmation.
    Running,
    Succeeded,
    /// Failed, refused or rolled back.
    Failed,
}

/// What the operator set for the rollout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutPlan {
    pub target_version: String,
    /// The canary; default: the first host of the first stage.
    pub canary: Option<AgentId>,
    /// Host groups in rollout order; hosts in none of them go last.
    pub stages: Vec<String>,
    pub max_concurrent: usize,
}

/// What to do with one host now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RolloutDecision {
    /// Send the build now.
    Go,
    /// It runs the target version, or its update succeeded.
    Done,
    /// Its update is under way.
    Running,
    /// Not now; the reason says why, in words.
    Wait(String),
    /// Not at all: the rollout stopped at a failure.
    Halted(String),
    /// This host's own update failed.
    Failed,
}

/// The stage a host belongs to: 0 for the first listed group it is in, …, `stages.len()`
/// for hosts in none of them.
fn stage_of(host: &FleetHost, stages: &[String]) -> usize {
    stages
        .iter()
        .position(|stage| host.groups.contains(stage))
        .unwrap_or(stages.len())
}

fn stage_name(stage: usize, stages: &[String]) -> String {
    stages.get(stage).map_or_else(
        || "the remaining hosts".to_owned(),
        |name| format!("group {name}"),
    )
}

/// One decision per host, in the order of `hosts`; `progress(host)` says where its update is.
pub fn plan(
    hosts: &[FleetHost],
    progress: impl Fn(&AgentId) -> HostProgress,
    rollout: &RolloutPlan,
) -> Vec<RolloutDecision> {
    let state = |host: &FleetHost| match progress(&host.agent_id) {
        _ if host.version == rollout.target_version => HostProgress::Succeeded,
        other => other,
    };
    let failed = hosts
        .iter()
        .find(|host| state(host) == HostProgress::Failed)
        .map(|host| host.agent_id.clone());
    let mut order: Vec<&FleetHost> = hosts.iter().collect();
    order.sort_by(|a, b| {
        stage_of(a, &rollout.stages)
            .cmp(&stage_of(b, &rollout.stages))
            .then_with(|| a.agent_id.cmp(&b.agent_id))
    });
    // The default canary stays the same host for the whole rollout: the first one this
    // rollout has to update (a host found at the target version before it began is not).
    let canary = rollout.canary.clone().or_else(|| {
        order
            .iter()
            .find(|host| {
                progress(&host.agent_id) != HostProgress::NotStarted
                    || host.version != rollout.target_version
            })
            .map(|host| host.agent_id.clone())
    });
    let canary_state = canary.as_ref().and_then(|canary| {
        hosts
            .iter()
            .find(|host| &host.agent_id == canary)
            .map(&state)
    });
    // The first stage with a host not yet succeeded: only it may run.
    let open_stage = order
        .iter()
        .find(|host| state(host) != HostProgress::Succeeded)
        .map(|host| stage_of(host, &rollout.stages));
    let mut running = hosts
        .iter()
        .filter(|host| state(host) == HostProgress::Running)
        .count();
    let mut decisions: Vec<Option<RolloutDecision>> = vec![None; hosts.len()];
    for host in &order {
        let index = hosts
            .iter()
            .position(|candidate| candidate.agent_id == host.agent_id)
            .unwrap_or(0);
        let is_canary = canary.as_ref() == Some(&host.agent_id);
        let decision = match state(host) {
            HostProgress::Succeeded => RolloutDecision::Done,
            HostProgress::Running => RolloutDecision::Running,
            HostProgress::Failed => RolloutDecision::Failed,
            HostProgress::NotStarted => match (&failed, is_canary, canary_state) {
                (Some(failed), _, _) => RolloutDecision::Halted(format!(
                    "halted: the update of {failed} did not succeed"
                )),
                (None, false, Some(HostProgress::NotStarted | HostProgress::Running)) => {
                    RolloutDecision::Wait(format!(
                        "waiting for the canary {}",
                        canary.as_ref().map_or("", |canary| canary.as_str())
                    ))
                }
                _ if !is_canary
                    && open_stage.is_some_and(|open| open < stage_of(host, &rollout.stages)) =>
                {
                    RolloutDecision::Wait(format!(
                        "waiting for {} to finish",
                        stage_name(open_stage.unwrap_or(0), &rollout.stages)
                    ))
                }
                _ if host.window == WindowPhase::Closed => {
                    RolloutDecision::Wait("outside its maintenance window".to_owned())
                }
                _ if !host.connected => RolloutDecision::Wait("the agent is offline".to_owned()),
                _ if running >= rollout.max_concurrent.max(1) => RolloutDecision::Wait(format!(
                    "{running} updates running (at most {})",
                    rollout.max_concurrent.max(1)
                )),
                _ => {
                    running += 1;
                    RolloutDecision::Go
                }
            },
        };
        decisions[index] = Some(decision);
    }
    decisions
        .into_iter()
        .map(|decision| decision.unwrap_or(RolloutDecision::Done))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn host(id: &str, groups: &[&str], version: &str) -> FleetHost {
        FleetHost {
            agent_id: AgentId::new(id).unwrap(),
            groups: groups.iter().map(|group| group.to_string()).collect(),
            version: version.into(),
            connected: true,
            window: WindowPhase::Always,
        }
    }

    fn rollout(stages: &[&str]) -> RolloutPlan {
        RolloutPlan {
            target_version: "0.2.0".into(),
            canary: None,
            stages: stages.iter().map(|stage| stage.to_string()).collect(),
            max_concurrent: 2,
        }
    }

    fn decide(
        hosts: &[FleetHost],
        progress: &[(&str, HostProgress)],
        plan_: &RolloutPlan,
    ) -> Vec<RolloutDecision> {
        let progress: HashMap<String, HostProgress> = progress
            .iter()
            .map(|(id, state)| (id.to_string(), *state))
            .collect();
        plan(
            hosts,
            |agent_id| {
                progress
                    .get(agent_id.as_str())
                    .copied()
                    .unwrap_or(HostProgress::NotStarted)
            },
            plan_,
        )
    }

    fn gos(decisions: &[RolloutDecision]) -> Vec<usize> {
        decisions
            .iter()
            .enumerate()
            .filter(|(_, decision)| **decision == RolloutDecision::Go)
            .map(|(index, _)| index)
            .collect()
    }

    #[test]
    fn the_canary_goes_alone_then_the_groups_in_order() {
        let hosts = vec![
            host("web-2", &["web"], "0.1.0"),
            host("db-1", &["db"], "0.1.0"),
            host("web-1", &["web"], "0.1.0"),
            host("nas", &[], "0.1.0"),
        ];
        let plan_ = rollout(&["web", "db"]);
        // The canary: the first host of the first stage by id.
        assert_eq!(gos(&decide(&hosts, &[], &plan_)), [2]);
        let waiting = decide(&hosts, &[("web-1", HostProgress::Running)], &plan_);
        assert_eq!(
            waiting[0],
            RolloutDecision::Wait("waiting for the canary web-1".into())
        );
        // Canary done: the rest of its stage goes; the next stages wait.
        let after = decide(&hosts, &[("web-1", HostProgress::Succeeded)], &plan_);
        assert_eq!(gos(&after), [0]);
        assert_eq!(
            after[1],
            RolloutDecision::Wait("waiting for group web to finish".into())
        );
        assert_eq!(after[2], RolloutDecision::Done);
        let web_done = [
            ("web-1", HostProgress::Succeeded),
            ("web-2", HostProgress::Succeeded),
        ];
        let next = decide(&hosts, &web_done, &plan_);
        assert_eq!(gos(&next), [1]);
        assert_eq!(
            next[3],
            RolloutDecision::Wait("waiting for group db to finish".into())
        );
        // A host already at the target counts as done.
        let mut upgraded = hosts.clone();
        upgraded[1].version = "0.2.0".into();
        assert_eq!(gos(&decide(&upgraded, &web_done, &plan_)), [3]);
    }

    #[test]
    fn the_first_failure_halts_the_rollout() {
        let hosts = vec![
            host("a", &[], "0.1.0"),
            host("b", &[], "0.1.0"),
            host("c", &[], "0.1.0"),
        ];
        let plan_ = rollout(&[]);
        let decisions = decide(&hosts, &[("a", HostProgress::Failed)], &plan_);
        assert_eq!(decisions[0], RolloutDecision::Failed);
        assert_eq!(
            decisions[1],
            RolloutDecision::Halted("halted: the update of a did not succeed".into())
        );
        // Also after the canary succeeded, a later failure stops the rest.
        let decisions = decide(
            &hosts,
            &[("a", HostProgress::Succeeded), ("b", HostProgress::Failed)],
            &plan_,
        );
        assert!(matches!(decisions[2], RolloutDecision::Halted(_)));
        assert!(gos(&decisions).is_empty());
    }

    #[test]
    fn windows_connections_concurrency_and_a_named_canary() {
        let mut hosts = vec![
            host("a", &[], "0.1.0"),
            host("b", &[], "0.1.0"),
            host("c", &[], "0.1.0"),
            host("d", &[], "0.1.0"),
        ];
        let mut plan_ = rollout(&[]);
        plan_.canary = Some(AgentId::new("c").unwrap());
        assert_eq!(gos(&decide(&hosts, &[], &plan_)), [2]);
        hosts[0].window = WindowPhase::Closed;
        hosts[1].connected = false;
        let after = decide(&hosts, &[("c", HostProgress::Succeeded)], &plan_);
        assert_eq!(
            after[0],
            RolloutDecision::Wait("outside its maintenance window".into())
        );
        assert_eq!(
            after[1],
            RolloutDecision::Wait("the agent is offline".into())
        );
        assert_eq!(gos(&after), [3]);
        hosts[0].window = WindowPhase::Open;
        hosts[1].connected = true;
        plan_.max_concurrent = 1;
        let one_at_a_time = decide(&hosts, &[("c", HostProgress::Succeeded)], &plan_);
        assert_eq!(gos(&one_at_a_time), [0]);
        assert!(matches!(one_at_a_time[1], RolloutDecision::Wait(_)));
        // A canary whose window is closed holds the rollout: it still goes first.
        hosts[2].window = WindowPhase::Closed;
        let held = decide(&hosts, &[], &plan_);
        assert!(gos(&held).is_empty());
        assert_eq!(
            held[2],
            RolloutDecision::Wait("outside its maintenance window".into())
        );
    }
}
