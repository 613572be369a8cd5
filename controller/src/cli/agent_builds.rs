//! `unity-controller release-key show|rotate`, `unity-controller agent-builds add|list` and
//! `unity-controller agents update HOST` (issue 20 §2, docs/agent-updates.md): requests to the
//! admin socket, or handled on the database when no daemon runs (an update is then queued for
//! the daemon's next start).

use super::{admin_call, format_time_ms, print_json, unexpected};
use crate::admin::{
    AdminRequest, AdminResponse, AgentBuildsRequest, AgentBuildsResponse, AgentUpdateLine,
};
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

pub(super) async fn call(
    config: &Config,
    request: AgentBuildsRequest,
) -> anyhow::Result<AgentBuildsResponse> {
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
        AgentBuildsResponse::Builds(_)
        | AgentBuildsResponse::Update(_)
        | AgentBuildsResponse::Rollout(_) => {
            anyhow::bail!("unexpected answer from the controller")
        }
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
        AgentBuildsResponse::Keys(_)
        | AgentBuildsResponse::Update(_)
        | AgentBuildsResponse::Rollout(_) => {
            anyhow::bail!("unexpected answer from the controller")
        }
    }
}

/// `unity-controller agents update HOST ...`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  unity-controller agents update nas                 # the newest build for nas's arch and install
  unity-controller agents update nas --version 0.3.0 --wait
  unity-controller agents update nas --rollback      # the newest build older than what runs

The build is chosen from the store (agent-builds add) for the host's architecture and install
kind. The agent checks it, installs it, restarts (systemd) and must come back with the new
version within --confirm-within; otherwise it puts the previous binary back by itself and the
update reads rolled back. See docs/agent-updates.md.")]
pub struct UpdateArgs {
    /// The host: its agent id or its hostname.
    pub host: String,
    /// Exactly this version (default: the newest build for the host).
    #[arg(long)]
    pub version: Option<String>,
    /// Go back to an older version.
    #[arg(long)]
    pub rollback: bool,
    /// How long the new agent has to reach the controller before it is rolled back.
    #[arg(long, default_value = "5m")]
    pub confirm_within: String,
    /// Wait until the update has ended; exit 1 unless it succeeded.
    #[arg(long)]
    pub wait: bool,
    /// With --wait: give up waiting after this long.
    #[arg(long, default_value = "30m")]
    pub timeout: String,
    #[arg(long)]
    pub json: bool,
}

fn print_update(line: &AgentUpdateLine) {
    let ended = match line.outcome.as_str() {
        "" => line.state.clone(),
        outcome => outcome.to_owned(),
    };
    outln!(
        "{}  {}  {} -> {}  {ended}{}",
        line.id,
        line.agent_id,
        line.from_version,
        line.to_version,
        match line.message.as_str() {
            "" => String::new(),
            message => format!(": {message}"),
        }
    );
}

async fn call_update(
    config: &Config,
    request: AgentBuildsRequest,
) -> anyhow::Result<AgentUpdateLine> {
    match call(config, request).await? {
        AgentBuildsResponse::Update(line) => Ok(line),
        _ => anyhow::bail!("unexpected answer from the controller"),
    }
}

pub async fn run_agent_update(args: UpdateArgs, config: &Config) -> anyhow::Result<()> {
    let confirm_within = humantime::parse_duration(&args.confirm_within)
        .with_context(|| format!("--confirm-within {:?}", args.confirm_within))?;
    let timeout = humantime::parse_duration(&args.timeout)
        .with_context(|| format!("--timeout {:?}", args.timeout))?;
    let request = AgentBuildsRequest::UpdateAgent {
        host: args.host,
        version: args.version,
        rollback: args.rollback,
        confirm_within_secs: confirm_within.as_secs(),
    };
    let mut line = call_update(config, request).await?;
    if !args.json {
        print_update(&line);
    }
    if args.wait {
        let started = tokio::time::Instant::now();
        let mut shown = line.state.clone();
        while line.state != "finished" {
            if started.elapsed() > timeout {
                anyhow::bail!("agent update {} has not ended after {:?}", line.id, timeout);
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            let id = line.id.clone();
            line = call_update(config, AgentBuildsRequest::UpdateStatus { id }).await?;
            if line.state != shown && !args.json {
                print_update(&line);
                shown = line.state.clone();
            }
        }
    }
    if args.json {
        print_json(&line)?;
    }
    if args.wait && line.outcome != "succeeded" {
        anyhow::bail!(
            "agent update {} {}: {}",
            line.id,
            line.outcome.replace('_', " "),
            line.message
        );
    }
    Ok(())
}
