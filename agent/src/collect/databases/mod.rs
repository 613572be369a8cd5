//! Database discovery and health: finds PostgreSQL, MySQL/MariaDB, Redis, MongoDB and MinIO
//! servers on the host without being told where they are, and probes each one without
//! credentials (deeper health with optional credentials).
//!
//! - [`proc_net`]: pure parsers of `/proc/net/{tcp,tcp6,unix}` and `/proc/PID/{comm,cmdline,fd}`,
//!   plus the one function that reads them.
//! - [`discover`](mod@discover): pure; sockets, processes and containers in,
//!   [`discover::Candidate`]s out.
//! - [`probe`]: one module per protocol; reply parsing is pure (`bytes -> result`), the talking
//!   is a thin async function bounded by a timeout.
//! - [`run`]: one collection (discover, plan, probe concurrently).
//!
//! See `docs/databases.md`.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

pub mod credentials;
pub mod discover;
pub mod probe;
pub mod proc_net;
pub mod run;
pub mod samples;

#[cfg(test)]
mod live_login_tests;
#[cfg(test)]
mod live_tests;
#[cfg(test)]
mod servers;
#[cfg(test)]
mod tests;

pub use credentials::{DatabaseCredentials, Secret};
pub use discover::{discover, Candidate, ContainerPorts, PortProtocol, PublishedPort};
pub use run::{collect, DatabaseTarget, DatabasesConfig, RawDatabasesConfig};
