//! Sending an agent build over the command channel (issue 20 §2): [`UpdateAgent`] on a new
//! stream, then the build's bytes in [`AgentBuildChunk`] frames, while the agent's one answer
//! ([`AgentUpdateOutcome`]) is read at the same time: an agent that refuses early (a bad
//! signature, a foreign architecture) answers before it has read every chunk.

use super::hub::{CommandError, Hub};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};
use unity_shared::model::agent_build::{
    AgentBuildChunk, AgentUpdateOutcome, UpdateAgent, CHUNK_BYTES,
};
use unity_shared::proto::{frame, AgentId, Command, CommandEnvelope, CommandResponse};
use unity_shared::wire;

impl Hub {
    /// Sends `request` and the `size` bytes of `build` to the agent and returns its answer,
    /// all within `timeout`.
    pub async fn agent_update(
        &self,
        agent_id: &AgentId,
        request: UpdateAgent,
        mut build: impl AsyncRead + Unpin,
        size: u64,
        timeout: Duration,
    ) -> Result<AgentUpdateOutcome, CommandError> {
        let command = Command::UpdateAgent(Box::new(request));
        let connection = self.command_connection(agent_id, &command)?;
        let envelope = CommandEnvelope {
            id: self.next_command_id(),
            command,
        };
        let exchange = async {
            let (mut send, mut recv) = connection.open_bi().await?;
            wire::write(&mut send, &envelope, frame::MAX_COMMAND_FRAME_LEN).await?;
            let sending = async {
                let mut offset = 0u64;
                let mut buffer = vec![0u8; CHUNK_BYTES];
                while offset < size {
                    let want = usize::try_from((size - offset).min(CHUNK_BYTES as u64))
                        .unwrap_or(CHUNK_BYTES);
                    build
                        .read_exact(&mut buffer[..want])
                        .await
                        .map_err(CommandError::BuildRead)?;
                    let chunk = AgentBuildChunk {
                        offset,
                        bytes: buffer[..want].to_vec(),
                    };
                    wire::write(&mut send, &chunk, frame::MAX_COMMAND_FRAME_LEN).await?;
                    offset += want as u64;
                }
                let _ = send.finish();
                Ok::<(), CommandError>(())
            };
            let answer = async {
                let response: Option<CommandResponse> =
                    wire::read(&mut recv, frame::MAX_COMMAND_RESPONSE_FRAME_LEN).await?;
                match response.ok_or(CommandError::NoResponse)? {
                    CommandResponse::AgentUpdateOutcome(outcome) => Ok(outcome),
                    other => Err(CommandError::Refused(other)),
                }
            };
            tokio::pin!(sending, answer);
            let outcome: Result<AgentUpdateOutcome, CommandError> = tokio::select! {
                // The answer ends the exchange, whether every chunk went out or not.
                outcome = &mut answer => outcome,
                sent = &mut sending => match sent {
                    Ok(()) => answer.await,
                    // The agent may have stopped reading because it refused: its answer says.
                    Err(error) => match tokio::time::timeout(Duration::from_secs(5), answer).await {
                        Ok(Ok(outcome)) => Ok(outcome),
                        _ => Err(error),
                    },
                },
            };
            outcome
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| CommandError::Timeout(timeout))?
    }
}
