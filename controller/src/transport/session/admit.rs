//! Admission of a session's hello (which machine may speak for an identity, see
//! [`crate::transport::admission`]) and certificate renewal over the session.

use super::SessionStream;
use crate::clock::now_ms;
use crate::context::Context;
use crate::transport::admission;
use std::time::SystemTime;
use unity_shared::proto::{error_code, AgentId, ControllerMessage, Hello, Renewed, Welcome};

impl SessionStream {
    /// Decides whether the hello's instance may speak for the identity (see
    /// [`super::admission`]); registers the connection when it may. `None`: refused, and the
    /// connection is closed with the reason.
    pub(super) fn admit(&self, hello: &Hello) -> Option<Welcome> {
        let ctx = &self.ctx;
        let agent_id = &self.agent_id;
        let now = now_ms();
        let online_since = now - ctx.config.stale_after.as_millis() as i64;
        let address = self.connection.remote_address().to_string();
        let result = ctx
            .hub
            .admit(agent_id, &self.connection, online_since, |online| {
                let decided = (|| -> Result<_, crate::storage::StorageError> {
                    let records = ctx.store.instances.of_agent(agent_id)?;
                    let agent = ctx.store.agents.agent(agent_id)?;
                    let last_stored_seq = ctx.store.series.last_seq(agent_id.as_str())?;
                    let facts = admission::IdentityFacts {
                        active_online: online,
                        last_seen_ms: agent.map_or(0, |agent| agent.last_seen_ms),
                        last_stored_seq,
                    };
                    let knock = admission::Knock {
                        instance_id: hello.instance_id,
                        address: &address,
                        hostname: &hello.host.hostname,
                    };
                    let takeover = ctx.config.identity_takeover_after.as_millis() as i64;
                    let decision = admission::admit(&records, &knock, facts, now, takeover);
                    ctx.store.instances.put(agent_id, &decision.changed)?;
                    Ok((decision, last_stored_seq))
                })();
                match decided {
                    Ok((decision, last)) => (
                        matches!(decision.verdict, admission::Verdict::Accept { .. }),
                        Ok((decision, last)),
                    ),
                    Err(error) => (false, Err(error)),
                }
            });
        let (decision, last_stored_seq) = match result {
            Ok(decided) => decided,
            Err(error) => {
                tracing::error!(%error, "Admitting the agent's instance failed.");
                self.connection
                    .close(error_code::INTERNAL.into(), b"agent records unavailable");
                return None;
            }
        };
        let new_instance = match decision.verdict {
            admission::Verdict::Accept { new_instance } => new_instance,
            admission::Verdict::Refuse { holder } => {
                tracing::warn!(
                    instance = %hello.instance_id,
                    remote = %address,
                    hostname = %hello.host.hostname,
                    holder = %holder.instance_id,
                    holder_address = %holder.address,
                    "Refused a second machine presenting this agent's identity."
                );
                let reason = admission::refusal_reason(&holder);
                self.connection
                    .close(error_code::IDENTITY_CONFLICT.into(), reason.as_bytes());
                return None;
            }
        };
        let _ = self.admitted.set(hello.instance_id);
        if hello.protocol_version != self.dialect.version() {
            tracing::warn!(
                agent_protocol = hello.protocol_version,
                negotiated = self.dialect.version(),
                "The hello's protocol version is not the one the handshake negotiated."
            );
        }
        let updated = ctx.store.agents.update_agent(agent_id, |record| {
            record.agent_version = hello.agent_version.clone();
            record.hostname = hello.host.hostname.clone();
            record.host = hello.host.clone();
            record.install = hello.install;
            record.last_seen_ms = now;
        });
        if let Err(error) = updated {
            tracing::warn!(%error, "Recording the hello failed.");
        }
        crate::agent_updates::hello::on_hello(&ctx.store, agent_id, &hello.agent_version);
        tracing::info!(remote = %address, instance = %hello.instance_id, new_instance, "Agent connected.");
        Some(Welcome {
            protocol_version: self.dialect.version(),
            controller_version: env!("CARGO_PKG_VERSION").to_owned(),
            agent_id: agent_id.clone(),
            last_stored_seq,
            server_time_ms: now,
            new_instance,
        })
    }
}

pub(super) fn renew_certificate(
    ctx: &Context,
    agent_id: &AgentId,
    csr_der: &[u8],
) -> ControllerMessage {
    let issued = match ctx.ca.sign_agent(
        csr_der,
        agent_id,
        ctx.config.certificate_lifetime,
        SystemTime::now(),
    ) {
        Ok(issued) => issued,
        Err(error) => {
            tracing::warn!(%error, "Refused a renewal.");
            return ControllerMessage::RenewRefused {
                reason: error.to_string(),
            };
        }
    };
    let recorded = ctx.store.agents.update_agent(agent_id, |record| {
        record.certificate_serial = issued.serial_hex.clone();
        record.certificate_not_after = issued.not_after_unix;
    });
    if let Err(error) = recorded.and_then(|_| ctx.store.flush()) {
        tracing::error!(%error, "Recording a renewed certificate failed.");
        return ControllerMessage::RenewRefused {
            reason: "the controller could not record the certificate".into(),
        };
    }
    tracing::info!(
        not_after = issued.not_after_unix,
        "Renewed the agent's certificate."
    );
    ControllerMessage::Renewed(Renewed {
        certificate_der: issued.der.to_vec(),
        not_after_unix: issued.not_after_unix,
    })
}
