//! An authenticated agent connection: session streams carrying hello, reports, heartbeats and
//! renewals. The agent id comes from the verified certificate only.
//!
//! [`serve`] runs one connection; each stream is a `SessionStream` reading messages in order.
//! Admission and renewal are in `admit`, storing reports in `reports`, writing replies in the
//! order their messages came in `replies`.

mod admit;
mod replies;
mod reports;

use crate::clock::now_ms;
use crate::context::Context;
use replies::{write_replies, Reply};
use std::sync::{Arc, OnceLock};
use tokio::sync::mpsc;
use tracing::Instrument;
use unity_shared::model::agent_build::ReleaseKeys;
use unity_shared::proto::compat::Dialect;
use unity_shared::proto::{error_code, AgentId, AgentMessage, ControllerMessage, InstanceId};
use unity_shared::wire;

/// Serves an agent's connection in the protocol version its handshake negotiated (`dialect`).
pub async fn serve(
    ctx: Arc<Context>,
    connection: quinn::Connection,
    agent_id: AgentId,
    dialect: Dialect,
) {
    let span = tracing::info_span!("session", agent = %agent_id, protocol = dialect.version());
    async move {
        // An agentless host has no certificate; should one ever present its id, it is refused.
        if !matches!(ctx.store.agentless.get(&agent_id), Ok(None)) {
            tracing::warn!("Refused a connection under an agentless host's id.");
            connection.close(
                error_code::REVOKED.into(),
                b"agentless hosts do not connect",
            );
            return;
        }
        match ctx.store.agents.agent(&agent_id) {
            Ok(Some(record)) if record.revoked_at.is_none() => {}
            Ok(_) => {
                tracing::warn!("Refused an unknown or revoked agent.");
                connection.close(error_code::REVOKED.into(), b"agent is not enrolled");
                return;
            }
            Err(error) => {
                tracing::error!(%error, "Reading the agent's record failed.");
                connection.close(error_code::INTERNAL.into(), b"agent records unavailable");
                return;
            }
        }
        tracing::debug!(remote = %connection.remote_address(), "Agent connected.");
        // Set by the session stream once the hello's instance is admitted.
        let admitted = Arc::new(OnceLock::new());
        loop {
            match connection.accept_bi().await {
                Ok((send, recv)) => {
                    let stream = SessionStream {
                        ctx: ctx.clone(),
                        agent_id: agent_id.clone(),
                        connection: connection.clone(),
                        admitted: admitted.clone(),
                        dialect,
                    };
                    tokio::spawn(stream.serve(send, recv).in_current_span());
                }
                Err(error) => {
                    tracing::info!(%error, "Agent disconnected.");
                    break;
                }
            }
        }
        let Some(instance_id) = admitted.get().copied() else {
            return;
        };
        ctx.hub.unregister(&agent_id, &connection);
        let last_seen = now_ms();
        let recorded = ctx
            .store
            .agents
            .update_agent(&agent_id, |record| record.last_seen_ms = last_seen)
            .and_then(|_| {
                let mut records = ctx.store.instances.of_agent(&agent_id)?;
                records.retain(|record| record.instance_id == instance_id);
                for record in &mut records {
                    record.last_seen_ms = last_seen;
                }
                ctx.store.instances.put(&agent_id, &records)
            });
        if let Err(error) = recorded {
            tracing::warn!(%error, "Recording last-seen time failed.");
        }
    }
    .instrument(span)
    .await
}

/// One session stream of a connection.
struct SessionStream {
    ctx: Arc<Context>,
    agent_id: AgentId,
    connection: quinn::Connection,
    admitted: Arc<OnceLock<InstanceId>>,
    /// The protocol version of the connection: how its messages are decoded and what may be
    /// sent to it.
    dialect: Dialect,
}

impl SessionStream {
    /// Reads the stream's messages in order (hello first) and writes the replies.
    async fn serve(self, send: quinn::SendStream, mut recv: quinn::RecvStream) {
        let stream = self;
        let ctx = stream.ctx.clone();
        let agent_id = stream.agent_id.clone();
        let max_frame = ctx.config.max_frame_bytes;
        let (replies, reply_queue) = mpsc::channel(256);
        let writer = tokio::spawn(
            write_replies(send, reply_queue, max_frame, stream.dialect).in_current_span(),
        );
        let mut said_hello = false;
        // Messages the controller sends unasked (`SecretsWithdrawn`), forwarded into the
        // replies once the welcome is queued.
        let mut pusher: Option<(mpsc::Sender<ControllerMessage>, tokio::task::JoinHandle<()>)> =
            None;
        loop {
            let decoded = match wire::read_payload(&mut recv, max_frame).await {
                Ok(Some(payload)) => stream
                    .dialect
                    .decode_agent_message(&payload)
                    .map_err(wire::WireError::from),
                Ok(None) => break,
                Err(error) => Err(error),
            };
            let message = match decoded {
                Ok(message) => message,
                Err(error) if error.is_bad_frame() => {
                    tracing::warn!(%error, "Bad frame from agent; closing the stream.");
                    let _ = recv.stop(error_code::BAD_FRAME.into());
                    let _ = replies.send(Reply::Reset(error_code::BAD_FRAME)).await;
                    break;
                }
                Err(error) => {
                    tracing::debug!(%error, "Session stream ended.");
                    break;
                }
            };
            if said_hello {
                ctx.hub.touch(&agent_id);
            }
            let reply = match message {
                AgentMessage::Hello(hello) => {
                    if said_hello {
                        tracing::warn!("A second hello on one stream; closing the stream.");
                        let _ = recv.stop(error_code::UNEXPECTED_MESSAGE.into());
                        let _ = replies
                            .send(Reply::Reset(error_code::UNEXPECTED_MESSAGE))
                            .await;
                        break;
                    }
                    match stream.admit(&hello) {
                        Some(welcome) => {
                            said_hello = true;
                            // Its agentless hosts, if it is anyone's proxy (an empty
                            // assignment stops what a reconnecting proxy still runs).
                            let (push_ctx, proxy) = (ctx.clone(), agent_id.clone());
                            tokio::spawn(
                                async move {
                                    let _ = crate::agentless::push(&push_ctx, &proxy).await;
                                    // Its service checks (an empty list stops old ones).
                                    let _ = crate::service_checks::push(&push_ctx, &proxy).await;
                                }
                                .in_current_span(),
                            );
                            // Then the release keys agent builds are signed with
                            // (docs/agent-updates.md), for agents whose version knows them.
                            let keys = release_keys(&ctx)
                                .await
                                .map(ControllerMessage::ReleaseKeys)
                                .filter(|keys| stream.dialect.check_message(keys).is_ok());
                            let welcome = Reply::Now(ControllerMessage::Welcome(welcome));
                            match keys {
                                None => welcome,
                                Some(keys) => {
                                    if replies.send(welcome).await.is_err() {
                                        break;
                                    }
                                    Reply::Now(keys)
                                }
                            }
                        }
                        None => break,
                    }
                }
                _ if !said_hello => {
                    tracing::warn!("Message before hello; closing the stream.");
                    let _ = recv.stop(error_code::UNEXPECTED_MESSAGE.into());
                    let _ = replies
                        .send(Reply::Reset(error_code::UNEXPECTED_MESSAGE))
                        .await;
                    break;
                }
                AgentMessage::Report(report) => reports::own_report(&ctx, &agent_id, report).await,
                AgentMessage::Heartbeat(_) => Reply::Now(ControllerMessage::HeartbeatAck {
                    server_time_ms: now_ms(),
                }),
                AgentMessage::Renew(renew) => {
                    Reply::Now(admit::renew_certificate(&ctx, &agent_id, &renew.csr_der))
                }
                AgentMessage::SecretRequest(request) => {
                    secret_reply(&ctx, &agent_id, request).await
                }
                AgentMessage::AgentlessReport(report) => {
                    reports::agentless_report(&ctx, &agent_id, *report).await
                }
                AgentMessage::AgentlessStatus(status) => {
                    reports::agentless_status(&ctx, &agent_id, status);
                    continue;
                }
            };
            if replies.send(reply).await.is_err() {
                break;
            }
            if said_hello && pusher.is_none() {
                let (push, mut pushed) = mpsc::channel::<ControllerMessage>(64);
                let forward = replies.clone();
                let forwarder = tokio::spawn(async move {
                    while let Some(message) = pushed.recv().await {
                        if forward.send(Reply::Now(message)).await.is_err() {
                            break;
                        }
                    }
                });
                ctx.hub.attach_pusher(&agent_id, push.clone());
                pusher = Some((push, forwarder));
            }
        }
        if let Some((push, forwarder)) = pusher {
            ctx.hub.detach_pusher(&agent_id, &push);
            forwarder.abort();
        }
        drop(replies);
        let _ = writer.await;
    }
}

/// Answers a secret request from the store (scope checked and every delivery audited by the
/// context's delivery path, see [`crate::transport::secrets::answer`]).
async fn secret_reply(
    ctx: &Arc<Context>,
    agent_id: &AgentId,
    request: unity_shared::model::secret::SecretRequest,
) -> Reply {
    // The store, the key file and the audit log: off the async threads.
    let (answer_ctx, host) = (ctx.clone(), agent_id.clone());
    let answers = tokio::task::spawn_blocking(move || {
        crate::transport::secrets::answer(&answer_ctx, &host, request.names)
    })
    .await
    .unwrap_or_default();
    Reply::Now(ControllerMessage::SecretReply(
        unity_shared::model::secret::SecretReply {
            id: request.id,
            answers,
        },
    ))
}

/// The release keys agents should accept now; `None` (logged) when there is no key yet or it
/// cannot be read.
async fn release_keys(ctx: &Arc<Context>) -> Option<ReleaseKeys> {
    let dir = crate::ca::release::dir(&ctx.config.ca_dir());
    let loaded =
        tokio::task::spawn_blocking(move || crate::ca::release::ReleaseKeyring::load(&dir)).await;
    match loaded {
        Ok(Ok(Some(keyring))) => Some(ReleaseKeys {
            keys: keyring.public_keys(now_ms()),
        }),
        Ok(Ok(None)) => None,
        Ok(Err(error)) => {
            tracing::error!(%error, "Cannot read the release key.");
            None
        }
        Err(error) => {
            tracing::error!(%error, "Reading the release key failed.");
            None
        }
    }
}
