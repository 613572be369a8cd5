//! The HTTP client the ACME client (and the Cloudflare solver) talk through: the controller's
//! reqwest (rustls with ring, the platform's trust store plus the provider's own CA file when
//! one is set), every request bounded by a timeout, adapted to `instant-acme`'s `HttpClient`.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use instant_acme::{BodyWrapper, BytesResponse, HttpClient};
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

/// Largest ACME or API response read (a certificate chain is a few kB).
const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// Why no client could be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The CA file could not be read or holds no certificate.
    #[error("CA file {path}: {message}")]
    CaFile { path: String, message: String },
    /// rustls or reqwest refused the configuration.
    #[error("HTTP client: {0}")]
    Build(String),
}

/// A reqwest client trusting the platform's roots and, when given, the certificates in
/// `ca_file` (blocking read). No redirects are followed.
pub fn client(ca_file: Option<&Path>, timeout: Duration) -> Result<reqwest::Client, ClientError> {
    let mut extra = Vec::new();
    if let Some(path) = ca_file {
        let ca_error = |message: String| ClientError::CaFile {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read(path).map_err(|error| ca_error(error.to_string()))?;
        use rustls_pki_types::pem::PemObject;
        for certificate in rustls_pki_types::CertificateDer::pem_slice_iter(&text) {
            extra.push(certificate.map_err(|error| ca_error(error.to_string()))?);
        }
        if extra.is_empty() {
            return Err(ca_error("no CERTIFICATE in it".into()));
        }
    }
    let options = crate::outbound::HttpOptions {
        extra_roots: extra,
        ..crate::outbound::HttpOptions::new(timeout)
    };
    crate::outbound::http_client(&options).map_err(|error| ClientError::Build(error.to_string()))
}

/// `instant-acme`'s HTTP client over a reqwest client.
pub struct AcmeHttp(pub reqwest::Client);

impl HttpClient for AcmeHttp {
    fn request(
        &self,
        request: http::Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, instant_acme::Error>> + Send>> {
        let http = self.0.clone();
        Box::pin(async move { send(&http, request).await })
    }
}

fn other(error: impl std::fmt::Display) -> instant_acme::Error {
    instant_acme::Error::Other(error.to_string().into())
}

async fn send(
    http: &reqwest::Client,
    request: http::Request<BodyWrapper<Bytes>>,
) -> Result<BytesResponse, instant_acme::Error> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map_err(other)?.to_bytes();
    let url = parts.uri.to_string();
    let is_get = parts.method == http::Method::GET;
    let mut outgoing = http.request(parts.method, &url).body(body);
    for (name, value) in &parts.headers {
        outgoing = outgoing.header(name, value);
    }
    let mut response = outgoing
        .send()
        .await
        .map_err(|error| other(format!("{url}: {}", error_chain(&error))))?;
    let status = response.status();
    let mut answer = http::Response::builder().status(status);
    for (name, value) in response.headers() {
        answer = answer.header(name, value);
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| other(format!("{url}: {}", error_chain(&error))))?
    {
        if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(other(format!(
                "{url}: answer larger than {MAX_RESPONSE_BYTES} bytes"
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    // instant-acme reads the directory (the one plain GET) without looking at the status:
    // say what the server answered instead of a JSON error about a 404 page.
    let problem = response_is_problem(&answer);
    if is_get && !status.is_success() && !problem {
        let text = String::from_utf8_lossy(&bytes);
        let text: String = text.trim().chars().take(200).collect();
        return Err(other(format!("{url}: HTTP {status}: {text}")));
    }
    let answer = answer.body(Full::new(Bytes::from(bytes))).map_err(other)?;
    Ok(BytesResponse::from(answer))
}

/// Whether the answer is an RFC 7807 problem document (which instant-acme reads itself).
fn response_is_problem(answer: &http::response::Builder) -> bool {
    answer
        .headers_ref()
        .and_then(|headers| headers.get(http::header::CONTENT_TYPE))
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/problem+json"))
}

/// An error with its sources, `outer: inner: innermost` (reqwest hides the cause otherwise).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
