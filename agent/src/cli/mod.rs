//! The agent's command line: the daemon (`run`), enrollment, and local diagnostics.

#![allow(clippy::print_stderr)] // Errors go to stderr; output goes through `outln!`.

mod collect;
mod status;

use crate::config::{Config, RawConfig, DEFAULT_CONFIG_PATH};
use crate::diag::parse::ParseKind;
use crate::runtime;
use crate::{diag, identity, transport};
use anyhow::Context as _;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use unity_shared::outln;

const EXIT_CONFIG: u8 = 64;

#[derive(Debug, Parser)]
#[command(
    name = "unity-agent",
    version = crate::version::VERSION,
    about = "Unity agent: watches this host and reports to your Unity controller",
    long_about = "Unity agent: collects system metrics (and disk, pool, database and container health) on this host \
and pushes them to a Unity controller over mutually-authenticated QUIC. Data is spooled on disk while the \
controller is away and replayed when it returns.\n\n\
First enroll with the command `unity-controller token create` prints, then `systemctl enable --now unity-agent`."
)]
pub struct Args {
    /// Configuration file (TOML). Missing is fine at the default path.
    #[arg(short, long, global = true, env = "UNITY_AGENT_CONFIG", default_value = DEFAULT_CONFIG_PATH)]
    pub config: PathBuf,
    /// Data directory (identity, spool, status); overrides the file.
    #[arg(long, global = true, env = "UNITY_AGENT_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

/// `unity-agent agentless ...`.
#[derive(Debug, Subcommand)]
pub enum AgentlessCommand {
    /// Each agentless host: the newest outcome, reports waiting for the controller.
    Status {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the agent daemon (collect, spool, report).
    Run {
        /// Collection interval, e.g. 15s; overrides the file.
        #[arg(long)]
        interval: Option<String>,
    },
    /// Enroll this host with a controller using a join token.
    Enroll {
        /// Controller address, HOST:PORT (UDP).
        #[arg(long)]
        controller: String,
        /// Single-use join token from `unity-controller token create`.
        #[arg(long, env = "UNITY_JOIN_TOKEN", hide_env_values = true)]
        token: String,
        /// Pin of the controller's CA, sha256:HEX, from the join command.
        #[arg(long)]
        ca_hash: String,
        /// Replace an existing enrollment. Not needed when the data directory was copied from
        /// another machine (a cloned VM): such a copy may always enroll anew.
        #[arg(long)]
        force: bool,
    },
    /// Show connection state, identity, certificate expiry and spool depth.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Collect once on this host and print the result.
    #[command(subcommand)]
    Collect(collect::CollectCommand),
    /// The agentless hosts this agent collects over SSH (as the running daemon last wrote).
    #[command(subcommand)]
    Agentless(AgentlessCommand),
    /// Parse a saved tool output and print the model as JSON (stable field names, see
    /// docs/storage-model.md). Attach this output when you report a parsing problem.
    Parse {
        /// Which tool produced the file.
        kind: ParseKind,
        /// The saved output (`-` for standard input).
        file: PathBuf,
        /// Accepted for symmetry with `collect`; the output is always JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check the configuration file and exit.
    CheckConfig,
    /// Managed SSH authorized keys on this host.
    #[command(subcommand)]
    SshKeys(SshKeysCommand),
}

/// `unity-agent ssh-keys ...`.
#[derive(Debug, Subcommand)]
pub enum SshKeysCommand {
    /// Which users' keys Unity manages here, where, and whether each block was edited by hand
    /// since the agent wrote it (drift). Reads only.
    Status {
        #[arg(long)]
        json: bool,
    },
}

/// Logs go to stderr; the filter comes from `UNITY_LOG` (default: info for Unity, warn else).
///
/// `UNITY_LOG` takes a level and `target=level` pairs, e.g. `debug` or `warn,unity_agent=debug`
/// ([`Targets`](tracing_subscriber::filter::Targets) syntax). Not `EnvFilter`: its span and
/// field filters pull a regex engine into the binary, about 0.3 MB of code that the daemon's
/// memory footprint pays for (see BENCHMARKS.md, "Agent footprint").
/// Colour only on a terminal (a redirected log file gets no escape codes) and never under
/// `NO_COLOR`.
pub fn init_tracing() {
    use std::io::IsTerminal;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = std::env::var("UNITY_LOG")
        .ok()
        .and_then(|value| value.parse::<tracing_subscriber::filter::Targets>().ok())
        .unwrap_or_else(|| {
            tracing_subscriber::filter::Targets::new()
                .with_default(tracing::Level::WARN)
                .with_target("unity_agent", tracing::Level::INFO)
        });
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(colour),
        )
        .try_init();
}

fn load_config(args: &Args) -> anyhow::Result<Config> {
    let required = args.config.as_path() != std::path::Path::new(DEFAULT_CONFIG_PATH);
    let mut raw = RawConfig::load(&args.config, required)?;
    if let Some(data_dir) = &args.data_dir {
        raw.data_dir = Some(data_dir.clone());
    }
    if let Command::Run {
        interval: Some(interval),
    } = &args.command
    {
        raw.interval = Some(interval.clone());
    }
    Ok(Config::from_raw(raw)?)
}

pub async fn main(args: Args) -> ExitCode {
    let config = match load_config(&args) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("unity-agent: configuration error: {error:#}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    match run_command(args.command, config).await {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("unity-agent: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a command; the result is the process exit code.
async fn run_command(command: Command, config: Config) -> anyhow::Result<u8> {
    match command {
        Command::Run { .. } => run_daemon(config).await,
        Command::Enroll {
            controller,
            token,
            ca_hash,
            force,
        } => {
            let enrolled = enroll(&config, &controller, &token, &ca_hash, force).await?;
            outln!(
                "Enrolled as {enrolled}. Identity stored in {}.",
                config.data_dir.display()
            );
            outln!("Start the agent:  systemctl enable --now unity-agent   (or: unity-agent run)");
            Ok(0)
        }
        Command::Status { json } => status::status(&config, json).await.map(|()| 0),
        Command::Agentless(AgentlessCommand::Status { json }) => {
            status::agentless(&config, json).await.map(|()| 0)
        }
        Command::Collect(collect) => collect::collect_once(collect, &config).await,
        Command::Parse { kind, file, .. } => {
            let output = if file.as_os_str() == "-" {
                let mut input = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut input)
                    .context("reading standard input")?;
                diag::parse::parse_to_json(kind, &input)?
            } else {
                diag::parse::parse_file_to_json(kind, &file)?
            };
            outln!("{output}");
            Ok(0)
        }
        Command::SshKeys(SshKeysCommand::Status { json }) => {
            let managed =
                crate::ssh_access::status(&config.ssh_keys).map_err(anyhow::Error::msg)?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&managed)?);
            } else if managed.is_empty() {
                outln!("No managed SSH keys on this host.");
            }
            if !json {
                for user in &managed {
                    let state = match (&user.error, user.drift) {
                        (Some(error), _) => format!("error: {error}"),
                        (None, true) => "DRIFT: edited by hand since Unity wrote it".into(),
                        (None, false) => "as written".into(),
                    };
                    let count = user.lines.as_ref().map_or(0, Vec::len);
                    outln!(
                        "{}  {}  {count} line(s)  {state}",
                        user.user,
                        user.path.display()
                    );
                }
            }
            Ok(0)
        }
        Command::CheckConfig => {
            outln!("configuration OK: {}", config.redacted());
            Ok(0)
        }
    }
}

/// Enrolls and stores the identity; returns the agent id.
pub async fn enroll(
    config: &Config,
    controller: &str,
    token: &str,
    ca_hash: &str,
    force: bool,
) -> anyhow::Result<String> {
    let data_dir = config.data_dir.clone();
    let machine = config.machine.clone();
    let (enrolled_here, copied) = tokio::task::spawn_blocking(move || {
        (
            identity::is_enrolled(&data_dir),
            crate::instance::is_copied(&data_dir, &machine),
        )
    })
    .await?;
    if enrolled_here && !force && !copied {
        anyhow::bail!(
            "{} already holds an enrollment; pass --force to replace it",
            config.data_dir.display()
        );
    }
    if enrolled_here && copied {
        tracing::warn!(
            "This data directory holds an identity copied from another machine; enrolling gives this host its own."
        );
    }
    unity_shared::tls::parse_ca_hash(ca_hash)?;
    let host = tokio::task::spawn_blocking(crate::collect::system::host_facts).await?;
    let (enrolled, key) = transport::enroll(controller, token, ca_hash, host).await?;
    let data_dir = config.data_dir.clone();
    let controller = controller.to_owned();
    let agent_id = enrolled.agent_id.to_string();
    tokio::task::spawn_blocking(move || {
        identity::store_enrollment(
            &data_dir,
            &enrolled.agent_id,
            &controller,
            &enrolled.ca_certificate_der,
            &enrolled.certificate_der,
            &key,
        )?;
        // A new identity starts a new instance of it at the next start.
        crate::instance::reset(&data_dir)
    })
    .await??;
    Ok(agent_id)
}

async fn run_daemon(config: Config) -> anyhow::Result<u8> {
    tracing::info!(config = %config.redacted(), "Starting.");
    // A new build on trial counts this start before anything else can fail, or is put back.
    let data_dir = config.data_dir.clone();
    let start = tokio::task::spawn_blocking(move || {
        crate::self_update::at_start(&data_dir, crate::version::VERSION)
    })
    .await??;
    if start == crate::self_update::StartOutcome::RolledBack {
        return Ok(crate::self_update::RESTART_EXIT_CODE as u8);
    }
    let watch = tokio::spawn(crate::self_update::watch(config.data_dir.clone()));
    let agent = runtime::start(config).await?;
    unity_shared::daemon::ready_until(shutdown_signal()).await;
    tracing::info!("Stopping.");
    watch.abort();
    agent.stop().await;
    Ok(0)
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
}
