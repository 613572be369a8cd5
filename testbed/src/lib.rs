//! Real container engines and OCI registries for tests, from Debian's packages (see
//! `../shared/TESTBED.md` beside the repository and `scripts/test`, which installs them):
//! each is started in its own temporary directory on loopback and stopped when dropped.
//!
//! A missing program fails with the Debian package to install; tests never skip silently.
//! Test-only: no production crate depends on this one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]
// Test-only: it starts the real servers the tests drive (dockerd, Podman, registries), so the
// "only agent::exec spawns processes" rule (clippy.toml) does not apply here.
#![allow(clippy::disallowed_methods)]

pub mod databases;
pub mod engine;
pub mod image;
pub mod registry;
