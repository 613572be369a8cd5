//! The hello's part in an agent update: an agent that connects says which version it runs,
//! which confirms an update waiting for it (or shows that the agent rolled back). Called by
//! `transport::session::admit` for every hello, before the welcome; one key is looked up.

use super::confirm::{self, Verdict};
use crate::clock::now_ms;
use crate::storage::Store;
use unity_shared::proto::AgentId;

/// Records what the hello of `agent_id` running `version` means for its unfinished update.
/// Note that this uses blocking I/O.
pub fn on_hello(store: &Store, agent_id: &AgentId, version: &str) {
    let pending = match store.agent_updates.pending(agent_id) {
        Ok(Some(pending)) => pending,
        Ok(None) => return,
        Err(error) => {
            tracing::warn!(%error, "Reading the agent's pending update failed.");
            return;
        }
    };
    if confirm::on_hello(&pending, version) == Verdict::Wait {
        return;
    }
    let now = now_ms();
    // Decided again on the stored record inside the update: the loop may have moved it.
    let stored = store.agent_updates.update(&pending.id, |record| {
        let verdict = confirm::on_hello(record, version);
        confirm::apply(record, &verdict, now);
    });
    match stored {
        Ok(Some(record)) => tracing::info!(
            operation = %record.id,
            result = ?record.result,
            version,
            "Agent update ended at the agent's hello."
        ),
        Ok(None) => {}
        Err(error) => tracing::warn!(%error, "Recording the agent update's end failed."),
    }
}
