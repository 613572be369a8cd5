//! The version this agent states everywhere (`--version`, the hello, the self-update checks,
//! the User-Agent of exporter scrapes): `UNITY_BUILD_VERSION` when set at build time (a
//! distribution's package version, or a test build that must be newer than the tree it comes
//! from), otherwise the crate's version.
//!
//! ```text
//! UNITY_BUILD_VERSION=0.3.0 cargo build --release -p unity-agent --bin unity-agent
//! ```

/// The agent's version.
pub const VERSION: &str = match option_env!("UNITY_BUILD_VERSION") {
    Some(version) => version,
    None => env!("CARGO_PKG_VERSION"),
};
