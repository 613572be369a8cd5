//! The renewal loop: every `[certificates] check_interval` (and when woken by a declaration),
//! issues what [`super::schedule::due`] says is due on hosts that are connected; a host that
//! is offline is tried again once it is back. Failures wait (growing) before the next try.

use super::issue::{issue_now, RENEWAL_ACTOR};
use super::schedule;
use crate::clock::now_ms;
use crate::context::Context;
use std::sync::Arc;

/// Starts the loop; the task runs until aborted.
pub fn spawn(ctx: Arc<Context>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let interval = ctx.config.certificates.check_interval;
        loop {
            run_once(&ctx).await;
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = ctx.services_ca.wake.notified() => {}
            }
        }
    })
}

/// One pass over the declared certificates.
async fn run_once(ctx: &Arc<Context>) {
    let store = ctx.clone();
    let records =
        match tokio::task::spawn_blocking(move || store.store.managed_certificates.list()).await {
            Ok(Ok(records)) => records,
            Ok(Err(error)) => {
                tracing::warn!(%error, "Reading managed certificates failed.");
                return;
            }
            Err(error) => {
                tracing::warn!(%error, "Reading managed certificates failed.");
                return;
            }
        };
    let fraction = ctx.config.certificates.renew_fraction;
    for record in records {
        if !schedule::due(&record, now_ms(), fraction) || !ctx.hub.is_connected(&record.host) {
            continue;
        }
        let renewing = record.state.issued.is_some();
        match issue_now(ctx, &RENEWAL_ACTOR, &record.name).await {
            Ok(view) => tracing::info!(
                certificate = %record.name,
                host = %record.host,
                serial = view.serial_hex.as_deref().unwrap_or(""),
                renewing,
                "Managed certificate issued."
            ),
            Err(error) => tracing::warn!(
                certificate = %record.name,
                host = %record.host,
                %error,
                "Managed certificate not issued; will retry."
            ),
        }
    }
}
