//! A minimal HTTP/1.1 client for tests and the dashboard benchmark: keep-alive, Content-Length
//! and chunked bodies, a cookie jar, the CSRF token and bearer tokens, and optional TLS.
//! Small on purpose (no reqwest): it only has to speak to our own server and chromedriver.

use anyhow::{bail, Context as _};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

trait Stream: AsyncRead + AsyncWrite + Unpin + Send + Sync {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync> Stream for T {}

/// A response, body read completely.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
    }

    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .filter(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
            .collect()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (`Null` if it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// One client: one keep-alive connection, a cookie jar, optional bearer token.
pub struct HttpClient {
    addr: SocketAddr,
    tls: Option<(
        tokio_rustls::TlsConnector,
        rustls_pki_types::ServerName<'static>,
    )>,
    connection: Option<BufReader<Box<dyn Stream>>>,
    pub cookies: BTreeMap<String, String>,
    /// Sent as `X-CSRF-Token` on non-GET requests when set (from [`HttpClient::login`]).
    pub csrf: Option<String>,
    pub bearer: Option<String>,
    /// Connect from this local address (e.g. `127.0.0.2`), so one test can be several clients.
    pub local_ip: Option<std::net::IpAddr>,
    /// The `Host` header; default the server's address.
    pub host: Option<String>,
}

impl HttpClient {
    pub fn new(addr: SocketAddr) -> HttpClient {
        HttpClient {
            addr,
            tls: None,
            connection: None,
            cookies: BTreeMap::new(),
            csrf: None,
            bearer: None,
            local_ip: None,
            host: None,
        }
    }

    /// HTTPS, trusting only `ca` (DER) and checking the certificate for `server_name`.
    pub fn new_tls(
        addr: SocketAddr,
        ca: rustls_pki_types::CertificateDer<'static>,
        server_name: &str,
    ) -> anyhow::Result<HttpClient> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = rustls_pki_types::ServerName::try_from(server_name.to_owned())?;
        let mut client = HttpClient::new(addr);
        client.tls = Some((tokio_rustls::TlsConnector::from(Arc::new(config)), name));
        Ok(client)
    }

    async fn connect(&self) -> anyhow::Result<BufReader<Box<dyn Stream>>> {
        let tcp = match self.local_ip {
            None => TcpStream::connect(self.addr).await,
            Some(local_ip) => {
                let socket = if local_ip.is_ipv4() {
                    tokio::net::TcpSocket::new_v4()?
                } else {
                    tokio::net::TcpSocket::new_v6()?
                };
                socket.bind(SocketAddr::new(local_ip, 0))?;
                socket.connect(self.addr).await
            }
        }
        .with_context(|| format!("connecting to {}", self.addr))?;
        tcp.set_nodelay(true)?;
        let stream: Box<dyn Stream> = match &self.tls {
            None => Box::new(tcp),
            Some((connector, name)) => Box::new(
                connector
                    .connect(name.clone(), tcp)
                    .await
                    .context("TLS handshake")?,
            ),
        };
        Ok(BufReader::new(stream))
    }

    /// Sends a request; `body` is (content type, bytes). Cookies from the jar go along and
    /// `Set-Cookie` answers update it.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        extra_headers: &[(&str, &str)],
        body: Option<(&str, Vec<u8>)>,
    ) -> anyhow::Result<HttpResponse> {
        let host = self.host.clone().unwrap_or_else(|| self.addr.to_string());
        let mut head =
            format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: unity-tests\r\n");
        if !self.cookies.is_empty() {
            let cookies: Vec<String> = self
                .cookies
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect();
            head.push_str(&format!("Cookie: {}\r\n", cookies.join("; ")));
        }
        if let Some(token) = &self.bearer {
            head.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        if method != "GET" {
            if let Some(csrf) = &self.csrf {
                head.push_str(&format!("X-CSRF-Token: {csrf}\r\n"));
            }
        }
        for (name, value) in extra_headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        let body_bytes = match body {
            Some((content_type, bytes)) => {
                head.push_str(&format!("Content-Type: {content_type}\r\n"));
                bytes
            }
            None => Vec::new(),
        };
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body_bytes.len()));
        let mut message = head.into_bytes();
        message.extend_from_slice(&body_bytes);
        // A kept-alive connection the server closed fails on first use: retry once, fresh.
        for attempt in 0..2 {
            let mut connection = match self.connection.take() {
                Some(connection) => connection,
                None => self.connect().await?,
            };
            let result = async {
                connection.get_mut().write_all(&message).await?;
                connection.get_mut().flush().await?;
                read_response(&mut connection, method == "HEAD").await
            }
            .await;
            match result {
                Ok((response, keep_alive)) => {
                    if keep_alive {
                        self.connection = Some(connection);
                    }
                    self.store_cookies(&response);
                    return Ok(response);
                }
                Err(error) if attempt == 0 => {
                    tracing::debug!(%error, "Retrying on a fresh connection.");
                }
                Err(error) => return Err(error),
            }
        }
        bail!("unreachable: two attempts made")
    }

    fn store_cookies(&mut self, response: &HttpResponse) {
        for value in response.headers_named("set-cookie") {
            let mut parts = value.split(';');
            let Some((name, cookie_value)) =
                parts.next().and_then(|pair| pair.trim().split_once('='))
            else {
                continue;
            };
            let expired = parts.any(|attribute| attribute.trim().eq_ignore_ascii_case("max-age=0"));
            if expired || cookie_value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies
                    .insert(name.to_owned(), cookie_value.to_owned());
            }
        }
    }

    pub async fn get(&mut self, path: &str) -> HttpResponse {
        self.request("GET", path, &[], None)
            .await
            .expect("GET succeeds at the HTTP level")
    }

    pub async fn post_json(&mut self, path: &str, body: &serde_json::Value) -> HttpResponse {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        self.request("POST", path, &[], Some(("application/json", bytes)))
            .await
            .expect("POST succeeds at the HTTP level")
    }

    pub async fn post_raw(
        &mut self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> HttpResponse {
        self.request("POST", path, &[], Some((content_type, body)))
            .await
            .expect("POST succeeds at the HTTP level")
    }

    pub async fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> HttpResponse {
        let body: Vec<String> = fields
            .iter()
            .map(|(name, value)| format!("{}={}", form_encode(name), form_encode(value)))
            .collect();
        self.request(
            "POST",
            path,
            &[],
            Some((
                "application/x-www-form-urlencoded",
                body.join("&").into_bytes(),
            )),
        )
        .await
        .expect("POST succeeds at the HTTP level")
    }

    pub async fn delete(&mut self, path: &str) -> HttpResponse {
        self.request("DELETE", path, &[], None)
            .await
            .expect("DELETE succeeds at the HTTP level")
    }

    /// Logs in through the API; on success keeps the session cookie and the CSRF token.
    pub async fn login(&mut self, username: &str, password: &str) -> HttpResponse {
        let response = self
            .post_json(
                "/api/v1/login",
                &serde_json::json!({ "username": username, "password": password }),
            )
            .await;
        if response.status == 200 {
            self.csrf = response.json()["csrf_token"].as_str().map(str::to_owned);
        }
        response
    }
}

/// `application/x-www-form-urlencoded` encoding of one name or value.
pub fn form_encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Reads one response; returns it and whether the connection may be reused.
async fn read_response<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    head_only: bool,
) -> anyhow::Result<(HttpResponse, bool)> {
    let mut line = String::new();
    if reader.read_line(&mut line).await? == 0 {
        bail!("connection closed before the status line");
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("bad status line {line:?}"))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            bail!("connection closed in the headers");
        }
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        if let Some((name, value)) = trimmed.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    let mut keep_alive =
        !header("connection").is_some_and(|value| value.eq_ignore_ascii_case("close"));
    let mut body = Vec::new();
    if head_only || status == 204 || status == 304 || (100..200).contains(&status) {
        // No body.
    } else if header("transfer-encoding").is_some_and(|value| value.eq_ignore_ascii_case("chunked"))
    {
        loop {
            line.clear();
            reader.read_line(&mut line).await?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .with_context(|| format!("bad chunk size {line:?}"))?;
            if size == 0 {
                // Trailers until an empty line.
                loop {
                    line.clear();
                    if reader.read_line(&mut line).await? == 0 || line.trim().is_empty() {
                        break;
                    }
                }
                break;
            }
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..]).await?;
            line.clear();
            reader.read_line(&mut line).await?;
        }
    } else if let Some(length) = header("content-length") {
        let length: usize = length.parse().context("bad Content-Length")?;
        body.resize(length, 0);
        reader.read_exact(&mut body).await?;
    } else {
        reader.read_to_end(&mut body).await?;
        keep_alive = false;
    }
    Ok((
        HttpResponse {
            status,
            headers,
            body,
        },
        keep_alive,
    ))
}
