//! `unity-controller secret …`: the secrets store (set, list, show, rm, scope) and the
//! sealing key's rotation. A value is never taken from the command line (it would land in
//! the shell's history and in /proc): it is read from a file or from standard input, and no
//! command prints one back — only its fingerprint.

use super::{admin_call, format_time_ms, print_json, unexpected};
use crate::admin::{AdminRequest, AdminResponse, SecretAdminRequest};
use crate::config::Config;
use crate::domain::secrets::SecretView;
use anyhow::Context as _;
use clap::Subcommand;
use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use unity_shared::outln;

#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Create a secret or give it a new value, read from a file or standard input.
    Set {
        name: String,
        /// password, token, api-key, file or ssh-key (default: password when created, else
        /// unchanged).
        #[arg(long)]
        kind: Option<String>,
        /// Read the value from this file (for kinds other than file and ssh-key, one
        /// trailing newline is dropped).
        #[arg(long, conflicts_with = "stdin")]
        from_file: Option<PathBuf>,
        /// Read the value from standard input (same newline rule).
        #[arg(long)]
        stdin: bool,
    },
    /// List secrets: kind, version, fingerprint, scope, last delivery. Never values.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One secret's metadata and fingerprint.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove a secret; hosts holding it are told to forget it.
    Rm { name: String },
    /// Which hosts may receive the secret: hosts (agent ids) and host groups; replaces the
    /// scope. `--clear`: no host.
    Scope {
        name: String,
        #[arg(long = "host")]
        hosts: Vec<String>,
        #[arg(long = "group")]
        groups: Vec<String>,
        #[arg(long, conflicts_with_all = ["hosts", "groups"])]
        clear: bool,
    },
    /// Make a new sealing key and re-seal every sealed record with it (secrets, registry
    /// credentials, ACME accounts). Safe to run again after an interruption.
    RotateKey,
}

fn read_value(
    kind: Option<&str>,
    from_file: Option<PathBuf>,
    stdin: bool,
) -> anyhow::Result<Vec<u8>> {
    let mut bytes = match (from_file, stdin) {
        (Some(path), _) => {
            std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?
        }
        (None, true) => {
            if std::io::stdin().is_terminal() {
                eprintln!("Type the value, then press Enter and Ctrl-D:");
            }
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .context("reading standard input")?;
            bytes
        }
        (None, false) => anyhow::bail!(
            "give the value with --from-file FILE or --stdin (never on the command line)"
        ),
    };
    if !matches!(kind, Some("file" | "ssh-key")) {
        if bytes.ends_with(b"\r\n") {
            bytes.truncate(bytes.len() - 2);
        } else if bytes.ends_with(b"\n") {
            bytes.truncate(bytes.len() - 1);
        }
    }
    Ok(bytes)
}

fn scope_text(view: &SecretView) -> String {
    let words: Vec<String> = view
        .scope_hosts
        .iter()
        .map(|host| format!("host:{host}"))
        .chain(
            view.scope_groups
                .iter()
                .map(|group| format!("group:{group}")),
        )
        .collect();
    if words.is_empty() {
        "(no host)".to_owned()
    } else {
        words.join(",")
    }
}

fn print_secret(view: &SecretView) {
    outln!("name         {}", view.name);
    outln!("kind         {}", view.kind);
    outln!("version      {}", view.version);
    outln!("fingerprint  {}", view.fingerprint);
    outln!("created      {}", format_time_ms(view.created_at_ms));
    outln!("updated      {}", format_time_ms(view.updated_at_ms));
    outln!("scope        {}", scope_text(view));
    match &view.last_delivered_to {
        Some(host) => outln!(
            "delivered    {} to {host}",
            format_time_ms(view.last_delivered_ms)
        ),
        None => outln!("delivered    never"),
    }
}

pub async fn run_secret(command: SecretCommand, config: &Config) -> anyhow::Result<()> {
    let request = match command {
        SecretCommand::Set {
            name,
            kind,
            from_file,
            stdin,
        } => {
            let kind_for_read = kind.clone();
            let value = tokio::task::spawn_blocking(move || {
                read_value(kind_for_read.as_deref(), from_file, stdin)
            })
            .await??;
            SecretAdminRequest::Set {
                name,
                kind,
                value_hex: hex::encode(value),
            }
        }
        SecretCommand::List { json } => {
            return match admin_call(config, AdminRequest::Secret(SecretAdminRequest::List)).await? {
                AdminResponse::Secrets(views) if json => print_json(&views),
                AdminResponse::Secrets(views) => {
                    outln!(
                        "{:<24} {:<9} {:>4} {:<24} {:<30} LAST DELIVERED",
                        "NAME",
                        "KIND",
                        "VER",
                        "FINGERPRINT",
                        "SCOPE"
                    );
                    for view in &views {
                        let delivered = match &view.last_delivered_to {
                            Some(host) => {
                                format!("{} to {host}", format_time_ms(view.last_delivered_ms))
                            }
                            None => "never".to_owned(),
                        };
                        outln!(
                            "{:<24} {:<9} {:>4} {:<24} {:<30} {delivered}",
                            view.name,
                            view.kind.as_str(),
                            view.version,
                            view.fingerprint,
                            scope_text(view)
                        );
                    }
                    Ok(())
                }
                other => unexpected(other),
            };
        }
        SecretCommand::Show { name, json } => {
            return match admin_call(
                config,
                AdminRequest::Secret(SecretAdminRequest::Show { name }),
            )
            .await?
            {
                AdminResponse::Secret(view) if json => print_json(&view),
                AdminResponse::Secret(view) => {
                    print_secret(&view);
                    Ok(())
                }
                other => unexpected(other),
            };
        }
        SecretCommand::Rm { name } => SecretAdminRequest::Delete { name },
        SecretCommand::Scope {
            name,
            hosts,
            groups,
            clear,
        } => {
            if !clear && hosts.is_empty() && groups.is_empty() {
                anyhow::bail!("give --host and/or --group, or --clear for no host");
            }
            SecretAdminRequest::Scope {
                name,
                hosts,
                groups,
            }
        }
        SecretCommand::RotateKey => SecretAdminRequest::RotateKey,
    };
    match admin_call(config, AdminRequest::Secret(request)).await? {
        AdminResponse::Secret(view) => {
            print_secret(&view);
            Ok(())
        }
        AdminResponse::Done(text) => {
            outln!("{text}");
            Ok(())
        }
        AdminResponse::KeyRotated(report) => {
            outln!(
                "Sealing key rotated{}: {} secrets, {} registry credentials, {} ACME accounts, {} container backups re-sealed; the old key is removed.",
                if report.new_key { "" } else { " (an interrupted rotation resumed)" },
                report.secrets,
                report.registry_credentials,
                report.acme_accounts,
                report.backups
            );
            for path in report.acme_accounts_skipped {
                outln!("Not re-sealed (provider no longer configured, re-registered if it comes back): {path}");
            }
            Ok(())
        }
        other => unexpected(other),
    }
}
