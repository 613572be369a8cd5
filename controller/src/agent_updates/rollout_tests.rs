//! The fleet rollout's rules, one test per rule, on a homelab's agents (a NAS, a Proxmox box,
//! two Pis, a VPS).

use super::rollout::{
    choose_canary, plan, stages, AgentState, Attempt, AttemptState, Phase, Plan, Rollout, Step,
    WaitReason,
};
use crate::updates::window::WindowState;
use semver::Version;
use unity_shared::proto::AgentId;

fn id(host: &str) -> AgentId {
    AgentId::new(format!("agent-{host}")).unwrap()
}

fn agent(host: &str, version: &str) -> AgentState {
    AgentState {
        agent_id: id(host),
        host_name: host.to_owned(),
        version: Version::parse(version).ok(),
        connected: true,
        has_build: true,
        window: WindowState::Unrestricted,
    }
}

fn rollout(canary: Option<&str>, stages: &[&[&str]]) -> Rollout {
    Rollout {
        version: Version::new(0, 2, 0),
        canary: canary.map(id),
        stages: stages
            .iter()
            .map(|stage| stage.iter().map(|host| id(host)).collect())
            .collect(),
        max_parallel: 2,
    }
}

fn fleet() -> Vec<AgentState> {
    ["nas", "proxmox", "pi1", "pi2", "vps"]
        .iter()
        .map(|host| agent(host, "0.1.0"))
        .collect()
}

fn attempt(host: &str, state: AttemptState) -> Attempt {
    Attempt {
        agent_id: id(host),
        state,
    }
}

fn step_of(plan: &Plan, host: &str) -> Step {
    plan.steps
        .iter()
        .find(|(agent_id, _)| agent_id == &id(host))
        .map(|(_, step)| step.clone())
        .unwrap_or_else(|| panic!("{host} is not in the plan: {plan:?}"))
}

fn sent(plan: &Plan) -> Vec<String> {
    plan.to_send().map(|agent| agent.to_string()).collect()
}

const STAGES: &[&[&str]] = &[&["pi1", "pi2"], &["proxmox", "vps"], &["nas"]];

#[test]
fn the_canary_goes_alone_first_and_the_others_wait_for_it() {
    let rollout = rollout(Some("pi1"), STAGES);
    let plan = plan(&rollout, &fleet(), &[]);
    assert_eq!(sent(&plan), ["agent-pi1"]);
    assert_eq!(
        step_of(&plan, "pi2"),
        Step::Wait(WaitReason::Canary { host: "pi1".into() })
    );
    assert_eq!(plan.phase, Phase::Rolling);

    // While it runs, nothing else goes.
    let plan = super::rollout::plan(&rollout, &fleet(), &[attempt("pi1", AttemptState::Running)]);
    assert!(sent(&plan).is_empty(), "{plan:?}");
    assert_eq!(step_of(&plan, "pi1"), Step::Wait(WaitReason::Running));
}

#[test]
fn after_the_canary_the_stages_go_in_order_at_most_max_parallel_at_once() {
    let rollout = rollout(Some("pi1"), STAGES);
    let done = [attempt("pi1", AttemptState::Succeeded)];
    let plan = plan(&rollout, &fleet(), &done);
    assert_eq!(step_of(&plan, "pi1"), Step::Done);
    assert_eq!(sent(&plan), ["agent-pi2"]);
    assert_eq!(
        step_of(&plan, "vps"),
        Step::Wait(WaitReason::Stage {
            stage: 1,
            pending: 1
        })
    );

    // Stage 1 done: stage 2 goes, two at once.
    let mut agents = fleet();
    agents[3].version = Some(Version::new(0, 2, 0)); // pi2 came back on the new version
    let plan = super::rollout::plan(&rollout, &agents, &done);
    assert_eq!(sent(&plan), ["agent-proxmox", "agent-vps"]);
    assert_eq!(
        step_of(&plan, "nas"),
        Step::Wait(WaitReason::Stage {
            stage: 2,
            pending: 2
        })
    );

    // One of stage 2 still running with max_parallel 2: one more may not start in stage 3
    // (stage 2 is not done), and the running one is not sent twice.
    let running = [
        attempt("pi1", AttemptState::Succeeded),
        attempt("proxmox", AttemptState::Running),
        attempt("vps", AttemptState::Succeeded),
    ];
    let plan = super::rollout::plan(&rollout, &agents, &running);
    assert!(sent(&plan).is_empty(), "{plan:?}");
}

#[test]
fn max_parallel_caps_the_updates_running_at_once() {
    let mut rollout = rollout(None, &[&["nas", "proxmox", "pi1", "pi2", "vps"]]);
    rollout.max_parallel = 2;
    let plan = plan(&rollout, &fleet(), &[attempt("nas", AttemptState::Running)]);
    assert_eq!(sent(&plan), ["agent-proxmox"]);
    assert_eq!(step_of(&plan, "pi1"), Step::Wait(WaitReason::Busy));
}

#[test]
fn the_first_failure_halts_the_rollout_and_running_updates_finish() {
    let rollout = rollout(None, &[&["nas", "proxmox", "pi1", "pi2", "vps"]]);
    let attempts = [
        attempt("nas", AttemptState::Running),
        attempt(
            "proxmox",
            AttemptState::Failed {
                reason: "rolled back: the new agent never reached the controller".into(),
            },
        ),
    ];
    let plan = plan(&rollout, &fleet(), &attempts);
    assert!(sent(&plan).is_empty(), "{plan:?}");
    assert_eq!(step_of(&plan, "nas"), Step::Wait(WaitReason::Running));
    let Step::Wait(WaitReason::Halted { host, reason }) = step_of(&plan, "pi1") else {
        panic!("pi1 should wait on the halt: {plan:?}");
    };
    assert_eq!(host, "proxmox");
    assert!(reason.contains("rolled back"), "{reason}");
    assert!(matches!(plan.phase, Phase::Halted { .. }), "{plan:?}");
    // The failed agent itself is not retried.
    assert!(matches!(
        step_of(&plan, "proxmox"),
        Step::Wait(WaitReason::Halted { .. })
    ));
}

#[test]
fn a_failed_canary_stops_everything() {
    let rollout = rollout(Some("pi1"), STAGES);
    let failed = [attempt(
        "pi1",
        AttemptState::Failed {
            reason: "refused: no release key".into(),
        },
    )];
    let plan = plan(&rollout, &fleet(), &failed);
    assert!(sent(&plan).is_empty(), "{plan:?}");
    assert!(matches!(plan.phase, Phase::Halted { ref host, .. } if host == "pi1"));
}

#[test]
fn agents_on_the_version_are_done_and_agents_without_a_build_are_skipped() {
    let rollout = rollout(None, &[&["nas", "pi1", "vps"]]);
    let mut agents = vec![
        agent("nas", "0.2.0"),
        agent("pi1", "0.1.0"),
        agent("vps", "0.3.0"),
    ];
    agents[1].has_build = false;
    let plan = plan(&rollout, &agents, &[]);
    assert_eq!(step_of(&plan, "nas"), Step::Done);
    assert_eq!(step_of(&plan, "vps"), Step::Done, "newer counts as done");
    let Step::Skipped(why) = step_of(&plan, "pi1") else {
        panic!("pi1 has no build: {plan:?}");
    };
    assert!(why.contains("no build of 0.2.0"), "{why}");
    assert_eq!(plan.phase, Phase::Finished);
}

#[test]
fn a_skipped_agent_does_not_hold_the_next_stage() {
    let rollout = rollout(None, &[&["pi1"], &["nas"]]);
    let mut agents = vec![agent("pi1", "0.1.0"), agent("nas", "0.1.0")];
    agents[0].has_build = false;
    let plan = plan(&rollout, &agents, &[]);
    assert_eq!(sent(&plan), ["agent-nas"]);
}

#[test]
fn an_offline_agent_waits_without_holding_the_next_stages_back() {
    let rollout = rollout(None, &[&["pi1", "pi2"], &["nas"]]);
    let mut agents = vec![
        agent("pi1", "0.1.0"),
        agent("pi2", "0.2.0"),
        agent("nas", "0.1.0"),
    ];
    agents[0].connected = false;
    let plan = plan(&rollout, &agents, &[]);
    assert_eq!(step_of(&plan, "pi1"), Step::Wait(WaitReason::Offline));
    assert_eq!(sent(&plan), ["agent-nas"]);
    assert_eq!(plan.phase, Phase::Rolling);

    // But an agent that went offline after being sent the build holds its stage: its update
    // is not finished.
    let plan = super::rollout::plan(&rollout, &agents, &[attempt("pi1", AttemptState::Running)]);
    assert!(sent(&plan).is_empty(), "{plan:?}");
}

#[test]
fn a_closed_maintenance_window_makes_its_agent_wait() {
    let rollout = rollout(None, &[&["nas", "vps"]]);
    let mut agents = vec![agent("nas", "0.1.0"), agent("vps", "0.1.0")];
    agents[0].window = WindowState::Closed { next: None };
    let plan = plan(&rollout, &agents, &[]);
    assert_eq!(step_of(&plan, "nas"), Step::Wait(WaitReason::Window));
    assert_eq!(sent(&plan), ["agent-vps"]);
}

#[test]
fn the_canary_is_chosen_among_connected_agents_that_need_the_update() {
    let rollout = rollout(None, STAGES);
    let mut agents = fleet();
    agents[2].connected = false; // pi1
    agents[3].version = Some(Version::new(0, 2, 0)); // pi2 already there
    assert_eq!(choose_canary(&rollout, &agents), Some(id("proxmox")));
    agents.iter_mut().for_each(|agent| agent.has_build = false);
    assert_eq!(choose_canary(&rollout, &agents), None);
}

#[test]
fn agents_in_no_stage_are_not_covered_and_the_canary_always_is() {
    let rollout = rollout(Some("vps"), &[&["nas"]]);
    let plan = plan(&rollout, &fleet(), &[]);
    let covered: Vec<String> = plan
        .steps
        .iter()
        .map(|(agent, _)| agent.to_string())
        .collect();
    assert_eq!(covered, ["agent-nas", "agent-vps"]);
    assert_eq!(sent(&plan), ["agent-vps"]);
}

#[test]
fn the_canary_waits_for_leftover_running_updates() {
    let rollout = rollout(Some("vps"), &[&["nas", "vps"]]);
    let plan = plan(&rollout, &fleet(), &[attempt("nas", AttemptState::Running)]);
    assert_eq!(step_of(&plan, "vps"), Step::Wait(WaitReason::Busy));
}

#[test]
fn every_plan_sends_within_the_limits() {
    // Exhaustive over small fleets: 4 agents, each with every combination of connected,
    // build, version and attempt; the plan never sends more than max_parallel minus running,
    // never sends a done, skipped, running or offline agent, and never sends after a failure.
    let hosts = ["a", "b", "c", "d"];
    let states = [
        None,
        Some(AttemptState::Running),
        Some(AttemptState::Succeeded),
    ];
    let mut checked = 0;
    for mask in 0..(1u32 << 8) {
        for attempt_pick in 0..3usize.pow(2) {
            let agents: Vec<AgentState> = hosts
                .iter()
                .enumerate()
                .map(|(index, host)| {
                    let mut agent = agent(
                        host,
                        if mask >> index & 1 == 1 {
                            "0.2.0"
                        } else {
                            "0.1.0"
                        },
                    );
                    agent.connected = mask >> (index + 4) & 1 == 1;
                    agent
                })
                .collect();
            let attempts: Vec<Attempt> = [("a", attempt_pick % 3), ("c", attempt_pick / 3)]
                .iter()
                .filter_map(|(host, pick)| states[*pick].clone().map(|state| attempt(host, state)))
                .collect();
            for canary in [None, Some("b")] {
                let rollout = rollout(canary, &[&["a", "b"], &["c", "d"]]);
                let plan = plan(&rollout, &agents, &attempts);
                let running = attempts
                    .iter()
                    .filter(|attempt| attempt.state == AttemptState::Running)
                    .count();
                let sending = plan.to_send().count();
                if sending > 0 {
                    assert!(running + sending <= rollout.max_parallel, "{plan:?}");
                }
                if plan.to_send().any(|agent| agent == &id("b")) && canary.is_some() {
                    assert_eq!(
                        (running, sending),
                        (0, 1),
                        "the canary goes alone: {plan:?}"
                    );
                }
                for agent_id in plan.to_send() {
                    let agent = agents
                        .iter()
                        .find(|agent| &agent.agent_id == agent_id)
                        .unwrap();
                    assert!(agent.connected, "{plan:?}");
                    assert_ne!(agent.version, Some(Version::new(0, 2, 0)), "{plan:?}");
                    assert!(
                        !attempts.iter().any(|attempt| &attempt.agent_id == agent_id),
                        "an agent with an attempt is not sent again: {plan:?}"
                    );
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 256 * 9 * 2);
}

#[test]
fn stages_follow_the_groups_in_order_and_every_other_host_comes_last() {
    let hosts: Vec<AgentId> = ["nas", "proxmox", "pi1", "pi2", "vps"]
        .iter()
        .map(|h| id(h))
        .collect();
    let pis = vec![id("pi1"), id("pi2")];
    // A host in two groups goes with the first; a member that is not a host (revoked) is
    // left out; an empty group makes no stage.
    let servers = vec![id("pi2"), id("proxmox"), id("gone")];
    let stages = stages(&[pis, vec![], servers], &hosts);
    assert_eq!(
        stages,
        [
            vec![id("pi1"), id("pi2")],
            vec![id("proxmox")],
            vec![id("nas"), id("vps")]
        ]
    );
    // No groups: one stage of every host.
    assert_eq!(super::rollout::stages(&[], &hosts), [hosts]);
}
