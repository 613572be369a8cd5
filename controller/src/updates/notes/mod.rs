//! Release notes for pending updates (issue 17 §3): after each update check, every container
//! with a pending update gets the notes of the releases between what it runs and its
//! candidate, stored with the update (`storage::release_notes`), and, when configured, the
//! language model's summary of them ([`super::summary`]).
//!
//! - [`source`]: where the notes are (labels, the known-repositories table; pure).
//! - [`known`]: the known-repositories table.
//! - [`releases`]: the forges' release lists, the releases between two tags, cut bodies and
//!   warning words (pure).
//! - [`fetch`]: the forges' APIs, their rate limits.
//! - [`settings`](mod@settings): the `[updates.release_notes]` section.
//!
//! Nothing here blocks an update or a check: it runs after the check, in its own task, one at
//! a time, and every failure is kept as the notes' error. See `docs/updates.md`, "Release notes".

pub mod fetch;
pub mod known;
pub mod releases;
pub mod settings;
pub mod source;

use self::source::{Found, NotesSource, Provider};
use crate::context::Context;
use crate::storage::agents::StateKind;
use crate::storage::containers::CheckOutcome;
use crate::storage::release_notes::{
    CachedReleases, NotesOrigin, NotesRecord, Release, SummaryRecord,
};
use crate::updates::manifest::{self, Manifest};
use crate::updates::reference::ImageRef;
use crate::updates::registry::{RegistryClient, Repo};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};
use unity_shared::model::container::{ContainerInventory, Platform};
use unity_shared::proto::AgentId;

/// One pending update to find notes for.
struct Job {
    agent_id: AgentId,
    container: String,
    image: String,
    labels: Vec<(String, String)>,
    platform: Option<Platform>,
    current_tag: Option<String>,
    candidate_tag: String,
    candidate_digest: String,
    previous: Option<NotesRecord>,
}

/// What a refresh reads from the store first (blocking).
struct Plan {
    jobs: Vec<Job>,
    tokens: BTreeMap<Provider, String>,
    summary_key: Option<String>,
    /// Forge hosts that asked to be left alone, until when (Unix ms).
    limits: HashMap<String, i64>,
}

fn now_ms() -> i64 {
    crate::clock::now_ms()
}

fn plan(ctx: &Context) -> anyhow::Result<Plan> {
    let store = &ctx.store;
    let settings = &ctx.config.updates.release_notes;
    let mut jobs = Vec::new();
    for agent in store.agents.agents()? {
        if agent.revoked_at.is_some() {
            continue;
        }
        let agent_id = agent.agent_id;
        let inventory = store
            .agents
            .latest::<ContainerInventory>(&agent_id, StateKind::Containers)?
            .map(|(_, inventory)| inventory)
            .unwrap_or_default();
        for check in store.containers.checks_of(&agent_id)? {
            let CheckOutcome::Update(update) = check.outcome else {
                continue;
            };
            let container = inventory
                .containers
                .iter()
                .find(|c| c.name == check.container);
            jobs.push(Job {
                previous: store.release_notes.get(&agent_id, &check.container)?,
                agent_id: agent_id.clone(),
                labels: container.map(|c| c.labels.clone()).unwrap_or_default(),
                platform: container.and_then(|c| c.platform.clone()),
                container: check.container,
                image: check.image,
                current_tag: update.current_tag,
                candidate_tag: update.candidate_tag,
                candidate_digest: update.candidate_digest,
            });
        }
    }
    let pending: std::collections::HashSet<(AgentId, String)> = jobs
        .iter()
        .map(|job| (job.agent_id.clone(), job.container.clone()))
        .collect();
    store.release_notes.retain(|agent_id, container| {
        pending.contains(&(agent_id.clone(), container.to_owned()))
    })?;
    store
        .release_notes
        .expire_cache(now_ms() - 7 * 86_400_000)?;
    let key = crate::updates::credentials::CredentialKey::open_or_create(&ctx.config.data_dir)?;
    let secret = |name: &Option<String>| -> Option<String> {
        let name = name.as_deref()?;
        let opened = store
            .secrets
            .get(name)
            .ok()
            .flatten()
            .and_then(|record| {
                key.sealing()
                    .open(&crate::sealing::secret_aad(name), &record.sealed)
                    .ok()
            })
            .and_then(|value| String::from_utf8(value).ok());
        if opened.is_none() {
            tracing::warn!(secret = %name, "Release notes: the named secret is missing or not text.");
        }
        opened.map(|value| value.trim().to_owned())
    };
    let mut tokens = BTreeMap::new();
    for (provider, name) in [
        (Provider::Github, &settings.github_token_secret),
        (Provider::Gitlab, &settings.gitlab_token_secret),
        (Provider::Gitea, &settings.gitea_token_secret),
    ] {
        if let Some(token) = secret(name) {
            tokens.insert(provider, token);
        }
    }
    let summary = &ctx.config.updates.summary;
    let summary_key = match (&summary.api_key_secret, &summary.api_key_file) {
        (Some(_), _) => secret(&summary.api_key_secret),
        (None, Some(path)) => match std::fs::read_to_string(path) {
            Ok(text) => key_from_file(&text),
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "Summary: the key file cannot be read.");
                None
            }
        },
        (None, None) => None,
    };
    let mut limits = HashMap::new();
    for host in hosts_of(settings) {
        if let Some(until) = store.release_notes.limited_until(&host)? {
            limits.insert(host, until);
        }
    }
    Ok(Plan {
        jobs,
        tokens,
        summary_key,
        limits,
    })
}

/// The forge API hosts the settings name.
fn hosts_of(settings: &settings::NotesSettings) -> Vec<String> {
    let mut hosts = vec![fetch::host_of(&settings.github_api_url)];
    hosts.extend(settings.gitlab_hosts.iter().cloned());
    hosts.extend(settings.gitea_hosts.iter().cloned());
    hosts
}

/// The key in a key file: the whole (trimmed) text, or the first `NAME=value` line's value
/// (an environment file).
fn key_from_file(text: &str) -> Option<String> {
    let line = text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with('#'))?;
    let value = match line.split_once('=') {
        Some((name, value)) if !name.contains(' ') && !name.is_empty() => value,
        _ => line,
    };
    Some(value.trim().trim_matches('"').to_owned()).filter(|value| !value.is_empty())
}

/// The candidate's config labels, through the registry (the manifest is cached by the client).
async fn candidate_labels(registry: &RegistryClient, job: &Job) -> Vec<(String, String)> {
    let Ok(reference) = ImageRef::parse(&job.image) else {
        return Vec::new();
    };
    let repo = Repo::new(&reference.registry, &reference.repository);
    let labels = async {
        let config = match registry.manifest(&repo, &job.candidate_digest).await? {
            Manifest::Image { config_digest } => config_digest,
            Manifest::Index(entries) => {
                let platform = job.platform.clone().unwrap_or_else(|| Platform {
                    os: "linux".into(),
                    architecture: "amd64".into(),
                    variant: None,
                });
                let Some(entry) = manifest::select_platform(&entries, &platform) else {
                    return Ok(Vec::new());
                };
                match registry.manifest(&repo, &entry.digest).await? {
                    Manifest::Image { config_digest } => config_digest,
                    Manifest::Index(_) => return Ok(Vec::new()),
                }
            }
        };
        registry.config_labels(&repo, &config).await
    };
    match labels.await {
        Ok(labels) => labels,
        Err(error) => {
            tracing::debug!(image = %job.image, %error, "Candidate config labels not read.");
            Vec::new()
        }
    }
}

/// Updates the notes of every pending update; `registry` reads the candidates' config labels
/// (without it, only the containers' labels and the table are used). Returns how many
/// containers' notes were written. One refresh at a time: a call while one runs returns 0.
pub async fn refresh(
    ctx: &Arc<Context>,
    registry: Option<Arc<RegistryClient>>,
) -> anyhow::Result<usize> {
    let Ok(_running) = ctx.update_watch.notes_lock.try_lock() else {
        return Ok(0);
    };
    let settings = ctx.config.updates.release_notes.clone();
    if !settings.enabled {
        return Ok(0);
    }
    let summary_settings = ctx.config.updates.summary.clone();
    let plan_ctx = ctx.clone();
    let mut plan = tokio::task::spawn_blocking(move || plan(&plan_ctx)).await??;
    let http = fetch::http_client(settings.timeout).map_err(anyhow::Error::msg)?;
    let mut fetched: HashMap<String, Result<Vec<Release>, String>> = HashMap::new();
    let mut written = Vec::new();
    for job in std::mem::take(&mut plan.jobs) {
        let now = now_ms();
        let fresh_ms = settings.cache_ttl.as_millis() as i64;
        if let Some(previous) = &job.previous {
            let summary_done = !summary_settings.enabled
                || previous.releases.is_empty()
                || previous.summary.as_ref().is_some_and(|s| s.error.is_none());
            if previous.candidate_digest == job.candidate_digest
                && now - previous.fetched_at_ms < fresh_ms
                && summary_done
            {
                continue;
            }
        }
        let candidate_labels = match &registry {
            Some(registry) => candidate_labels(registry, &job).await,
            None => Vec::new(),
        };
        let (registry_host, repository) = match ImageRef::parse(&job.image) {
            Ok(reference) => (reference.registry, reference.repository),
            Err(_) => (String::new(), String::new()),
        };
        let found = source::find(
            &job.labels,
            &candidate_labels,
            &registry_host,
            &repository,
            &settings,
        );
        let mut record = NotesRecord {
            agent_id: job.agent_id.clone(),
            container: job.container.clone(),
            candidate_digest: job.candidate_digest.clone(),
            fetched_at_ms: now,
            origin: None,
            releases: Vec::new(),
            error: None,
            summary: None,
        };
        match found {
            Found::Nothing => {
                record.error = Some(format!(
                    "no source repository known: label the image {} or the container {}",
                    "org.opencontainers.image.source",
                    source::CHANGELOG_LABEL
                ));
            }
            Found::Link { url, from } => {
                record.origin = Some(NotesOrigin {
                    provider: "link".into(),
                    url,
                    found_by: from,
                });
            }
            Found::Source { source, from } => {
                record.origin = Some(NotesOrigin {
                    provider: source.provider.as_str().into(),
                    url: source.web_url.clone(),
                    found_by: from,
                });
                let list = match fetched.get(&source.cache_key()) {
                    Some(list) => list.clone(),
                    None => {
                        let list = releases_for(ctx, &http, &source, &plan, &settings).await;
                        // A host that refused is not asked again in this run either.
                        match &list {
                            Err(FetchFailure::Limited { host, until_ms }) => {
                                plan.limits.insert(host.clone(), *until_ms);
                            }
                            Err(FetchFailure::Fetch(fetch::FetchError::RateLimited {
                                host,
                                until,
                            })) => {
                                let until_ms = until
                                    .duration_since(UNIX_EPOCH)
                                    .map_or(0, |since| since.as_millis() as i64);
                                plan.limits.insert(host.clone(), until_ms);
                            }
                            _ => {}
                        }
                        let list = list.map_err(|failure| failure.to_string());
                        fetched.insert(source.cache_key(), list.clone());
                        list
                    }
                };
                match list {
                    Ok(list) => {
                        record.releases = releases::between(
                            &list,
                            job.current_tag.as_deref(),
                            &job.candidate_tag,
                            settings.max_releases,
                        );
                        if record.releases.is_empty() {
                            record.error = Some(format!(
                                "no release between {} and {} in {}",
                                job.current_tag.as_deref().unwrap_or("?"),
                                job.candidate_tag,
                                source.web_url
                            ));
                        }
                    }
                    Err(error) => {
                        record.error = Some(error);
                        // Keep the notes fetched before for the same candidate.
                        if let Some(previous) = &job.previous {
                            if previous.candidate_digest == job.candidate_digest {
                                record.releases = previous.releases.clone();
                            }
                        }
                    }
                }
            }
        }
        let same_candidate = job
            .previous
            .as_ref()
            .filter(|previous| previous.candidate_digest == job.candidate_digest);
        record.summary = same_candidate.and_then(|previous| previous.summary.clone());
        let needs_summary = summary_settings.enabled
            && !record.releases.is_empty()
            && record
                .summary
                .as_ref()
                .is_none_or(|summary| summary.error.is_some());
        if needs_summary {
            record.summary = Some(
                summarise(
                    &http,
                    &summary_settings,
                    plan.summary_key.as_deref(),
                    &job,
                    &record.releases,
                )
                .await,
            );
        }
        written.push(record);
    }
    let n_written = written.len();
    let store = ctx.store.clone();
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        for record in &written {
            store.release_notes.put(record)?;
        }
        Ok(())
    })
    .await??;
    Ok(n_written)
}

async fn summarise(
    http: &reqwest::Client,
    settings: &crate::updates::summary::settings::SummarySettings,
    key: Option<&str>,
    job: &Job,
    releases: &[Release],
) -> SummaryRecord {
    let current = job.current_tag.as_deref().unwrap_or("the running version");
    let prompt = crate::updates::summary::prompt(
        &job.image,
        current,
        &job.candidate_tag,
        releases,
        settings.max_prompt_bytes,
    );
    let record = crate::updates::summary::summarise(http, settings, key, prompt, now_ms()).await;
    if let Some(error) = &record.error {
        tracing::info!(container = %job.container, %error, "Release notes summary failed.");
    }
    record
}

/// Why a release list is missing.
#[derive(Debug, thiserror::Error)]
enum FetchFailure {
    #[error("{0}")]
    Fetch(#[from] fetch::FetchError),
    #[error("rate limited by {host} until {}: not asked", humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis((*until_ms).max(0) as u64)))]
    Limited { host: String, until_ms: i64 },
    #[error("storage: {0}")]
    Storage(String),
}

/// A repository's releases: from the cache while fresh, else from the forge (unless it asked
/// to be left alone), then cached; a rate limit is stored for its host.
async fn releases_for(
    ctx: &Arc<Context>,
    http: &reqwest::Client,
    source: &NotesSource,
    plan: &Plan,
    settings: &settings::NotesSettings,
) -> Result<Vec<Release>, FetchFailure> {
    let store = ctx.store.clone();
    let key = source.cache_key();
    let cached = {
        let (store, key) = (store.clone(), key.clone());
        tokio::task::spawn_blocking(move || store.release_notes.cached(&key))
            .await
            .map_err(|error| FetchFailure::Storage(error.to_string()))?
            .map_err(|error| FetchFailure::Storage(error.to_string()))?
    };
    let now = now_ms();
    if let Some(cached) = &cached {
        if now - cached.fetched_at_ms < settings.cache_ttl.as_millis() as i64 {
            return Ok(cached.releases.clone());
        }
    }
    let host = fetch::host_of(&source.api_base);
    if let Some(until_ms) = plan.limits.get(&host).copied().filter(|until| *until > now) {
        return Err(FetchFailure::Limited { host, until_ms });
    }
    let token = plan.tokens.get(&source.provider).map(String::as_str);
    match fetch::releases_of(http, source, token, settings.max_body_bytes).await {
        Ok(releases) => {
            let record = CachedReleases {
                fetched_at_ms: now,
                releases: releases.clone(),
            };
            tokio::task::spawn_blocking(move || store.release_notes.put_cached(&key, &record))
                .await
                .map_err(|error| FetchFailure::Storage(error.to_string()))?
                .map_err(|error| FetchFailure::Storage(error.to_string()))?;
            Ok(releases)
        }
        Err(fetch::FetchError::RateLimited { host, until }) => {
            let until_ms = until
                .duration_since(UNIX_EPOCH)
                .map_or(now, |since| since.as_millis() as i64);
            tracing::info!(%host, until = %humantime::format_rfc3339_seconds(until), "Release notes: rate limited, backing off.");
            let limit_host = host.clone();
            tokio::task::spawn_blocking(move || {
                store.release_notes.put_limit(&limit_host, until_ms)
            })
            .await
            .map_err(|error| FetchFailure::Storage(error.to_string()))?
            .map_err(|error| FetchFailure::Storage(error.to_string()))?;
            Err(fetch::FetchError::RateLimited { host, until }.into())
        }
        Err(error) => Err(error.into()),
    }
}

/// Starts a refresh in its own task (after a check run); failures are logged, never returned.
pub fn spawn_refresh(ctx: Arc<Context>, registry: Option<Arc<RegistryClient>>) {
    tokio::spawn(async move {
        match refresh(&ctx, registry).await {
            Ok(0) => {}
            Ok(n_written) => tracing::info!(n_written, "Release notes refreshed."),
            Err(error) => tracing::warn!(
                error = format!("{error:#}"),
                "Release notes refresh failed."
            ),
        }
    });
}

#[cfg(test)]
mod tests;
