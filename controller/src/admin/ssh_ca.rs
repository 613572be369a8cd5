//! `ssh ca ...` and `ssh sign` on the admin socket: the SSH CA through
//! [`crate::domain::ssh_ca`] as the actor `cli`.

use crate::context::Context;
use crate::domain::actor::Actor;
use crate::domain::error::DomainError;
use crate::domain::ssh_ca::hosts::{self, EnableHost, SshHostView};
use crate::domain::ssh_ca::revocations::{self, IssuedView, RevokeOutcome, RevokeRequest};
use crate::domain::ssh_ca::{self, SignUserRequest, SignedUserCertificate, SshCaView};
use serde::{Deserialize, Serialize};

/// `unity-controller ssh ca ...` and `ssh sign` as sent to the daemon.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum SshCaRequest {
    /// Make the CA (if needed) and show it.
    Init,
    Show,
    HostEnable(EnableHost),
    HostDisable {
        host: String,
    },
    /// One host, or every host when `None`.
    HostStatus {
        host: Option<String>,
    },
    Sign(SignUserRequest),
    /// Every user certificate signed, newest first.
    Certificates,
    Revoke(RevokeRequest),
}

impl SshCaRequest {
    /// Whether it only reads (the `View` right suffices).
    pub fn reads_only(&self) -> bool {
        matches!(
            self,
            SshCaRequest::Show | SshCaRequest::HostStatus { .. } | SshCaRequest::Certificates
        )
    }
}

/// The daemon's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum SshCaResponse {
    Ca(SshCaView),
    Hosts(Vec<SshHostView>),
    Signed(SignedUserCertificate),
    Done(String),
    Certificates(Vec<IssuedView>),
    Revoked(RevokeOutcome),
}

/// Answers one request. Note that this blocks (hub requests for `host enable`).
pub fn handle(ctx: &Context, request: SshCaRequest) -> Result<SshCaResponse, DomainError> {
    Ok(match request {
        SshCaRequest::Init | SshCaRequest::Show => {
            SshCaResponse::Ca(ssh_ca::show(ctx, &Actor::Cli)?)
        }
        SshCaRequest::HostEnable(enable) => {
            SshCaResponse::Hosts(vec![hosts::enable(ctx, &Actor::Cli, enable)?])
        }
        SshCaRequest::HostDisable { host } => {
            SshCaResponse::Done(hosts::disable(ctx, &Actor::Cli, &host)?)
        }
        SshCaRequest::HostStatus { host: Some(host) } => {
            SshCaResponse::Hosts(vec![hosts::status(ctx, &host)?])
        }
        SshCaRequest::HostStatus { host: None } => SshCaResponse::Hosts(hosts::list(ctx)?),
        SshCaRequest::Sign(sign) => {
            SshCaResponse::Signed(ssh_ca::sign_user(ctx, &Actor::Cli, sign)?)
        }
        SshCaRequest::Certificates => SshCaResponse::Certificates(revocations::list(ctx)?),
        SshCaRequest::Revoke(revoke) => {
            SshCaResponse::Revoked(revocations::revoke(ctx, &Actor::Cli, revoke)?)
        }
    })
}
