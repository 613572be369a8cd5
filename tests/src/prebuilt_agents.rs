//! Agents built apart from the workspace for the tests that need another version: the older
//! protocol's (`scripts/build-older-agent`, `UNITY_OLDER_AGENT`) and a newer version's
//! (`scripts/build-newer-agent`, `UNITY_NEWER_AGENT`); `scripts/test` builds both and exports
//! the paths. A test that needs one fails, never skips, without it. Also the configuration
//! such an agent runs with in those tests.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The binary named by `variable`, built by `script` for `purpose`.
fn prebuilt(variable: &str, script: &str, purpose: &str) -> PathBuf {
    let path = std::env::var_os(variable)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            panic!(
                "{variable} is not set: {purpose}; build it with {script} (scripts/test does) \
                 and pass the path it prints"
            )
        });
    assert!(
        path.is_file(),
        "{variable}={} is not a file: run {script}",
        path.display()
    );
    path
}

/// The agent of the previous protocol version (protocol-compatibility tests).
pub fn older_agent() -> PathBuf {
    prebuilt(
        "UNITY_OLDER_AGENT",
        "scripts/build-older-agent",
        "the protocol-compatibility test needs the agent of the previous protocol version",
    )
}

/// An agent that reports a newer version (agent-update tests).
pub fn newer_agent() -> PathBuf {
    prebuilt(
        "UNITY_NEWER_AGENT",
        "scripts/build-newer-agent",
        "the agent-update tests need an agent build that reports a newer version",
    )
}

/// `<dir>/agent.toml` for an agent of `controller`: system metrics every second, nothing
/// else, its data in `<dir>/data`.
pub fn system_only_config(dir: &Path, controller: SocketAddr) -> PathBuf {
    let config = dir.join("agent.toml");
    let text = format!(
        "data_dir = \"{}\"\ncontroller = \"{controller}\"\ninterval = \"1s\"\nheartbeat = \"500ms\"\n\
         [storage]\nenabled = false\n[databases]\nenabled = false\n[containers]\nenabled = false\n\
         [plugins]\nenabled = false\n[certificates]\nenabled = false\n",
        dir.join("data").display()
    );
    std::fs::write(&config, text).unwrap();
    config
}
