//! The agent's part of ACME HTTP-01 ([`unity_shared::model::certificate::ServeHttpChallenge`]):
//! serve `GET /.well-known/acme-challenge/<token>` with the key authorization for a while,
//! from a short-lived listener on a port ([`listener`]) or a file under the host's webroot
//! ([`webroot`]); answer once it is actually served. The token and key authorization are
//! checked first ([`request`], pure).

pub mod listener;
pub mod request;
pub mod webroot;

use std::sync::{Arc, LazyLock};
use std::time::Duration;
use unity_shared::model::certificate::{ChallengeListener, ChallengeServing, ServeHttpChallenge};

/// Longest a challenge is served, whatever the controller asks (an order takes minutes).
pub const MAX_LIFETIME: Duration = Duration::from_secs(3600);

/// The challenge listeners of this process: like the ports they hold, one set per process.
static LISTENERS: LazyLock<Arc<listener::Listeners>> = LazyLock::new(Arc::default);

/// Why a challenge is not served.
#[derive(Debug, thiserror::Error)]
pub enum ChallengeError {
    #[error(transparent)]
    Bad(#[from] request::BadChallenge),
    /// The port could not be bound or the file not written.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

/// Starts serving `challenge` and returns where, once it is served.
pub async fn serve(challenge: ServeHttpChallenge) -> Result<ChallengeServing, ChallengeError> {
    request::validate(&challenge.token, &challenge.key_authorization)?;
    let lifetime = Duration::from_secs(u64::from(challenge.lifetime_secs)).min(MAX_LIFETIME);
    let at = match &challenge.listener {
        ChallengeListener::Port(port) => LISTENERS
            .serve(
                *port,
                challenge.token.clone(),
                challenge.key_authorization.clone(),
                tokio::time::Instant::now() + lifetime,
            )
            .await
            .map_err(|source| ChallengeError::Io {
                what: format!("listening on port {port}"),
                source,
            })?,
        ChallengeListener::Webroot(root) => webroot::serve(
            root,
            &challenge.token,
            &challenge.key_authorization,
            lifetime,
        )
        .await
        .map_err(|source| ChallengeError::Io {
            what: format!("writing the challenge under {root}"),
            source,
        })?,
    };
    tracing::info!(%at, lifetime_secs = lifetime.as_secs(), "HTTP-01 challenge served.");
    Ok(ChallengeServing { at })
}

#[cfg(test)]
mod tests;
