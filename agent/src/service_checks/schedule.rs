//! Which service checks are due (pure): each check runs first at once, then every
//! `interval_secs` after its previous start. A check removed from the assignment is
//! forgotten; one kept across a new assignment keeps its time.

use std::collections::BTreeMap;
use unity_shared::model::service::ServiceCheck;

/// The shortest interval the agent runs a check at, whatever it is told (the controller's
/// own minimum is 10 s); a guard against a busy loop.
pub const MIN_INTERVAL_MS: i64 = 1_000;

/// When each check runs next (Unix milliseconds), by name.
#[derive(Debug, Default)]
pub struct Schedule {
    next_ms: BTreeMap<String, i64>,
}

impl Schedule {
    /// The indexes in `checks` of the checks due at `now_ms`, each then scheduled one
    /// interval later.
    pub fn take_due(&mut self, checks: &[ServiceCheck], now_ms: i64) -> Vec<usize> {
        self.next_ms
            .retain(|name, _| checks.iter().any(|check| &check.name == name));
        let mut due = Vec::new();
        for (index, check) in checks.iter().enumerate() {
            let next = self.next_ms.entry(check.name.clone()).or_insert(now_ms);
            if *next <= now_ms {
                let interval_ms = (i64::from(check.interval_secs) * 1000).max(MIN_INTERVAL_MS);
                *next = now_ms.saturating_add(interval_ms);
                due.push(index);
            }
        }
        due
    }

    /// When the next check is due; `None` without checks.
    pub fn next_due_ms(&self) -> Option<i64> {
        self.next_ms.values().min().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use unity_shared::model::service::ServiceCheckKind;

    fn check(name: &str, interval_secs: u32) -> ServiceCheck {
        ServiceCheck {
            name: name.into(),
            kind: ServiceCheckKind::Tcp {
                host: "127.0.0.1".into(),
                port: 1,
            },
            interval_secs,
            timeout_ms: 1000,
        }
    }

    #[test]
    fn issue_18_checks_run_at_once_then_every_interval() {
        let checks = vec![check("a", 10), check("b", 30)];
        let mut schedule = Schedule::default();
        assert_eq!(schedule.take_due(&checks, 0), vec![0, 1]);
        assert_eq!(schedule.take_due(&checks, 9_999), Vec::<usize>::new());
        assert_eq!(schedule.next_due_ms(), Some(10_000));
        assert_eq!(schedule.take_due(&checks, 10_000), vec![0]);
        assert_eq!(schedule.take_due(&checks, 30_000), vec![0, 1]);
    }

    #[test]
    fn issue_18_a_new_assignment_keeps_times_and_forgets_removed_checks() {
        let mut schedule = Schedule::default();
        schedule.take_due(&[check("a", 60), check("b", 60)], 0);
        let next = vec![check("b", 60), check("c", 60)];
        assert_eq!(
            schedule.take_due(&next, 1_000),
            vec![1],
            "c is new, b waits"
        );
        assert_eq!(schedule.next_ms.len(), 2, "a forgotten");
        // An interval of 0 does not make a busy loop.
        let mut schedule = Schedule::default();
        schedule.take_due(&[check("z", 0)], 0);
        assert_eq!(schedule.next_due_ms(), Some(MIN_INTERVAL_MS));
    }
}
