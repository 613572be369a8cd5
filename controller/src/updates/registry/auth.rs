//! Registry authentication: parsing `WWW-Authenticate` challenges (pure), the token server's
//! answer (pure), and the cache of `Authorization` values per (registry, scope).
//!
//! The flow, as Docker Hub, GHCR, Quay and lscr.io use it: a request without credentials gets
//! `401` with `WWW-Authenticate: Bearer realm="…",service="…",scope="…"`; the client asks the
//! realm for a token (with Basic credentials when it has them, anonymously otherwise) and
//! repeats the request with `Authorization: Bearer <token>`. Plain Basic registries answer
//! `WWW-Authenticate: Basic realm="…"`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// A parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// `Bearer realm=…,service=…,scope=…`.
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
    /// `Basic realm=…`.
    Basic,
}

/// Parses a `WWW-Authenticate` header value; `None` for unknown schemes or a Bearer challenge
/// without a realm.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header
        .split_once(char::is_whitespace)
        .unwrap_or((header, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let parameters = parse_parameters(rest);
    let get = |name: &str| {
        parameters
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.clone())
    };
    Some(Challenge::Bearer {
        realm: get("realm").filter(|realm| !realm.is_empty())?,
        service: get("service"),
        scope: get("scope"),
    })
}

/// `key=value` or `key="quoted, value"` pairs separated by commas.
fn parse_parameters(text: &str) -> Vec<(String, String)> {
    let mut parameters = Vec::new();
    let mut rest = text.trim_start();
    while let Some((key, after)) = rest.split_once('=') {
        let key = key.trim().trim_start_matches(',').trim().to_string();
        let after = after.trim_start();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((index, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, escaped)) = chars.next() {
                            value.push(escaped);
                        }
                    }
                    '"' => {
                        end = index + 1;
                        break;
                    }
                    _ => value.push(c),
                }
            }
            (value, &quoted[end..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_string(), &after[end..])
        };
        parameters.push((key, value));
        rest = remaining.trim_start().trim_start_matches(',').trim_start();
    }
    parameters
}

/// A token server's answer.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    pub token: String,
    /// How long it is valid; 60 s when the server does not say (the distribution spec's
    /// default).
    pub expires_in: Duration,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

#[derive(serde::Deserialize)]
struct RawToken {
    token: Option<String>,
    access_token: Option<String>,
    expires_in: Option<u64>,
}

/// Parses the token server's JSON (`token` or `access_token`, `expires_in` seconds).
pub fn parse_token(bytes: &[u8]) -> Option<Token> {
    let raw: RawToken = serde_json::from_slice(bytes).ok()?;
    let token = raw.token.or(raw.access_token).filter(|t| !t.is_empty())?;
    Some(Token {
        token,
        expires_in: Duration::from_secs(raw.expires_in.unwrap_or(60).max(1)),
    })
}

/// An `Authorization` value and when it stops being used (`None`: never).
type CachedValue = (String, Option<Instant>);

/// Cached `Authorization` header values per (registry, scope). Bearer tokens expire a little
/// before the server's `expires_in`; Basic values do not expire.
#[derive(Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<(String, String), CachedValue>>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenCache(<redacted>)")
    }
}

impl TokenCache {
    /// The cached header value, if present and not expired.
    pub fn get(&self, registry: &str, scope: &str) -> Option<String> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let key = (registry.to_string(), scope.to_string());
        match entries.get(&key) {
            Some((_, Some(expires))) if *expires <= Instant::now() => {
                entries.remove(&key);
                None
            }
            Some((value, _)) => Some(value.clone()),
            None => None,
        }
    }

    /// Stores a header value; `lifetime` `None` means it does not expire (Basic).
    pub fn put(&self, registry: &str, scope: &str, value: String, lifetime: Option<Duration>) {
        // Renew a little early so a token does not expire in flight.
        let expires =
            lifetime.map(|l| Instant::now() + l.saturating_sub(l / 10 + Duration::from_secs(1)));
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.insert((registry.to_string(), scope.to_string()), (value, expires));
    }

    /// Forgets what is cached for a registry (after it refused a value).
    pub fn forget(&self, registry: &str, scope: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.remove(&(registry.to_string(), scope.to_string()));
    }

    /// How many values are cached (for tests and metrics).
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(header: &str, expect: Option<Challenge>) {
        assert_eq!(parse_challenge(header), expect, "{header}");
    }

    fn bearer(realm: &str, service: Option<&str>, scope: Option<&str>) -> Option<Challenge> {
        Some(Challenge::Bearer {
            realm: realm.into(),
            service: service.map(Into::into),
            scope: scope.map(Into::into),
        })
    }

    #[test]
    fn challenges() {
        check(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull""#,
            bearer(
                "https://auth.docker.io/token",
                Some("registry.docker.io"),
                Some("repository:library/nginx:pull"),
            ),
        );
        check(
            r#"Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:a/b:pull,push""#,
            bearer(
                "https://ghcr.io/token",
                Some("ghcr.io"),
                Some("repository:a/b:pull,push"),
            ),
        );
        check(
            r#"bearer realm=http://x/t, service=s"#,
            bearer("http://x/t", Some("s"), None),
        );
        check(r#"Bearer realm="a\"b""#, bearer("a\"b", None, None));
        check(r#"Basic realm="Registry Realm""#, Some(Challenge::Basic));
        check("Basic", Some(Challenge::Basic));
        check(r#"Bearer service="s""#, None);
        check(r#"Digest realm="x""#, None);
        check("", None);
        check(
            r#"Bearer realm="unterminated"#,
            bearer("unterminated", None, None),
        );
    }

    #[test]
    fn tokens() {
        let token = parse_token(br#"{"token":"abc","expires_in":300}"#).unwrap();
        assert_eq!(token.expires_in, Duration::from_secs(300));
        let token = parse_token(br#"{"access_token":"xyz"}"#).unwrap();
        assert_eq!(
            (token.token.as_str(), token.expires_in.as_secs()),
            ("xyz", 60)
        );
        assert!(parse_token(br#"{"token":""}"#).is_none());
        assert!(parse_token(b"nope").is_none());
        assert!(!format!("{token:?}").contains("xyz"));
    }

    #[tokio::test(start_paused = true)]
    async fn cache_honours_expiry() {
        let cache = TokenCache::default();
        cache.put("r", "s", "Bearer a".into(), Some(Duration::from_secs(100)));
        cache.put("r", "basic", "Basic b".into(), None);
        assert_eq!(cache.get("r", "s").as_deref(), Some("Bearer a"));
        assert_eq!(cache.get("r", "other"), None);
        tokio::time::advance(Duration::from_secs(80)).await;
        assert_eq!(cache.get("r", "s").as_deref(), Some("Bearer a"));
        tokio::time::advance(Duration::from_secs(15)).await;
        assert_eq!(
            cache.get("r", "s"),
            None,
            "renewed before the server's expiry"
        );
        assert_eq!(cache.get("r", "basic").as_deref(), Some("Basic b"));
    }
}
