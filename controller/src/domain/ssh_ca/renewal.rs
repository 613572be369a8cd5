//! The SSH CA's loop: every `[ssh_ca] check_interval`, configures the connected hosts that are
//! due (never configured, after a failure's wait, or two thirds into their host certificates'
//! validity); a host that was offline is configured once it is back.

use super::hosts;
use crate::clock::now_ms;
use crate::context::Context;
use crate::domain::actor::Actor;
use std::sync::Arc;

/// The actor the loop's signatures are audited as.
pub const RENEWAL_ACTOR: Actor = Actor::Controller("ssh-ca-renewal");

/// Starts the loop when the SSH CA is enabled; the task runs until aborted.
pub fn spawn(ctx: Arc<Context>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if !ctx.config.ssh_ca.enabled {
            return;
        }
        let interval = ctx.config.ssh_ca.check_interval;
        loop {
            let pass = ctx.clone();
            if let Err(error) = tokio::task::spawn_blocking(move || run_once(&pass)).await {
                tracing::warn!(%error, "SSH CA pass failed.");
            }
            tokio::time::sleep(interval).await;
        }
    })
}

/// One pass over the enabled hosts. Note that this blocks (on the hub's requests).
fn run_once(ctx: &Context) {
    let records = match ctx.store.ssh_ca.hosts() {
        Ok(records) => records,
        Err(error) => {
            tracing::warn!(%error, "Reading the SSH CA's hosts failed.");
            return;
        }
    };
    for record in records {
        if !hosts::due(&record, now_ms()) || !ctx.hub.is_connected(&record.agent_id) {
            continue;
        }
        match hosts::configure(ctx, &RENEWAL_ACTOR, &record.agent_id) {
            Ok(_) => tracing::info!(host = %record.agent_id, "SSH host configured."),
            Err(error) => {
                tracing::warn!(host = %record.agent_id, %error, "SSH host not configured; will retry.")
            }
        }
    }
}
