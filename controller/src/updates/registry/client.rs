//! [`RegistryClient`]: HTTP requests to registries with authentication, rate limits and the
//! cache. HTTPS (rustls with ring, the system's roots) except for loopback registries and
//! those listed in [`ClientOptions::plain_http`].

use super::auth::{self, Challenge, TokenCache};
use super::cache::Cache;
use super::ratelimit::{Limits, RateLimitStatus};
use super::transport::{
    basic, chain, check_content, header_str, next_link, tls_config, unreachable,
};
use super::{RegistryError, Repo};
use crate::updates::credentials::CredentialSource;
use crate::updates::manifest::{self, Manifest};
use crate::updates::reference::{api_host, is_loopback};
use reqwest::{header, Method, StatusCode};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// How the client behaves.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub user_agent: String,
    /// Per request, including connecting.
    pub timeout: Duration,
    /// How long a tag's digest and a repository's tag list are reused.
    pub cache_ttl: Duration,
    /// Registries (normalised hosts) spoken to over plain HTTP although not on loopback.
    pub plain_http: HashSet<String>,
}

impl ClientOptions {
    /// The cache lifetime for scheduled checks every `check_interval`: half the interval, at
    /// most 15 minutes, so each scheduled check asks the registry afresh (a push is seen at the
    /// next check, not an interval later) while the containers of one check that share an
    /// image still share one answer.
    pub fn cache_ttl_for(check_interval: Duration) -> Duration {
        (check_interval / 2).min(Duration::from_secs(15 * 60))
    }
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            user_agent: format!("unity-controller/{}", env!("CARGO_PKG_VERSION")),
            timeout: Duration::from_secs(30),
            cache_ttl: Duration::from_secs(15 * 60),
            plain_http: HashSet::new(),
        }
    }
}

/// A client for the OCI distribution API, shared by all checks (cheap to share via `Arc`).
pub struct RegistryClient {
    http: reqwest::Client,
    options: ClientOptions,
    credentials: Arc<dyn CredentialSource>,
    tokens: TokenCache,
    limits: Limits,
    cache: Cache,
}

/// Most tag-list pages followed (Docker Hub pages are 100 to 1000 tags).
const MAX_TAG_PAGES: usize = 50;

impl RegistryClient {
    /// Builds the client. Fails only when the system's TLS roots cannot be loaded.
    pub fn new(
        options: ClientOptions,
        credentials: Arc<dyn CredentialSource>,
    ) -> Result<RegistryClient, RegistryError> {
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config()?)
            .user_agent(options.user_agent.clone())
            .timeout(options.timeout)
            .connect_timeout(options.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|error| RegistryError::Setup(chain(&error)))?;
        Ok(RegistryClient {
            http,
            cache: Cache::new(options.cache_ttl),
            options,
            credentials,
            tokens: TokenCache::default(),
            limits: Limits::default(),
        })
    }

    /// The digest a tag points to now (`HEAD` of the manifest, `Docker-Content-Digest`),
    /// cached per (registry, repository, tag).
    pub async fn tag_digest(&self, repo: &Repo, tag: &str) -> Result<String, RegistryError> {
        if let Some(digest) = self.cache.digest(&repo.registry, &repo.repository, tag) {
            return Ok(digest);
        }
        let url = self.url(repo, &format!("manifests/{tag}"));
        let what = || format!("manifest {}:{tag}", repo.repository);
        let response = self.send(repo, Method::HEAD, &url, what).await?;
        let digest = match header_str(&response, "docker-content-digest") {
            Some(digest) => digest.to_string(),
            // Some registries omit the header on HEAD: GET and hash the body.
            None => {
                let response = self.send(repo, Method::GET, &url, what).await?;
                let bytes = self.body(repo, response).await?;
                format!("sha256:{}", hex::encode(Sha256::digest(&bytes)))
            }
        };
        self.cache
            .put_digest(&repo.registry, &repo.repository, tag, digest.clone());
        Ok(digest)
    }

    /// The manifest with `digest` (checked against its content), cached forever.
    pub async fn manifest(&self, repo: &Repo, digest: &str) -> Result<Manifest, RegistryError> {
        if let Some(manifest) = self.cache.manifest(digest) {
            return Ok(manifest);
        }
        let url = self.url(repo, &format!("manifests/{digest}"));
        let what = || format!("manifest {}@{digest}", repo.repository);
        let response = self.send(repo, Method::GET, &url, what).await?;
        let content_type = header_str(&response, "content-type").map(str::to_string);
        let bytes = self.body(repo, response).await?;
        check_content(repo, digest, &bytes)?;
        let manifest = manifest::parse(content_type.as_deref(), &bytes).map_err(|error| {
            RegistryError::Protocol {
                registry: repo.registry.clone(),
                message: format!("{digest}: {error}"),
            }
        })?;
        self.cache.put_manifest(digest, manifest.clone());
        Ok(manifest)
    }

    /// The `created` time in the config blob `config_digest`, cached forever.
    pub async fn config_created(
        &self,
        repo: &Repo,
        config_digest: &str,
    ) -> Result<Option<SystemTime>, RegistryError> {
        if let Some(created) = self.cache.created(config_digest) {
            return Ok(created);
        }
        let url = self.url(repo, &format!("blobs/{config_digest}"));
        let what = || format!("config blob {config_digest}");
        let response = self.send(repo, Method::GET, &url, what).await?;
        let bytes = self.body(repo, response).await?;
        check_content(repo, config_digest, &bytes)?;
        let created =
            manifest::config_created(&bytes).map_err(|error| RegistryError::Protocol {
                registry: repo.registry.clone(),
                message: format!("config {config_digest}: {error}"),
            })?;
        self.cache.put_created(config_digest, created);
        Ok(created)
    }

    /// The labels in the config blob `config_digest` (`org.opencontainers.image.source`, …),
    /// for release notes; not cached (asked once per pending update and refresh).
    pub async fn config_labels(
        &self,
        repo: &Repo,
        config_digest: &str,
    ) -> Result<Vec<(String, String)>, RegistryError> {
        let url = self.url(repo, &format!("blobs/{config_digest}"));
        let what = || format!("config blob {config_digest}");
        let response = self.send(repo, Method::GET, &url, what).await?;
        let bytes = self.body(repo, response).await?;
        check_content(repo, config_digest, &bytes)?;
        manifest::config_labels(&bytes).map_err(|error| RegistryError::Protocol {
            registry: repo.registry.clone(),
            message: format!("config {config_digest}: {error}"),
        })
    }

    /// Every tag of the repository (following `Link` pages), cached per repository.
    pub async fn tags(&self, repo: &Repo) -> Result<Arc<Vec<String>>, RegistryError> {
        if let Some(tags) = self.cache.tags(&repo.registry, &repo.repository) {
            return Ok(tags);
        }
        #[derive(serde::Deserialize)]
        struct TagList {
            tags: Option<Vec<String>>,
        }
        let mut tags = Vec::new();
        let mut url = self.url(repo, "tags/list?n=1000");
        for _ in 0..MAX_TAG_PAGES {
            let what = || format!("tag list of {}", repo.repository);
            let response = self.send(repo, Method::GET, &url, what).await?;
            let next = header_str(&response, "link").and_then(next_link);
            let bytes = self.body(repo, response).await?;
            let page: TagList =
                serde_json::from_slice(&bytes).map_err(|error| RegistryError::Protocol {
                    registry: repo.registry.clone(),
                    message: format!("tag list: {error}"),
                })?;
            tags.extend(page.tags.unwrap_or_default());
            match next {
                Some(next) if next.starts_with('/') => url = format!("{}{next}", self.base(repo)),
                Some(next) => url = next,
                None => break,
            }
        }
        let tags = Arc::new(tags);
        self.cache
            .put_tags(&repo.registry, &repo.repository, Arc::clone(&tags));
        Ok(tags)
    }

    /// What is known about a registry's rate limit.
    pub fn rate_limit(&self, registry: &str) -> RateLimitStatus {
        self.limits.status(registry)
    }

    /// Forgets cached digests, tag lists, manifests and created times (not tokens).
    pub fn clear_cache(&self) {
        self.cache.clear();
    }

    fn base(&self, repo: &Repo) -> String {
        let plain = is_loopback(&repo.registry) || self.options.plain_http.contains(&repo.registry);
        let scheme = if plain { "http" } else { "https" };
        format!("{scheme}://{}", api_host(&repo.registry))
    }

    fn url(&self, repo: &Repo, path: &str) -> String {
        format!("{}/v2/{}/{path}", self.base(repo), repo.repository)
    }

    /// Sends a request, authenticating on a `401` challenge and retrying once; maps statuses
    /// other than 2xx/3xx to errors.
    async fn send(
        &self,
        repo: &Repo,
        method: Method,
        url: &str,
        what: impl Fn() -> String,
    ) -> Result<reqwest::Response, RegistryError> {
        let registry = repo.registry.as_str();
        if let Some(until) = self.limits.limited_until(registry, SystemTime::now()) {
            return Err(RegistryError::RateLimited {
                registry: registry.into(),
                until,
            });
        }
        let scope = format!("repository:{}:pull", repo.repository);
        let mut authorization = self.tokens.get(registry, &scope);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = self
                .http
                .request(method.clone(), url)
                .header(header::ACCEPT, manifest::ACCEPT_MANIFESTS);
            if let Some(value) = &authorization {
                request = request.header(header::AUTHORIZATION, value);
            }
            let response = request
                .send()
                .await
                .map_err(|error| unreachable(registry, &error))?;
            if let Some(remaining) = header_str(&response, "ratelimit-remaining") {
                self.limits.record_remaining(registry, remaining);
            }
            let status = response.status();
            match status {
                StatusCode::TOO_MANY_REQUESTS => {
                    let retry_after = header_str(&response, "retry-after");
                    let until = self
                        .limits
                        .record_429(registry, retry_after, SystemTime::now());
                    tracing::warn!(registry, until = %humantime::format_rfc3339_seconds(until), "Registry rate limit hit.");
                    return Err(RegistryError::RateLimited {
                        registry: registry.into(),
                        until,
                    });
                }
                StatusCode::UNAUTHORIZED if attempt == 1 => {
                    let challenge =
                        header_str(&response, "www-authenticate").and_then(auth::parse_challenge);
                    self.tokens.forget(registry, &scope);
                    authorization = Some(self.authorize(repo, &scope, challenge).await?);
                }
                StatusCode::UNAUTHORIZED => {
                    self.tokens.forget(registry, &scope);
                    return Err(self.refused(registry, 401));
                }
                StatusCode::FORBIDDEN => {
                    return Err(RegistryError::Denied {
                        registry: registry.into(),
                        repository: repo.repository.clone(),
                    })
                }
                StatusCode::NOT_FOUND => {
                    return Err(RegistryError::NotFound {
                        registry: registry.into(),
                        what: what(),
                    })
                }
                _ if status.is_success() => return Ok(response),
                _ => {
                    return Err(RegistryError::Status {
                        registry: registry.into(),
                        status: status.as_u16(),
                        what: what(),
                    })
                }
            }
        }
    }

    /// Answers a challenge: a Basic header, or a bearer token from the realm (with Basic
    /// credentials when configured). The value is cached per (registry, scope).
    async fn authorize(
        &self,
        repo: &Repo,
        scope: &str,
        challenge: Option<Challenge>,
    ) -> Result<String, RegistryError> {
        let registry = repo.registry.as_str();
        let credentials = self.credentials.credentials(registry);
        match challenge {
            Some(Challenge::Bearer { realm, service, .. }) => {
                let mut url =
                    reqwest::Url::parse(&realm).map_err(|error| RegistryError::Protocol {
                        registry: registry.into(),
                        message: format!("token realm {realm:?}: {error}"),
                    })?;
                url.query_pairs_mut().append_pair("scope", scope);
                if let Some(service) = &service {
                    url.query_pairs_mut().append_pair("service", service);
                }
                let mut request = self.http.get(url);
                if let Some(credentials) = &credentials {
                    request = request.basic_auth(&credentials.username, Some(&credentials.secret));
                }
                let response = request
                    .send()
                    .await
                    .map_err(|error| unreachable(registry, &error))?;
                let status = response.status();
                if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                    return Err(self.refused(registry, status.as_u16()));
                }
                if status == StatusCode::TOO_MANY_REQUESTS {
                    let retry_after = header_str(&response, "retry-after");
                    let until = self
                        .limits
                        .record_429(registry, retry_after, SystemTime::now());
                    return Err(RegistryError::RateLimited {
                        registry: registry.into(),
                        until,
                    });
                }
                if !status.is_success() {
                    return Err(RegistryError::Status {
                        registry: registry.into(),
                        status: status.as_u16(),
                        what: "token request".into(),
                    });
                }
                let bytes = self.body(repo, response).await?;
                let token = auth::parse_token(&bytes).ok_or_else(|| RegistryError::Protocol {
                    registry: registry.into(),
                    message: "token server answered without a token".into(),
                })?;
                let value = format!("Bearer {}", token.token);
                self.tokens
                    .put(registry, scope, value.clone(), Some(token.expires_in));
                Ok(value)
            }
            Some(Challenge::Basic) | None => {
                let Some(credentials) = credentials else {
                    return Err(RegistryError::CredentialsRequired {
                        registry: registry.into(),
                        status: 401,
                    });
                };
                let value = basic(&credentials.username, &credentials.secret);
                self.tokens.put(registry, scope, value.clone(), None);
                Ok(value)
            }
        }
    }

    fn refused(&self, registry: &str, status: u16) -> RegistryError {
        if self.credentials.credentials(registry).is_some() {
            RegistryError::Refused {
                registry: registry.into(),
                status,
            }
        } else {
            RegistryError::CredentialsRequired {
                registry: registry.into(),
                status,
            }
        }
    }

    async fn body(
        &self,
        repo: &Repo,
        response: reqwest::Response,
    ) -> Result<Vec<u8>, RegistryError> {
        let bytes = response
            .bytes()
            .await
            .map_err(|error| unreachable(&repo.registry, &error))?;
        Ok(bytes.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::ClientOptions;
    use std::time::Duration;

    #[test]
    fn issue_17_a_scheduled_check_never_reads_an_answer_from_the_previous_check() {
        for minutes in [1, 2, 10, 14, 30, 31, 360, 24 * 60] {
            let interval = Duration::from_secs(minutes * 60);
            let ttl = ClientOptions::cache_ttl_for(interval);
            assert!(ttl < interval, "{minutes} min: ttl {ttl:?}");
            assert!(ttl <= Duration::from_secs(15 * 60));
            assert!(ttl >= interval.min(Duration::from_secs(30 * 60)) / 2);
        }
    }
}
