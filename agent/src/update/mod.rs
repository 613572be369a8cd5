//! Container updates on the agent (the executor of the controller's container commands): pull
//! the new image, back up the container, recreate it from a planned configuration, swap it in
//! under a health gate, and roll back automatically. `runtime/operations.rs` runs the commands
//! the controller sends and recovers interrupted ones at start.
//!
//! From the bottom up (each layer imports only those below it):
//!
//! 1. Leaves: [`plan`] (pure; old container + old image + new image inspect → the new create
//!    config), [`backup`](mod@backup) (backups on disk, sent as the wire `Backup`), [`failed`]
//!    (images that failed for a container), [`pinned`] (pure; the
//!    request's image split into what is pulled and what is run), [`compose`] (a container's compose project, and
//!    the [`compose::ComposeService`] the journal keeps), [`libpod`] (Podman's extras),
//!    [`evidence`] (pure; a failed candidate's logs and health output, bounded),
//!    [`env_exclude`] (pure; the environment variables left out of the controller's copy).
//! 2. The engine: [`engine`] (the operations as a trait, with the bollard implementation),
//!    [`health`] (the health gate: pure [`health::judge`] plus a thin poller), [`volumes`]
//!    (optional volume archives with a backup), [`kept`] (old images kept for a while after an
//!    update), [`failed_images`] (failed candidate images kept for inspection, then removed),
//!    [`compose_cli`] (the compose CLI through `exec`), [`compose_files`] (the refusal naming
//!    the owner's file and line; Unity's override file).
//! 3. [`journal`]: the fsynced per-operation journal; it stores records and calls nothing.
//! 4. [`data_rollback`]: the one data step of every rollback (the database's data back from
//!    the volume archives or the dump, by [`data_restore`]'s policy);
//!    [`recovery`]: puts containers back (undo or finish a swap, a compose service on its old
//!    image), for a failing operation and for [`recovery::recover`] at agent start.
//! 5. [`context`]: what every command works with ([`OperationContext`]) and the steps they
//!    share; [`operation`]: how each command begins and ends (idempotency by operation id, the
//!    stored result).
//! 6. The commands' bodies: [`swap`] (the container swap with health gate and automatic
//!    rollback), [`compose_update`] (an update through the compose CLI), [`manual`] (rollback,
//!    restore, restart, backup).
//! 7. [`executor`]: [`execute`] runs one command; [`update`] is the update command.
//!
//! See `docs/container-updates.md`.

#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod backup;
pub mod compose;
pub mod compose_cli;
pub mod compose_files;
pub mod compose_update;
pub mod container_exec;
pub mod context;
pub mod data_restore;
pub mod data_rollback;
pub mod dump;
pub mod dump_plan;
pub mod engine;
pub mod env_exclude;
pub mod evidence;
pub mod executor;
pub mod failed;
pub mod failed_images;
pub mod health;
pub mod journal;
pub mod kept;
pub mod libpod;
pub mod manual;
pub mod operation;
pub mod pinned;
pub mod plan;
pub mod recovery;
pub mod scan;
pub mod swap;
pub mod volumes;

#[cfg(test)]
mod compose_data_live_tests;
#[cfg(test)]
mod compose_live_tests;
#[cfg(test)]
mod compose_restore_live_tests;
#[cfg(test)]
mod dump_live_tests;
#[cfg(test)]
mod evidence_live_tests;
#[cfg(test)]
mod executor_tests;
#[cfg(test)]
mod journal_compat_tests;
#[cfg(test)]
mod live_tests;
#[cfg(test)]
mod pinned_live_tests;
#[cfg(test)]
mod plan_tests;
#[cfg(test)]
mod scan_live_tests;
#[cfg(test)]
mod unit_tests;

pub use context::OperationContext;
pub use engine::{Bollard, Engine, EngineError};
pub use executor::{backup, execute, restart, restore, rollback, update};
pub use journal::Journal;
pub use recovery::recover;
