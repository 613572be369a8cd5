//! Scraping one exporter over loopback: a plain HTTP/1.1 GET on a `TcpStream`, bounded in time
//! (the whole exchange), in head size and in body size; a body over the cap is not read at all
//! when its length is announced, and cut off (and refused) when it is not. The HTTP details are
//! `http.rs`'s (pure); the exposition is parsed by the caller.
//!
//! No HTTP client crate: the agent needs GET of one URL on its own host, and hyper or reqwest
//! would add more code to the agent than this whole collector.

use super::exporters::Target;
use super::http::{self, Dechunker};
use super::parse::Format;
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// A scraped body and the format it is in.
#[derive(Debug)]
pub struct Body {
    pub bytes: Vec<u8>,
    pub format: Format,
}

/// Scrapes `target`, reading at most `max_bytes` of body, within `timeout`.
pub async fn scrape(target: &Target, max_bytes: u64, timeout: Duration) -> Result<Body, String> {
    match tokio::time::timeout(timeout, exchange(target, max_bytes)).await {
        Ok(result) => result,
        Err(_elapsed) => Err(format!("no complete answer within {timeout:?}")),
    }
}

async fn exchange(target: &Target, max_bytes: u64) -> Result<Body, String> {
    let token =
        match &target.bearer_token_file {
            Some(path) => Some(tokio::fs::read_to_string(path).await.map_err(|error| {
                format!("reading bearer_token_file {}: {error}", path.display())
            })?),
            None => None,
        };
    let mut stream = TcpStream::connect((target.url.ip, target.url.port))
        .await
        .map_err(|error| format!("connecting: {error}"))?;
    let request = http::request(&target.url, token.as_deref(), crate::version::VERSION);
    stream
        .write_all(&request)
        .await
        .map_err(|error| format!("sending the request: {error}"))?;
    let mut buffer = Vec::with_capacity(8192);
    let mut chunk = vec![0u8; 16 * 1024];
    let head_end = loop {
        if let Some(end) = http::head_end(&buffer) {
            break end;
        }
        if buffer.len() > http::MAX_HEAD_BYTES {
            return Err(format!(
                "the response head is over {} bytes",
                http::MAX_HEAD_BYTES
            ));
        }
        let n = read(&mut stream, &mut chunk).await?;
        if n == 0 {
            return Err(if buffer.is_empty() {
                "the connection closed without an answer".to_owned()
            } else {
                "the connection closed inside the response head".to_owned()
            });
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = http::parse_head(&buffer[..head_end]).map_err(|error| error.to_string())?;
    if head.status != 200 {
        return Err(format!("HTTP {} {}", head.status, head.reason)
            .trim()
            .to_owned());
    }
    if let Some(encoding) = head
        .content_encoding
        .as_deref()
        .filter(|encoding| !encoding.eq_ignore_ascii_case("identity"))
    {
        return Err(format!(
            "the body is {encoding}-encoded although identity was asked for"
        ));
    }
    let format = http::format_of(head.content_type.as_deref())?;
    let over =
        |n: u64| format!("the body is over the cap of {max_bytes} bytes ({n} read); not used");
    if let Some(length) = head.content_length.filter(|length| *length > max_bytes) {
        return Err(format!(
            "the body is {length} bytes, over the cap of {max_bytes} bytes; not read"
        ));
    }
    let mut body = Vec::new();
    let rest = buffer.split_off(head_end);
    drop(buffer);
    if head.chunked {
        let mut decoder = Dechunker::default();
        decoder
            .feed(&rest, &mut body)
            .map_err(|error| error.to_string())?;
        while !decoder.is_done() {
            if body.len() as u64 > max_bytes {
                return Err(over(body.len() as u64));
            }
            let n = read(&mut stream, &mut chunk).await?;
            if n == 0 {
                return Err("the connection closed inside the chunked body".into());
            }
            decoder
                .feed(&chunk[..n], &mut body)
                .map_err(|error| error.to_string())?;
        }
    } else {
        body = rest;
        let wanted = head.content_length;
        loop {
            if wanted.is_some_and(|length| body.len() as u64 >= length) {
                break;
            }
            if body.len() as u64 > max_bytes {
                return Err(over(body.len() as u64));
            }
            let n = read(&mut stream, &mut chunk).await?;
            if n == 0 {
                if let Some(length) = wanted {
                    return Err(format!(
                        "the connection closed after {} of {length} body bytes",
                        body.len()
                    ));
                }
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
        if let Some(length) = wanted {
            body.truncate(usize::try_from(length).unwrap_or(usize::MAX));
        }
    }
    if body.len() as u64 > max_bytes {
        return Err(over(body.len() as u64));
    }
    Ok(Body {
        bytes: body,
        format,
    })
}

async fn read(stream: &mut TcpStream, chunk: &mut [u8]) -> Result<usize, String> {
    stream
        .read(chunk)
        .await
        .map_err(|error| format!("reading the answer: {error}"))
}
