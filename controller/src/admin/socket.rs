//! The admin socket: a Unix socket in the data directory (mode 0600) that the running daemon
//! serves, and the CLI's side of it. Each connection carries one request line and one
//! response line.

use super::handle::handle;
use super::protocol::{AdminRequest, AdminResponse};
use crate::context::Context;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncReadExt as _, AsyncWriteExt, BufReader};

/// Serves the admin socket; the returned task runs until aborted.
pub async fn serve(ctx: Arc<Context>) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    use std::os::unix::fs::PermissionsExt;
    let path = ctx.config.admin_socket();
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let ctx = ctx.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut line = String::new();
                let mut reader = BufReader::new(read.take(1 << 20));
                if reader.read_line(&mut line).await.is_err() {
                    return;
                }
                let response = match serde_json::from_str::<AdminRequest>(&line) {
                    Ok(request) => tokio::task::spawn_blocking(move || handle(&ctx, request))
                        .await
                        .unwrap_or_else(|error| AdminResponse::Error(error.to_string())),
                    Err(error) => AdminResponse::Error(format!("bad request: {error}")),
                };
                if let Ok(mut bytes) = serde_json::to_vec(&response) {
                    bytes.push(b'\n');
                    let _ = write.write_all(&bytes).await;
                }
            });
        }
    }))
}

/// Sends `request` to a running daemon; `Ok(None)` when no daemon listens on the socket.
pub async fn call_daemon(
    socket: &std::path::Path,
    request: &AdminRequest,
) -> anyhow::Result<Option<AdminResponse>> {
    let stream = match tokio::net::UnixStream::connect(socket).await {
        Ok(stream) => stream,
        Err(error)
            if matches!(
                error.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(None)
        }
        Err(error) => {
            return Err(anyhow::anyhow!(
                "connecting to {}: {error}",
                socket.display()
            ))
        }
    };
    let (read, mut write) = stream.into_split();
    let mut bytes = serde_json::to_vec(request)?;
    bytes.push(b'\n');
    write.write_all(&bytes).await?;
    let mut line = String::new();
    BufReader::new(read).read_line(&mut line).await?;
    Ok(Some(serde_json::from_str(&line)?))
}
