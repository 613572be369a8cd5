//! Everything the Unity agent and controller must agree on: the wire protocol
//! ([`proto`]), the domain model that travels in reports ([`model`]) and the TLS
//! configuration both ends use ([`tls`]).
//!
//! Invariant: this crate does no I/O and depends on no runtime (no tokio, sled or axum).

#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod model;
pub mod proto;
pub mod tls;
