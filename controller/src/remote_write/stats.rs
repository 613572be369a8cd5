//! The remote write exporters' counters, per endpoint, for `/metrics`: samples sent, failed
//! (in attempts that will be retried), dropped (refused for good), and the lag. A leaf: the
//! context holds it, the workers write it, `/metrics` reads it.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// One endpoint's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EndpointStats {
    /// Samples the receiver accepted.
    pub samples_sent: u64,
    /// Samples in attempts that failed and were retried (each attempt counts).
    pub samples_failed: u64,
    /// Samples in batches the receiver refused with a non-retryable status.
    pub samples_dropped: u64,
    /// Unix ms up to which every stored sample has been delivered or dropped: when the
    /// exporter last finished a pass over everything stored before that moment.
    pub caught_up_at_ms: i64,
}

impl EndpointStats {
    /// Seconds by which the endpoint is behind the store at `now_ms`.
    pub fn lag_seconds(&self, now_ms: i64) -> f64 {
        now_ms.saturating_sub(self.caught_up_at_ms).max(0) as f64 / 1000.0
    }
}

/// Every endpoint's counters by name.
#[derive(Debug, Default)]
pub struct RemoteWriteStats {
    endpoints: Mutex<BTreeMap<String, EndpointStats>>,
}

impl RemoteWriteStats {
    /// Changes the counters of `endpoint` (created at zero).
    pub fn update(&self, endpoint: &str, change: impl FnOnce(&mut EndpointStats)) {
        let mut endpoints = self
            .endpoints
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        change(endpoints.entry(endpoint.to_owned()).or_default());
    }

    /// A copy of every endpoint's counters, by name.
    pub fn snapshot(&self) -> BTreeMap<String, EndpointStats> {
        self.endpoints
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}
