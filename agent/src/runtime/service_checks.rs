//! The service-check loop (issue 18 §1): runs the controller's checks when each is due (a
//! round's due checks at once, at most [`CONCURRENCY`] together, each bounded by its timeout)
//! and spools one report per round with their results and series, so results taken while the
//! controller is away are replayed like every other report. A new assignment takes effect at
//! once; an empty one stops every check.

use super::state::AgentState;
use crate::collect::series::Sink;
use crate::service_checks::{self, schedule::Schedule, tls::Roots, Runner};
use crate::spool::TypedState;
use futures_util::stream::{self, StreamExt};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use unity_shared::model::service::{ServiceCheck, ServiceCheckResult};

/// How many checks of a round run together.
pub const CONCURRENCY: usize = 16;

/// The longest the loop sleeps without checks (a new assignment wakes it anyway).
const IDLE: Duration = Duration::from_secs(3600);

pub(super) async fn run_loop(state: Arc<AgentState>, mut shutdown: watch::Receiver<bool>) {
    let mut assignment = state.service_checks.subscribe();
    let runner = Arc::new(Runner {
        roots: Roots::system(),
    });
    let mut schedule = Schedule::default();
    loop {
        let checks = assignment.borrow_and_update().clone();
        let now_ms = crate::clock::now_ms();
        let due: Vec<ServiceCheck> = schedule
            .take_due(&checks, now_ms)
            .into_iter()
            .filter_map(|index| checks.get(index).cloned())
            .collect();
        if !due.is_empty() {
            let results = tokio::select! {
                _ = shutdown.changed() => return,
                results = run_round(runner.clone(), due) => results,
            };
            spool(&state, results).await;
        }
        let sleep = schedule
            .next_due_ms()
            .map(|next| {
                let wait_ms = next.saturating_sub(crate::clock::now_ms()).max(0);
                Duration::from_millis(u64::try_from(wait_ms).unwrap_or(0))
            })
            .unwrap_or(IDLE)
            .min(IDLE);
        tokio::select! {
            _ = shutdown.changed() => return,
            changed = assignment.changed() => if changed.is_err() { return },
            _ = tokio::time::sleep(sleep) => {}
        }
    }
}

/// Runs `due` together (bounded), results in the order of `due`.
pub async fn run_round(runner: Arc<Runner>, due: Vec<ServiceCheck>) -> Vec<ServiceCheckResult> {
    stream::iter(due)
        .map(move |check| {
            let runner = runner.clone();
            async move { service_checks::run_one(&runner, &check, crate::clock::now_ms()).await }
        })
        .buffered(CONCURRENCY)
        .collect()
        .await
}

async fn spool(state: &Arc<AgentState>, results: Vec<ServiceCheckResult>) {
    for result in results.iter().filter(|result| !result.up) {
        tracing::debug!(check = %result.name, reason = result.reason.as_deref().unwrap_or(""), "Service check down.");
    }
    let collected_at_ms = crate::clock::now_ms();
    let mut sink = Sink {
        timestamp_ms: collected_at_ms,
        samples: Vec::new(),
    };
    service_checks::samples(&mut sink, &results);
    let typed = TypedState {
        service_checks: Some(results),
        ..TypedState::default()
    };
    if let Err(error) = state
        .spool_report(collected_at_ms, sink.samples, typed)
        .await
    {
        tracing::error!(
            error = format!("{error:#}"),
            "Spooling service check results failed."
        );
    }
}
