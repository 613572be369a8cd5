//! HTTP-01: the host the certificate is for answers the challenge. [`Http01Responder`] is
//! what the order asks; [`AgentHttp01`] asks the host's agent through the hub
//! ([`unity_shared::model::certificate::ServeHttpChallenge`]), which answers once its
//! listener (or webroot file) is in place.

use crate::transport::hub::Hub;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use unity_shared::model::certificate::ServeHttpChallenge;
use unity_shared::proto::{AgentId, CommandResponse};

/// A future a responder returns: where the challenge is served, or why not.
pub type ServeFuture<'a> = Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>>;

/// Someone who can serve `GET /.well-known/acme-challenge/<token>` for the names being
/// ordered.
pub trait Http01Responder: Send + Sync {
    /// Returns once the challenge is being served (`Ok(where)`).
    fn serve(&self, challenge: ServeHttpChallenge) -> ServeFuture<'_>;
}

/// The agent on the certificate's host, through the controller's hub.
pub struct AgentHttp01<'a> {
    pub hub: &'a Hub,
    pub agent_id: AgentId,
    /// How long the agent may take to start serving.
    pub timeout: Duration,
}

impl Http01Responder for AgentHttp01<'_> {
    fn serve(&self, challenge: ServeHttpChallenge) -> ServeFuture<'_> {
        Box::pin(async move {
            match self
                .hub
                .request(&self.agent_id, challenge, self.timeout)
                .await
            {
                Ok(serving) => Ok(serving.at),
                Err(crate::transport::hub::CommandError::Refused(CommandResponse::Failed {
                    message,
                })) => Err(format!("agent {}: {message}", self.agent_id)),
                Err(error) => Err(format!("agent {}: {error}", self.agent_id)),
            }
        })
    }
}

/// For providers answering through DNS: any HTTP-01 challenge is a mistake.
pub struct NoHttp01;

impl Http01Responder for NoHttp01 {
    fn serve(&self, _challenge: ServeHttpChallenge) -> ServeFuture<'_> {
        Box::pin(async { Err("this provider does not answer HTTP-01 challenges".to_owned()) })
    }
}
