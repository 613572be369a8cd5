//! DNS-01 solvers: put the challenge's TXT record at `_acme-challenge.<name>` where the ACME
//! server will look, and take it away afterwards. One small trait, two implementations:
//! RFC 2136 dynamic updates signed with TSIG ([`rfc2136`]: BIND, Knot, PowerDNS, Technitium)
//! and Cloudflare's API ([`cloudflare`]).

pub mod cloudflare;
pub mod rfc2136;

use std::future::Future;
use std::pin::Pin;

/// A future a solver returns.
pub type SolverFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, DnsError>> + Send + 'a>>;

/// A TXT record a solver put in place, with what it needs to remove it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentedRecord {
    /// `_acme-challenge.<name>`, without a trailing dot.
    pub name: String,
    pub value: String,
    /// The provider's id for the record, when it has one (Cloudflare).
    pub id: Option<String>,
}

/// Puts TXT records in a zone and takes them out again.
pub trait DnsSolver: Send + Sync {
    /// Adds the TXT record `name` = `value` and returns once the zone's server answers it.
    fn present<'a>(&'a self, name: &'a str, value: &'a str) -> SolverFuture<'a, PresentedRecord>;
    /// Removes what [`DnsSolver::present`] added (and nothing else).
    fn cleanup<'a>(&'a self, record: &'a PresentedRecord) -> SolverFuture<'a, ()>;
}

/// Why a DNS change did not happen.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// The name is not inside the zone the solver manages.
    #[error("{name} is not in zone {zone}")]
    OutsideZone { name: String, zone: String },
    /// The server could not be reached or the exchange broke.
    #[error("DNS server {server}: {message}")]
    Transport { server: String, message: String },
    /// The server answered the update with an error code (REFUSED, NOTAUTH, …).
    #[error("DNS server {server} refused the update: {rcode}")]
    Refused { server: String, rcode: String },
    /// The record was added but the server did not answer it in time.
    #[error("{name} TXT was not answered by {server} within {seconds} s")]
    NotPropagated {
        name: String,
        server: String,
        seconds: u64,
    },
    /// A message could not be built or read (a bad name, a bad key).
    #[error("DNS message: {0}")]
    Message(String),
    /// The DNS provider's API answered with an error, as it said it.
    #[error("{provider} API: {message}")]
    Api {
        provider: &'static str,
        message: String,
    },
}
