//! Storage: the only module that touches sled.
//!
//! [`Store`] opens one sled database holding the enrolled agents and join tokens ([`agents`]), the
//! dashboard's users, sessions, API tokens and audit log ([`auth`]), who may do what on which
//! host ([`access`]), open and resolved alerts
//! ([`alerts`]) and the time-series history ([`series`]). Everything above this module sees
//! typed records only, so the engine stays replaceable.

// The one place sled's types may appear (clippy.toml bans them everywhere else).
#![allow(clippy::disallowed_types)]

pub mod access;
pub mod agent_builds;
pub mod agent_rollouts;
pub mod agent_updates;
pub mod agentless;
pub mod agents;
/// Issue 18: acknowledgements, notification status, `for` clocks; silences and user rules.
pub mod alert_lifecycle;
pub mod alert_silences;
pub mod alerts;
pub mod auth;
/// The controller's backup: a consistent snapshot, the database rebuilt on restore.
pub mod backup;
pub mod cas;
pub mod containers;
pub mod credentials;
pub mod disk_baselines;
pub mod instances;
pub mod managed_certificates;
pub mod operations;
pub mod outbox;
pub mod release_notes;
/// Issue 20: where each remote write endpoint left off.
pub mod remote_write;
pub mod secrets;
pub mod series;
pub mod service_checks;
pub mod ssh_access;
pub mod ssh_ca;
pub mod words;

use serde::{de::DeserializeOwned, Serialize};
use std::path::Path;

/// Errors from the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// sled reported an I/O or corruption error.
    #[error("database: {0}")]
    Sled(#[from] sled::Error),
    /// A stored record could not be decoded (corruption or a format from a newer version).
    #[error("corrupt record in {tree}: {message}")]
    Corrupt { tree: &'static str, message: String },
    /// The time-series engine failed.
    #[error("time series: {0}")]
    Series(#[from] series::SeriesError),
}

/// The controller's database.
pub struct Store {
    db: sled::Db,
    pub agents: agents::Agents,
    /// Agentless hosts: how their proxy reaches them (issue 16).
    pub agentless: agentless::AgentlessStore,
    /// User groups, host groups, host labels: who may do what where.
    pub access: access::AccessStore,
    pub auth: auth::Auth,
    pub alerts: alerts::Alerts,
    pub containers: containers::Containers,
    /// Sealed registry credentials for update detection.
    pub credentials: credentials::CredentialStore,
    /// Container operations and their history.
    pub operations: operations::Operations,
    /// Agent updates sent from the controller and their history (issue 20).
    pub agent_updates: agent_updates::AgentUpdates,
    /// Fleet rollouts of an agent version (issue 20).
    pub agent_rollouts: agent_rollouts::AgentRollouts,
    /// Instances of agent identities (clones, moved data directories).
    pub instances: instances::Instances,
    /// Declared certificates from the services CA (or ACME) and their issuance state.
    pub managed_certificates: managed_certificates::ManagedCertificates,
    /// The SSH CA's hosts and certificate serials.
    pub ssh_ca: ssh_ca::SshCaStore,
    /// The secrets store: sealed values, their metadata and scopes.
    pub secrets: secrets::SecretStore,
    /// Release notes of pending updates, the forges' release lists, their rate limits.
    pub release_notes: release_notes::ReleaseNotesStore,
    /// Managed SSH access: people, keys, grants, per-host settings and outcomes.
    pub ssh_access: ssh_access::SshAccessStore,
    pub series: series::SeriesStore,
    /// Each drive's accepted SMART baseline (issue 18 disk trends).
    pub disk_baselines: disk_baselines::DiskBaselines,
    /// Notifications waiting for delivery, each receiver's delivery status.
    pub outbox: outbox::Outbox,
    /// Service checks defined through the API and their newest results (issue 18).
    pub service_checks: service_checks::ServiceChecks,
    /// Acknowledgements, notification status and `for` clocks of alerts (issue 18).
    pub alert_lifecycle: alert_lifecycle::AlertLifecycle,
    /// Alert silences and the rules made in the dashboard or API (issue 18).
    pub alert_silences: alert_silences::Silences,
    /// Each remote write endpoint's position in the series (issue 20).
    pub remote_write: remote_write::RemoteWritePositions,
}

impl Store {
    /// Opens (or creates) the database under `path`, recovering after a crash. The
    /// time-series write-ahead log and chunk files live beside it in `<path>-wal` and
    /// `<path>-chunks` unless `options` say otherwise.
    ///
    /// Note that this uses blocking I/O.
    pub fn open(path: &Path, mut options: series::SeriesOptions) -> Result<Store, StorageError> {
        let beside = |suffix: &str| {
            let mut dir = path.as_os_str().to_owned();
            dir.push(suffix);
            std::path::PathBuf::from(dir)
        };
        if options.wal_dir.is_none() {
            options.wal_dir = Some(beside("-wal"));
        }
        if options.chunk_dir.is_none() {
            options.chunk_dir = Some(beside("-chunks"));
        }
        let config = sled::Config::new()
            .path(path)
            .cache_capacity(64 * 1024 * 1024);
        let db = open_sled(&config)?;
        let agents = agents::Agents::open(&db)?;
        let agentless = agentless::AgentlessStore::open(&db)?;
        let access = access::AccessStore::open(&db)?;
        let auth = auth::Auth::open(&db)?;
        let alerts = alerts::Alerts::open(&db)?;
        let containers = containers::Containers::open(&db)?;
        let credentials = credentials::CredentialStore::open(&db)?;
        let operations = operations::Operations::open(&db)?;
        let agent_updates = agent_updates::AgentUpdates::open(&db)?;
        let agent_rollouts = agent_rollouts::AgentRollouts::open(&db)?;
        let instances = instances::Instances::open(&db)?;
        let managed_certificates = managed_certificates::ManagedCertificates::open(&db)?;
        let ssh_ca = ssh_ca::SshCaStore::open(&db)?;
        let secrets = secrets::SecretStore::open(&db)?;
        let release_notes = release_notes::ReleaseNotesStore::open(&db)?;
        let ssh_access = ssh_access::SshAccessStore::open(&db)?;
        let series = series::SeriesStore::open(&db, options)?;
        let disk_baselines = disk_baselines::DiskBaselines::open(&db)?;
        let outbox = outbox::Outbox::open(&db)?;
        let service_checks = service_checks::ServiceChecks::open(&db)?;
        let alert_lifecycle = alert_lifecycle::AlertLifecycle::open(&db)?;
        let alert_silences = alert_silences::Silences::open(&db)?;
        let remote_write = remote_write::RemoteWritePositions::open(&db)?;
        Ok(Store {
            db,
            agents,
            agentless,
            access,
            auth,
            alerts,
            containers,
            credentials,
            operations,
            agent_updates,
            agent_rollouts,
            instances,
            managed_certificates,
            ssh_ca,
            secrets,
            release_notes,
            ssh_access,
            series,
            disk_baselines,
            outbox,
            service_checks,
            alert_lifecycle,
            alert_silences,
            remote_write,
        })
    }

    /// Makes every write so far durable.
    ///
    /// Note that this uses blocking I/O.
    pub fn flush(&self) -> Result<(), StorageError> {
        self.db.flush()?;
        Ok(())
    }

    /// Bytes the database occupies on disk: sled plus the time-series write-ahead log and
    /// chunk files.
    ///
    /// Note that this uses blocking I/O.
    pub fn size_on_disk(&self) -> Result<u64, StorageError> {
        Ok(self.db.size_on_disk()? + self.series.size_on_disk())
    }
}

/// Opens sled, waiting briefly when the file lock is still held: sled's background threads
/// keep it for a moment after the previous handle in this process is dropped (a restart in
/// place, or a test that reopens). Waits up to five seconds, never forever.
pub(crate) fn open_sled(config: &sled::Config) -> Result<sled::Db, sled::Error> {
    let mut attempts = 0;
    loop {
        match config.open() {
            Ok(db) => return Ok(db),
            Err(error) if attempts < 250 && error.to_string().contains("acquire lock") => {
                attempts += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(error) => return Err(error),
        }
    }
}

/// A test's database at `path`, opened through [`open_sled`] so a reopen never races sled's
/// lock.
#[cfg(test)]
pub(crate) fn open_test_db(path: impl AsRef<Path>) -> sled::Db {
    match open_sled(&sled::Config::new().path(path.as_ref())) {
        Ok(db) => db,
        Err(error) => panic!("opening {}: {error}", path.as_ref().display()),
    }
}

#[cfg(test)]
mod golden_tests;

/// A record's stored bytes; `tree` names where it goes, for the error.
pub(crate) fn encode<T: Serialize>(
    tree: &'static str,
    record: &T,
) -> Result<Vec<u8>, StorageError> {
    postcard::to_allocvec(record).map_err(|error| StorageError::Corrupt {
        tree,
        message: error.to_string(),
    })
}

/// A stored record; bytes that do not decode are corruption in `tree`.
pub(crate) fn decode<T: DeserializeOwned>(
    tree: &'static str,
    bytes: &[u8],
) -> Result<T, StorageError> {
    postcard::from_bytes(bytes).map_err(|error| StorageError::Corrupt {
        tree,
        message: error.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::series::{IngestReport, Sample, SeriesKey, SeriesOptions};
    use super::Store;

    /// Chunk files and the write-ahead log live beside sled; the size counts them.
    #[test]
    fn size_on_disk_counts_the_series_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db"), SeriesOptions::default()).unwrap();
        let key = SeriesKey::new("cpu_usage_ratio", Vec::new());
        let samples = (0..100_000)
            .map(|i| Sample {
                series: key.clone(),
                timestamp_ms: i * 15_000,
                value: (i % 97) as f64,
            })
            .collect();
        let report = IngestReport {
            agent: "agent".into(),
            seq: 1,
            samples,
        };
        store.series.ingest(&[report]).unwrap();
        store.series.checkpoint().unwrap();
        let stats = store.series.stats();
        assert!(stats.chunk_bytes > 0, "{stats:?}");
        let sled_only = store.db.size_on_disk().unwrap();
        let total = store.size_on_disk().unwrap();
        assert!(
            total >= sled_only + stats.chunk_bytes,
            "total {total}, sled {sled_only}, chunk bytes {}",
            stats.chunk_bytes
        );
    }
}
