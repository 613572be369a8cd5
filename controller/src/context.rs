//! What every task of the controller shares: the configuration, the store, the CA, the live
//! connections and the handles of the loops that the faces poke (the update watch, the
//! operation queue) and the store's rule for giving a secret to a host.
//!
//! A leaf of the controller's layers: it imports only the lower modules whose handles it holds
//! (`config`, `storage`, `ca`, `transport::hub`, `transport::ingest`, `updates::watch::slot`,
//! `updates::queue`, `acme::account`, `agentless::queue`, `remote_write::stats`,
//! `backup::status`), and none of those imports it, so every subsystem and every face can take
//! a `&Context` without an import circle.

use crate::acme::account::AcmeAccounts;
use crate::agentless::queue::AssignmentQueue;
use crate::backup::status::BackupStatus;
use crate::ca::services_slot::ServicesCaSlot;
use crate::ca::verifier::Revocations;
use crate::ca::CertificateAuthority;
use crate::config::Config;
use crate::remote_write::stats::RemoteWriteStats;
use crate::storage::Store;
use crate::transport::hub::Hub;
use crate::transport::ingest::IngestHandle;
use crate::updates::queue::OperationQueue;
use crate::updates::watch::slot::UpdateWatch;
use std::sync::Arc;
use unity_shared::model::secret::{SecretName, SecretValue};
use unity_shared::proto::AgentId;

/// Gives secret `name`'s value to `host` for `purpose` when the secrets store's rules allow it
/// (in scope, not revoked), auditing the delivery or the refusal; `Ok(None)` when refused.
/// The service sets it to `domain::secrets::deliver`, so that the layers below the domain
/// (transport, updates, agentless) hand a secret to a host through that one path without
/// importing the domain. Note that it uses blocking I/O.
pub type DeliverSecret =
    fn(
        ctx: &Context,
        name: &SecretName,
        host: &AgentId,
        purpose: &str,
    ) -> Result<Option<SecretValue>, Box<dyn std::error::Error + Send + Sync>>;

/// What every task of the controller shares.
pub struct Context {
    pub config: Config,
    pub store: Arc<Store>,
    pub ca: CertificateAuthority,
    pub revocations: Revocations,
    pub hub: Hub,
    pub ingest: IngestHandle,
    /// Container update checks (one run at a time; the loop and the faces share it).
    pub update_watch: UpdateWatch,
    /// Container operations waiting to be sent: who runs now, and the dispatch loop's wake-up.
    pub operations: OperationQueue,
    /// The homelab services CA (created on first use) and the managed-certificate loop's
    /// wake-up.
    pub services_ca: ServicesCaSlot,
    /// The ACME accounts (one per `[acme]` provider), shared so that two issuances never
    /// both create one.
    pub acme_accounts: AcmeAccounts,
    /// The one path by which a secret's value reaches a host (see [`DeliverSecret`]).
    pub deliver_secret: DeliverSecret,
    /// The proxies whose agentless assignment changed, and the push loop's wake-up.
    pub agentless: AssignmentQueue,
    /// The remote write exporters' counters, for `/metrics` (issue 20).
    pub remote_write: Arc<RemoteWriteStats>,
    /// What the daemon's backups last did, for `/metrics` (issue 20).
    pub backup: Arc<BackupStatus>,
}
