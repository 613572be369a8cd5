//! The agent's command line: the daemon (`run`), enrollment, and local diagnostics.

#![allow(clippy::print_stderr)] // Errors go to stderr; output goes through `outln!`.

use crate::config::{Config, RawConfig, DEFAULT_CONFIG_PATH};
use crate::diag::parse::ParseKind;
use crate::runtime;
use crate::{clock, collect, diag, identity, spool, transport};
use anyhow::Context as _;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use unity_shared::outln;

const EXIT_CONFIG: u8 = 64;

#[derive(Debug, Parser)]
#[command(
    name = "unity-agent",
    version,
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
    Collect(CollectCommand),
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
}

#[derive(Debug, Subcommand)]
pub enum CollectCommand {
    /// System metrics (CPU, memory, load, filesystems, network, temperatures).
    System {
        #[arg(long)]
        json: bool,
    },
    /// SMART health of every disk `smartctl --scan-open` finds. Exit status: 0 passed,
    /// 1 warning, 2 failing, 3 collector failed.
    Smart {
        #[arg(long)]
        json: bool,
    },
    /// ZFS pools (state, vdev tree, errors, scrub) and datasets. Exit status as for `smart`.
    Zfs {
        #[arg(long)]
        json: bool,
    },
    /// Linux md RAID arrays from /proc/mdstat and `mdadm --detail`. Exit status as for `smart`.
    Raid {
        #[arg(long)]
        json: bool,
    },
    /// The whole storage stack: every drive with the md arrays, ZFS pools and mounts above
    /// it, drives that vanished marked missing. Exit status as for `smart`, worst of all.
    Storage {
        #[arg(long)]
        json: bool,
    },
    /// Databases on this host (PostgreSQL, MySQL/MariaDB, Redis, MongoDB, MinIO), found
    /// without configuration and probed without credentials. Exit status 1 when one is down.
    Databases {
        #[arg(long)]
        json: bool,
    },
    /// Textfiles, exporters and checks (docs/plugins.md), once, as the daemon runs them: try a
    /// new check script or cron job here. Exit status: the worst check's (0 ok, 1 warning,
    /// 2 critical, 3 unknown), at least 1 when a source failed or had parse errors.
    Plugins {
        #[arg(long)]
        json: bool,
    },
    /// Certificates on this host: files under `[certificates] paths` and `extra_paths`, and
    /// the chains served on listening TLS ports, sorted by expiry, with their problems
    /// (docs/certificates/inventory.md). Exit status 1 when one has expired.
    Certificates {
        #[arg(long)]
        json: bool,
    },
    /// Docker or Podman containers: image and digests, state and health, restart policy,
    /// ports, mounts, networks, labels, CPU and memory.
    ///
    /// The engine's socket is found as in the daemon (`[containers] socket`, then DOCKER_HOST if unix://, then
    /// /var/run/docker.sock, /run/docker.sock, /run/podman/podman.sock,
    /// $XDG_RUNTIME_DIR/podman/podman.sock). Takes about a second (CPU needs two readings).
    /// Exit status: 0 fine, 1 a container is unhealthy, dead or restarting, 3 no engine
    /// answered (missing socket, permission denied: the socket is root-equivalent, see
    /// docs/containers.md).
    Containers {
        /// Print the inventory as JSON (the model of docs/containers.md).
        #[arg(long)]
        json: bool,
        /// Use this engine socket instead of finding one, e.g. /run/podman/podman.sock.
        #[arg(long, value_name = "PATH")]
        socket: Option<PathBuf>,
    },
}

/// Logs go to stderr; the filter comes from `UNITY_LOG` (default: info for Unity, warn else).
///
/// `UNITY_LOG` takes a level and `target=level` pairs, e.g. `debug` or `warn,unity_agent=debug`
/// ([`Targets`](tracing_subscriber::filter::Targets) syntax). Not `EnvFilter`: its span and
/// field filters pull a regex engine into the binary, about 0.3 MB of code that the daemon's
/// memory footprint pays for (see BENCHMARKS.md, "Agent footprint").
pub fn init_tracing() {
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
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
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
        Command::Run { .. } => run_daemon(config).await.map(|()| 0),
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
        Command::Status { json } => status(&config, json).await.map(|()| 0),
        Command::Collect(collect) => collect_once(collect, &config).await,
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
        Command::CheckConfig => {
            outln!("configuration OK: {}", config.redacted());
            Ok(0)
        }
    }
}

/// `collect …`: runs one collector and prints it; the exit code carries the verdict.
async fn collect_once(command: CollectCommand, config: &Config) -> anyhow::Result<u8> {
    let storage = &config.storage;
    let (collected, json) = match command {
        CollectCommand::System { json } => return collect_system(json).await.map(|()| 0),
        CollectCommand::Databases { json } => {
            let instances = diag::databases::collect_databases(&config.databases).await?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&instances)?);
            } else {
                outln!("{}", diag::databases::render_table(&instances));
            }
            return Ok(u8::from(
                instances.iter().any(|instance| !instance.reachable),
            ));
        }
        CollectCommand::Certificates { json } => {
            let inventory = diag::certificates::collect(&config.certificates).await?;
            let now = clock::now_seconds();
            if json {
                outln!("{}", diag::certificates::render_json(&inventory, now)?);
            } else {
                outln!("{}", diag::certificates::render_text(&inventory, now));
            }
            return Ok(diag::certificates::exit_code(&inventory));
        }
        CollectCommand::Plugins { json } => {
            let collected = diag::plugins::collect(&config.plugins).await?;
            if json {
                outln!("{}", diag::plugins::render_json(&collected)?);
            } else {
                outln!("{}", diag::plugins::render_text(&collected));
            }
            return Ok(diag::plugins::exit_code(&collected));
        }
        CollectCommand::Containers { json, socket } => {
            let inventory = diag::containers::collect_containers(&config.containers, socket).await;
            if json {
                outln!("{}", serde_json::to_string_pretty(&inventory)?);
            } else {
                outln!("{}", diag::containers::render_table(&inventory));
            }
            return Ok(diag::containers::exit_code(&inventory));
        }
        CollectCommand::Storage { json } => {
            let drives = runtime::storage::drives_file(&config.data_dir);
            let previous = runtime::storage::load_drives(&drives).await;
            let state = runtime::storage::collect(storage, &previous).await;
            if json {
                outln!("{}", serde_json::to_string_pretty(&state)?);
            } else {
                outln!("{}", diag::stack::render_stack(&state.stack));
            }
            let worst = [
                diag::storage::Collected::Smart(state.smart),
                diag::storage::Collected::Zfs(state.zfs),
                diag::storage::Collected::Raid(state.raid),
            ]
            .iter()
            .map(diag::storage::Collected::exit_code)
            .max()
            .unwrap_or(0);
            return Ok(u8::try_from(worst).unwrap_or(3));
        }
        CollectCommand::Smart { json } => {
            (diag::storage::collect_smart(&storage.smart).await?, json)
        }
        CollectCommand::Zfs { json } => (diag::storage::collect_zfs(&storage.zfs).await?, json),
        CollectCommand::Raid { json } => (diag::storage::collect_raid(&storage.raid).await?, json),
    };
    if json {
        outln!("{}", diag::storage::render_json(&collected)?);
    } else {
        outln!("{}", diag::storage::render_table(&collected));
    }
    Ok(u8::try_from(collected.exit_code()).unwrap_or(3))
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
    let host = tokio::task::spawn_blocking(collect::system::host_facts).await?;
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

async fn run_daemon(config: Config) -> anyhow::Result<()> {
    tracing::info!(config = %config.redacted(), "Starting.");
    let agent = runtime::start(config).await?;
    unity_shared::daemon::ready_until(shutdown_signal()).await;
    tracing::info!("Stopping.");
    agent.stop().await;
    Ok(())
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

fn format_time_ms(ms: i64) -> String {
    if ms <= 0 {
        return "never".into();
    }
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + Duration::from_millis(ms as u64))
        .to_string()
}

async fn status(config: &Config, json: bool) -> anyhow::Result<()> {
    let data_dir = config.data_dir.clone();
    let (identity, status, spool_depth) = tokio::task::spawn_blocking(move || {
        let identity = identity::load(&data_dir);
        let status = runtime::status::read(&data_dir);
        let depth = spool::depth_of(&identity::spool_dir(&data_dir));
        (identity, status, depth)
    })
    .await?;
    let identity = identity?;
    let status = status.unwrap_or_default();
    let running =
        status.pid != 0 && std::path::Path::new(&format!("/proc/{}", status.pid)).exists();
    let connection = if running {
        status.connection.clone()
    } else {
        "not running".into()
    };
    let not_after = identity.not_after_unix().unwrap_or(0);
    if json {
        let value = serde_json::json!({
            "agent_id": identity.agent_id.to_string(),
            "controller": config.controller.clone().unwrap_or(identity.controller.clone()),
            "connection": connection,
            "connection_since_ms": status.connection_since_ms,
            "last_error": status.last_error,
            "last_collection_ms": status.last_collection_ms,
            "last_ack_ms": status.last_ack_ms,
            "certificate_not_after": not_after,
            "spool_depth": spool_depth,
            "instance_id": status.instance_id,
            "identity_note": status.identity_note,
            "waiting_since_ms": status.waiting_since_ms,
        });
        outln!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    outln!("agent id:         {}", identity.agent_id);
    outln!(
        "controller:       {}",
        config.controller.as_deref().unwrap_or(&identity.controller)
    );
    outln!(
        "connection:       {connection} (since {})",
        format_time_ms(status.connection_since_ms)
    );
    if running && status.waiting_since_ms > 0 {
        outln!(
            "waiting:          for the controller's answer since {}",
            format_time_ms(status.waiting_since_ms)
        );
    }
    if let Some(error) = &status.last_error {
        outln!("last error:       {error}");
    }
    if let Some(note) = &status.identity_note {
        outln!("identity:         {note}");
    }
    outln!("certificate until {}", format_time_ms(not_after * 1000));
    outln!("spool depth:      {spool_depth} reports");
    outln!(
        "last collection:  {}",
        format_time_ms(status.last_collection_ms)
    );
    outln!("last ack:         {}", format_time_ms(status.last_ack_ms));
    Ok(())
}

async fn collect_system(json: bool) -> anyhow::Result<()> {
    let snapshot = tokio::task::spawn_blocking(|| {
        let mut collector = collect::system::SystemCollector::new();
        collector.snapshot();
        std::thread::sleep(Duration::from_millis(250));
        collector.snapshot()
    })
    .await
    .context("collecting")?;
    let samples = collect::system::to_samples(&snapshot, clock::now_ms());
    if json {
        let values: Vec<_> = samples
            .iter()
            .map(|sample| {
                serde_json::json!({
                    "metric": sample.metric,
                    "labels": sample.labels.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
                    "value": sample.value,
                })
            })
            .collect();
        outln!("{}", serde_json::to_string_pretty(&values)?);
        return Ok(());
    }
    for sample in samples {
        let labels: Vec<String> = sample
            .labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{v}\""))
            .collect();
        outln!("{}{{{}}} {}", sample.metric, labels.join(","), sample.value);
    }
    Ok(())
}
