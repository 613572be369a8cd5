//! An authenticated agent connection: session streams carrying hello, reports, heartbeats and
//! renewals. The agent id comes from the verified certificate only.

use super::admission;
use crate::clock::now_ms;
use crate::context::Context;
use crate::storage::agents::StateKind;
use crate::storage::series::{IngestOutcome, IngestReport, Sample, SeriesKey};
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;
use unity_shared::model::agentless::{AgentlessAck, AgentlessNack};
use unity_shared::model::plugin::SeriesBatch;
use unity_shared::proto::{
    error_code, Ack, AgentId, AgentMessage, ControllerMessage, Hello, InstanceId, Nack, Renewed,
    Report, Welcome, PROTOCOL_VERSION,
};
use unity_shared::wire;

/// Replies are written in the order their messages arrived; a report's reply waits for storage.
enum Reply {
    Now(ControllerMessage),
    Stored {
        seq: u64,
        outcome: oneshot::Receiver<Result<IngestOutcome, String>>,
    },
    /// An agentless host's report, answered for that host once stored.
    StoredAgentless {
        host: AgentId,
        seq: u64,
        outcome: oneshot::Receiver<Result<IngestOutcome, String>>,
    },
    /// Abort the stream with an error code (after the replies queued before it).
    Reset(u32),
}

pub async fn serve(ctx: Arc<Context>, connection: quinn::Connection, agent_id: AgentId) {
    let span = tracing::info_span!("session", agent = %agent_id);
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

fn to_ingest(agent_id: &AgentId, report: Report) -> IngestReport {
    let mut samples: Vec<Sample> = report
        .samples
        .into_iter()
        .map(|sample| {
            let mut labels = sample.labels;
            labels.sort();
            Sample {
                series: SeriesKey {
                    metric: sample.metric,
                    labels,
                },
                timestamp_ms: sample.timestamp_ms,
                value: sample.value,
            }
        })
        .collect();
    if let Some(batch) = report.plugin_series {
        samples.extend(plugin_samples(&batch));
    }
    IngestReport {
        agent: agent_id.as_str().to_owned(),
        seq: report.seq,
        samples,
    }
}

/// Plugin series become ordinary series of the host (their `source` label among their
/// labels). A sample that names a string the batch lacks is left out.
fn plugin_samples(batch: &SeriesBatch) -> Vec<Sample> {
    let mut n_bad = 0;
    let samples = batch
        .samples
        .iter()
        .filter_map(|sample| match batch.resolve(sample) {
            Ok((metric, labels)) => {
                let mut labels: Vec<(String, String)> = labels
                    .into_iter()
                    .map(|(name, value)| (name.to_owned(), value.to_owned()))
                    .collect();
                labels.sort();
                Some(Sample {
                    series: SeriesKey {
                        metric: metric.to_owned(),
                        labels,
                    },
                    timestamp_ms: sample.timestamp_ms,
                    value: sample.value,
                })
            }
            Err(_) => {
                n_bad += 1;
                None
            }
        })
        .collect();
    if n_bad > 0 {
        tracing::warn!(
            n_bad,
            "Plugin samples naming strings their batch lacks were left out."
        );
    }
    samples
}

async fn write_replies(
    mut send: quinn::SendStream,
    mut replies: mpsc::Receiver<Reply>,
    max_frame: usize,
) {
    while let Some(reply) = replies.recv().await {
        let message = match reply {
            Reply::Reset(code) => {
                let _ = send.reset(code.into());
                return;
            }
            Reply::Now(message) => message,
            Reply::Stored { seq, outcome } => match outcome.await {
                Ok(Ok(outcome)) => ControllerMessage::Ack(Ack {
                    seq,
                    duplicate: outcome == IngestOutcome::Duplicate,
                }),
                Ok(Err(reason)) => ControllerMessage::Nack(Nack { seq, reason }),
                Err(_) => ControllerMessage::Nack(Nack {
                    seq,
                    reason: "storage writer stopped".into(),
                }),
            },
            Reply::StoredAgentless { host, seq, outcome } => match outcome.await {
                Ok(Ok(outcome)) => ControllerMessage::AgentlessAck(AgentlessAck {
                    host,
                    ack: Ack {
                        seq,
                        duplicate: outcome == IngestOutcome::Duplicate,
                    },
                }),
                Ok(Err(reason)) => ControllerMessage::AgentlessNack(AgentlessNack {
                    host,
                    nack: Nack { seq, reason },
                }),
                Err(_) => ControllerMessage::AgentlessNack(AgentlessNack {
                    host,
                    nack: Nack {
                        seq,
                        reason: "storage writer stopped".into(),
                    },
                }),
            },
        };
        if let Err(error) = wire::write(&mut send, &message, max_frame).await {
            tracing::debug!(%error, "Writing a reply failed.");
            return;
        }
    }
    let _ = send.finish();
}

/// One session stream of a connection.
struct SessionStream {
    ctx: Arc<Context>,
    agent_id: AgentId,
    connection: quinn::Connection,
    admitted: Arc<OnceLock<InstanceId>>,
}

impl SessionStream {
    /// Decides whether the hello's instance may speak for the identity (see
    /// [`super::admission`]); registers the connection when it may. `None`: refused, and the
    /// connection is closed with the reason.
    fn admit(&self, hello: &Hello) -> Option<Welcome> {
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
        if hello.protocol_version != PROTOCOL_VERSION {
            tracing::warn!(
                agent_protocol = hello.protocol_version,
                "Protocol mismatch."
            );
        }
        let updated = ctx.store.agents.update_agent(agent_id, |record| {
            record.agent_version = hello.agent_version.clone();
            record.hostname = hello.host.hostname.clone();
            record.host = hello.host.clone();
            record.last_seen_ms = now;
        });
        if let Err(error) = updated {
            tracing::warn!(%error, "Recording the hello failed.");
        }
        tracing::info!(remote = %address, instance = %hello.instance_id, new_instance, "Agent connected.");
        Some(Welcome {
            protocol_version: PROTOCOL_VERSION,
            controller_version: env!("CARGO_PKG_VERSION").to_owned(),
            agent_id: agent_id.clone(),
            last_stored_seq,
            server_time_ms: now,
            new_instance,
        })
    }

    /// Reads the stream's messages in order (hello first) and writes the replies.
    async fn serve(self, send: quinn::SendStream, mut recv: quinn::RecvStream) {
        let stream = self;
        let ctx = stream.ctx.clone();
        let agent_id = stream.agent_id.clone();
        let max_frame = ctx.config.max_frame_bytes;
        let (replies, reply_queue) = mpsc::channel(256);
        let writer = tokio::spawn(write_replies(send, reply_queue, max_frame).in_current_span());
        let mut said_hello = false;
        // Messages the controller sends unasked (`SecretsWithdrawn`), forwarded into the
        // replies once the welcome is queued.
        let mut pusher: Option<(mpsc::Sender<ControllerMessage>, tokio::task::JoinHandle<()>)> =
            None;
        loop {
            let message = match wire::read::<AgentMessage>(&mut recv, max_frame).await {
                Ok(Some(message)) => message,
                Ok(None) => break,
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
                            let (ctx, proxy) = (ctx.clone(), agent_id.clone());
                            tokio::spawn(
                                async move {
                                    let _ = crate::agentless::push(&ctx, &proxy).await;
                                }
                                .in_current_span(),
                            );
                            Reply::Now(ControllerMessage::Welcome(welcome))
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
                AgentMessage::Report(mut report) => {
                    let seq = report.seq;
                    let dropped = report.dropped_reports;
                    if dropped > 0 {
                        let _ = ctx.store.agents.update_agent(&agent_id, |record| {
                            if record.dropped_reports != dropped {
                                record.dropped_reports = dropped;
                            }
                        });
                    }
                    match store_latest_state(&ctx, &agent_id, &mut report) {
                        Ok(wrote_state) => {
                            let outcome = ctx
                                .ingest
                                .submit(to_ingest(&agent_id, report), wrote_state)
                                .await;
                            Reply::Stored { seq, outcome }
                        }
                        Err(error) => {
                            tracing::error!(%error, "Storing the agent's latest state failed.");
                            Reply::Now(ControllerMessage::Nack(Nack {
                                seq,
                                reason: "the controller could not store the report".into(),
                            }))
                        }
                    }
                }
                AgentMessage::Heartbeat(_) => Reply::Now(ControllerMessage::HeartbeatAck {
                    server_time_ms: now_ms(),
                }),
                AgentMessage::Renew(renew) => {
                    Reply::Now(renew_certificate(&ctx, &agent_id, &renew.csr_der))
                }
                AgentMessage::SecretRequest(request) => {
                    // The store, the key file and the audit log: off the async threads.
                    let (answer_ctx, host) = (ctx.clone(), agent_id.clone());
                    let answers = tokio::task::spawn_blocking(move || {
                        super::secrets::answer(&answer_ctx, &host, request.names)
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
                AgentMessage::AgentlessReport(report) => {
                    agentless_report(&ctx, &agent_id, *report).await
                }
                AgentMessage::AgentlessStatus(status) => {
                    let host = status.host.clone();
                    match crate::agentless::record_status(&ctx, &agent_id, status) {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::warn!(%host, "A status for a host this agent is not the proxy of; ignored.")
                        }
                        Err(error) => {
                            tracing::warn!(%host, %error, "Recording an agentless status failed.")
                        }
                    }
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

/// Stores an agentless host's report under the host's own id, through the same path as the
/// agent's own reports (typed state, then the ingest writer; acknowledged once durable), but
/// only when the host is assigned to this proxy.
async fn agentless_report(
    ctx: &Context,
    proxy: &AgentId,
    mut report: unity_shared::model::agentless::AgentlessReport,
) -> Reply {
    let host = report.host.clone();
    let seq = report.report.seq;
    let nack = |reason: &str| {
        Reply::Now(ControllerMessage::AgentlessNack(AgentlessNack {
            host: host.clone(),
            nack: Nack {
                seq,
                reason: reason.to_owned(),
            },
        }))
    };
    match crate::agentless::is_assigned(ctx, proxy, &host) {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(%host, seq, "A report for a host this agent is not the proxy of; refused.");
            return nack("this host is not assigned to this agent");
        }
        Err(error) => {
            tracing::error!(%host, %error, "Reading the agentless host failed.");
            return nack("the controller could not read the host's record");
        }
    }
    let collected_at = report.report.collected_at_ms;
    let facts = report.facts.take();
    let dropped = report.report.dropped_reports;
    let recorded = ctx.store.agents.update_agent(&host, |record| {
        record.last_seen_ms = record.last_seen_ms.max(collected_at);
        record.dropped_reports = dropped;
        if let Some(facts) = &facts {
            record.hostname = facts.hostname.clone();
            record.host = facts.clone();
        }
    });
    if let Err(error) = recorded {
        tracing::warn!(%host, %error, "Recording the agentless host's facts failed.");
    }
    match store_latest_state(ctx, &host, &mut report.report) {
        Ok(wrote_state) => {
            let outcome = ctx
                .ingest
                .submit(to_ingest(&host, report.report), wrote_state)
                .await;
            Reply::StoredAgentless { host, seq, outcome }
        }
        Err(error) => {
            tracing::error!(%host, %error, "Storing the agentless host's latest state failed.");
            nack("the controller could not store the report")
        }
    }
}

/// Keeps the report's typed state as the agent's latest and its container events in the
/// event log. Not durable yet: returns whether anything was written, so the ingest writer
/// flushes the database before it acknowledges the report.
fn store_latest_state(
    ctx: &Context,
    agent_id: &AgentId,
    report: &mut Report,
) -> Result<bool, crate::storage::StorageError> {
    let agents = &ctx.store.agents;
    let at = report.collected_at_ms;
    let mut wrote = false;
    if let Some(storage) = report.storage.take() {
        agents.put_latest(agent_id, StateKind::Storage, at, &storage)?;
        wrote = true;
    }
    if let Some(databases) = report.databases.take() {
        agents.put_latest(agent_id, StateKind::Databases, at, &databases)?;
        wrote = true;
    }
    if let Some(mut containers) = report.containers.take() {
        let events = std::mem::take(&mut containers.events);
        ctx.store.containers.append_events(agent_id, &events)?;
        agents.put_latest(agent_id, StateKind::Containers, at, &containers)?;
        wrote = true;
    }
    if let Some(sources) = report.plugin_sources.take() {
        agents.put_latest(agent_id, StateKind::PluginSources, at, &sources)?;
        wrote = true;
    }
    if let Some(checks) = report.checks.take() {
        agents.put_latest(agent_id, StateKind::Checks, at, &checks)?;
        wrote = true;
    }
    if let Some(certificates) = report.certificates.take() {
        agents.put_latest(agent_id, StateKind::Certificates, at, &*certificates)?;
        wrote = true;
    }
    Ok(wrote)
}

fn renew_certificate(ctx: &Context, agent_id: &AgentId, csr_der: &[u8]) -> ControllerMessage {
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
