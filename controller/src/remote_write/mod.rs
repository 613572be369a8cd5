//! Remote write out (issue 20): streams every stored sample to Prometheus remote-write 1.0
//! receivers (VictoriaMetrics, Prometheus, Mimir, Thanos Receive, Grafana Cloud), one
//! exporter task per `[[remote_write]]` endpoint. See docs/remote-write.md.
//!
//! - [`config`]: the `[[remote_write]]` tables, validated.
//! - [`encode`] (pure): the protobuf messages, the label mapping, the snappy block body.
//! - [`retry`] (pure): retry, backoff and drop decisions.
//! - [`reader`]: one pass over the store from an endpoint's positions, in batches.
//! - [`worker`]: the exporter task (HTTP, positions in `storage::remote_write`).
//! - [`stats`]: per-endpoint counters for `/metrics`.
//!
//! Delivery is at-least-once: the position of a series (the newest timestamp the endpoint
//! took) is saved after its batch was delivered, so a batch delivered but not yet recorded
//! when the controller stops is sent again after the restart, with the same timestamps and
//! values, which receivers store once. Nothing is skipped.

pub mod config;
pub mod encode;
pub mod reader;
pub mod retry;
pub mod stats;
pub mod worker;

use crate::context::Context;
use std::sync::Arc;

/// Starts one exporter per configured endpoint; an endpoint whose secrets cannot be read is
/// logged and left out.
pub fn spawn(ctx: &Arc<Context>) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    for endpoint in &ctx.config.remote_write {
        let name = endpoint.name.clone();
        match worker::Exporter::new(
            ctx.store.clone(),
            endpoint.clone(),
            ctx.remote_write.clone(),
        ) {
            Ok(exporter) => tasks.push(tokio::spawn(exporter.run())),
            Err(error) => {
                let error = format!("{error:#}");
                tracing::error!(endpoint = %name, %error, "Remote write endpoint not started.");
            }
        }
    }
    tasks
}

#[cfg(test)]
mod live_tests;
