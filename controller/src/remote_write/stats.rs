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
    /// Unix ms when the exporter started.
    pub started_at_ms: i64,
    /// Unix ms up to which every stored sample has been delivered or dropped: the start of
    /// the newest pass that finished; None until one has.
    pub caught_up_at_ms: Option<i64>,
}

impl EndpointStats {
    /// Seconds by which the endpoint is behind the store at `now_ms`: since it was last
    /// caught up, or since its start until then.
    pub fn lag_seconds(&self, now_ms: i64) -> f64 {
        let since = self.caught_up_at_ms.unwrap_or(self.started_at_ms);
        now_ms.saturating_sub(since).max(0) as f64 / 1000.0
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
