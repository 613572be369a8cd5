//! The connection loop: connect with the agent's certificate, run a session, and on failure
//! retry with jittered exponential backoff; reconnect at once after a certificate renewal.

use super::session::{self, SessionEnd};
use super::state::AgentState;
use crate::backoff::Backoff;
use crate::clock::now_ms;
use crate::identity::Identity;
use crate::transport;
use anyhow::Context as _;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

pub(super) async fn connection_loop(
    state: Arc<AgentState>,
    mut identity: Identity,
    controller: String,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(60));
    let mut endpoint: Option<(std::net::SocketAddr, quinn::Endpoint)> = None;
    let mut client_config = match transport::client_config(&identity) {
        Ok(config) => Some(config),
        Err(error) => {
            tracing::error!(
                error = format!("{error:#}"),
                "Unusable identity; not connecting."
            );
            None
        }
    };
    // The last "update X" error logged: said once, not at every retry.
    let mut told_to_update: Option<String> = None;
    loop {
        let attempt = async {
            let config = client_config.clone().context("no usable identity")?;
            if endpoint.is_none() {
                let address = transport::resolve(&controller).await?;
                endpoint = Some((address, transport::client_endpoint(address)?));
            }
            let (address, endpoint) = endpoint.as_ref().context("no endpoint")?;
            transport::connect(endpoint, config, *address).await
        };
        let (failure, conflict, upgrade) = match attempt.await {
            Ok(connection) => {
                match session::run(&state, &connection, &identity, &mut shutdown, &mut backoff)
                    .await
                {
                    SessionEnd::Shutdown => return,
                    SessionEnd::Renewed(renewed) => {
                        identity = *renewed;
                        client_config = transport::client_config(&identity).ok();
                        let not_after = identity.not_after_unix().unwrap_or(0);
                        state.update_status(|status| status.certificate_not_after = not_after);
                        continue;
                    }
                    SessionEnd::Lost(error) => {
                        let upgrade = transport::upgrade_required(&error, Some(&connection));
                        (error, session::identity_conflict(&connection), upgrade)
                    }
                }
            }
            Err(error) => {
                let upgrade = transport::upgrade_required(&error, None);
                (error, None, upgrade)
            }
        };
        let (connection, message) = match (conflict, upgrade) {
            (Some(reason), _) => {
                tracing::error!(%reason, "The controller refused this host: another machine uses its identity. Reports stay spooled.");
                ("refused", format!("identity conflict: {reason}"))
            }
            (None, Some(reason)) => {
                if told_to_update.as_ref() != Some(&reason) {
                    tracing::error!(%reason, "Protocol versions do not match; reports stay spooled and the agent keeps retrying.");
                } else {
                    tracing::debug!(%reason, "Still incompatible with the controller.");
                }
                told_to_update = Some(reason.clone());
                ("incompatible", reason)
            }
            (None, None) => {
                told_to_update = None;
                let message = format!("{failure:#}");
                tracing::warn!(error = %message, "Controller unreachable; will retry.");
                ("disconnected", message)
            }
        };
        state.update_status(|status| {
            status.connection = connection.into();
            status.connection_since_ms = now_ms();
            status.last_error = Some(message);
            status.waiting_since_ms = 0;
        });
        let delay = backoff.next_delay(rand::random::<f64>());
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(delay) => {}
        }
    }
}
