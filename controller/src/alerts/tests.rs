//! The diff between active conditions and stored alerts: opening, refreshing, escalating,
//! and resolving only after `resolve_after` (flapping).

use super::*;
use crate::storage::alerts::Severity;
use proptest::prelude::*;
use unity_shared::proto::AgentId;

const RESOLVE_AFTER: i64 = 120_000;

fn condition(key: &str, severity: Severity) -> Condition {
    Condition {
        key: key.into(),
        agent_id: AgentId::new("nas").unwrap(),
        severity,
        summary: format!("{key} summary"),
        details: vec![],
    }
}

/// Applies `changes` to `open` the way [`evaluate_once`] does with the store.
fn apply(open: &mut Vec<AlertRecord>, changes: Vec<Change>, now_ms: i64) -> Vec<String> {
    let mut log = Vec::new();
    for change in changes {
        match change {
            Change::Open(record) => {
                log.push(format!("open {}", record.key));
                open.push(record);
            }
            Change::Refresh { record, escalated } => {
                if escalated {
                    log.push(format!("escalate {}", record.key));
                }
                if let Some(slot) = open.iter_mut().find(|alert| alert.key == record.key) {
                    *slot = record;
                }
            }
            Change::Resolve { key } => {
                log.push(format!("resolve {key} at {now_ms}"));
                open.retain(|alert| alert.key != key);
            }
        }
    }
    log
}

#[test]
fn opens_refreshes_escalates_and_resolves_late() {
    let mut open = Vec::new();
    let mut step = |active: &[Condition], now: i64| {
        let changes = diff(&open, active, now, RESOLVE_AFTER);
        apply(&mut open, changes, now)
    };
    let warning = [condition("fs", Severity::Warning)];
    let critical = [condition("fs", Severity::Critical)];
    assert_eq!(step(&warning, 0), ["open fs"]);
    assert_eq!(step(&warning, 30_000), Vec::<String>::new());
    assert_eq!(step(&critical, 60_000), ["escalate fs"]);
    // Gone, back, gone: flapping within resolve_after keeps the one alert.
    assert_eq!(step(&[], 90_000), Vec::<String>::new());
    assert_eq!(step(&critical, 120_000), Vec::<String>::new());
    assert_eq!(step(&[], 200_000), Vec::<String>::new());
    assert_eq!(step(&[], 240_000), ["resolve fs at 240000"]);
    assert_eq!(step(&[], 300_000), Vec::<String>::new());
    assert_eq!(step(&warning, 330_000), ["open fs"]);
}

proptest! {
    /// Whatever the sequence of evaluations: at most one open alert per key, every active
    /// condition has an open alert afterwards, and nothing resolves within resolve_after of
    /// last being seen.
    #[test]
    fn diff_invariants(steps in proptest::collection::vec(proptest::collection::vec(0u8..4, 0..4), 1..30)) {
        let mut open: Vec<AlertRecord> = Vec::new();
        for (i, keys) in steps.iter().enumerate() {
            let now = i as i64 * 30_000;
            let active: Vec<Condition> = keys
                .iter()
                .map(|key| condition(&format!("k{key}"), Severity::Critical))
                .collect();
            let before = open.clone();
            let changes = diff(&open, &active, now, RESOLVE_AFTER);
            for change in &changes {
                if let Change::Resolve { key } = change {
                    let alert = before.iter().find(|a| &a.key == key).unwrap();
                    prop_assert!(now - alert.last_seen_ms >= RESOLVE_AFTER);
                }
            }
            apply(&mut open, changes, now);
            let mut keys: Vec<&str> = open.iter().map(|a| a.key.as_str()).collect();
            keys.sort_unstable();
            let n = keys.len();
            keys.dedup();
            prop_assert_eq!(n, keys.len());
            for condition in &active {
                prop_assert!(open.iter().any(|a| a.key == condition.key && a.last_seen_ms == now));
            }
        }
    }
}
