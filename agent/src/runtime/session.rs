//! One authenticated connection to the controller: hello, then reports replayed from the spool
//! in order with a bounded window of unacknowledged ones, heartbeats, certificate renewal, and
//! commands the controller sends on streams it opens.

use super::state::AgentState;
use crate::backoff::Backoff;
use crate::clock::{self, now_ms};
use crate::identity::{self, Identity};
use anyhow::Context as _;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use unity_shared::model::agent_build::AgentUpdateOutcome;
use unity_shared::proto::frame;
use unity_shared::proto::{
    error_code, AgentMessage, Collected, Command, CommandEnvelope, CommandResponse,
    ControllerMessage, Heartbeat, Hello, Pong, RenewRequest, PROTOCOL_VERSION,
};
use unity_shared::wire;

/// Reports sent but not yet acknowledged, at most.
const WINDOW: usize = 64;
const MAX_FRAME: usize = frame::DEFAULT_MAX_FRAME_LEN;

pub enum SessionEnd {
    /// The agent is stopping.
    Shutdown,
    /// A new certificate was stored; reconnect with it at once.
    Renewed(Box<Identity>),
    /// The link or the controller failed.
    Lost(anyhow::Error),
}

/// True once two thirds of the certificate's lifetime have passed.
pub fn needs_renewal(not_before: i64, not_after: i64, now: i64) -> bool {
    let lifetime = (not_after - not_before).max(1);
    now >= not_before + lifetime * 2 / 3
}

pub async fn run(
    state: &Arc<AgentState>,
    connection: &quinn::Connection,
    identity: &Identity,
    shutdown: &mut watch::Receiver<bool>,
    backoff: &mut Backoff,
) -> SessionEnd {
    let commands = tokio::spawn(serve_commands(state.clone(), connection.clone()));
    let end = match session(state, connection, identity, shutdown, backoff).await {
        Ok(end) => end,
        Err(error) => SessionEnd::Lost(error),
    };
    commands.abort();
    state.secrets.session_ended();
    match &end {
        SessionEnd::Shutdown => connection.close(error_code::SHUTDOWN.into(), b"agent stopping"),
        SessionEnd::Renewed(_) => connection.close(0u32.into(), b"renewed certificate"),
        SessionEnd::Lost(_) => {}
    }
    end
}

async fn session(
    state: &Arc<AgentState>,
    connection: &quinn::Connection,
    identity: &Identity,
    shutdown: &mut watch::Receiver<bool>,
    backoff: &mut Backoff,
) -> anyhow::Result<SessionEnd> {
    let (mut send, recv) = connection
        .open_bi()
        .await
        .context("opening the session stream")?;
    let host = tokio::task::spawn_blocking(crate::collect::system::host_facts).await?;
    let hello = AgentMessage::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        agent_version: crate::version::VERSION.to_owned(),
        host,
        instance_id: state.instance.id,
        install: crate::install::this_agent().await,
    });
    wire::write(&mut send, &hello, MAX_FRAME).await?;
    let (incoming_tx, mut incoming) = mpsc::channel(WINDOW * 2);
    let reader = tokio::spawn(read_messages(recv, incoming_tx));
    let _reader_guard = AbortOnDrop(reader);

    let welcome = tokio::time::timeout(Duration::from_secs(15), incoming.recv())
        .await
        .context("no welcome from the controller")?;
    match welcome {
        Some(Ok(ControllerMessage::Welcome(welcome))) => {
            let (last, new_instance) = (welcome.last_stored_seq, welcome.new_instance);
            state
                .with_spool(move |spool| spool.reconcile(last, new_instance))
                .await?;
            tracing::info!(agent = %welcome.agent_id, controller_version = %welcome.controller_version, "Connected to the controller.");
            // A new build on trial has reached the controller: it stays.
            let data_dir = state.config.data_dir.clone();
            // A record that cannot be removed must not keep the agent from reporting.
            if let Err(error) =
                tokio::task::spawn_blocking(move || crate::self_update::confirm(&data_dir)).await?
            {
                tracing::error!(
                    error = format!("{error:#}"),
                    "Could not confirm the agent update."
                );
            }
        }
        Some(Ok(other)) => anyhow::bail!("expected a welcome, got {other:?}"),
        Some(Err(error)) => return Err(error),
        None => anyhow::bail!("the controller closed the session"),
    }
    backoff.reset();
    state.secrets.session_started();
    state.update_status(|status| {
        status.connection = "connected".into();
        status.connection_since_ms = now_ms();
        status.last_error = None;
    });

    // Reports sent and not yet acknowledged, with when they were sent; and the heartbeat
    // waiting for its answer. A controller that answers none of them for
    // `controller_timeout` is gone (crashed, hung, or the path to it is): reconnect.
    let mut in_flight: BTreeMap<u64, Instant> = BTreeMap::new();
    let mut heartbeat_sent: Option<Instant> = None;
    let timeout = state.config.controller_timeout;
    let mut waiting = false;
    let mut cursor: Option<u64> = None;
    let mut renewal_key: Option<rcgen::KeyPair> = None;
    let mut heartbeat = tokio::time::interval(state.config.heartbeat);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    heartbeat.tick().await;
    let mut renewal_check = tokio::time::interval(renewal_check_period(identity));
    state.agentless.new_session();
    loop {
        // The agentless hosts' reports and statuses, in a window of their own.
        let room = WINDOW.saturating_sub(state.agentless.in_flight());
        let (agentless_reports, agentless_statuses) = state.agentless.take_ready(room).await?;
        if !agentless_statuses.is_empty() {
            record_agentless(state);
        }
        for status in agentless_statuses {
            wire::write(&mut send, &AgentMessage::AgentlessStatus(status), MAX_FRAME).await?;
        }
        for report in agentless_reports {
            let message = AgentMessage::AgentlessReport(Box::new(report));
            wire::write(&mut send, &message, MAX_FRAME).await?;
        }
        // Fill the window from the spool, oldest first.
        if in_flight.len() < WINDOW {
            let room = WINDOW - in_flight.len();
            let reports = state
                .with_spool(move |spool| {
                    let mut reports = Vec::new();
                    for seq in spool.pending_after(cursor, room) {
                        reports.extend(spool.read(seq)?);
                    }
                    Ok(reports)
                })
                .await?;
            for report in reports {
                cursor = Some(report.seq);
                in_flight.insert(report.seq, Instant::now());
                wire::write(&mut send, &AgentMessage::Report(report), MAX_FRAME).await?;
            }
        }
        let oldest_wait = in_flight
            .values()
            .chain(heartbeat_sent.as_ref())
            .min()
            .copied();
        if oldest_wait.is_some() != waiting {
            waiting = oldest_wait.is_some();
            let since = if waiting { now_ms() } else { 0 };
            state.update_status(|status| status.waiting_since_ms = since);
        }
        tokio::select! {
            () = until(oldest_wait.map(|sent| sent + timeout)) => {
                anyhow::bail!(
                    "the controller did not answer for {}; reconnecting",
                    humantime::format_duration(timeout)
                );
            }
            _ = shutdown.changed() => {
                let _ = send.finish();
                return Ok(SessionEnd::Shutdown);
            }
            message = incoming.recv() => {
                let message = match message {
                    Some(Ok(message)) => message,
                    Some(Err(error)) => return Err(error),
                    None => anyhow::bail!("the controller closed the session stream"),
                };
                match message {
                    ControllerMessage::Ack(ack) => {
                        in_flight.remove(&ack.seq);
                        let seq = ack.seq;
                        state.with_spool(move |spool| spool.ack(seq)).await?;
                        state.update_status(|status| status.last_ack_ms = now_ms());
                    }
                    ControllerMessage::HeartbeatAck { .. } => heartbeat_sent = None,
                    ControllerMessage::Nack(nack) => {
                        anyhow::bail!("the controller could not store report {}: {}", nack.seq, nack.reason);
                    }
                    ControllerMessage::Renewed(renewed) => {
                        let key = renewal_key.take().context("unrequested certificate renewal")?;
                        let data_dir = state.config.data_dir.clone();
                        let certificate = renewed.certificate_der.clone();
                        tokio::task::spawn_blocking(move || identity::store_certificate(&data_dir, &certificate, &key)).await??;
                        let data_dir = state.config.data_dir.clone();
                        let renewed_identity = tokio::task::spawn_blocking(move || identity::load(&data_dir)).await??;
                        tracing::info!(not_after = renewed.not_after_unix, "Certificate renewed.");
                        return Ok(SessionEnd::Renewed(Box::new(renewed_identity)));
                    }
                    ControllerMessage::RenewRefused { reason } => {
                        tracing::error!(%reason, "The controller refused to renew the certificate.");
                        renewal_key = None;
                    }
                    ControllerMessage::Welcome(_) => {}
                    ControllerMessage::SecretReply(reply) => state.secrets.answered(reply),
                    ControllerMessage::SecretsWithdrawn(withdrawn) => {
                        state.secrets.withdraw(&withdrawn.names);
                    }
                    ControllerMessage::AgentlessAck(ack) => {
                        state.agentless.ack(&ack.host, ack.ack.seq).await?;
                        record_agentless(state);
                    }
                    ControllerMessage::ReleaseKeys(keys) => {
                        let data_dir = state.config.data_dir.clone();
                        let n_keys = keys.keys.len();
                        // Keys that cannot be stored refuse later updates; reports go on.
                        match tokio::task::spawn_blocking(move || crate::self_update::install::write_keys(&data_dir, &keys)).await? {
                            Ok(()) => tracing::debug!(n_keys, "Release keys stored."),
                            Err(error) => tracing::error!(error = format!("{error:#}"), "Could not store the release keys; agent updates will be refused."),
                        }
                    }
                    ControllerMessage::AgentlessNack(nack) => {
                        // Kept; sent again after the next reconnect.
                        tracing::warn!(host = %nack.host, seq = nack.nack.seq, reason = %nack.nack.reason, "The controller did not store an agentless report.");
                    }
                }
            }
            _ = state.spooled.notified() => {}
            _ = state.agentless.ready.notified() => {}
            _ = state.secrets.wanted.notified() => {
                for request in state.secrets.take_requests() {
                    wire::write(&mut send, &AgentMessage::SecretRequest(request), MAX_FRAME).await?;
                }
            }
            _ = heartbeat.tick() => {
                let spool_depth = state.with_spool(|spool| Ok(spool.depth() as u64)).await?;
                let beat = AgentMessage::Heartbeat(Heartbeat { sent_at_ms: now_ms(), spool_depth });
                heartbeat_sent.get_or_insert_with(Instant::now);
                wire::write(&mut send, &beat, MAX_FRAME).await?;
            }
            _ = renewal_check.tick() => {
                let (Some(not_before), Some(not_after)) = (identity.not_before_unix(), identity.not_after_unix()) else {
                    continue;
                };
                if renewal_key.is_none() && needs_renewal(not_before, not_after, clock::now_seconds()) {
                    let (key, csr_der) = identity::new_key_and_csr()?;
                    renewal_key = Some(key);
                    tracing::info!(not_after, "Asking the controller to renew the certificate.");
                    wire::write(&mut send, &AgentMessage::Renew(RenewRequest { csr_der }), MAX_FRAME).await?;
                }
            }
        }
    }
}

/// Receives and installs an agent build (crate::self_update).
async fn update_agent(
    state: &Arc<AgentState>,
    request: unity_shared::model::agent_build::UpdateAgent,
    recv: &mut quinn::RecvStream,
) -> AgentUpdateOutcome {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(error) => {
            return AgentUpdateOutcome::Refused {
                reason: format!("cannot find the running binary: {error}"),
            }
        }
    };
    let installation = crate::self_update::Installation {
        data_dir: state.config.data_dir.clone(),
        install: crate::install::this_agent().await,
        exe,
        running_version: crate::version::VERSION.to_owned(),
        host_arch: std::env::consts::ARCH.to_owned(),
    };
    let outcome = crate::self_update::receive(&installation, request, recv).await;
    if let AgentUpdateOutcome::Refused { reason } = &outcome {
        tracing::warn!(%reason, "Agent build refused.");
    }
    outcome
}

/// Writes the agentless hosts' lines into the status file.
fn record_agentless(state: &Arc<AgentState>) {
    let lines = state.agentless.status_lines();
    state.update_status(|status| status.agentless = lines);
}

/// Sleeps until `deadline`, or forever without one.
async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The controller's reason when it closed the connection because another machine holds this
/// identity (see `crate::instance`).
pub fn identity_conflict(connection: &quinn::Connection) -> Option<String> {
    match connection.close_reason()? {
        quinn::ConnectionError::ApplicationClosed(close)
            if close.error_code == quinn::VarInt::from_u32(error_code::IDENTITY_CONFLICT) =>
        {
            Some(String::from_utf8_lossy(&close.reason).into_owned())
        }
        _ => None,
    }
}

/// Check often enough for short test lifetimes, rarely for the 30-day default.
fn renewal_check_period(identity: &Identity) -> Duration {
    let lifetime = identity
        .not_after_unix()
        .zip(identity.not_before_unix())
        .map(|(after, before)| (after - before).max(1) as u64)
        .unwrap_or(3600);
    Duration::from_secs((lifetime / 20).clamp(1, 600))
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Reads controller messages in their own task, since frame reads are not cancel-safe.
async fn read_messages(
    mut recv: quinn::RecvStream,
    messages: mpsc::Sender<anyhow::Result<ControllerMessage>>,
) {
    loop {
        let message = match wire::read::<ControllerMessage>(&mut recv, MAX_FRAME).await {
            Ok(Some(message)) => Ok(message),
            Ok(None) => return,
            Err(error) => Err(anyhow::Error::from(error).context("reading from the controller")),
        };
        let failed = message.is_err();
        if messages.send(message).await.is_err() || failed {
            return;
        }
    }
}

/// Answers commands on the streams the controller opens.
async fn serve_commands(state: Arc<AgentState>, connection: quinn::Connection) {
    while let Ok((send, recv)) = connection.accept_bi().await {
        tokio::spawn(answer_command(state.clone(), send, recv));
    }
}

async fn answer_command(
    state: Arc<AgentState>,
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
) {
    let envelope =
        match wire::read::<CommandEnvelope>(&mut recv, frame::MAX_COMMAND_FRAME_LEN).await {
            Ok(Some(envelope)) => envelope,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(%error, "Bad command frame.");
                let _ = recv.stop(error_code::BAD_FRAME.into());
                return;
            }
        };
    tracing::info!(command_id = envelope.id.0, command = ?envelope.command, "Command received.");
    let response = match envelope.command {
        Command::Ping(ping) => CommandResponse::Pong(Pong { nonce: ping.nonce }),
        Command::CollectNow(_) => {
            let (reply, answer) = tokio::sync::oneshot::channel();
            let collected = async {
                state.collect_requests.send(reply).await.ok()?;
                answer.await.ok()
            };
            match collected.await {
                Some(Ok(seq)) => CommandResponse::Collected(Collected { seq }),
                Some(Err(error)) => CommandResponse::Failed {
                    message: format!("{error:#}"),
                },
                None => CommandResponse::Failed {
                    message: "collector stopped".into(),
                },
            }
        }
        Command::Container(command) => {
            super::operations::answer(state, *command, &mut send).await;
            let _ = send.finish();
            return;
        }
        Command::PrepareCertificate(request) => {
            tracing::info!(certificate = %request.certificate, "Preparing a key and CSR.");
            match crate::certs::prepare(&state.config.delivery, request).await {
                Ok(csr) => CommandResponse::CertificateCsr(csr),
                Err(message) => CommandResponse::Failed { message },
            }
        }
        Command::InstallCertificate(request) => {
            let certificate = request.certificate.clone();
            match crate::certs::install(&state.config.delivery, *request).await {
                Ok(installed) => {
                    tracing::info!(%certificate, serial = %installed.serial_hex, "Certificate installed.");
                    CommandResponse::CertificateInstalled(installed)
                }
                Err(message) => {
                    tracing::warn!(%certificate, %message, "Certificate not installed.");
                    CommandResponse::Failed { message }
                }
            }
        }
        Command::ServeHttpChallenge(challenge) => {
            match crate::acme_challenge::serve(challenge).await {
                Ok(serving) => CommandResponse::ChallengeServing(serving),
                Err(error) => CommandResponse::Failed {
                    message: error.to_string(),
                },
            }
        }
        Command::ReadSshHostKeys(_) => {
            match crate::sshd::read_host_keys(&state.config.sshd).await {
                Ok(keys) => CommandResponse::SshHostKeys(keys),
                Err(message) => CommandResponse::Failed { message },
            }
        }
        Command::ConfigureSshd(request) => {
            match crate::sshd::configure(&state.config.sshd, *request).await {
                Ok(configured) => CommandResponse::SshdConfigured(configured),
                Err(message) => {
                    tracing::warn!(%message, "sshd not configured.");
                    CommandResponse::Failed { message }
                }
            }
        }
        Command::ApplySshAccess(request) => {
            match crate::ssh_access::apply(&state.config.ssh_keys, &state.config.sshd, request)
                .await
            {
                Ok(applied) => CommandResponse::SshAccessApplied(applied),
                Err(message) => {
                    tracing::warn!(%message, "Managed SSH keys not applied.");
                    CommandResponse::Failed { message }
                }
            }
        }
        Command::AssignAgentless(assignment) => match state.agentless.assign(assignment).await {
            Ok(targets) => {
                tracing::info!(targets, "Agentless hosts assigned.");
                record_agentless(&state);
                CommandResponse::AgentlessAssigned(
                    unity_shared::model::agentless::AgentlessAssigned { targets },
                )
            }
            Err(error) => {
                let message = format!("{error:#}");
                tracing::error!(%message, "Agentless hosts not assigned.");
                CommandResponse::Failed { message }
            }
        },
        Command::AssignServiceChecks(assignment) => {
            match state.service_checks.assign(assignment.checks).await {
                Ok(checks) => {
                    tracing::info!(checks, "Service checks assigned.");
                    CommandResponse::ServiceChecksAssigned(
                        unity_shared::model::service::ServiceChecksAssigned { checks },
                    )
                }
                Err(error) => {
                    let message = format!("{error:#}");
                    tracing::error!(%message, "Service checks not assigned.");
                    CommandResponse::Failed { message }
                }
            }
        }
        Command::ReadContainerLogs(request) => super::container_logs::answer(&state, request).await,
        Command::UpdateAgent(request) => {
            let outcome = update_agent(&state, *request, &mut recv).await;
            let restarting = matches!(outcome, AgentUpdateOutcome::Restarting { .. });
            let response = CommandResponse::AgentUpdateOutcome(outcome);
            if let Err(error) =
                wire::write(&mut send, &response, frame::MAX_COMMAND_RESPONSE_FRAME_LEN).await
            {
                tracing::warn!(%error, "Answering the update failed.");
            }
            let _ = send.finish();
            if restarting {
                // Give the answer a moment to leave, then exit for systemd to start the new
                // binary (the spool is on disk; nothing is lost by not stopping the loops).
                let _ = tokio::time::timeout(Duration::from_secs(2), send.stopped()).await;
                std::process::exit(crate::self_update::RESTART_EXIT_CODE);
            }
            return;
        }
    };
    if let Err(error) =
        wire::write(&mut send, &response, frame::MAX_COMMAND_RESPONSE_FRAME_LEN).await
    {
        tracing::debug!(%error, "Answering a command failed.");
    }
    let _ = send.finish();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_after_two_thirds_of_lifetime() {
        assert!(!needs_renewal(0, 30, 19));
        assert!(needs_renewal(0, 30, 20));
        assert!(needs_renewal(0, 30, 40));
        assert!(!needs_renewal(1000, 1000 + 30 * 86400, 1000 + 19 * 86400));
    }
}
