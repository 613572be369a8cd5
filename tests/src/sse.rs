//! A bare server-sent events client for the dashboard's live channel: one HTTP/1.1 GET over a
//! plain TCP connection, then the raw stream, read in pieces. Enough for the benchmark to hold
//! a hundred browsers open and to see which host each `card` event is about.

use anyhow::{bail, Context as _};
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// An open event stream.
pub struct EventStream {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl EventStream {
    /// Opens `path` with `cookie` (the `Cookie` header's value) and checks the answer is an
    /// event stream. It accepts gzip as browsers do, and refuses a compressed answer: a
    /// compressed stream would hold events back in the compressor.
    pub async fn open(addr: SocketAddr, path: &str, cookie: &str) -> anyhow::Result<EventStream> {
        let mut stream = TcpStream::connect(addr).await.context("connecting")?;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nAccept: text/event-stream\r\nAccept-Encoding: gzip, deflate, br\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await?;
        let mut events = EventStream {
            stream,
            buffer: Vec::new(),
        };
        while !events.buffer.windows(4).any(|w| w == b"\r\n\r\n") {
            if events.read_more().await? == 0 {
                bail!("closed before the headers");
            }
        }
        let head = String::from_utf8_lossy(&events.buffer).to_string();
        if !head.starts_with("HTTP/1.1 200") || !head.contains("text/event-stream") {
            bail!("not an event stream: {head}");
        }
        if head.to_ascii_lowercase().contains("content-encoding:") {
            bail!("a compressed event stream: {head}");
        }
        Ok(events)
    }

    async fn read_more(&mut self) -> anyhow::Result<usize> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk).await?;
        self.buffer.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Reads what has arrived (waiting for at least one byte) and returns it as text, the
    /// buffer emptied; an error when the server closed the stream.
    pub async fn next_text(&mut self) -> anyhow::Result<String> {
        if self.buffer.is_empty() && self.read_more().await? == 0 {
            bail!("the stream ended");
        }
        let text = String::from_utf8_lossy(&self.buffer).to_string();
        self.buffer.clear();
        Ok(text)
    }
}
