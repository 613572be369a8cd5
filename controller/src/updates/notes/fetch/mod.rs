//! Fetching a repository's releases from its forge over the controller's reqwest (rustls with
//! ring, the platform's roots): one bounded page (the newest 100), an optional token, and the
//! forges' rate limits read from the answer (403 or 429 with `x-ratelimit-remaining: 0` and
//! `x-ratelimit-reset`, or `retry-after`), so the caller backs off until then.

use super::releases::{self, Release};
use super::source::{NotesSource, Provider};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Largest answer read; a page of 100 releases with long notes stays well below.
const MAX_RESPONSE_BYTES: usize = 8 << 20;
/// Without a usable reset time, a rate-limited forge is left alone this long.
const DEFAULT_BACKOFF: Duration = Duration::from_secs(60);
/// The longest back-off honoured (a bogus reset time must not silence a forge for days).
const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);

/// Why no releases were fetched; the text is shown with the update.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The forge said to come back later.
    #[error("rate limited by {host} until {}", humantime::format_rfc3339_seconds(*until))]
    RateLimited { host: String, until: SystemTime },
    /// Any other answer than 200.
    #[error("{host} answered {status} for {project}")]
    Status {
        host: String,
        project: String,
        status: u16,
    },
    /// No answer.
    #[error("{host} unreachable: {reason}")]
    Unreachable { host: String, reason: String },
    /// An answer that is not a release list.
    #[error("{host}: {message}")]
    Invalid { host: String, message: String },
}

/// The HTTP client for release notes and the language model ([`crate::outbound`]): up to 3
/// redirects, at most 10 s to connect.
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, String> {
    let options = crate::outbound::HttpOptions {
        connect_timeout: timeout.min(Duration::from_secs(10)),
        redirects: crate::outbound::Redirects::Limited(3),
        ..crate::outbound::HttpOptions::new(timeout)
    };
    crate::outbound::http_client(&options).map_err(|error| error.to_string())
}

/// The host part of an API base, for messages and rate limits.
pub fn host_of(api_base: &str) -> String {
    let rest = api_base
        .split_once("://")
        .map_or(api_base, |(_, rest)| rest);
    rest.split('/').next().unwrap_or(rest).to_owned()
}

/// The release list's URL.
fn url(source: &NotesSource) -> String {
    match source.provider {
        Provider::Github => format!(
            "{}/repos/{}/releases?per_page=100",
            source.api_base, source.project
        ),
        Provider::Gitlab => {
            let id = source.project.replace('/', "%2F");
            format!("{}/projects/{id}/releases?per_page=100", source.api_base)
        }
        Provider::Gitea => format!(
            "{}/repos/{}/releases?limit=50",
            source.api_base, source.project
        ),
    }
}

/// When a refused request may be retried, from the answer's headers: `retry-after` (seconds
/// or an HTTP date), else a reset time (`x-ratelimit-reset`, GitLab's `ratelimit-reset`, Unix
/// seconds) when no requests remain. `None`: not a rate limit.
pub fn retry_at(
    status: u16,
    headers: &reqwest::header::HeaderMap,
    now: SystemTime,
) -> Option<SystemTime> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
    };
    let remaining_zero = ["x-ratelimit-remaining", "ratelimit-remaining"]
        .iter()
        .any(|name| header(name) == Some("0"));
    if status != 429 && !(status == 403 && (remaining_zero || header("retry-after").is_some())) {
        return None;
    }
    let bounded = |at: SystemTime| at.clamp(now, now + MAX_BACKOFF);
    if let Some(value) = header("retry-after") {
        if let Ok(seconds) = value.parse::<u64>() {
            return Some(bounded(now + Duration::from_secs(seconds)));
        }
        // An HTTP date (`Wed, 21 Oct 2015 07:28:00 GMT`) is RFC 2822's shape.
        let parser = jiff::fmt::rfc2822::DateTimeParser::new();
        if let Ok(at) = parser.parse_timestamp(value) {
            let seconds = Duration::from_secs(at.as_second().max(0) as u64);
            return Some(bounded(UNIX_EPOCH + seconds));
        }
    }
    if remaining_zero {
        for name in ["x-ratelimit-reset", "ratelimit-reset"] {
            if let Some(seconds) = header(name).and_then(|value| value.parse::<u64>().ok()) {
                return Some(bounded(UNIX_EPOCH + Duration::from_secs(seconds)));
            }
        }
    }
    Some(now + DEFAULT_BACKOFF)
}

/// The releases of `source`, bodies cut to `max_body_bytes`. `token` is sent as the forge
/// expects it (never logged).
pub async fn releases_of(
    http: &reqwest::Client,
    source: &NotesSource,
    token: Option<&str>,
    max_body_bytes: usize,
) -> Result<Vec<Release>, FetchError> {
    let host = host_of(&source.api_base);
    let mut request = http.get(url(source)).header("accept", "application/json");
    if source.provider == Provider::Github {
        request = request
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28");
    }
    if let Some(token) = token {
        request = match source.provider {
            Provider::Github => request.bearer_auth(token),
            Provider::Gitlab => request.header("private-token", token),
            Provider::Gitea => request.header("authorization", format!("token {token}")),
        };
    }
    let mut response = request
        .send()
        .await
        .map_err(|error| FetchError::Unreachable {
            host: host.clone(),
            reason: innermost(&error),
        })?;
    let status = response.status().as_u16();
    if let Some(until) = retry_at(status, response.headers(), SystemTime::now()) {
        return Err(FetchError::RateLimited { host, until });
    }
    if status != 200 {
        return Err(FetchError::Status {
            host,
            project: source.project.clone(),
            status,
        });
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                    return Err(FetchError::Invalid {
                        host,
                        message: format!("release list larger than {MAX_RESPONSE_BYTES} bytes"),
                    });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(error) => {
                return Err(FetchError::Unreachable {
                    host,
                    reason: innermost(&error),
                })
            }
        }
    }
    releases::parse(source.provider, &body, max_body_bytes)
        .map_err(|message| FetchError::Invalid { host, message })
}

/// The innermost cause's message (a timeout, a refused connection).
pub fn innermost(error: &dyn std::error::Error) -> String {
    let mut last = error.to_string();
    let mut source = error.source();
    while let Some(current) = source {
        last = current.to_string();
        source = current.source();
    }
    last
}

#[cfg(test)]
mod tests;
