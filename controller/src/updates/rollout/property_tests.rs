//! Properties of rollout plans over arbitrary pending updates and histories: never two
//! updates of a container, never over a host's limit, one canary per candidate, nothing
//! dispatched against the rules unless forced.

use super::tests::{attempt, now, pending};
use super::*;
use proptest::prelude::*;

fn arbitrary_pending() -> impl Strategy<Value = Vec<PendingUpdate>> {
    let one = (
        prop::sample::select(vec!["nas", "pi", "box"]),
        prop::sample::select(vec!["web", "db", "cache"]),
        prop::sample::select(vec!["nginx@n1", "nginx@n2", "redis@r1"]),
        prop::sample::select(vec!["auto", "notify", "off"]),
        prop::sample::select(vec![
            "",
            "window=closed",
            "approval=now",
            "approval=force",
            "approval=window",
        ]),
    )
        .prop_map(|(host, container, image, mode, extra)| {
            pending(&format!("{host}/{container} {image} {mode} {extra}"))
        });
    prop::collection::vec(one, 0..12)
}

fn arbitrary_history() -> impl Strategy<Value = Vec<Attempt>> {
    let one = (
        prop::sample::select(vec!["nas", "pi", "box"]),
        prop::sample::select(vec!["web", "db", "cache"]),
        prop::sample::select(vec!["nginx@n1", "nginx@n2", "redis@r1"]),
        prop::sample::select(vec!["running", "succeeded", "failed"]),
        0..100i64,
    )
        .prop_map(|(host, container, image, outcome, minutes)| {
            attempt(&format!("{host}/{container} {image} {outcome}"), minutes)
        });
    prop::collection::vec(one, 0..6)
}

proptest! {
    #[test]
    fn plans_respect_the_limits(
        pending in arbitrary_pending(),
        history in arbitrary_history(),
        max_per_host in 1..3usize,
    ) {
        let decisions = plan_with(&RolloutOptions { max_per_host }, &pending, &history, now());
        prop_assert_eq!(decisions.len(), pending.len());
        let mut per_host: HashMap<&str, usize> = HashMap::new();
        let mut containers: HashSet<(&str, &str)> = HashSet::new();
        for attempt in history.iter().filter(|a| a.outcome == AttemptOutcome::Running) {
            *per_host.entry(attempt.agent_id.as_str()).or_default() += 1;
            containers.insert((attempt.agent_id.as_str(), &attempt.container));
        }
        let mut canaries: HashMap<(&str, &str), usize> = HashMap::new();
        for (update, decision) in pending.iter().zip(&decisions) {
            let Decision::Dispatch(stage) = decision else { continue };
            prop_assert!(update.mode != UpdateMode::Off);
            // Never two updates of one container, never over the host's limit.
            prop_assert!(containers.insert((update.agent_id.as_str(), &update.container)));
            let n = per_host.entry(update.agent_id.as_str()).or_default();
            *n += 1;
            prop_assert!(*n <= max_per_host);
            let key = (update.repository.as_str(), update.candidate_digest.as_str());
            let attempts: Vec<&Attempt> = history.iter()
                .filter(|a| (a.repository.as_str(), a.candidate_digest.as_str()) == key)
                .collect();
            match stage {
                Stage::Forced => prop_assert_eq!(update.approval, Some(Approval::Force)),
                Stage::Canary => {
                    prop_assert!(attempts.is_empty());
                    *canaries.entry(key).or_default() += 1;
                }
                Stage::Rollout => {
                    prop_assert!(attempts.iter().any(|a| a.outcome == AttemptOutcome::Succeeded));
                    prop_assert!(attempts.iter().all(|a| a.outcome != AttemptOutcome::Failed));
                }
            }
            if *stage != Stage::Forced {
                prop_assert!(update.mode == UpdateMode::Auto || update.approval.is_some());
            }
        }
        // At most one canary per candidate.
        prop_assert!(canaries.values().all(|n| *n == 1));
    }
}
