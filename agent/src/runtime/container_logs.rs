//! Answers the controller's [`ReadContainerLogs`] (issue 19 §4): connect to the configured
//! engine, read the container's newest lines (bounded), answer. The lines are not logged,
//! spooled or kept.

use super::state::AgentState;
use crate::collect::containers::{logs, socket};
use unity_shared::model::container_logs::ReadContainerLogs;
use unity_shared::proto::CommandResponse;

/// The answer to one request: the lines, or why there are none.
pub async fn answer(state: &AgentState, request: ReadContainerLogs) -> CommandResponse {
    let settings = &state.config.containers;
    if !settings.enabled {
        return CommandResponse::Failed {
            message:
                "the container collector is disabled on this host ([containers] enabled = false)"
                    .into(),
        };
    }
    let read = async {
        let client = socket::connect_with(&settings.socket, settings.timeout).await?;
        logs::read(&client, &request).await
    };
    match read.await {
        Ok(logs) => {
            tracing::debug!(container = %request.container, lines = logs.lines.len(), "Container log read.");
            CommandResponse::ContainerLogs(logs)
        }
        Err(error) => {
            tracing::info!(container = %request.container, %error, "Container log not read.");
            CommandResponse::Failed {
                message: error.to_string(),
            }
        }
    }
}
