//! Podman's libpod API, for what its Docker-compatible API lacks: an image's HEALTHCHECK (left
//! out of the compatible image inspect) and running a health check on demand. bollard has no
//! calls for libpod endpoints, so these are plain HTTP/1.0 requests over the Unix socket.

use std::path::PathBuf;

use bollard::models::{HealthConfig, ImageInspect};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Sets the image config's healthcheck from Podman's libpod image inspect (`body`), which has
/// it as a top-level `Healthcheck`. Pure.
pub fn add_healthcheck(image: &mut ImageInspect, body: &[u8]) {
    #[derive(serde::Deserialize)]
    struct Libpod {
        #[serde(rename = "Healthcheck")]
        healthcheck: Option<HealthConfig>,
    }
    if let Ok(Libpod {
        healthcheck: Some(healthcheck),
    }) = serde_json::from_slice::<Libpod>(body)
    {
        image
            .config
            .get_or_insert_with(Default::default)
            .healthcheck = Some(healthcheck);
    }
}

/// One `GET` over the engine's Unix socket (HTTP/1.0, so the answer ends with the connection);
/// returns the status code and the body. bollard has no call for libpod endpoints.
pub async fn get(socket: PathBuf, path: String) -> std::io::Result<(u16, Vec<u8>)> {
    let mut stream = tokio::net::UnixStream::connect(&socket).await?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: d\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    let head_end = answer.windows(4).position(|window| window == b"\r\n\r\n");
    let (head, body) = match head_end {
        Some(end) => (
            answer.get(..end).unwrap_or_default(),
            answer.get(end + 4..).unwrap_or_default(),
        ),
        None => (answer.as_slice(), &[][..]),
    };
    let status = String::from_utf8_lossy(head)
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok());
    match status {
        Some(status) => Ok((status, body.to_vec())),
        None => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "no HTTP status line",
        )),
    }
}
