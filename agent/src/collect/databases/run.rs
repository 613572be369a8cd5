//! One database collection: read `/proc` (blocking, on a blocking thread), find candidates, add
//! configured and remembered endpoints, probe them all concurrently, each within the timeout.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;
use tracing::Instrument;
use unity_shared::model::database::{
    DatabaseEndpoint, DatabaseEngine, DatabaseInstance, DiscoveryMethod,
};

use super::credentials::DatabaseCredentials;
use super::discover::{discover, endpoints_match, Candidate, ContainerPorts};
use super::probe::{self, ProbeOutcome};
use super::proc_net::read_snapshot;
use crate::secrets::SecretCache;

/// The `[databases]` section of the agent configuration, as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDatabasesConfig {
    /// Look for databases in `/proc` (and containers); configured instances are probed anyway.
    #[serde(default = "default_discover")]
    pub discover: bool,
    /// Per probe, e.g. `"3s"`.
    #[serde(default = "default_timeout")]
    pub timeout: String,
    #[serde(default)]
    pub instances: Vec<RawDatabaseTarget>,
    /// Probe databases at all.
    #[serde(default = "default_discover")]
    pub enabled: bool,
    /// How often the daemon probes, e.g. `"60s"`.
    #[serde(default = "default_interval")]
    pub interval: String,
}

fn default_interval() -> String {
    "60s".to_owned()
}

fn default_discover() -> bool {
    true
}

fn default_timeout() -> String {
    "3s".to_owned()
}

impl Default for RawDatabasesConfig {
    fn default() -> RawDatabasesConfig {
        RawDatabasesConfig {
            discover: default_discover(),
            timeout: default_timeout(),
            instances: Vec::new(),
            enabled: true,
            interval: default_interval(),
        }
    }
}

/// One configured instance: where it is, what it is, and optionally how to log in.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDatabaseTarget {
    pub engine: DatabaseEngine,
    /// `127.0.0.1:5432`, `[::1]:6379`, or a Unix socket path `/run/postgresql/.s.PGSQL.5432`.
    pub endpoint: String,
    #[serde(default)]
    pub credentials: Option<DatabaseCredentials>,
}

/// A configured instance, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct DatabaseTarget {
    pub engine: DatabaseEngine,
    pub endpoint: DatabaseEndpoint,
    pub credentials: Option<DatabaseCredentials>,
}

/// The database collector's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct DatabasesConfig {
    /// Run the probes in the daemon.
    pub enabled: bool,
    /// How often the daemon probes.
    pub interval: Duration,
    pub discover: bool,
    pub timeout: Duration,
    /// `/proc`, or a directory laid out like it (tests).
    pub proc_root: PathBuf,
    pub targets: Vec<DatabaseTarget>,
}

impl Default for DatabasesConfig {
    fn default() -> DatabasesConfig {
        DatabasesConfig {
            enabled: true,
            interval: Duration::from_secs(60),
            discover: true,
            timeout: Duration::from_secs(3),
            proc_root: PathBuf::from("/proc"),
            targets: Vec::new(),
        }
    }
}

/// Why the `[databases]` section is invalid.
#[derive(Debug, thiserror::Error)]
pub enum DatabasesConfigError {
    /// `timeout` is not a duration such as `3s`.
    #[error("databases.timeout: {0}")]
    Timeout(#[from] humantime::DurationError),
    /// `timeout` or `interval` is zero.
    #[error("databases.timeout and databases.interval must be more than zero")]
    ZeroTimeout,
    /// An endpoint is neither `IP:PORT` nor an absolute socket path.
    #[error(
        "databases.instances: endpoint `{0}` is neither IP:PORT nor an absolute Unix socket path"
    )]
    Endpoint(String),
}

/// Parses `IP:PORT`, `[IPv6]:PORT` or an absolute Unix socket path.
pub fn parse_endpoint(text: &str) -> Option<DatabaseEndpoint> {
    if text.starts_with('/') {
        return Some(DatabaseEndpoint::Unix {
            path: text.to_owned(),
        });
    }
    let address: SocketAddr = text.parse().ok()?;
    Some(DatabaseEndpoint::Tcp {
        host: address.ip().to_string(),
        port: address.port(),
    })
}

impl DatabasesConfig {
    pub fn from_raw(raw: RawDatabasesConfig) -> Result<DatabasesConfig, DatabasesConfigError> {
        let timeout = humantime::parse_duration(&raw.timeout)?;
        if timeout.is_zero() {
            return Err(DatabasesConfigError::ZeroTimeout);
        }
        let interval = humantime::parse_duration(&raw.interval)?;
        if interval.is_zero() {
            return Err(DatabasesConfigError::ZeroTimeout);
        }
        let targets = raw
            .instances
            .into_iter()
            .map(|target| {
                let endpoint = parse_endpoint(&target.endpoint)
                    .ok_or_else(|| DatabasesConfigError::Endpoint(target.endpoint.clone()))?;
                Ok(DatabaseTarget {
                    engine: target.engine,
                    endpoint,
                    credentials: target.credentials,
                })
            })
            .collect::<Result<Vec<_>, DatabasesConfigError>>()?;
        Ok(DatabasesConfig {
            enabled: raw.enabled,
            interval,
            discover: raw.discover,
            timeout,
            proc_root: PathBuf::from("/proc"),
            targets,
        })
    }
}

/// A candidate plus the credentials configured for it.
#[derive(Debug, Clone)]
pub struct Planned {
    pub candidate: Candidate,
    pub credentials: Option<DatabaseCredentials>,
}

fn matches_candidate(candidate: &Candidate, endpoint: &DatabaseEndpoint) -> bool {
    std::iter::once(&candidate.endpoint)
        .chain(&candidate.other_endpoints)
        .any(|known| endpoints_match(known, endpoint))
}

/// Adds configured targets and remembered instances to discovered candidates. Pure.
///
/// A target that matches a discovered endpoint marks it `Configured`, sets its engine and
/// brings its credentials; others are added. A remembered instance no longer discovered is
/// added as `Remembered`, so a server that stopped is probed and reported down.
pub fn plan(
    discovered: Vec<Candidate>,
    targets: &[DatabaseTarget],
    remembered: &[DatabaseInstance],
) -> Vec<Planned> {
    let mut planned: Vec<Planned> = discovered
        .into_iter()
        .map(|candidate| Planned {
            candidate,
            credentials: None,
        })
        .collect();
    for target in targets {
        let existing = planned
            .iter_mut()
            .find(|planned| matches_candidate(&planned.candidate, &target.endpoint));
        match existing {
            Some(existing) => {
                existing.candidate.engine = target.engine;
                existing
                    .candidate
                    .discovered_by
                    .push(DiscoveryMethod::Configured);
                existing.candidate.discovered_by.sort();
                existing.candidate.discovered_by.dedup();
                existing.credentials = target.credentials.clone();
            }
            None => planned.push(Planned {
                candidate: Candidate {
                    engine: target.engine,
                    endpoint: target.endpoint.clone(),
                    other_endpoints: Vec::new(),
                    discovered_by: vec![DiscoveryMethod::Configured],
                    process: None,
                    container: None,
                },
                credentials: target.credentials.clone(),
            }),
        }
    }
    for instance in remembered {
        if planned
            .iter()
            .any(|planned| matches_candidate(&planned.candidate, &instance.endpoint))
        {
            continue;
        }
        planned.push(Planned {
            candidate: Candidate {
                engine: instance.engine,
                endpoint: instance.endpoint.clone(),
                other_endpoints: instance.other_endpoints.clone(),
                discovered_by: vec![DiscoveryMethod::Remembered],
                process: None,
                container: instance.container.clone(),
            },
            credentials: None,
        });
    }
    planned
}

/// Combines a candidate with what its probe found.
pub fn instance(candidate: Candidate, outcome: ProbeOutcome) -> DatabaseInstance {
    DatabaseInstance {
        engine: outcome.engine,
        endpoint: candidate.endpoint,
        other_endpoints: candidate.other_endpoints,
        discovered_by: candidate.discovered_by,
        process: candidate.process,
        container: candidate.container,
        version: outcome.version,
        reachable: outcome.reachable,
        auth_required: outcome.auth_required,
        tls_offered: outcome.tls_offered,
        latency_ms: outcome.latency_ms,
        error: outcome.error,
        health: outcome.health,
    }
}

async fn probe_planned(
    planned: Planned,
    timeout: Duration,
    secrets: Option<Arc<SecretCache>>,
) -> DatabaseInstance {
    let Planned {
        candidate,
        credentials,
    } = planned;
    let loaded = match &credentials {
        Some(credentials) => match credentials.load_with(secrets.as_deref()).await {
            Ok(loaded) => Some(loaded),
            Err(error) => {
                let mut outcome =
                    probe::probe(candidate.engine, &candidate.endpoint, None, timeout).await;
                // Probed without credentials; both problems are reported.
                outcome.error = Some(match outcome.error.take() {
                    Some(probe_error) => format!("{error}; {probe_error}"),
                    None => error.to_string(),
                });
                return instance(candidate, outcome);
            }
        },
        None => None,
    };
    let outcome = probe::probe(
        candidate.engine,
        &candidate.endpoint,
        loaded.as_ref(),
        timeout,
    )
    .await;
    instance(candidate, outcome)
}

/// Discovers and probes databases.
///
/// `containers` comes from the container collector (empty until it exists); `remembered` is
/// the previous collection's result, so that instances that disappeared are probed again and
/// reported down (pass `&[]` to forget them). Fails only when `/proc` cannot be read at all.
pub async fn collect(
    config: &DatabasesConfig,
    containers: &[ContainerPorts],
    remembered: &[DatabaseInstance],
) -> anyhow::Result<Vec<DatabaseInstance>> {
    collect_with_secrets(config, containers, remembered, None).await
}

/// [`collect`], drawing `password_secret`s from the agent's secret cache.
pub async fn collect_with_secrets(
    config: &DatabasesConfig,
    containers: &[ContainerPorts],
    remembered: &[DatabaseInstance],
    secrets: Option<Arc<SecretCache>>,
) -> anyhow::Result<Vec<DatabaseInstance>> {
    let span = tracing::info_span!("collector", collector = "databases");
    async {
        let discovered = if config.discover {
            let proc_root = config.proc_root.clone();
            let snapshot = tokio::task::spawn_blocking(move || read_snapshot(&proc_root))
                .await
                .context("reading /proc for listening sockets")?;
            if !snapshot.warnings.is_empty() {
                tracing::debug!(
                    n_warnings = snapshot.warnings.len(),
                    first = ?snapshot.warnings.first(),
                    "Some /proc entries could not be read."
                );
            }
            discover(&snapshot, containers)
        } else {
            Vec::new()
        };
        let planned = plan(discovered, &config.targets, remembered);
        let mut tasks = tokio::task::JoinSet::new();
        for (index, planned) in planned.into_iter().enumerate() {
            let timeout = config.timeout;
            let secrets = secrets.clone();
            tasks.spawn(async move { (index, probe_planned(planned, timeout, secrets).await) });
        }
        let mut instances = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((index, instance)) => instances.push((index, instance)),
                Err(error) => tracing::warn!(%error, "Database probe task failed."),
            }
        }
        instances.sort_by_key(|(index, _)| *index);
        let mut instances: Vec<DatabaseInstance> = instances
            .into_iter()
            .map(|(_, instance)| instance)
            .collect();
        instances.sort_by(|a, b| a.endpoint.cmp(&b.endpoint));
        Ok(instances)
    }
    .instrument(span)
    .await
}
