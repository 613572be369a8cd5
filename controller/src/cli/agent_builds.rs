//! `unity-controller release-key show|rotate` and `unity-controller agent-builds add|list`
//! (issue 20 §2, docs/agent-updates.md): requests to the admin socket, or handled on the
//! database when no daemon runs.

use super::{admin_call, format_time_ms, print_json, unexpected};
use crate::admin::{AdminRequest, AdminResponse, AgentBuildsRequest, AgentBuildsResponse};
use crate::config::Config;
use crate::domain::agent_builds::{AddBuild, BuildView, ReleaseKeyView, DEFAULT_GRACE};
use anyhow::Context as _;
use std::path::PathBuf;
use unity_shared::outln;

/// `unity-controller release-key ...`.
#[derive(Debug, clap::Subcommand)]
pub enum ReleaseKeyCommand {
    /// Show the release key that signs agent builds (made on first use) and the retired keys
    /// agents still accept.
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Make a new release key. Builds are signed with it from now on; the old public key
    /// stays valid for --grace (agents learn the new set at their next session), so builds
    /// signed before still install meanwhile.
    Rotate {
        /// How long the old key still verifies, e.g. 7d, 30d.
        #[arg(long, default_value = "30d")]
        grace: String,
        #[arg(long)]
        json: bool,
    },
}

/// `unity-controller agent-builds ...`.
#[derive(Debug, clap::Subcommand)]
pub enum AgentBuildsCommand {
    /// Add an agent build to the store: the file is copied, hashed and its manifest (version,
    /// arch, kind, size, SHA-256) signed with the release key.
    #[command(after_help = "\
Examples:
  unity-controller agent-builds add target/release/unity-agent --arch x86_64 --version 0.2.0
  unity-controller agent-builds add unity-agent_0.2.0_arm64.deb --arch aarch64 --kind deb --version 0.2.0

The version is the one you give: the controller runs nothing it is given. The agent checks it
by running the build's `--version` before installing it, and refuses a build that does not
say the version its manifest does. FILE must be readable by the controller's user when the
daemon runs. See docs/agent-updates.md.")]
    Add {
        file: PathBuf,
        /// x86_64 (amd64) or aarch64 (arm64).
        #[arg(long)]
        arch: String,
        /// binary (the unity-agent executable), deb or rpm.
        #[arg(long, default_value = "binary")]
        kind: String,
        /// The version the build reports (`unity-agent --version`), semver.
        #[arg(long)]
        version: String,
        #[arg(long)]
        json: bool,
    },
    /// List the builds in the store.
    List {
        #[arg(long)]
        json: bool,
    },
}

fn print_keys(keys: &[ReleaseKeyView]) {
    for key in keys {
        let state = match key.valid_until_ms {
            None => "current".to_owned(),
            Some(until) => format!("retired, valid until {}", format_time_ms(until)),
        };
        outln!("{}  {}  {state}", key.key_id, key.public_key);
    }
}

fn print_builds(builds: &[BuildView]) {
    outln!(
        "{:<28} {:<10} {:<8} {:<7} {:>10}  SHA-256",
        "NAME",
        "VERSION",
        "ARCH",
        "KIND",
        "BYTES"
    );
    for build in builds {
        outln!(
            "{:<28} {:<10} {:<8} {:<7} {:>10}  {}",
            build.name,
            build.version,
            build.arch,
            build.kind,
            build.size,
            build.sha256
        );
    }
}

async fn call(config: &Config, request: AgentBuildsRequest) -> anyhow::Result<AgentBuildsResponse> {
    match admin_call(config, AdminRequest::AgentBuilds(request)).await? {
        AdminResponse::AgentBuilds(response) => Ok(response),
        other => unexpected(other).map(|()| AgentBuildsResponse::Builds(Vec::new())),
    }
}

pub async fn run_release_key(command: ReleaseKeyCommand, config: &Config) -> anyhow::Result<()> {
    let (request, json) = match command {
        ReleaseKeyCommand::Show { json } => (AgentBuildsRequest::ShowKeys, json),
        ReleaseKeyCommand::Rotate { grace, json } => {
            let grace = if grace.is_empty() {
                DEFAULT_GRACE
            } else {
                humantime::parse_duration(&grace).with_context(|| format!("--grace {grace:?}"))?
            };
            (
                AgentBuildsRequest::RotateKey {
                    grace_secs: grace.as_secs(),
                },
                json,
            )
        }
    };
    match call(config, request).await? {
        AgentBuildsResponse::Keys(keys) if json => print_json(&keys),
        AgentBuildsResponse::Keys(keys) => {
            print_keys(&keys);
            Ok(())
        }
        AgentBuildsResponse::Builds(_) => anyhow::bail!("unexpected answer from the controller"),
    }
}

pub async fn run_agent_builds(command: AgentBuildsCommand, config: &Config) -> anyhow::Result<()> {
    let (request, json) = match command {
        AgentBuildsCommand::Add {
            file,
            arch,
            kind,
            version,
            json,
        } => {
            let cwd = std::env::current_dir().context("reading the working directory")?;
            let path = cwd.join(file);
            let add = AddBuild {
                path: path.display().to_string(),
                arch,
                kind,
                version,
            };
            (AgentBuildsRequest::Add(add), json)
        }
        AgentBuildsCommand::List { json } => (AgentBuildsRequest::List, json),
    };
    match call(config, request).await? {
        AgentBuildsResponse::Builds(builds) if json => print_json(&builds),
        AgentBuildsResponse::Builds(builds) => {
            print_builds(&builds);
            Ok(())
        }
        AgentBuildsResponse::Keys(_) => anyhow::bail!("unexpected answer from the controller"),
    }
}
