//! The update watch: every `updates.check_interval` (and on demand, from the API), checks every
//! container of every non-revoked agent against its registry and stores one
//! [`UpdateCheckRecord`] per container, so the dashboard and API show what is available.
//!
//! The registry client lives as long as the controller, so tokens and cached digests are
//! reused across runs; it is rebuilt only when the set of plain-HTTP registries changes.
//! Credentials are read per request from the store, sealed with the controller's key.

pub mod slot;

use super::credentials::{CredentialKey, CredentialSource, Credentials};
use super::detect::{self, CheckJob, FirstSeen, Outcome, SkipReason, Spread};
use super::effective_policy::{self, PolicyLookupError};
use super::registry::{ClientOptions, RegistryClient};
use crate::context::Context;
use crate::storage::agents::StateKind;
use crate::storage::containers::UpdateMode;
use crate::storage::containers::{CheckOutcome, DetectedUpdate, UpdateCheckRecord};
use crate::storage::Store;
use serde::Serialize;
use slot::ClientBasis;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use unity_shared::model::container::ContainerInventory;
use unity_shared::proto::AgentId;

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    pub n_containers: usize,
    pub n_up_to_date: usize,
    pub n_updates: usize,
    pub n_skipped: usize,
    pub n_errors: usize,
}

/// Credentials from the store, opened with the controller's key at each request.
struct StoreCredentials {
    store: Arc<Store>,
    key: CredentialKey,
}

impl CredentialSource for StoreCredentials {
    fn credentials(&self, registry: &str) -> Option<Credentials> {
        let record = match self.store.credentials.get(registry) {
            Ok(record) => record?,
            Err(error) => {
                tracing::warn!(%registry, %error, "Reading registry credentials failed.");
                return None;
            }
        };
        let opened = self
            .key
            .open(registry, &record.sealed)
            .and_then(|credentials| {
                super::credentials::resolve(&self.store, self.key.sealing(), registry, credentials)
            });
        match opened {
            Ok(credentials) => Some(credentials),
            Err(error) => {
                tracing::warn!(%registry, %error, "Stored registry credentials cannot be opened.");
                None
            }
        }
    }
}

fn system_time(unix_ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(unix_ms.max(0) as u64)
}

fn unix_ms(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as i64)
}

fn skip_text(reason: SkipReason) -> &'static str {
    match reason {
        SkipReason::Pinned => "pinned",
        SkipReason::ModeOff => "policy mode is off",
        SkipReason::ReferenceByDigest => "the image is referenced by digest",
        SkipReason::NoRepoDigest => "a local image (no registry digest)",
    }
}

/// The stored record for one outcome (pure).
pub fn record_of(
    agent_id: &AgentId,
    container: &str,
    image: &str,
    policy_mode: Option<UpdateMode>,
    outcome: &Outcome,
    now: SystemTime,
) -> UpdateCheckRecord {
    let detected = |candidate: &detect::Candidate, held_back: Option<String>| DetectedUpdate {
        kind: candidate.kind,
        current_tag: Some(candidate.current_tag.clone()),
        current_digest: Some(candidate.current_digest.clone()),
        candidate_tag: candidate.candidate_tag.clone(),
        candidate_digest: candidate.candidate_digest.clone(),
        candidate_created_ms: candidate.created.map(unix_ms),
        first_seen_ms: unix_ms(candidate.first_seen.unwrap_or(now)),
        mode: policy_mode.unwrap_or_default(),
        offered: held_back.is_none(),
        held_back,
    };
    let outcome = match outcome {
        Outcome::UpToDate => CheckOutcome::UpToDate,
        Outcome::Update(candidate) => CheckOutcome::Update(detected(candidate, None)),
        Outcome::Waiting { candidate, until } => CheckOutcome::Update(detected(
            candidate,
            Some(super::waiting::cooldown_text(*until)),
        )),
        Outcome::Skipped(reason) => CheckOutcome::Skipped {
            reason: skip_text(*reason).to_owned(),
        },
        Outcome::Error(error) => CheckOutcome::Error {
            message: error.to_string(),
        },
    };
    UpdateCheckRecord {
        agent_id: agent_id.clone(),
        container: container.to_owned(),
        image: image.to_owned(),
        checked_at_ms: unix_ms(now),
        outcome,
    }
}

/// The candidates a previous check had seen, and since when.
fn first_seen_of(previous: Option<&UpdateCheckRecord>) -> FirstSeen {
    let mut first_seen = FirstSeen::new();
    if let Some(CheckOutcome::Update(update)) = previous.map(|record| &record.outcome) {
        first_seen.insert(
            update.candidate_digest.clone(),
            system_time(update.first_seen_ms),
        );
    }
    first_seen
}

/// One job per container of every non-revoked agent, with its resolved policy.
struct Planned {
    agent_id: AgentId,
    container: String,
    image: String,
    mode: Option<UpdateMode>,
}

fn plan(ctx: &Context) -> anyhow::Result<(Vec<CheckJob>, Vec<Planned>)> {
    let store = &ctx.store;
    let mut jobs = Vec::new();
    let mut planned = Vec::new();
    let operations = store.operations.all()?;
    for agent in store.agents.agents()? {
        if agent.revoked_at.is_some() {
            continue;
        }
        let agent_id = agent.agent_id;
        let Some((_, inventory)) = store
            .agents
            .latest::<ContainerInventory>(&agent_id, StateKind::Containers)?
        else {
            continue;
        };
        let names: HashSet<&str> = inventory
            .containers
            .iter()
            .map(|container| container.name.as_str())
            .collect();
        store
            .containers
            .retain_checks(&agent_id, |name| names.contains(name))?;
        for container in inventory.containers {
            let policy = match effective_policy::of(ctx, &agent_id, &container) {
                Ok(policy) => Ok(policy),
                Err(PolicyLookupError::Invalid(error)) => Err(error),
                Err(PolicyLookupError::Storage(error)) => return Err(error.into()),
            };
            let previous = store.containers.check(&agent_id, &container.name)?;
            planned.push(Planned {
                agent_id: agent_id.clone(),
                container: container.name.clone(),
                image: container.image.clone(),
                mode: policy.as_ref().ok().map(|policy| policy.mode),
            });
            let history: Vec<_> = operations
                .iter()
                .filter(|record| record.agent_id == agent_id && record.container == container.name)
                .cloned()
                .collect();
            jobs.push(CheckJob {
                known_bad: super::offer::known_bad(&super::offer::history_of(&history)),
                key: format!("{agent_id}/{}", container.name),
                first_seen: first_seen_of(previous.as_ref()),
                container,
                policy,
            });
        }
    }
    Ok((jobs, planned))
}

/// Checks every container now. `jitter` spreads the registry requests (zero for an
/// operator's "check now"); `fresh` asks the registries again instead of reusing cached
/// digests and tag lists (an operator who pushed an image wants to see it now).
pub async fn run(ctx: &Arc<Context>, jitter: Duration, fresh: bool) -> anyhow::Result<RunSummary> {
    let mut client_slot = ctx.update_watch.run_lock.lock().await;
    let ctx_for_plan = ctx.clone();
    let (jobs, planned, basis, key) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let ctx = ctx_for_plan;
        let (jobs, planned) = plan(&ctx)?;
        let mut basis = ClientBasis {
            plain_http: ctx.config.updates.plain_http.clone(),
            credentials: Vec::new(),
        };
        for record in ctx.store.credentials.list()? {
            if record.plain_http {
                basis.plain_http.insert(record.registry.clone());
            }
            basis
                .credentials
                .push((record.registry, record.updated_at_ms));
        }
        let key = CredentialKey::open_or_create(&ctx.config.data_dir)?;
        Ok((jobs, planned, basis, key))
    })
    .await??;
    let client = match client_slot.as_ref() {
        Some((built_for, client)) if *built_for == basis => client.clone(),
        _ => {
            let source = StoreCredentials {
                store: ctx.store.clone(),
                key,
            };
            let client = Arc::new(RegistryClient::new(
                ClientOptions {
                    plain_http: basis.plain_http.clone(),
                    cache_ttl: ClientOptions::cache_ttl_for(ctx.config.updates.check_interval),
                    ..ClientOptions::default()
                },
                Arc::new(source),
            )?);
            *client_slot = Some((basis, client.clone()));
            client
        }
    };
    if fresh {
        client.clear_cache();
    }
    let spread = Spread {
        jitter,
        concurrency: ctx.config.updates.concurrency,
    };
    let outcomes = detect::check_all(client.clone(), jobs, spread).await;
    let now = SystemTime::now();
    let mut summary = RunSummary::default();
    let records: Vec<UpdateCheckRecord> = planned
        .iter()
        .zip(&outcomes)
        .map(|(planned, (_, outcome))| {
            summary.n_containers += 1;
            match outcome {
                Outcome::UpToDate => summary.n_up_to_date += 1,
                Outcome::Update(_) | Outcome::Waiting { .. } => summary.n_updates += 1,
                Outcome::Skipped(_) => summary.n_skipped += 1,
                Outcome::Error(_) => summary.n_errors += 1,
            }
            record_of(
                &planned.agent_id,
                &planned.container,
                &planned.image,
                planned.mode,
                outcome,
                now,
            )
        })
        .collect();
    let store = ctx.store.clone();
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        for record in &records {
            store.containers.put_check(record)?;
        }
        store.flush()?;
        Ok(())
    })
    .await??;
    // Release notes for what is pending now, in their own task: never in the check's way.
    if ctx.config.updates.release_notes.enabled {
        super::notes::spawn_refresh(ctx.clone(), Some(client.clone()));
    }
    match super::auto::apply_once(ctx).await {
        Ok(0) => {}
        Ok(n_queued) => tracing::info!(n_queued, "Updates queued by policy."),
        Err(error) => tracing::warn!(
            error = format!("{error:#}"),
            "Applying updates by policy failed."
        ),
    }
    tracing::info!(
        n_containers = summary.n_containers,
        n_updates = summary.n_updates,
        n_errors = summary.n_errors,
        "Update check finished."
    );
    Ok(summary)
}

/// The periodic check, spawned by the service when `[updates] enabled`.
pub fn spawn(ctx: Arc<Context>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let settings = ctx.config.updates.clone();
        if !settings.enabled {
            return;
        }
        tokio::time::sleep(settings.first_check_after).await;
        loop {
            if let Err(error) = run(&ctx, settings.jitter, false).await {
                tracing::warn!(error = format!("{error:#}"), "Update check failed.");
            }
            // ±10% so controllers started together do not hit registries together.
            let tenth = settings.check_interval.as_millis() as u64 / 10;
            let offset = rand::random::<u64>() % (2 * tenth + 1);
            let pause = settings.check_interval - Duration::from_millis(tenth)
                + Duration::from_millis(offset);
            tokio::time::sleep(pause).await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::containers::UpdateKind;
    use crate::updates::detect::{Candidate, CheckError};
    use crate::updates::policy::PolicyError;

    fn candidate(first_seen: Option<SystemTime>) -> Candidate {
        Candidate {
            kind: UpdateKind::Minor,
            registry: "127.0.0.1:5000".into(),
            repository: "lab/app".into(),
            current_tag: "1.0.0".into(),
            current_digest: "sha256:aa".into(),
            candidate_tag: "1.1.0".into(),
            candidate_digest: "sha256:bb".into(),
            platform_digest: None,
            created: Some(system_time(1_000)),
            first_seen,
        }
    }

    #[test]
    fn outcomes_become_records_and_first_seen_carries_over() {
        let now = system_time(50_000);
        let record = record_of(
            &AgentId::new("a").unwrap(),
            "web",
            "app:1.0.0",
            Some(UpdateMode::Auto),
            &Outcome::Update(candidate(None)),
            now,
        );
        let CheckOutcome::Update(update) = &record.outcome else {
            panic!("{record:?}")
        };
        assert_eq!(
            (update.kind.as_str(), update.mode.as_str(), update.offered),
            ("minor", "auto", true)
        );
        assert_eq!(update.first_seen_ms, 50_000, "first seen now");
        assert_eq!(update.candidate_created_ms, Some(1_000));

        // The next check passes the stored first-seen time back in for the same candidate.
        let first_seen = first_seen_of(Some(&record));
        assert_eq!(first_seen.get("sha256:bb"), Some(&system_time(50_000)));
        assert!(first_seen_of(None).is_empty());

        let waiting = record_of(
            &AgentId::new("a").unwrap(),
            "web",
            "app:1.0.0",
            None,
            &Outcome::Waiting {
                candidate: candidate(Some(system_time(40_000))),
                until: system_time(86_400_000),
            },
            now,
        );
        let CheckOutcome::Update(update) = &waiting.outcome else {
            panic!("{waiting:?}")
        };
        assert!(!update.offered);
        assert_eq!(update.first_seen_ms, 40_000);
        assert_eq!(
            update.held_back.as_deref(),
            Some("cooldown: offered from 1970-01-02T00:00:00Z")
        );

        let skipped = record_of(
            &AgentId::new("a").unwrap(),
            "db",
            "pg:16",
            None,
            &Outcome::Skipped(SkipReason::Pinned),
            now,
        );
        assert_eq!(
            skipped.outcome,
            CheckOutcome::Skipped {
                reason: "pinned".into()
            }
        );
        let error = Outcome::Error(CheckError::Policy(PolicyError {
            key: "unity.update.level".into(),
            message: "unknown level".into(),
        }));
        let failed = record_of(
            &AgentId::new("a").unwrap(),
            "db",
            "pg:16",
            None,
            &error,
            now,
        );
        assert_eq!(
            failed.outcome,
            CheckOutcome::Error {
                message: "update policy: unity.update.level: unknown level".into()
            }
        );
    }
}
