//! The proxies whose agentless assignment changed and is not yet sent, and the wake-up of the
//! loop that sends them ([`super::spawn`]). Held by the context, so the domain (sync, on any
//! thread) asks for a push without blocking and without a runtime at hand.

use std::collections::BTreeSet;
use std::sync::Mutex;
use tokio::sync::Notify;
use unity_shared::proto::AgentId;

/// Shared by the domain (asks) and the push loop (sends).
#[derive(Default)]
pub struct AssignmentQueue {
    due: Mutex<BTreeSet<AgentId>>,
    wake: Notify,
}

impl AssignmentQueue {
    /// `proxy`'s assignment changed: the loop sends it the whole assignment soon. Never
    /// blocks on the network.
    pub fn push_soon(&self, proxy: &AgentId) {
        if let Ok(mut due) = self.due.lock() {
            due.insert(proxy.clone());
        }
        self.wake.notify_one();
    }

    /// The proxies due, taken (each once however often it was asked for).
    pub fn take(&self) -> Vec<AgentId> {
        self.due
            .lock()
            .map(|mut due| std::mem::take(&mut *due).into_iter().collect())
            .unwrap_or_default()
    }

    /// Resolves at the next [`AssignmentQueue::push_soon`] (or at once when one came since the
    /// last wait).
    pub async fn woken(&self) {
        self.wake.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn issue_16_a_change_asked_for_from_sync_code_wakes_the_loop_once_per_proxy() {
        let queue = AssignmentQueue::default();
        let proxy = AgentId::new("pi").unwrap();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                queue.push_soon(&proxy);
                queue.push_soon(&proxy);
            });
        });
        tokio::time::timeout(std::time::Duration::from_secs(5), queue.woken())
            .await
            .unwrap();
        assert_eq!(queue.take(), [proxy]);
        assert!(queue.take().is_empty());
    }
}
