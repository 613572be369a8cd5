//! Container updates on the agent (the executor of the controller's update commands): pull the
//! new image, back up the container, recreate it from a planned configuration, swap it in under
//! a health gate, and roll back automatically. Not yet wired to the session.
//!
//! - [`plan`]: pure; old container + old image + new image inspect → the new create config.
//! - [`backup`](mod@backup): backups on disk (save, list, prune), sent as the wire `Backup`.
//! - [`journal`]: the fsynced per-operation journal, idempotency by operation id, and
//!   [`journal::recover`] for interrupted operations at agent start.
//! - [`health`]: the health gate (pure [`health::judge`] plus a thin poller).
//! - [`engine`]: the engine operations as a trait, with the bollard implementation.
//! - [`executor`]: the update command; [`manual`]: rollback, restore, restart, backup;
//!   [`context`]: what they share; [`swap`]: the container swap with health gate and automatic
//!   rollback. [`failed`]: images that failed for a container; [`kept`]: old images kept for
//!   a while after an update; [`compose`]: compose-managed containers, updated through the
//!   compose CLI by [`compose_update`] (with [`compose_cli`]); [`volumes`]: optional volume
//!   archives with a backup.
//!
//! See `docs/container-updates.md`.

#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod backup;
pub mod compose;
pub mod compose_cli;
pub mod compose_update;
pub mod context;
pub mod engine;
pub mod executor;
pub mod failed;
pub mod health;
pub mod journal;
pub mod kept;
pub mod libpod;
pub mod manual;
pub mod plan;
pub mod swap;
pub mod volumes;

#[cfg(test)]
mod compose_live_tests;
#[cfg(test)]
mod executor_tests;
#[cfg(test)]
mod live_tests;
#[cfg(test)]
mod plan_tests;
#[cfg(test)]
mod unit_tests;

pub use context::Context;
pub use engine::{Bollard, Engine, EngineError};
pub use executor::{backup, restart, restore, rollback, update};
pub use journal::{recover, Journal};
