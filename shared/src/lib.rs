//! Everything the Unity agent and controller must agree on: the wire protocol
//! ([`proto`]), the domain model that travels in reports ([`model`]) and the TLS
//! configuration both ends use ([`tls`]).
//!
//! Invariant: by default this crate does no I/O and depends on no runtime (no tokio, quinn,
//! sled or axum). The `runtime` feature adds what both daemons run the same way: frame I/O
//! over quinn streams (`wire`) and systemd readiness (`daemon`).

#![deny(clippy::unwrap_used, clippy::expect_used)]

#[cfg(feature = "runtime")]
pub mod daemon;
pub mod model;
pub mod output;
pub mod proto;
pub mod tls;
#[cfg(feature = "runtime")]
pub mod wire;
