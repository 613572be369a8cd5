//! The HTTP client the OpenID Connect flow talks to the provider with: the controller's
//! reqwest (rustls with ring and the platform's trust store), never following redirects (so a
//! provider cannot point the controller elsewhere), adapted to `openidconnect`'s requests.

use openidconnect::{HttpRequest, HttpResponse};
use std::future::Future;
use std::pin::Pin;

/// A request under way.
pub type Sending = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send>>;

/// `openidconnect`'s HTTP client: each request sent with (a clone of) `http`.
pub fn sender(http: reqwest::Client) -> impl Fn(HttpRequest) -> Sending + Send + Sync {
    move |request| {
        let http = http.clone();
        Box::pin(async move { send(&http, request).await })
    }
}

/// A failed request to the provider.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

/// The client for the provider ([`crate::outbound`]): no redirects, bounded by the flow's timeout.
pub fn client() -> Result<reqwest::Client, HttpError> {
    crate::outbound::http_client(&crate::outbound::HttpOptions::new(super::HTTP_TIMEOUT))
        .map_err(|error| HttpError(error.to_string()))
}

/// Sends one of `openidconnect`'s requests with `http`.
async fn send(http: &reqwest::Client, request: HttpRequest) -> Result<HttpResponse, HttpError> {
    let (parts, body) = request.into_parts();
    let mut outgoing = http.request(parts.method, parts.uri.to_string()).body(body);
    for (name, value) in &parts.headers {
        outgoing = outgoing.header(name, value);
    }
    let response = outgoing
        .send()
        .await
        .map_err(|error| HttpError(format!("{}: {error}", parts.uri)))?;
    let mut answer = openidconnect::http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        answer = answer.header(name, value);
    }
    let bytes = response
        .bytes()
        .await
        .map_err(|error| HttpError(format!("{}: {error}", parts.uri)))?;
    answer
        .body(bytes.to_vec())
        .map_err(|error| HttpError(error.to_string()))
}
