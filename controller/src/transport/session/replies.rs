//! The replies of one session stream, written in the order their messages arrived: a report's
//! acknowledgement waits until the ingest writer says it is durable.

use crate::storage::series::IngestOutcome;
use tokio::sync::{mpsc, oneshot};
use unity_shared::model::agentless::{AgentlessAck, AgentlessNack};
use unity_shared::proto::compat::Dialect;
use unity_shared::proto::{Ack, AgentId, ControllerMessage, Nack};
use unity_shared::wire;

/// Replies are written in the order their messages arrived; a report's reply waits for storage.
pub(super) enum Reply {
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

pub(super) async fn write_replies(
    mut send: quinn::SendStream,
    mut replies: mpsc::Receiver<Reply>,
    max_frame: usize,
    dialect: Dialect,
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
        // Nothing the agent's protocol version cannot decode is written (it would end the
        // agent's session): left out, with the reason.
        if let Err(unsupported) = dialect.check_message(&message) {
            tracing::warn!(%unsupported, "Not sending a message the agent cannot read.");
            continue;
        }
        if let Err(error) = wire::write(&mut send, &message, max_frame).await {
            tracing::debug!(%error, "Writing a reply failed.");
            return;
        }
    }
    let _ = send.finish();
}
