//! A container's newest log lines for the controller's [`ReadContainerLogs`] (issue 19 §4):
//! one call to the engine's logs endpoint with the engine's timestamps, read as it streams
//! into a bounded [`Collector`], the whole read bounded by the engine's timeout. Nothing is
//! written anywhere: the lines go back on the command stream and are forgotten.

use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptions;
use futures_util::StreamExt as _;
use unity_shared::model::container_logs::{
    ContainerLogs, LogStream, ReadContainerLogs, MAX_LOG_BYTES, MAX_LOG_LINES,
};

use super::log_lines::Collector;
use super::socket::{Client, ClientError};

/// Reads the lines `request` asks for, within [`MAX_LOG_LINES`] and [`MAX_LOG_BYTES`].
pub async fn read(
    client: &Client,
    request: &ReadContainerLogs,
) -> Result<ContainerLogs, ClientError> {
    let lines = request.lines.clamp(1, MAX_LOG_LINES);
    // The engines take whole seconds; the collector drops what is not after `after_ns`.
    let since = request
        .after_ns
        .map(|after_ns| after_ns.div_euclid(1_000_000_000))
        .and_then(|seconds| i32::try_from(seconds).ok())
        .unwrap_or(0);
    let options = LogsOptions {
        stdout: true,
        stderr: true,
        timestamps: true,
        since,
        tail: lines.to_string(),
        ..LogsOptions::default()
    };
    let mut collector = Collector::new(lines as usize, MAX_LOG_BYTES as usize, request.after_ns);
    let read = async {
        let mut stream = client.docker.logs(&request.container, Some(options));
        while let Some(item) = stream.next().await {
            let (stream_kind, message) = match item? {
                LogOutput::StdOut { message } => (LogStream::Stdout, message),
                LogOutput::StdErr { message } => (LogStream::Stderr, message),
                LogOutput::Console { message } => (LogStream::Console, message),
                LogOutput::StdIn { .. } => continue,
            };
            collector.push(stream_kind, &message);
        }
        Ok::<_, bollard::errors::Error>(())
    };
    client.call(read).await?;
    Ok(collector.finish())
}
