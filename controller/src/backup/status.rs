//! What the scheduled backups last did, for `/metrics` and the log: held by the context,
//! written by `domain::backup` after each backup made by the daemon.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// The daemon's backups so far (since start; the archives on disk say the rest).
#[derive(Debug, Default)]
pub struct BackupStatus {
    last_success_ms: AtomicI64,
    last_failure_ms: AtomicI64,
    last_bytes: AtomicU64,
    failures: AtomicU64,
    successes: AtomicU64,
}

/// A copy of [`BackupStatus`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackupStatusView {
    /// 0: none since start.
    pub last_success_ms: i64,
    pub last_failure_ms: i64,
    pub last_bytes: u64,
    pub failures: u64,
    pub successes: u64,
}

impl BackupStatus {
    pub fn succeeded(&self, at_ms: i64, bytes: u64) {
        self.last_success_ms.store(at_ms, Ordering::Relaxed);
        self.last_bytes.store(bytes, Ordering::Relaxed);
        self.successes.fetch_add(1, Ordering::Relaxed);
    }

    pub fn failed(&self, at_ms: i64) {
        self.last_failure_ms.store(at_ms, Ordering::Relaxed);
        self.failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Seeds the last success from the newest archive found at start.
    pub fn found(&self, at_ms: i64, bytes: u64) {
        if self.last_success_ms.load(Ordering::Relaxed) < at_ms {
            self.last_success_ms.store(at_ms, Ordering::Relaxed);
            self.last_bytes.store(bytes, Ordering::Relaxed);
        }
    }

    pub fn view(&self) -> BackupStatusView {
        BackupStatusView {
            last_success_ms: self.last_success_ms.load(Ordering::Relaxed),
            last_failure_ms: self.last_failure_ms.load(Ordering::Relaxed),
            last_bytes: self.last_bytes.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            successes: self.successes.load(Ordering::Relaxed),
        }
    }
}
