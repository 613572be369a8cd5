//! The HTTP client of the tests and the dashboard benchmark: a thin wrapper over reqwest
//! (HTTP/1.1; HTTPS through rustls with ring) that keeps a cookie jar, the CSRF token and a
//! bearer token, can connect from another loopback address and can send another `Host` header
//! (DNS-rebinding tests). Redirects are answers, never followed.
//!
//! One case goes around reqwest: a path it would rewrite (`/assets/../x` becomes `/x`,
//! `%2e%2e` is a dot segment too) is sent verbatim on a raw plain-HTTP connection, so that
//! path-traversal tests send what they say (see [`HttpClient::request`]).

use anyhow::{bail, Context as _};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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
        self.headers_named(name).into_iter().next()
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

/// One client: kept-alive connections, a cookie jar, optional bearer token.
#[derive(Clone)]
pub struct HttpClient {
    addr: SocketAddr,
    /// HTTPS: the client configuration and the name the certificate must carry.
    tls: Option<(rustls::ClientConfig, String)>,
    /// The reqwest client, built on first use, with the `local_ip` it binds to.
    client: Option<(Option<IpAddr>, reqwest::Client)>,
    pub cookies: BTreeMap<String, String>,
    /// Sent as `X-CSRF-Token` on non-GET requests when set (from [`HttpClient::login`]).
    pub csrf: Option<String>,
    pub bearer: Option<String>,
    /// Connect from this local address (e.g. `127.0.0.2`), so one test can be several clients.
    pub local_ip: Option<IpAddr>,
    /// The `Host` header; default the server's address.
    pub host: Option<String>,
}

impl HttpClient {
    pub fn new(addr: SocketAddr) -> HttpClient {
        HttpClient {
            addr,
            tls: None,
            client: None,
            cookies: BTreeMap::new(),
            csrf: None,
            bearer: None,
            local_ip: None,
            host: None,
        }
    }

    /// HTTPS, trusting only `ca` (DER) and checking the certificate for `server_name` (a DNS
    /// name, which then resolves to `addr`, or `addr`'s IP).
    pub fn new_tls(
        addr: SocketAddr,
        ca: rustls_pki_types::CertificateDer<'static>,
        server_name: &str,
    ) -> anyhow::Result<HttpClient> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca)?;
        let mut client = HttpClient::new(addr);
        client.tls = Some((tls_config(roots)?, server_name.to_owned()));
        Ok(client)
    }

    /// The reqwest client for the current `local_ip`.
    fn client(&mut self) -> anyhow::Result<reqwest::Client> {
        if let Some((local_ip, client)) = &self.client {
            if *local_ip == self.local_ip {
                return Ok(client.clone());
            }
        }
        let mut builder = reqwest::Client::builder()
            .user_agent("unity-tests")
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .tcp_nodelay(true)
            .local_address(self.local_ip);
        builder = match &self.tls {
            // The workspace's reqwest has no default crypto provider: plain clients get a
            // ring configuration too (that trusts nothing; it is never used).
            None => builder.tls_backend_preconfigured(tls_config(rustls::RootCertStore::empty())?),
            Some((config, server_name)) if server_name.parse::<IpAddr>().is_err() => builder
                .tls_backend_preconfigured(config.clone())
                .resolve(server_name, self.addr),
            Some((config, _)) => builder.tls_backend_preconfigured(config.clone()),
        };
        let client = builder.build().context("building the HTTP client")?;
        self.client = Some((self.local_ip, client.clone()));
        Ok(client)
    }

    /// `scheme://authority` of the requests' URLs.
    fn origin(&self) -> String {
        match &self.tls {
            None => format!("http://{}", self.addr),
            Some((_, name)) => match name.parse::<IpAddr>() {
                Ok(ip) => format!("https://{}", SocketAddr::new(ip, self.addr.port())),
                Err(_) => format!("https://{name}:{}", self.addr.port()),
            },
        }
    }

    /// Sends a request; `body` is (content type, bytes). Cookies from the jar go along and
    /// `Set-Cookie` answers update it. A `path` that reqwest would rewrite (dot segments,
    /// characters it percent-encodes) goes out verbatim on a raw connection instead, over
    /// plain HTTP only.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        extra_headers: &[(&str, &str)],
        body: Option<(&str, Vec<u8>)>,
    ) -> anyhow::Result<HttpResponse> {
        let mut headers = vec![(
            "Host".to_owned(),
            self.host.clone().unwrap_or_else(|| self.addr.to_string()),
        )];
        if !self.cookies.is_empty() {
            let cookies: Vec<String> = self
                .cookies
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect();
            headers.push(("Cookie".to_owned(), cookies.join("; ")));
        }
        if let Some(token) = &self.bearer {
            headers.push(("Authorization".to_owned(), format!("Bearer {token}")));
        }
        if method != "GET" {
            if let Some(csrf) = &self.csrf {
                headers.push(("X-CSRF-Token".to_owned(), csrf.clone()));
            }
        }
        for (name, value) in extra_headers {
            headers.push(((*name).to_owned(), (*value).to_owned()));
        }
        let body = body.map(|(content_type, bytes)| {
            headers.push(("Content-Type".to_owned(), content_type.to_owned()));
            bytes
        });

        let url = reqwest::Url::parse(&format!("{}{path}", self.origin()))
            .with_context(|| format!("bad path {path:?}"))?;
        let sent_path = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };
        let response = if sent_path == path {
            let method = reqwest::Method::from_bytes(method.as_bytes())?;
            let mut request = self.client()?.request(method, url);
            for (name, value) in &headers {
                request = request.header(name, value);
            }
            if let Some(bytes) = body {
                request = request.body(bytes);
            }
            let response = request
                .send()
                .await
                .with_context(|| format!("{} {path}", self.addr))?;
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .map(|(name, value)| {
                    let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                    (name.as_str().to_owned(), value)
                })
                .collect();
            let body = response.bytes().await.context("reading the body")?.to_vec();
            HttpResponse {
                status,
                headers,
                body,
            }
        } else {
            if self.tls.is_some() {
                bail!("{path:?} would be rewritten; verbatim paths only over plain HTTP");
            }
            raw_request(self.addr, method, path, &headers, body.as_deref()).await?
        };
        self.store_cookies(&response);
        Ok(response)
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

/// A ring client configuration of TLS 1.2 and 1.3 trusting `roots`.
fn tls_config(roots: rustls::RootCertStore) -> anyhow::Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
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

/// Sends `method path` exactly as written, as HTTP/1.0 on a connection of its own, and reads
/// the answer to the end of the connection (HTTP/1.0 answers are not chunked).
async fn raw_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: Option<&[u8]>,
) -> anyhow::Result<HttpResponse> {
    let body = body.unwrap_or_default();
    let mut message = format!("{method} {path} HTTP/1.0\r\nUser-Agent: unity-tests\r\n");
    for (name, value) in headers {
        message.push_str(&format!("{name}: {value}\r\n"));
    }
    message.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    stream.write_all(message.as_bytes()).await?;
    stream.write_all(body).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    let head_end = answer
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .context("no end of the response head")?;
    let head = String::from_utf8_lossy(&answer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("bad status line {status_line:?}"))?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    Ok(HttpResponse {
        status,
        headers,
        body: answer[head_end + 4..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::HttpClient;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    /// A server that answers every request with 204 and a cookie, and hands back the request
    /// heads it saw. It keeps HTTP/1.1 connections open.
    async fn recording_server() -> (
        std::net::SocketAddr,
        tokio::sync::mpsc::UnboundedReceiver<String>,
    ) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (heads, seen) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let heads = heads.clone();
                tokio::spawn(async move {
                    let mut stream = BufReader::new(stream);
                    loop {
                        let mut head = String::new();
                        while !head.ends_with("\r\n\r\n") {
                            if stream.read_line(&mut head).await.unwrap_or(0) == 0 {
                                return;
                            }
                        }
                        let http_1_0 = head.lines().next().unwrap_or("").ends_with("1.0");
                        let _ = heads.send(head);
                        let answer = "HTTP/1.1 204 No Content\r\nSet-Cookie: id=1; Path=/\r\n\r\n";
                        let written = stream.get_mut().write_all(answer.as_bytes()).await;
                        // HTTP/1.0 without keep-alive: the answer ends with the connection.
                        if written.is_err() || http_1_0 {
                            return;
                        }
                    }
                });
            }
        });
        (addr, seen)
    }

    #[tokio::test]
    async fn paths_go_out_verbatim_with_the_host_and_cookies() {
        let (addr, mut seen) = recording_server().await;
        let mut client = HttpClient::new(addr);
        client.host = Some("attacker.example".into());
        assert_eq!(client.get("/login?next=%2F").await.status, 204);
        let head = seen.recv().await.unwrap();
        assert!(
            head.starts_with("GET /login?next=%2F HTTP/1.1\r\n"),
            "{head}"
        );
        assert!(
            head.to_ascii_lowercase()
                .contains("host: attacker.example\r\n"),
            "{head}"
        );
        assert_eq!(client.cookies.get("id").map(String::as_str), Some("1"));

        for hostile in ["/assets/../Cargo.toml", "/assets/%2e%2e/x"] {
            assert_eq!(client.get(hostile).await.status, 204);
            let head = seen.recv().await.unwrap();
            assert!(
                head.starts_with(&format!("GET {hostile} HTTP/1.0\r\n")),
                "{head}"
            );
            assert!(head.contains("Cookie: id=1\r\n"), "{head}");
        }
    }
}
