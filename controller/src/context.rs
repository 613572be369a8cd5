//! What every task of the controller shares: the configuration, the store, the CA, the live
//! connections and the handles of the loops that the faces poke (the update watch, the
//! operation queue).
//!
//! A leaf of the controller's layers: it imports only the lower modules whose handles it holds
//! (`config`, `storage`, `ca`, `transport::hub`, `transport::ingest`, `updates::watch::slot`,
//! `updates::queue`, `acme::account`, `agentless::queue`), and none of those imports it, so every subsystem and every face can take
//! a `&Context` without an import circle.

use crate::acme::account::AcmeAccounts;
use crate::agentless::queue::AssignmentQueue;
use crate::ca::services_slot::ServicesCaSlot;
use crate::ca::verifier::Revocations;
use crate::ca::CertificateAuthority;
use crate::config::Config;
use crate::storage::Store;
use crate::transport::hub::Hub;
use crate::transport::ingest::IngestHandle;
use crate::updates::queue::OperationQueue;
use crate::updates::watch::slot::UpdateWatch;
use std::sync::Arc;

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
    /// The proxies whose agentless assignment changed, and the push loop's wake-up.
    pub agentless: AssignmentQueue,
}
