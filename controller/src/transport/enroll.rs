//! Enrollment over a connection without a client certificate: one stream, one request. The
//! token is checked and consumed, the CSR signed for an id the controller chooses.

use super::failure_log::FailureLog;
use crate::context::Context;
use crate::storage::agents::{token_hash, AgentRecord, ConsumeError, TokenRefusal};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use unity_shared::proto::compat::Dialect;
use unity_shared::proto::frame;
use unity_shared::proto::{
    error_code, AgentId, EnrollRefusal, EnrollRequest, EnrollResponse, Enrolled, InstallKind,
};
use unity_shared::wire;

/// Enrollment requests are small; refuse anything bigger before reading it.
const ENROLL_TIMEOUT: Duration = Duration::from_secs(10);

/// A readable, unique id: the host name's slug and a random suffix.
fn new_agent_id(hostname: &str) -> AgentId {
    let mut slug: String = hostname
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    slug.truncate(40);
    let slug = slug.trim_matches('-');
    let suffix = hex::encode(rand::random::<[u8; 3]>());
    let id = if slug.is_empty() {
        format!("agent-{suffix}")
    } else {
        format!("{slug}-{suffix}")
    };
    AgentId::new(id).unwrap_or_else(|_| {
        // The slug only contains [a-z0-9-]; this cannot fail, but stay safe.
        AgentId::new(format!("agent-{}", hex::encode(rand::random::<[u8; 3]>())))
            .unwrap_or_else(|_| unreachable!("hex ids are valid"))
    })
}

/// Serves one enrollment. Bad frames and refusals go to `failures` (counted per minute:
/// anyone who reaches the port can cause them).
/// The enrollment messages did not change since version 10, so every served `dialect` reads
/// them alike; the request must claim the version the handshake negotiated.
pub async fn serve(
    ctx: Arc<Context>,
    connection: quinn::Connection,
    dialect: Dialect,
    failures: &FailureLog,
) {
    let remote = connection.remote_address();
    let exchange = async {
        let (mut send, mut recv) = connection.accept_bi().await.ok()?;
        let request =
            match wire::read::<EnrollRequest>(&mut recv, frame::MAX_ENROLL_FRAME_LEN).await {
                Ok(Some(request)) => request,
                Ok(None) => return None,
                Err(error) => {
                    failures.failed(remote, &format_args!("bad enrollment frame: {error}"));
                    let _ = recv.stop(error_code::BAD_FRAME.into());
                    return None;
                }
            };
        let ctx = ctx.clone();
        let hostname = request.host.hostname.clone();
        let response = tokio::task::spawn_blocking(move || enroll(&ctx, dialect, request))
            .await
            .unwrap_or_else(|error| {
                EnrollResponse::Refused(EnrollRefusal::Internal(error.to_string()))
            });
        if let EnrollResponse::Refused(refusal) = &response {
            failures.failed(remote, &format_args!("refused {hostname:?}: {refusal}"));
        }
        if let Err(error) = wire::write(&mut send, &response, frame::MAX_ENROLL_FRAME_LEN).await {
            tracing::debug!(%error, "Sending the enrollment response failed.");
        }
        let _ = send.finish();
        // Let the response reach the agent before the connection goes away.
        let _ = tokio::time::timeout(Duration::from_secs(5), send.stopped()).await;
        Some(())
    };
    let _ = tokio::time::timeout(ENROLL_TIMEOUT, exchange).await;
    connection.close(0u32.into(), b"enrollment done");
}

/// Note that this uses blocking I/O.
fn enroll(ctx: &Context, dialect: Dialect, request: EnrollRequest) -> EnrollResponse {
    if request.protocol_version != dialect.version() {
        return EnrollResponse::Refused(EnrollRefusal::VersionMismatch {
            controller: dialect.version(),
            agent: request.protocol_version,
        });
    }
    let agent_id = new_agent_id(&request.host.hostname);
    let now = SystemTime::now();
    let issued = match ctx.ca.sign_agent(
        &request.csr_der,
        &agent_id,
        ctx.config.certificate_lifetime,
        now,
    ) {
        Ok(issued) => issued,
        Err(error) => return EnrollResponse::Refused(EnrollRefusal::BadCsr(error.to_string())),
    };
    let now_unix = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or(0);
    let internal = |error: crate::storage::StorageError| {
        tracing::error!(%error, "Enrollment storage failed.");
        EnrollResponse::Refused(EnrollRefusal::Internal("storage failure".into()))
    };
    match ctx
        .store
        .agents
        .consume_token(token_hash(&request.token), now_unix, &agent_id)
    {
        Ok(_) => {}
        Err(ConsumeError::Refused(refusal)) => {
            return EnrollResponse::Refused(match refusal {
                TokenRefusal::Unknown => EnrollRefusal::UnknownToken,
                TokenRefusal::Expired => EnrollRefusal::ExpiredToken,
                TokenRefusal::AlreadyUsed => EnrollRefusal::TokenAlreadyUsed,
            });
        }
        Err(ConsumeError::Storage(error)) => return internal(error),
    }
    let record = AgentRecord {
        agent_id: agent_id.clone(),
        hostname: request.host.hostname.clone(),
        host: request.host,
        enrolled_at: now_unix,
        certificate_serial: issued.serial_hex,
        certificate_not_after: issued.not_after_unix,
        revoked_at: None,
        last_seen_ms: 0,
        agent_version: String::new(),
        dropped_reports: 0,
        install: InstallKind::Unknown,
    };
    if let Err(error) = ctx
        .store
        .agents
        .put_agent(&record)
        .and_then(|()| ctx.store.flush())
    {
        return internal(error);
    }
    tracing::info!(agent = %agent_id, hostname = %record.hostname, "Enrolled a new agent.");
    EnrollResponse::Enrolled(Enrolled {
        agent_id,
        certificate_der: issued.der.to_vec(),
        ca_certificate_der: ctx.ca.ca_der().to_vec(),
        not_after_unix: issued.not_after_unix,
    })
}
