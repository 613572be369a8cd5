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
            Change::Unknown { key } => log.push(format!("unknown {key}")),
            Change::Recheck { record } => {
                log.push(format!("recheck {}", record.key));
                if let Some(slot) = open.iter_mut().find(|alert| alert.key == record.key) {
                    *slot = record;
                }
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

#[test]
fn issue_18_an_offline_host_makes_its_alerts_unknown_not_resolved() {
    let nas = AgentId::new("nas").unwrap();
    let mut open = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    let mut step = |active: &[Condition], offline: bool, now: i64| {
        let offline_hosts: BTreeSet<&AgentId> = if offline {
            BTreeSet::from([&nas])
        } else {
            BTreeSet::new()
        };
        let unknown_keys: BTreeSet<&str> = unknown.iter().map(String::as_str).collect();
        let changes = diff_with_hosts(
            &open,
            &unknown_keys,
            active,
            &offline_hosts,
            now,
            RESOLVE_AFTER,
        );
        for change in &changes {
            match change {
                Change::Unknown { key } if !unknown.contains(key) => unknown.push(key.clone()),
                Change::Recheck { record } | Change::Refresh { record, .. } => {
                    unknown.retain(|key| key != &record.key)
                }
                _ => {}
            }
        }
        apply(&mut open, changes, now)
    };
    let pool = [condition("pool", Severity::Critical)];
    assert_eq!(step(&pool, false, 0), ["open pool"]);
    // The host goes offline: its pool condition is no longer seen, but stays open (unknown).
    assert_eq!(step(&[], true, 30_000), ["unknown pool"]);
    assert_eq!(step(&[], true, 600_000), ["unknown pool"]);
    // Back online, condition gone: the countdown starts from now, then it resolves.
    assert_eq!(step(&[], false, 630_000), ["recheck pool"]);
    assert_eq!(step(&[], false, 700_000), Vec::<String>::new());
    assert_eq!(step(&[], false, 750_000), ["resolve pool at 750000"]);
}
