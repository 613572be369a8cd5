//! The short-lived HTTP/1.1 listener for HTTP-01 challenges: one per port, shared by every
//! challenge served on it at the same time (an order for several names sends several), and
//! closed when the last challenge's lifetime ends. It answers only
//! `GET /.well-known/acme-challenge/<token>` for a token it holds, 404 otherwise, reads at
//! most a small request head, and gives each connection a few seconds.

use super::request::{parse_request, Asked};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

/// Largest request head read; the rest of a bigger request is not looked at.
const MAX_HEAD: usize = 4096;
/// A connection is closed after this, answered or not.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(10);

/// Tokens served on one port: key authorization and until when.
type Tokens = Arc<Mutex<HashMap<String, (String, Instant)>>>;

/// The ports being served in this process.
#[derive(Default)]
pub struct Listeners {
    ports: Mutex<HashMap<u16, Tokens>>,
}

impl Listeners {
    /// Serves `token` on `port` until `until`, opening the port's listener if it is not open.
    /// Returns the address served.
    pub async fn serve(
        self: &Arc<Self>,
        port: u16,
        token: String,
        key_authorization: String,
        until: Instant,
    ) -> std::io::Result<String> {
        {
            let ports = self.ports.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(tokens) = ports.get(&port) {
                tokens
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(token, (key_authorization, until));
                return Ok(format!("[::]:{port}"));
            }
        }
        let listener = bind(port).await?;
        let at = listener.local_addr()?.to_string();
        let tokens: Tokens = Arc::new(Mutex::new(HashMap::from([(
            token,
            (key_authorization, until),
        )])));
        {
            let mut ports = self.ports.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(existing) = ports.get(&port) {
                // Another challenge opened it meanwhile (we could only bind if it closed).
                existing
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .extend(
                        tokens
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .drain(),
                    );
                return Ok(at);
            }
            ports.insert(port, tokens.clone());
        }
        tracing::info!(%at, "HTTP-01 listener open.");
        tokio::spawn(run(self.clone(), port, listener, tokens));
        Ok(at)
    }
}

/// All addresses: IPv6 and (dual-stack) IPv4, or IPv4 alone where IPv6 is off.
async fn bind(port: u16) -> std::io::Result<TcpListener> {
    match TcpListener::bind(SocketAddr::from(([0u16; 8], port))).await {
        Ok(listener) => Ok(listener),
        Err(_) => TcpListener::bind(SocketAddr::from(([0u8; 4], port))).await,
    }
}

/// Accepts until no token is left alive.
async fn run(listeners: Arc<Listeners>, port: u16, listener: TcpListener, tokens: Tokens) {
    loop {
        let latest = {
            let mut held = tokens.lock().unwrap_or_else(PoisonError::into_inner);
            let now = Instant::now();
            held.retain(|_, (_, until)| *until > now);
            held.values().map(|(_, until)| *until).max()
        };
        let Some(latest) = latest else {
            let mut ports = listeners
                .ports
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            // Between the check and here a token may have come: keep serving it.
            if tokens
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_empty()
            {
                ports.remove(&port);
                tracing::info!(port, "HTTP-01 listener closed.");
                return;
            }
            continue;
        };
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(answer(stream, tokens.clone()));
                }
                Err(error) => tracing::debug!(%error, "HTTP-01 accept failed."),
            },
            _ = tokio::time::sleep_until(latest) => {}
        }
    }
}

async fn answer(mut stream: TcpStream, tokens: Tokens) {
    let _ = tokio::time::timeout(CONNECTION_TIMEOUT, async {
        let mut head = Vec::with_capacity(512);
        let mut buffer = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
            let n = stream.read(&mut buffer).await?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buffer[..n]);
        }
        let response = match parse_request(&head) {
            Asked::Challenge { token, head } => {
                let found = tokens
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get(&token)
                    .filter(|(_, until)| *until > Instant::now())
                    .map(|(key_authorization, _)| key_authorization.clone());
                match found {
                    Some(body) => reply("200 OK", &body, head),
                    None => reply("404 Not Found", "not found\n", head),
                }
            }
            Asked::Other => reply("404 Not Found", "not found\n", false),
            Asked::Malformed => reply("400 Bad Request", "bad request\n", false),
        };
        stream.write_all(response.as_bytes()).await?;
        stream.shutdown().await
    })
    .await;
}

fn reply(status: &str, body: &str, head: bool) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        body.len(),
        if head { "" } else { body }
    )
}
