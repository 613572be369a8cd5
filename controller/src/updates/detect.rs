//! Update detection for one container ([`check`]) and many ([`check_all`]).
//!
//! Same tag: `HEAD` the tag; when its digest is one of the container's repo digests it is up to
//! date. Otherwise the manifest is fetched and, for an index, the manifest for the container's
//! platform is resolved: when that manifest (or its config, the image id) is what the container
//! runs, only another platform changed and it is still up to date; else it is a digest update.
//! Newer tags: the repository's tags are compared as versions under the policy and the highest
//! allowed tag that exists for the container's platform is offered. A tag update is preferred
//! to a digest update; a candidate younger than the cooldown is reported as waiting, and an
//! older allowed candidate that has passed it is offered instead.

use super::manifest::{self, Manifest};
use super::offer::Picked;
use super::policy::{self, Jump, Level, Policy, PolicyError};
use super::reference::{ImageRef, ReferenceError};
use super::registry::{RegistryClient, RegistryError, Repo};
use crate::storage::containers::{UpdateKind, UpdateMode};
use rand::Rng;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use unity_shared::model::container::{Container, Platform};

/// When the caller first saw each candidate, by candidate digest: the image age for the
/// cooldown when a config has no usable `created` time.
pub type FirstSeen = BTreeMap<String, SystemTime>;

/// The result of checking one container.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Nothing newer that the policy allows.
    UpToDate,
    /// An update to offer now.
    Update(Candidate),
    /// An update exists but is younger than the cooldown; offered from `until`.
    Waiting {
        candidate: Candidate,
        until: SystemTime,
    },
    /// Not checked.
    Skipped(SkipReason),
    /// The check failed; the message names the registry and the cause.
    Error(CheckError),
}

/// Why a container was not checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// `unity.update.pin` or an explicit pin.
    Pinned,
    /// Mode `off`.
    ModeOff,
    /// The reference names a digest (`app@sha256:…`): it cannot change.
    ReferenceByDigest,
    /// The image has no repo digest for its repository (built locally, never pulled).
    NoRepoDigest,
}

/// Why a check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// The container's image reference does not parse.
    #[error("image reference: {0}")]
    Reference(#[from] ReferenceError),
    /// A `unity.update.*` label or setting is invalid.
    #[error("update policy: {0}")]
    Policy(#[from] PolicyError),
    /// The registry failed or refused.
    #[error("{0}")]
    Registry(#[from] RegistryError),
    /// The check task panicked (a bug).
    #[error("check failed unexpectedly: {0}")]
    Internal(String),
}

/// The update a newer tag makes, by the size of its jump.
fn tag_update(jump: Jump) -> UpdateKind {
    match jump {
        Jump::Patch => UpdateKind::Patch,
        Jump::Minor => UpdateKind::Minor,
        Jump::Major => UpdateKind::Major,
    }
}

/// A detected update.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub kind: UpdateKind,
    /// Normalised registry and repository (`docker.io`, `library/nginx`).
    pub registry: String,
    pub repository: String,
    pub current_tag: String,
    /// The container's repo digest for this repository.
    pub current_digest: String,
    pub candidate_tag: String,
    /// The tag's top-level digest (an index or a manifest): what a pull by tag gets.
    pub candidate_digest: String,
    /// The manifest for the container's platform, when the candidate is an index.
    pub platform_digest: Option<String>,
    /// The candidate's config `created` time, when plausible.
    pub created: Option<SystemTime>,
    /// `FirstSeen` for this candidate, as passed in.
    pub first_seen: Option<SystemTime>,
}

impl Candidate {
    /// `registry/repository:tag`, the reference to pull.
    pub fn reference(&self) -> String {
        format!(
            "{}/{}:{}",
            self.registry, self.repository, self.candidate_tag
        )
    }

    /// The image's age at `now` (from `created`, else from `first_seen`).
    pub fn age(&self, now: SystemTime) -> Option<Duration> {
        let since = self.created.or(self.first_seen)?;
        Some(now.duration_since(since).unwrap_or(Duration::ZERO))
    }

    /// When the policy's cooldown lets this candidate be offered. Without `created` or
    /// `first_seen`, the candidate counts as first seen `now`.
    pub fn ready_at(&self, cooldown: Duration, now: SystemTime) -> SystemTime {
        self.created.or(self.first_seen).unwrap_or(now) + cooldown
    }
}

/// Tag candidates looked at, at most, per check (each costs requests).
const MAX_TAG_CANDIDATES: usize = 5;

/// Checks one container. Never panics; every failure is an [`Outcome::Error`].
pub async fn check(
    client: &RegistryClient,
    container: &Container,
    policy: &Policy,
    now: SystemTime,
    first_seen: &FirstSeen,
) -> Outcome {
    check_avoiding(client, container, policy, now, first_seen, &KnownBad::new()).await
}

/// Candidate digests that failed on the container ([`super::offer::known_bad`]).
pub type KnownBad = std::collections::BTreeSet<String>;

/// [`check`], preferring any candidate that is not in `known_bad` (after a restore to an older
/// version, the newest candidate that did not fail here is offered, not the one that did); a
/// known-bad candidate is the outcome only when no other exists.
pub async fn check_avoiding(
    client: &RegistryClient,
    container: &Container,
    policy: &Policy,
    now: SystemTime,
    first_seen: &FirstSeen,
    known_bad: &KnownBad,
) -> Outcome {
    match check_inner(client, container, policy, now, first_seen, known_bad).await {
        Ok(outcome) => outcome,
        Err(error) => Outcome::Error(error),
    }
}

async fn check_inner(
    client: &RegistryClient,
    container: &Container,
    policy: &Policy,
    now: SystemTime,
    first_seen: &FirstSeen,
    known_bad: &KnownBad,
) -> Result<Outcome, CheckError> {
    if policy.mode == UpdateMode::Off {
        return Ok(Outcome::Skipped(SkipReason::ModeOff));
    }
    if policy.pinned {
        return Ok(Outcome::Skipped(SkipReason::Pinned));
    }
    let reference = ImageRef::parse(&container.image)?;
    if reference.digest.is_some() {
        return Ok(Outcome::Skipped(SkipReason::ReferenceByDigest));
    }
    // Podman names locally built images `localhost/<name>` and gives them a repo digest
    // there; `localhost` without a port is that convention, not a registry to ask.
    if reference.registry == "localhost" {
        return Ok(Outcome::Skipped(SkipReason::NoRepoDigest));
    }
    let running = Running::of(container, &reference);
    let Some(current_digest) = running.digests.first().cloned() else {
        return Ok(Outcome::Skipped(SkipReason::NoRepoDigest));
    };
    let repo = Repo::new(&reference.registry, &reference.repository);
    let tag = reference.tag_or_latest().to_string();
    let make = |kind, candidate_tag: &str, resolved: Resolved| Candidate {
        kind,
        registry: repo.registry.clone(),
        repository: repo.repository.clone(),
        current_tag: tag.clone(),
        current_digest: current_digest.clone(),
        candidate_tag: candidate_tag.to_string(),
        first_seen: first_seen.get(&resolved.digest).copied(),
        candidate_digest: resolved.digest,
        platform_digest: resolved.platform_digest,
        created: resolved.created,
    };

    let mut candidates = Vec::new();
    if policy.level > Level::Digest {
        let tags = client.tags(&repo).await?;
        let newer = policy::newer_tags(policy, &tag, &tags);
        for (candidate_tag, jump) in newer.into_iter().take(MAX_TAG_CANDIDATES) {
            let digest = client.tag_digest(&repo, candidate_tag).await?;
            let Some(resolved) = resolve(client, &repo, digest, &running).await? else {
                continue; // Not built for this platform.
            };
            if !running.matches(&resolved) {
                candidates.push(make(tag_update(jump), candidate_tag, resolved));
            }
        }
    }
    let head = client.tag_digest(&repo, &tag).await?;
    if !running.digests.contains(&head) {
        if let Some(resolved) = resolve(client, &repo, head, &running).await? {
            if !running.matches(&resolved) {
                candidates.push(make(UpdateKind::Digest, &tag, resolved));
            }
        }
    }

    let timed = candidates
        .into_iter()
        .map(|candidate| {
            let ready_at = candidate.ready_at(policy.cooldown, now);
            (candidate, ready_at)
        })
        .collect();
    let is_bad = |candidate: &Candidate| known_bad.contains(&candidate.candidate_digest);
    Ok(match super::offer::pick(timed, is_bad, now) {
        Picked::Ready(candidate) => Outcome::Update(candidate),
        Picked::Waiting(candidate, until) => Outcome::Waiting { candidate, until },
        Picked::None => Outcome::UpToDate,
    })
}

/// What the container runs, for comparison with candidates.
struct Running {
    /// Digests from the repo digests that name this repository.
    digests: Vec<String>,
    image_id: String,
    platform: Option<Platform>,
}

impl Running {
    fn of(container: &Container, reference: &ImageRef) -> Running {
        let digests = container
            .repo_digests
            .iter()
            .filter_map(|text| ImageRef::parse(text).ok())
            .filter(|parsed| parsed.same_repository(reference))
            .filter_map(|parsed| parsed.digest)
            .collect();
        Running {
            digests,
            image_id: container.image_id.clone(),
            platform: container.platform.clone(),
        }
    }

    /// Whether a resolved image is the one running: its top-level or platform manifest is a
    /// repo digest, or its config (or, with containerd's image store, manifest) is the image id.
    fn matches(&self, resolved: &Resolved) -> bool {
        let mut digests = std::iter::once(&resolved.digest).chain(&resolved.platform_digest);
        digests.any(|d| self.digests.contains(d) || *d == self.image_id)
            || resolved.config_digest == self.image_id
    }
}

/// A tag's digest resolved for the container's platform.
struct Resolved {
    digest: String,
    platform_digest: Option<String>,
    config_digest: String,
    created: Option<SystemTime>,
}

/// Resolves `digest` to the single-platform image the container would run; `None` when an
/// index has no manifest for its platform. Without a known platform, `linux/amd64` is assumed.
async fn resolve(
    client: &RegistryClient,
    repo: &Repo,
    digest: String,
    running: &Running,
) -> Result<Option<Resolved>, RegistryError> {
    let (platform_digest, config_digest) = match client.manifest(repo, &digest).await? {
        Manifest::Image { config_digest } => (None, config_digest),
        Manifest::Index(entries) => {
            let platform = running.platform.clone().unwrap_or_else(|| Platform {
                os: "linux".into(),
                architecture: "amd64".into(),
                variant: None,
            });
            let Some(entry) = manifest::select_platform(&entries, &platform) else {
                return Ok(None);
            };
            let child = entry.digest.clone();
            match client.manifest(repo, &child).await? {
                Manifest::Image { config_digest } => (Some(child), config_digest),
                Manifest::Index(_) => {
                    return Err(RegistryError::Protocol {
                        registry: repo.registry.clone(),
                        message: format!("index {digest} nests another index"),
                    })
                }
            }
        }
    };
    let created = client.config_created(repo, &config_digest).await?;
    Ok(Some(Resolved {
        digest,
        platform_digest,
        config_digest,
        created,
    }))
}

/// One container to check in [`check_all`].
#[derive(Debug, Clone)]
pub struct CheckJob {
    /// The caller's key for the result (host + container id, say).
    pub key: String,
    pub container: Container,
    /// The resolved policy, or the error resolving it (reported as that container's error).
    pub policy: Result<Policy, PolicyError>,
    pub first_seen: FirstSeen,
    /// Candidates that failed on this container: offered only when nothing else is.
    pub known_bad: KnownBad,
}

/// How [`check_all`] spreads its requests.
#[derive(Debug, Clone, Copy)]
pub struct Spread {
    /// Each repository's checks start after a random delay below this.
    pub jitter: Duration,
    /// Repositories checked at the same time.
    pub concurrency: usize,
}

impl Default for Spread {
    fn default() -> Self {
        Spread {
            jitter: Duration::from_secs(30),
            concurrency: 4,
        }
    }
}

/// Checks many containers sharing the client's cache and tokens. Containers of one repository
/// are checked one after another (so the second is served from the cache); repositories start
/// after a random jitter, a few at a time. One failure never stops the others. Returns
/// `(key, outcome)` in the order of `jobs`.
pub async fn check_all(
    client: Arc<RegistryClient>,
    jobs: Vec<CheckJob>,
    spread: Spread,
) -> Vec<(String, Outcome)> {
    let mut groups: BTreeMap<String, Vec<(usize, CheckJob)>> = BTreeMap::new();
    for (index, job) in jobs.into_iter().enumerate() {
        let group = match ImageRef::parse(&job.container.image) {
            Ok(reference) => reference.name(),
            Err(_) => format!("\0{index}"),
        };
        groups.entry(group).or_default().push((index, job));
    }
    let permits = Arc::new(tokio::sync::Semaphore::new(spread.concurrency.max(1)));
    let mut keys = Vec::new();
    let mut tasks = tokio::task::JoinSet::new();
    for (_, group) in groups {
        keys.extend(group.iter().map(|(index, job)| (*index, job.key.clone())));
        let delay = random_below(spread.jitter);
        let (client, permits) = (Arc::clone(&client), Arc::clone(&permits));
        tasks.spawn(async move {
            tokio::time::sleep(delay).await;
            let _permit = permits.acquire_owned().await;
            let mut results = Vec::new();
            for (index, job) in group {
                let outcome = match &job.policy {
                    Ok(policy) => {
                        let now = SystemTime::now();
                        let (container, seen) = (&job.container, &job.first_seen);
                        check_avoiding(&client, container, policy, now, seen, &job.known_bad).await
                    }
                    Err(error) => Outcome::Error(CheckError::Policy(error.clone())),
                };
                results.push((index, job.key, outcome));
            }
            results
        });
    }
    let mut outcomes: BTreeMap<usize, (String, Outcome)> = BTreeMap::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(results) => {
                for (index, key, outcome) in results {
                    outcomes.insert(index, (key, outcome));
                }
            }
            Err(error) => tracing::error!(%error, "Update check task failed."),
        }
    }
    // A panicked group leaves gaps: report them as errors rather than dropping them.
    keys.sort();
    keys.into_iter()
        .map(|(index, key)| {
            outcomes.remove(&index).unwrap_or_else(|| {
                (
                    key,
                    Outcome::Error(CheckError::Internal("the check task panicked".into())),
                )
            })
        })
        .collect()
}

fn random_below(limit: Duration) -> Duration {
    if limit.is_zero() {
        return Duration::ZERO;
    }
    let millis = limit.as_millis().min(u64::MAX as u128) as u64;
    Duration::from_millis(rand::thread_rng().gen_range(0..millis.max(1)))
}
