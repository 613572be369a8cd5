//! The operation queue's in-memory half, held by the context: which operations are being sent
//! right now (so the dispatch loop never sends one twice at once) and the wake-up that tells
//! the loop a new operation was stored. The queue itself is the store's unfinished operations;
//! [`super::dispatch`] submits to it and drains it.

use std::collections::HashSet;
use std::sync::Mutex;
use tokio::sync::Notify;

/// Shared by the faces (submit) and the dispatch loop.
#[derive(Default)]
pub struct OperationQueue {
    running: Mutex<HashSet<String>>,
    wake: Notify,
}

impl OperationQueue {
    /// Marks `id` as being sent; false if it already is (or the lock is poisoned).
    pub fn claim(&self, id: &str) -> bool {
        self.running
            .lock()
            .map(|mut running| running.insert(id.to_owned()))
            .unwrap_or(false)
    }

    /// Ends what [`OperationQueue::claim`] began.
    pub fn release(&self, id: &str) {
        if let Ok(mut running) = self.running.lock() {
            running.remove(id);
        }
    }

    /// Whether `id` is being sent now.
    pub fn is_running(&self, id: &str) -> bool {
        self.running
            .lock()
            .is_ok_and(|running| running.contains(id))
    }

    /// Wakes the dispatch loop: an operation was stored.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Resolves at the next [`OperationQueue::wake`].
    pub async fn woken(&self) {
        self.wake.notified().await;
    }
}
