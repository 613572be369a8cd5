//! `unity-controller agentless ...`: hosts that run no agent, collected over SSH by a proxy
//! agent (issue 16): add (prints the `authorized_keys` line of the generated key), list, show,
//! confirm the presented host key, remove; through the daemon's admin socket (or the database
//! when it is stopped).

use super::{admin_call, format_time_ms, print_json, unexpected};
use crate::admin::{AdminRequest, AdminResponse, AgentlessRequest};
use crate::config::Config;
use crate::domain::agentless::AgentlessView;
use clap::Subcommand;
use unity_shared::outln;

#[derive(Debug, Subcommand)]
pub enum AgentlessCommand {
    /// Add a host collected over SSH by a proxy agent; prints the public key to put in the
    /// host's authorized_keys.
    Add {
        /// The host's id (1 to 64 characters of a-z, 0-9 and '-').
        name: String,
        /// Host name or IP address the proxy connects to.
        #[arg(long)]
        address: String,
        #[arg(long, default_value_t = 22)]
        port: u16,
        /// The user to log in as.
        #[arg(long)]
        user: String,
        /// The agent id of the proxy.
        #[arg(long)]
        proxy: String,
        /// What to collect: any of system,smart,zfs,raid.
        #[arg(long, default_value = "system,smart,zfs,raid")]
        collect: String,
        /// E.g. 1m, 5m.
        #[arg(long, default_value = "1m")]
        interval: String,
        /// Log in with this secret of the store (an OpenSSH private key; scope it to the
        /// proxy with `unity-controller secret scope`) instead of a key Unity generates.
        #[arg(long, value_name = "SECRET")]
        key_secret: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List agentless hosts with their proxy's newest word.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one agentless host, its public key and the host key to confirm.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Pin the host key the host presented (give its SHA256 fingerprint to be sure it is the
    /// one you checked on the host with `ssh-keygen -lf`).
    Confirm {
        name: String,
        fingerprint: Option<String>,
    },
    /// Remove an agentless host (its history stays until retention).
    Rm { name: String },
}

fn print_view(view: &AgentlessView) {
    let or_dash = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".into());
    outln!(
        "{} ({}@{}:{}) agentless via {}: {}",
        view.host,
        view.user,
        view.address,
        view.port,
        view.proxy,
        view.state.as_deref().unwrap_or("not collected yet")
    );
    if let Some(message) = &view.message {
        outln!("  why:        {message}");
    }
    if let Some(at) = view.state_at_ms {
        outln!("  as of:      {}", format_time_ms(at));
    }
    outln!(
        "  collects:   {} every {}s",
        view.collectors.join(","),
        view.interval_secs
    );
    outln!("  host key:   {}", or_dash(&view.host_key_fingerprint));
    if view.presented_key.is_some() {
        outln!(
            "  presented:  {} (confirm with `unity-controller agentless confirm {} {}`)",
            or_dash(&view.presented_fingerprint),
            view.host,
            or_dash(&view.presented_fingerprint)
        );
    }
    match (&view.public_key, &view.key_secret) {
        (Some(public), _) => outln!("  public key: {public}"),
        (None, Some(secret)) => outln!("  key:        secret {secret} of the store"),
        (None, None) => {}
    }
}

pub async fn run_agentless(command: AgentlessCommand, config: &Config) -> anyhow::Result<()> {
    let (request, json, added) = match command {
        AgentlessCommand::Add {
            name,
            address,
            port,
            user,
            proxy,
            collect,
            interval,
            key_secret,
            json,
        } => {
            let interval_secs = crate::domain::agentless::parse_interval(&interval)
                .map_err(|error| anyhow::anyhow!("--interval: {error}"))?;
            let request = AgentlessRequest::Add {
                name,
                address,
                port,
                user,
                proxy,
                collect,
                interval_secs,
                key_secret,
            };
            (request, json, true)
        }
        AgentlessCommand::List { json } => (AgentlessRequest::List, json, false),
        AgentlessCommand::Show { name, json } => (AgentlessRequest::Show { name }, json, false),
        AgentlessCommand::Confirm { name, fingerprint } => (
            AgentlessRequest::Confirm { name, fingerprint },
            false,
            false,
        ),
        AgentlessCommand::Rm { name } => (AgentlessRequest::Remove { name }, false, false),
    };
    match admin_call(config, AdminRequest::Agentless(request)).await? {
        AdminResponse::Agentless(views) if json => print_json(&views),
        AdminResponse::Agentless(views) => {
            if views.is_empty() {
                outln!("No agentless hosts.");
            }
            for view in &views {
                print_view(view);
            }
            if added {
                if let Some(view) = views.first() {
                    outln!();
                    if let Some(public) = &view.public_key {
                        outln!(
                            "Put this line in ~{}/.ssh/authorized_keys on {}:",
                            view.user,
                            view.address
                        );
                        outln!("{public}");
                    }
                }
            }
            Ok(())
        }
        AdminResponse::Done(text) => {
            outln!("{text}");
            Ok(())
        }
        other => unexpected(other),
    }
}
