//! An `http://` or `https://` service check: one HTTP/1.1 GET with `Connection: close`,
//! written by hand (the agent has no HTTP client and needs none for this), the head read up to
//! [`response::MAX_HEAD_BYTES`] and the body only as far as the keyword needs, at most
//! [`response::MAX_BODY_BYTES`]: an endless body or a garbage status line cannot hold the
//! agent. TLS through the agent's tokio-rustls, the leaf's expiry read from the handshake.

use super::response::{self, MAX_BODY_BYTES, MAX_HEAD_BYTES};
use super::tls::{self, Recorder, Roots};
use super::Finding;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// What makes an HTTP check up.
#[derive(Debug, Clone)]
pub struct Expect<'a> {
    pub status_min: u16,
    pub status_max: u16,
    pub keyword: Option<&'a str>,
    pub tls_verify: bool,
}

/// Where a URL points, checked: the controller validates definitions the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub tls: bool,
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    pub port: u16,
    /// Path and query.
    pub path: String,
    /// The `Host` header.
    pub authority: String,
}

/// Parses `url` (pure): `http://` or `https://`, a host, no user information.
pub fn target(url: &str) -> Result<Target, String> {
    let parsed = url::Url::parse(url).map_err(|error| format!("bad URL {url:?}: {error}"))?;
    let tls = match parsed.scheme() {
        "http" => false,
        "https" => true,
        other => {
            return Err(format!(
                "bad URL {url:?}: scheme {other:?} is not http or https"
            ))
        }
    };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!(
            "bad URL {url:?}: user information is not supported"
        ));
    }
    let host = match parsed.host() {
        Some(url::Host::Domain(domain)) => domain.to_owned(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        None => return Err(format!("bad URL {url:?}: no host")),
    };
    let port = parsed
        .port_or_known_default()
        .ok_or_else(|| format!("bad URL {url:?}: no port"))?;
    let mut path = parsed.path().to_owned();
    if let Some(query) = parsed.query() {
        path.push('?');
        path.push_str(query);
    }
    let authority = match (parsed.host_str(), parsed.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        (None, _) => host.clone(),
    };
    Ok(Target {
        tls,
        host,
        port,
        path,
        authority,
    })
}

/// Runs the check (the caller bounds it with the check's timeout).
pub async fn check(roots: &Roots, url: &str, expect: &Expect<'_>) -> Finding {
    let target = match target(url) {
        Ok(target) => target,
        Err(message) => return Finding::down(message),
    };
    let stream = match TcpStream::connect((target.host.as_str(), target.port)).await {
        Ok(stream) => stream,
        Err(error) => {
            return Finding::down(format!(
                "connect to {}:{}: {error}",
                target.host, target.port
            ))
        }
    };
    if !target.tls {
        return exchange(stream, &target, expect).await;
    }
    let roots = if expect.tls_verify {
        match roots.get().await {
            Ok(roots) => Some(roots),
            Err(message) => return Finding::down(message),
        }
    } else {
        None
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let recorder = match Recorder::new(provider.clone(), roots) {
        Ok(recorder) => Arc::new(recorder),
        Err(message) => return Finding::down(message),
    };
    let config = match rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
    {
        Ok(builder) => builder
            .dangerous()
            .with_custom_certificate_verifier(recorder.clone())
            .with_no_client_auth(),
        Err(error) => return Finding::down(format!("TLS client setup: {error}")),
    };
    let name = match rustls::pki_types::ServerName::try_from(target.host.clone()) {
        Ok(name) => name,
        Err(error) => return Finding::down(format!("bad TLS server name: {error}")),
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let handshake = connector.connect(name, stream).await;
    let tls_days_left = recorder
        .leaf()
        .and_then(|der| tls::days_left(&der, crate::clock::now_seconds()));
    let mut finding = match handshake {
        Ok(stream) => exchange(stream, &target, expect).await,
        Err(error) => Finding::down(format!("TLS handshake: {error}")),
    };
    finding.tls_days_left = tls_days_left;
    finding
}

/// Sends the GET and judges the answer.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    target: &Target,
    expect: &Expect<'_>,
) -> Finding {
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: unity-agent\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        target.path, target.authority
    );
    if let Err(error) = stream.write_all(request.as_bytes()).await {
        return Finding::down(format!("sending the request: {error}"));
    }
    let mut bytes = Vec::with_capacity(4096);
    let head = loop {
        match response::parse_head(&bytes) {
            Ok(Some(head)) => break head,
            Ok(None) => {}
            Err(message) => return Finding::down(message),
        }
        match read_some(&mut stream, &mut bytes, MAX_HEAD_BYTES).await {
            Ok(0) => return Finding::down("the connection closed before a full response head"),
            Ok(_) => {}
            Err(error) => return Finding::down(format!("reading the response: {error}")),
        }
    };
    let keyword = match expect.keyword {
        None => None,
        Some(keyword) => {
            let limit = head.body_at + MAX_BODY_BYTES;
            let needle = keyword.as_bytes();
            let mut found = response::contains(&bytes[head.body_at..], needle);
            while !found && bytes.len() < limit {
                match read_some(&mut stream, &mut bytes, limit).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let from = bytes.len().min(limit);
                found = response::contains(&bytes[head.body_at..from], needle);
            }
            Some((keyword, found))
        }
    };
    response::judge(head.status, expect.status_min, expect.status_max, keyword)
}

/// Reads what is there into `bytes`, never past `limit` bytes in all.
async fn read_some<S: AsyncRead + Unpin>(
    stream: &mut S,
    bytes: &mut Vec<u8>,
    limit: usize,
) -> std::io::Result<usize> {
    let mut chunk = [0u8; 4096];
    let room = limit.saturating_sub(bytes.len()).min(chunk.len()).max(1);
    let n = stream.read(&mut chunk[..room]).await?;
    bytes.extend_from_slice(&chunk[..n]);
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_18_urls_with_clear_errors() {
        let t = target("https://nas.home.arpa:8443/status?x=1").unwrap();
        assert_eq!(
            (
                t.tls,
                t.host.as_str(),
                t.port,
                t.path.as_str(),
                t.authority.as_str()
            ),
            (
                true,
                "nas.home.arpa",
                8443,
                "/status?x=1",
                "nas.home.arpa:8443"
            )
        );
        let t = target("http://[::1]/").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.authority.as_str()),
            ("::1", 80, "[::1]")
        );
        for (bad, says) in [
            ("ftp://x/", "scheme \"ftp\" is not http or https"),
            ("nas.home.arpa", "relative URL without a base"),
            ("http://x:99999/", "invalid port number"),
            ("http://user:pw@x/", "user information"),
            ("http:///", "empty host"),
        ] {
            let error = target(bad).unwrap_err();
            assert!(error.contains(says), "{bad}: {error}");
        }
    }
}
