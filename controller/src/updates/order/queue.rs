//! Dependency order for operations already queued (pure): an update asked for by hand (or a
//! batch of them) goes to its agent only after the updates of what it depends on that were
//! asked for before it have finished and passed their health gate; when one of those failed,
//! it is not sent at all.

use std::collections::BTreeSet;

/// An update operation on the same host, as far as the order needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostUpdate<'a> {
    pub id: &'a str,
    pub container: &'a str,
    pub requested_at_ms: i64,
    /// `None` while queued or running.
    pub finished_at_ms: Option<i64>,
    /// Finished, updated and past its health gate.
    pub succeeded: bool,
}

/// What to do with a queued update now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hold {
    /// Send it.
    Go,
    /// Keep it queued: the update of `dependency` (operation `operation`) is not finished.
    Wait {
        dependency: String,
        operation: String,
    },
    /// Do not send it: the update of `dependency` failed after it was asked for.
    Stop {
        dependency: String,
        operation: String,
    },
}

/// What to do with `queued`, whose container depends on `needs`, given the host's other
/// update operations.
pub fn hold(queued: &HostUpdate<'_>, others: &[HostUpdate<'_>], needs: &BTreeSet<String>) -> Hold {
    let mut earlier: Vec<&HostUpdate<'_>> = others
        .iter()
        .filter(|other| {
            other.id != queued.id
                && needs.contains(other.container)
                && other.requested_at_ms <= queued.requested_at_ms
        })
        .collect();
    earlier.sort_by_key(|other| (other.requested_at_ms, other.id));
    let named = |other: &HostUpdate<'_>| (other.container.to_owned(), other.id.to_owned());
    if let Some(failed) = earlier.iter().find(|other| {
        !other.succeeded
            && other
                .finished_at_ms
                .is_some_and(|finished| finished >= queued.requested_at_ms)
    }) {
        let (dependency, operation) = named(failed);
        return Hold::Stop {
            dependency,
            operation,
        };
    }
    match earlier.iter().find(|other| other.finished_at_ms.is_none()) {
        Some(running) => {
            let (dependency, operation) = named(running);
            Hold::Wait {
                dependency,
                operation,
            }
        }
        None => Hold::Go,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(
        id: &'static str,
        container: &'static str,
        at: i64,
        end: Option<(i64, bool)>,
    ) -> HostUpdate<'static> {
        HostUpdate {
            id,
            container,
            requested_at_ms: at,
            finished_at_ms: end.map(|(at, _)| at),
            succeeded: end.is_some_and(|(_, ok)| ok),
        }
    }

    #[test]
    fn issue_17_a_queued_dependent_waits_for_its_dependency_and_stops_when_it_failed() {
        let needs: BTreeSet<String> = ["db".to_owned()].into();
        let app = op("app-op", "app", 100, None);
        let wait = Hold::Wait {
            dependency: "db".into(),
            operation: "db-op".into(),
        };
        // Asked for together: the db goes first.
        assert_eq!(
            hold(&app, &[op("db-op", "db", 99, None), app.clone()], &needs),
            wait
        );
        assert_eq!(hold(&app, &[op("db-op", "db", 100, None)], &needs), wait);
        // Finished and healthy: the app goes.
        assert_eq!(
            hold(&app, &[op("db-op", "db", 99, Some((150, true)))], &needs),
            Hold::Go
        );
        // Failed after the app was asked for: the app is not sent.
        assert_eq!(
            hold(&app, &[op("db-op", "db", 99, Some((150, false)))], &needs),
            Hold::Stop {
                dependency: "db".into(),
                operation: "db-op".into()
            }
        );
        // A failure the operator had seen before asking does not stop it.
        assert_eq!(
            hold(&app, &[op("db-op", "db", 10, Some((50, false)))], &needs),
            Hold::Go
        );
        // A db update asked for after the app's, or another container's, does not hold it.
        assert_eq!(
            hold(&app, &[op("db-op", "db", 101, None)], &needs),
            Hold::Go
        );
        assert_eq!(
            hold(&app, &[op("web-op", "web", 1, None)], &needs),
            Hold::Go
        );
    }
}
