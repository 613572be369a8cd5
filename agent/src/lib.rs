//! The Unity agent: collects host data, spools it on disk and pushes it to the controller over
//! mutually-authenticated QUIC.

pub mod acme_challenge;
pub mod agentless;
pub mod backoff;
pub mod certs;
pub mod cli;
pub mod clock;
pub mod collect;
pub mod config;
pub mod diag;
pub mod exec;
pub mod fsutil;
pub mod identity;
pub mod install;
pub mod instance;
pub mod runtime;
pub mod secrets;
pub mod self_update;
pub mod service_checks;
pub mod spool;
pub mod ssh_access;
pub mod sshd;
pub mod transport;
pub mod update;
pub mod version;
