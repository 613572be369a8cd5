//! HTTP delivery: a [`Request`] as the pure builders in [`super::chat`] describe it, sent with
//! the controller's rustls client; the answer's status and `Retry-After` become a
//! [`NotifyError`] the worker knows how to retry. URLs are never part of an error (they hold
//! tokens).

use super::NotifyError;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Post,
    Put,
}

/// What a request carries.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Json(serde_json::Value),
    /// `application/x-www-form-urlencoded`.
    Form(Vec<(String, String)>),
    /// `text/plain`, as is.
    Text(String),
    /// JSON already serialized (a signature covers these exact bytes).
    RawJson(String),
}

/// One HTTP request to a receiver.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

/// The wait a `Retry-After` header asks for (delta-seconds; an HTTP date counts as absent).
pub fn retry_after(value: Option<&str>) -> Option<Duration> {
    let seconds: u64 = value?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds.min(3600)))
}

/// The HTTP client for receivers ([`crate::outbound`]): 15 s per request, 5 s to connect,
/// redirects followed as browsers would (up to 10).
pub fn client() -> Result<reqwest::Client, NotifyError> {
    let options = crate::outbound::HttpOptions {
        connect_timeout: Duration::from_secs(5),
        redirects: crate::outbound::Redirects::Limited(10),
        ..crate::outbound::HttpOptions::new(Duration::from_secs(15))
    };
    crate::outbound::http_client(&options).map_err(|error| NotifyError::Client(error.to_string()))
}

/// Sends one request; any non-2xx answer is an error.
pub async fn send(client: &reqwest::Client, request: Request) -> Result<(), NotifyError> {
    let mut builder = match request.method {
        Method::Post => client.post(&request.url),
        Method::Put => client.put(&request.url),
    };
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder = match request.body {
        Body::Json(value) => builder
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(value.to_string()),
        Body::RawJson(text) => builder
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(text),
        Body::Text(text) => builder
            .header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(text),
        Body::Form(pairs) => {
            let encoded = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish();
            builder
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(encoded)
        }
    };
    let response = builder.send().await.map_err(NotifyError::from_reqwest)?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let retry_after = retry_after(
        response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok()),
    );
    Err(NotifyError::Status {
        status: status.as_u16(),
        retry_after,
    })
}
