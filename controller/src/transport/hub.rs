//! Live agent connections: one per agent, replaced when the agent reconnects, closed on
//! revocation; commands are sent through them.

use crate::clock::now_ms;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use unity_shared::model::update::{CommandResult, ContainerCommand, Progress};
use unity_shared::proto::frame;
use unity_shared::proto::{
    error_code, AgentId, Command, CommandEnvelope, CommandId, CommandResponse, ControllerMessage,
    Request,
};
use unity_shared::wire;

/// Why a command did not produce its response.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The agent has no live connection.
    #[error("agent {0} is not connected")]
    Offline(AgentId),
    /// The agent did not answer in time.
    #[error("agent did not answer within {0:?}")]
    Timeout(Duration),
    /// The stream failed.
    #[error("command stream: {0}")]
    Wire(#[from] wire::WireError),
    /// Opening the stream failed.
    #[error("connection: {0}")]
    Connection(#[from] quinn::ConnectionError),
    /// The agent closed the stream without answering.
    #[error("agent closed the command stream without answering")]
    NoResponse,
    /// The agent's protocol version cannot carry the command (see
    /// [`unity_shared::proto::compat::Dialect::check_command`]).
    #[error("{0}")]
    Unsupported(String),
    /// Reading the build to send failed (a damaged store).
    #[error("reading the agent build: {0}")]
    BuildRead(std::io::Error),
    /// The agent answered with a failure or an unexpected response.
    #[error("agent answered {0:?}")]
    Refused(CommandResponse),
}

struct LiveAgent {
    connection: quinn::Connection,
    last_message_ms: i64,
}

#[derive(Clone, Default)]
pub struct Hub {
    live: Arc<Mutex<HashMap<AgentId, LiveAgent>>>,
    next_command_id: Arc<AtomicU64>,
    /// Serializes instance admission (see `super::admission`) with registration, so two
    /// machines presenting one identity at the same moment cannot both be admitted.
    admission: Arc<Mutex<()>>,
    /// Each session's queue for messages the controller sends unasked on the session stream
    /// (`SecretsWithdrawn`).
    pushers: Arc<Mutex<HashMap<AgentId, mpsc::Sender<ControllerMessage>>>>,
}

impl Hub {
    /// Runs `decide` with admissions serialized and, when it returns `true`, registers
    /// `connection` before the next admission. `decide` is told whether the agent's
    /// registered connection carried a message since `online_since_ms`.
    pub fn admit<T>(
        &self,
        agent_id: &AgentId,
        connection: &quinn::Connection,
        online_since_ms: i64,
        decide: impl FnOnce(bool) -> (bool, T),
    ) -> T {
        let _admitting = self
            .admission
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let online = self
            .last_message_ms(agent_id)
            .is_some_and(|last| last >= online_since_ms);
        let (accepted, outcome) = decide(online);
        if accepted {
            self.register(agent_id, connection.clone());
        }
        outcome
    }

    /// Registers a new connection, closing an older one of the same agent.
    pub fn register(&self, agent_id: &AgentId, connection: quinn::Connection) {
        let connection_id = connection.stable_id();
        let previous = self.live.lock().ok().and_then(|mut live| {
            live.insert(
                agent_id.clone(),
                LiveAgent {
                    connection,
                    last_message_ms: now_ms(),
                },
            )
        });
        if let Some(previous) =
            previous.filter(|previous| previous.connection.stable_id() != connection_id)
        {
            previous.connection.close(
                error_code::REPLACED.into(),
                b"replaced by a newer connection",
            );
        }
    }

    /// Forgets the connection if it is still the registered one.
    pub fn unregister(&self, agent_id: &AgentId, connection: &quinn::Connection) {
        if let Ok(mut live) = self.live.lock() {
            let same = live
                .get(agent_id)
                .is_some_and(|agent| agent.connection.stable_id() == connection.stable_id());
            if same {
                live.remove(agent_id);
            }
        }
    }

    pub fn touch(&self, agent_id: &AgentId) {
        if let Ok(mut live) = self.live.lock() {
            if let Some(agent) = live.get_mut(agent_id) {
                agent.last_message_ms = now_ms();
            }
        }
    }

    /// Registers the session stream's queue of unasked messages for `agent_id`.
    pub fn attach_pusher(&self, agent_id: &AgentId, pusher: mpsc::Sender<ControllerMessage>) {
        if let Ok(mut pushers) = self.pushers.lock() {
            pushers.insert(agent_id.clone(), pusher);
        }
    }

    /// Forgets the queue if it is still the registered one.
    pub fn detach_pusher(&self, agent_id: &AgentId, pusher: &mpsc::Sender<ControllerMessage>) {
        if let Ok(mut pushers) = self.pushers.lock() {
            if pushers
                .get(agent_id)
                .is_some_and(|registered| registered.same_channel(pusher))
            {
                pushers.remove(agent_id);
            }
        }
    }

    /// Queues `message` on the agent's session stream; `false` when it has none (offline) or
    /// its queue is full.
    pub fn push(&self, agent_id: &AgentId, message: ControllerMessage) -> bool {
        let pusher = self
            .pushers
            .lock()
            .ok()
            .and_then(|pushers| pushers.get(agent_id).cloned());
        pusher.is_some_and(|pusher| pusher.try_send(message).is_ok())
    }

    /// Last message time of a connected agent; `None` when offline.
    pub fn last_message_ms(&self, agent_id: &AgentId) -> Option<i64> {
        let live = self.live.lock().ok()?;
        live.get(agent_id).map(|agent| agent.last_message_ms)
    }

    /// Connected agents with their last message time.
    pub fn snapshot(&self) -> Vec<(AgentId, i64)> {
        self.live
            .lock()
            .map(|live| {
                live.iter()
                    .map(|(id, agent)| (id.clone(), agent.last_message_ms))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Closes the agent's live connection, if any.
    pub fn disconnect(&self, agent_id: &AgentId, code: u32, reason: &str) -> bool {
        let removed = self
            .live
            .lock()
            .ok()
            .and_then(|mut live| live.remove(agent_id));
        match removed {
            Some(agent) => {
                agent.connection.close(code.into(), reason.as_bytes());
                true
            }
            None => false,
        }
    }

    fn connection(&self, agent_id: &AgentId) -> Option<quinn::Connection> {
        let live = self.live.lock().ok()?;
        live.get(agent_id).map(|agent| agent.connection.clone())
    }

    /// The agent's live connection, if its protocol version can carry `command`.
    pub(super) fn command_connection(
        &self,
        agent_id: &AgentId,
        command: &Command,
    ) -> Result<quinn::Connection, CommandError> {
        let connection = self
            .connection(agent_id)
            .ok_or_else(|| CommandError::Offline(agent_id.clone()))?;
        let dialect = super::negotiated::dialect(&connection)
            .map_err(|unserved| CommandError::Unsupported(unserved.to_string()))?;
        dialect
            .check_command(command)
            .map_err(|unsupported| CommandError::Unsupported(unsupported.to_string()))?;
        Ok(connection)
    }

    /// Sends a command on a new stream and waits for its typed response.
    pub async fn request<R: Request>(
        &self,
        agent_id: &AgentId,
        request: R,
        timeout: Duration,
    ) -> Result<R::Response, CommandError> {
        let command = request.into();
        let connection = self.command_connection(agent_id, &command)?;
        let envelope = CommandEnvelope {
            id: CommandId(self.next_command_id.fetch_add(1, Ordering::Relaxed)),
            command,
        };
        let exchange = async {
            let (mut send, mut recv) = connection.open_bi().await?;
            wire::write(&mut send, &envelope, frame::MAX_COMMAND_FRAME_LEN).await?;
            let _ = send.finish();
            let response: Option<CommandResponse> =
                wire::read(&mut recv, frame::MAX_COMMAND_RESPONSE_FRAME_LEN).await?;
            let response = response.ok_or(CommandError::NoResponse)?;
            R::Response::try_from(response).map_err(CommandError::Refused)
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| CommandError::Timeout(timeout))?
    }

    /// A fresh command id.
    pub(super) fn next_command_id(&self) -> CommandId {
        CommandId(self.next_command_id.fetch_add(1, Ordering::Relaxed))
    }

    /// Whether the agent has a live connection.
    pub fn is_connected(&self, agent_id: &AgentId) -> bool {
        self.connection(agent_id).is_some()
    }

    /// Sends a container operation and reads its progress frames (handed to `on_progress`)
    /// until the result. `idle` bounds the wait for each frame (an update's health gate
    /// reports at least at every stage), `total` the whole operation.
    pub async fn container_operation(
        &self,
        agent_id: &AgentId,
        command: ContainerCommand,
        mut on_progress: impl FnMut(Progress),
        idle: Duration,
        total: Duration,
    ) -> Result<CommandResult, CommandError> {
        let command = Command::Container(Box::new(command));
        let connection = self.command_connection(agent_id, &command)?;
        let envelope = CommandEnvelope {
            id: CommandId(self.next_command_id.fetch_add(1, Ordering::Relaxed)),
            command,
        };
        let exchange = async {
            let (mut send, mut recv) = connection.open_bi().await?;
            wire::write(&mut send, &envelope, frame::MAX_COMMAND_FRAME_LEN).await?;
            let _ = send.finish();
            loop {
                let frame: Option<CommandResponse> = tokio::time::timeout(
                    idle,
                    wire::read(&mut recv, frame::MAX_COMMAND_RESPONSE_FRAME_LEN),
                )
                .await
                .map_err(|_| CommandError::Timeout(idle))??;
                match frame.ok_or(CommandError::NoResponse)? {
                    CommandResponse::ContainerProgress(progress) => on_progress(progress),
                    CommandResponse::ContainerResult(result) => return Ok(*result),
                    other => return Err(CommandError::Refused(other)),
                }
            }
        };
        tokio::time::timeout(total, exchange)
            .await
            .map_err(|_| CommandError::Timeout(total))?
    }
}
