//! The operator's command line: daemon, tokens, agents, hosts and history queries.
//! Commands that change or read the store go through the running daemon's admin socket when
//! there is one, and open the database directly otherwise.

#![allow(clippy::print_stderr)] // Errors go to stderr; output goes through `outln!`.

use crate::admin::{self, AdminRequest, AdminResponse};
use crate::config::{Config, RawConfig, DEFAULT_CONFIG_PATH};
use crate::service;
use anyhow::Context as _;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use unity_shared::outln;

mod access;
mod acme;
mod agent_builds;
mod agent_rollout;
mod agentless;
mod alerts;
mod auth;
mod backup;
mod managed_certificates;
mod notify;
mod secrets;
mod ssh_access;
mod ssh_ca;
mod updates;
pub use access::GroupCommand;
pub use acme::AcmeCommand;
pub use agentless::AgentlessCommand;
pub use auth::{ApiTokenCommand, UserCommand};
pub use managed_certificates::CertCommand;
pub use secrets::SecretCommand;
pub use ssh_ca::SshCaCommand;

/// Exit code for a configuration that cannot be used (EX_CONFIG-like, as sysexits' EX_USAGE).
const EXIT_CONFIG: u8 = 64;

#[derive(Debug, Parser)]
#[command(
    name = "unity-controller",
    version,
    about = "Unity controller: certificate authority, ingest and history for your homelab agents",
    long_about = "Unity controller: the agents' certificate authority and the place their data goes.\n\n\
Try it on one machine:       cargo run --release -p unity-quickstart   (in a source checkout)\n\
Add another host:            unity-controller token create   (then run the printed command there)"
)]
pub struct Args {
    /// Configuration file (TOML). Missing is fine at the default path.
    #[arg(short, long, global = true, env = "UNITY_CONTROLLER_CONFIG", default_value = DEFAULT_CONFIG_PATH)]
    pub config: PathBuf,
    /// Data directory (CA, database, admin socket); overrides the file.
    #[arg(long, global = true, env = "UNITY_CONTROLLER_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the controller daemon.
    Run {
        /// UDP address agents connect to (QUIC), e.g. 0.0.0.0:7443.
        #[arg(long)]
        listen: Option<String>,
        /// HOST:PORT agents should use, printed in join commands.
        #[arg(long)]
        advertise: Option<String>,
        /// TCP address of the dashboard and REST API, e.g. 0.0.0.0:7480.
        #[arg(long, env = "UNITY_CONTROLLER_API_LISTEN")]
        api_listen: Option<String>,
    },
    /// Moved: the quickstart is its own program (`unity-quickstart`), so the controller does
    /// not carry an agent.
    #[command(hide = true)]
    Quickstart {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
        ignored: Vec<String>,
    },
    /// Join tokens for enrolling agents.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Enrolled agents.
    #[command(subcommand)]
    Agents(AgentsCommand),
    /// List hosts with status and last-seen time.
    Hosts {
        #[arg(long)]
        json: bool,
    },
    /// Print a host's metric history.
    Query {
        /// Agent id (see `hosts`).
        agent_id: String,
        /// Metric name, e.g. cpu_usage_ratio. Omit to list the host's series.
        metric: Option<String>,
        /// Only series with this label, as NAME=VALUE; repeatable.
        #[arg(long = "label", value_parser = parse_label)]
        labels: Vec<(String, String)>,
        /// How far back to look, e.g. 1h, 7d.
        #[arg(long, default_value = "1h")]
        since: String,
        #[arg(long)]
        json: bool,
    },
    /// Check the configuration file and exit.
    CheckConfig,
    /// Dashboard users.
    #[command(subcommand)]
    User(UserCommand),
    /// API tokens for scripts and Grafana (`Authorization: Bearer`).
    #[command(subcommand)]
    Apitoken(ApiTokenCommand),
    /// User groups and their rights per host group, host groups and host labels.
    #[command(subcommand)]
    Group(GroupCommand),
    /// ACME providers for public certificates (`[acme]`): list them, try one.
    #[command(subcommand)]
    Acme(AcmeCommand),
    /// Managed certificates from the homelab services CA, and its root.
    #[command(subcommand)]
    Cert(CertCommand),
    /// The secrets store (values sealed, write-only, drawn by the agents in scope) and the
    /// sealing key's rotation.
    #[command(subcommand)]
    Secret(SecretCommand),
    /// Hosts that run no agent, collected over SSH by a proxy agent.
    #[command(subcommand)]
    Agentless(AgentlessCommand),
    /// Pending container updates with their recommendation, vulnerability gate, release
    /// notes and why they wait (the Updates page on the command line).
    #[command(subcommand)]
    Updates(updates::UpdatesCommand),
    /// SSH: managed authorized keys (people, keys, grants, drift), the SSH certificate
    /// authority and user certificates.
    #[command(subcommand)]
    Ssh(SshCommand),
    /// Alert receivers: list them (secrets left out), send a test message.
    #[command(subcommand)]
    Notify(notify::NotifyCommand),
    /// Alerts: list the open ones, acknowledge, silence by host, rule or label, list and
    /// remove silences, list your rules (`docs/alerts.md`).
    #[command(subcommand)]
    Alerts(alerts::AlertsCommand),
    /// Back up the controller (CA, keys, database, history) into one archive while it runs,
    /// optionally encrypted (docs/backup.md).
    Backup(backup::BackupArgs),
    /// Restore a backup into the data directory of a stopped controller (docs/backup.md).
    Restore(backup::RestoreArgs),
    /// The release key that signs agent builds: show it, rotate it (docs/agent-updates.md).
    #[command(subcommand)]
    ReleaseKey(agent_builds::ReleaseKeyCommand),
    /// Agent builds the controller hands to its agents: add one (signed), list them.
    #[command(subcommand)]
    AgentBuilds(agent_builds::AgentBuildsCommand),
}

/// `unity-controller ssh ...`.
#[derive(Debug, Subcommand)]
pub enum SshCommand {
    #[command(flatten)]
    Ca(SshCaCommand),
    #[command(flatten)]
    Access(ssh_access::SshAccessCommand),
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a single-use join token and print the command that enrolls an agent with it.
    Create {
        /// How long the token stays valid, e.g. 30m, 1h, 2d.
        #[arg(long)]
        ttl: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List tokens (never their secrets).
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AgentsCommand {
    /// List enrolled agents (same as `hosts`).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke an agent: its certificate is refused from now on and its connection is closed.
    Revoke { agent_id: String },
    /// Update a host's agent from the build store (docs/agent-updates.md).
    Update(agent_builds::UpdateArgs),
    /// Roll an agent version out to every host: a canary first, then host groups in order,
    /// halting at the first failure (docs/agent-updates.md).
    #[command(subcommand)]
    Rollout(agent_rollout::RolloutCommand),
}

fn parse_label(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .ok_or_else(|| format!("expected NAME=VALUE, got {text:?}"))
}

/// Logs go to stderr; the filter comes from `UNITY_LOG` (default: info for Unity, warn else).
/// Colour only on a terminal (a redirected log file gets no escape codes) and never under
/// `NO_COLOR`.
pub fn init_tracing() {
    use std::io::IsTerminal;
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let filter = tracing_subscriber::EnvFilter::try_from_env("UNITY_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("warn,unity_controller=info,unity_agent=info")
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .try_init();
}

fn load_config(args: &Args) -> anyhow::Result<Config> {
    let required = args.config.as_path() != std::path::Path::new(DEFAULT_CONFIG_PATH);
    let mut raw = RawConfig::load(&args.config, required)?;
    if let Some(data_dir) = &args.data_dir {
        raw.data_dir = Some(data_dir.clone());
    }
    if let Command::Run {
        listen,
        advertise,
        api_listen,
    } = &args.command
    {
        if api_listen.is_some() {
            raw.api_listen = api_listen.clone();
        }
        if listen.is_some() {
            raw.listen = listen.clone();
        }
        if advertise.is_some() {
            raw.advertise = advertise.clone();
        }
    }
    Ok(Config::from_raw(raw)?)
}

pub async fn main(args: Args) -> ExitCode {
    if let Command::Quickstart { .. } = args.command {
        eprintln!(
            "unity-controller: the quickstart is its own program now, so the controller does not \
             carry an agent. In a source checkout: cargo run --release -p unity-quickstart"
        );
        return ExitCode::from(EXIT_CONFIG);
    }
    let config = match load_config(&args) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("unity-controller: configuration error: {error:#}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    match run_command(args.command, config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("unity-controller: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs an admin request against the daemon if it runs, else directly on the database.
async fn admin_call(config: &Config, request: AdminRequest) -> anyhow::Result<AdminResponse> {
    if let Some(response) = admin::call_daemon(&config.admin_socket(), &request).await? {
        return Ok(response);
    }
    let context = service::offline_context(config.clone()).await?;
    let response = tokio::task::spawn_blocking(move || admin::handle(&context, request)).await?;
    Ok(response)
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    outln!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn format_time_ms(ms: i64) -> String {
    if ms <= 0 {
        return "never".into();
    }
    let time = std::time::UNIX_EPOCH + Duration::from_millis(ms as u64);
    humantime::format_rfc3339_seconds(time).to_string()
}

async fn run_command(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Run { .. } => run_daemon(config).await,
        Command::Quickstart { .. } => Ok(()),
        Command::CheckConfig => {
            outln!(
                "configuration OK: data in {}, agents connect to {}",
                config.data_dir.display(),
                config.listen
            );
            Ok(())
        }
        Command::Token(TokenCommand::Create { ttl, json }) => {
            let ttl = match ttl {
                Some(text) => {
                    humantime::parse_duration(&text).with_context(|| format!("--ttl {text:?}"))?
                }
                None => config.token_ttl,
            };
            let request = AdminRequest::CreateToken {
                ttl_secs: ttl.as_secs().max(1),
            };
            match admin_call(&config, request).await? {
                AdminResponse::Token(token) if json => print_json(&token),
                AdminResponse::Token(token) => {
                    outln!(
                        "Join token {} (single use, valid for {}).",
                        token.token_id,
                        humantime::format_duration(ttl)
                    );
                    outln!(
                        "Run this on the host to enroll:\n\n  {}\n",
                        token.join_command
                    );
                    Ok(())
                }
                other => unexpected(other),
            }
        }
        Command::Token(TokenCommand::List { json }) => {
            match admin_call(&config, AdminRequest::ListTokens).await? {
                AdminResponse::Tokens(tokens) if json => print_json(&tokens),
                AdminResponse::Tokens(tokens) => {
                    outln!(
                        "{:<10} {:<22} {:<22} USED BY",
                        "TOKEN",
                        "CREATED",
                        "EXPIRES"
                    );
                    for token in tokens {
                        outln!(
                            "{:<10} {:<22} {:<22} {}",
                            token.token_id,
                            format_time_ms(token.created_at * 1000),
                            format_time_ms(token.expires_at * 1000),
                            token
                                .used_by
                                .as_ref()
                                .map_or("-", |agent_id| agent_id.as_str())
                        );
                    }
                    Ok(())
                }
                other => unexpected(other),
            }
        }
        Command::Hosts { json } | Command::Agents(AgentsCommand::List { json }) => {
            match admin_call(&config, AdminRequest::Hosts).await? {
                AdminResponse::Hosts(hosts) if json => print_json(&hosts),
                AdminResponse::Hosts(hosts) => {
                    outln!(
                        "{:<30} {:<20} {:<8} {:<22} {:<22} VERSION",
                        "AGENT",
                        "HOSTNAME",
                        "STATUS",
                        "LAST SEEN",
                        "CERT EXPIRES"
                    );
                    for host in hosts {
                        outln!(
                            "{:<30} {:<20} {:<8} {:<22} {:<22} {}",
                            host.agent_id,
                            host.hostname,
                            host.status,
                            format_time_ms(host.last_seen_ms),
                            format_time_ms(host.certificate_not_after * 1000),
                            host.agent_version
                        );
                    }
                    Ok(())
                }
                other => unexpected(other),
            }
        }
        Command::User(command) => auth::run_user(command, &config).await,
        Command::Apitoken(command) => auth::run_apitoken(command, &config).await,
        Command::Group(command) => access::run_group(command, &config).await,
        Command::Acme(command) => acme::run_acme(command, &config).await,
        Command::Secret(command) => secrets::run_secret(command, &config).await,
        Command::Cert(command) => managed_certificates::run_cert(command, &config).await,
        Command::Ssh(SshCommand::Ca(command)) => ssh_ca::run(command, &config).await,
        Command::Agentless(command) => agentless::run_agentless(command, &config).await,
        Command::Updates(command) => updates::run(command, &config).await,
        Command::Notify(command) => notify::run(command, &config).await,
        Command::Alerts(command) => alerts::run(command, &config).await,
        Command::Backup(args) => backup::run_backup(args, &config).await,
        Command::Restore(args) => backup::run_restore(args, &config).await,
        Command::ReleaseKey(command) => agent_builds::run_release_key(command, &config).await,
        Command::AgentBuilds(command) => agent_builds::run_agent_builds(command, &config).await,
        Command::Ssh(SshCommand::Access(command)) => ssh_access::run(command, &config).await,
        Command::Agents(AgentsCommand::Update(args)) => {
            agent_builds::run_agent_update(args, &config).await
        }
        Command::Agents(AgentsCommand::Rollout(command)) => {
            agent_rollout::run(command, &config).await
        }
        Command::Agents(AgentsCommand::Revoke { agent_id }) => {
            match admin_call(&config, AdminRequest::RevokeAgent { agent_id }).await? {
                AdminResponse::Revoked {
                    agent_id,
                    was_connected,
                } => {
                    outln!(
                        "Revoked {agent_id}{}.",
                        if was_connected {
                            " and closed its connection"
                        } else {
                            ""
                        }
                    );
                    Ok(())
                }
                other => unexpected(other),
            }
        }
        Command::Query {
            agent_id,
            metric,
            labels,
            since,
            json,
        } => {
            let since =
                humantime::parse_duration(&since).with_context(|| format!("--since {since:?}"))?;
            let to_ms = crate::clock::now_ms() + 1;
            let request = match metric {
                Some(metric) => AdminRequest::Query {
                    agent_id,
                    metric,
                    matchers: labels,
                    from_ms: to_ms - since.as_millis() as i64,
                    to_ms,
                },
                None => AdminRequest::ListSeries { agent_id },
            };
            match admin_call(&config, request).await? {
                AdminResponse::Series(series) if json => print_json(&series),
                AdminResponse::Series(series) => {
                    for series in series {
                        let labels: Vec<String> = series
                            .labels
                            .iter()
                            .map(|(k, v)| format!("{k}=\"{v}\""))
                            .collect();
                        outln!("{}{{{}}}", series.metric, labels.join(","));
                        for (timestamp_ms, value) in series.points {
                            outln!("  {}  {value}", format_time_ms(timestamp_ms));
                        }
                    }
                    Ok(())
                }
                other => unexpected(other),
            }
        }
    }
}

fn unexpected(response: AdminResponse) -> anyhow::Result<()> {
    match response {
        AdminResponse::Error(message) => anyhow::bail!("{message}"),
        other => anyhow::bail!("unexpected answer from the controller: {other:?}"),
    }
}

async fn run_daemon(config: Config) -> anyhow::Result<()> {
    let running = service::start(config).await?;
    announce_dashboard(&running).await?;
    tracing::info!(
        ca_hash = %running.context.ca.ca_hash(),
        "Ready. Create a join token with `unity-controller token create`."
    );
    unity_shared::daemon::ready_until(shutdown_signal()).await;
    tracing::info!("Shutting down.");
    running.shutdown().await
}

/// On first start (no users yet) creates `admin` with a random password, printed once to
/// stderr (never to the log); then says where the dashboard is.
pub async fn announce_dashboard(running: &service::RunningController) -> anyhow::Result<()> {
    let context = running.context.clone();
    let first_admin =
        tokio::task::spawn_blocking(move || crate::domain::users::ensure_first_admin(&context))
            .await?
            .map_err(|error| anyhow::anyhow!("creating the first admin: {error}"))?;
    if let Some((user, password)) = first_admin {
        tracing::info!(%user, "Created the first dashboard admin; its password is printed on stderr once.");
        eprintln!(
            "\nDashboard: {}\nFirst admin created. User: {user}  Password (shown once): {password}\n\
Add more users with `unity-controller user add NAME --role admin|viewer`.\n",
            running.dashboard_url
        );
    }
    tracing::info!(url = %running.dashboard_url, "Dashboard ready.");
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
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
