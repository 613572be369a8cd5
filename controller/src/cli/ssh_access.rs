//! `unity-controller ssh person|key|grant|host|drift|status`: managed authorized keys (people
//! and their public keys, grants to log in as UNIX users on hosts or host groups, each host's
//! mode and drift policy, hand edits restored, adopted or cleared), through the daemon's admin socket
//! (or the database when it is stopped). See docs/ssh.md.

use super::{admin_call, format_time_ms, print_json, unexpected};
use crate::admin::ssh_protocol::{GrantRequest, SshAccessAnswer, SshAccessRequest};
use crate::admin::{AdminRequest, AdminResponse};
use crate::config::Config;
use anyhow::Context as _;
use clap::{Args, Subcommand};
use std::io::Read as _;
use unity_shared::outln;

/// The managed-keys half of `unity-controller ssh`.
#[derive(Debug, Subcommand)]
pub enum SshAccessCommand {
    /// People who get SSH access: add, list, remove (removing takes their keys off every host).
    #[command(subcommand)]
    Person(PersonCommand),
    /// A person's SSH public keys (Ed25519, ECDSA, RSA of 2048 bits or more).
    #[command(subcommand)]
    Key(KeyCommand),
    /// Who may log in as which UNIX user on which host or host group, until when.
    #[command(subcommand)]
    Grant(GrantCommand),
    /// A host's settings: where the keys go (mode) and what happens to hand edits.
    #[command(subcommand)]
    Host(HostCommand),
    /// Hand edits of the managed keys: list them, write Unity's keys back, or keep the edit.
    #[command(subcommand)]
    Drift(DriftCommand),
    /// Per host: the generation of the desired keys, the one applied and the outcome per user.
    Status {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum PersonCommand {
    /// Add a person (letters, digits, '.', '_', '-', '@'); then add their keys.
    Add { name: String },
    /// List people with their keys' fingerprints.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a person with their keys and grants.
    Rm { name: String },
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Add a public key to a person from a .pub file, or from standard input with '-'.
    Add { person: String, file: String },
    /// List every key: person, fingerprint, type, comment.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a key by its fingerprint (SHA256:…), from every host within one reconcile.
    Rm { fingerprint: String },
}

#[derive(Debug, Subcommand)]
pub enum GrantCommand {
    /// Let a person's keys log in as a UNIX user on a host or a host group.
    Add(Box<GrantArgs>),
    /// List grants with their expiry.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a grant by its id; its keys leave the hosts within one reconcile.
    Rm { id: u64 },
}

/// `ssh grant add`'s arguments.
#[derive(Debug, Args)]
pub struct GrantArgs {
    /// The person whose keys log in.
    #[arg(long)]
    person: String,
    /// Only this key (its SHA256 fingerprint); default: all the person's keys.
    #[arg(long)]
    key: Option<String>,
    /// The UNIX user to log in as; repeatable.
    #[arg(long = "user", required = true)]
    users: Vec<String>,
    /// The host (agent id).
    #[arg(long, conflicts_with = "group", required_unless_present = "group")]
    host: Option<String>,
    /// A host group (`all`: every host).
    #[arg(long)]
    group: Option<String>,
    /// Stop delivering the keys after this long, e.g. 8h, 30d.
    #[arg(long)]
    expires: Option<String>,
    /// Only from these addresses: patterns or CIDRs, comma separated (`from=`).
    #[arg(long, value_delimiter = ',')]
    from: Vec<String>,
    /// Force this command (`command=`); no quotes or backslashes.
    #[arg(long)]
    command: Option<String>,
    #[arg(long)]
    no_port_forwarding: bool,
    #[arg(long)]
    no_agent_forwarding: bool,
    #[arg(long)]
    no_pty: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
pub enum HostCommand {
    /// Set where a host's keys go and what happens to hand edits.
    Set {
        host: String,
        /// file (the default): a per-user file in the agent's managed_dir, which the agent
        /// makes sshd read through a drop-in; block: a delimited block in each user's
        /// authorized_keys (needs the agent's unit relaxed, see docs/ssh.md).
        #[arg(long, value_parser = ["block", "file"])]
        mode: Option<String>,
        /// report: leave hand edits and show them as drift; restore: write Unity's keys back.
        #[arg(long, value_parser = ["report", "restore"])]
        on_drift: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum DriftCommand {
    /// Hand edits found and left in place, with the lines added and missing.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Write Unity's keys back over the host's hand edits (every drifted user of the host).
    Restore {
        host: String,
        /// The user whose edit prompted this (the whole host is restored).
        user: Option<String>,
    },
    /// Keep a user's hand edit on a host: the added lines become part of its managed keys.
    Adopt { host: String, user: String },
    /// Drop the lines adopted for a user on a host: the next apply takes them out.
    Clear {
        #[arg(long)]
        host: String,
        #[arg(long)]
        user: String,
    },
}

async fn call(config: &Config, request: SshAccessRequest) -> anyhow::Result<AdminResponse> {
    admin_call(config, AdminRequest::SshAccess(request)).await
}

/// Runs one managed-keys command.
pub async fn run(command: SshAccessCommand, config: &Config) -> anyhow::Result<()> {
    let (request, json) = match command {
        SshAccessCommand::Person(PersonCommand::Add { name }) => {
            (SshAccessRequest::AddPerson { name }, false)
        }
        SshAccessCommand::Person(PersonCommand::List { json }) => (SshAccessRequest::People, json),
        SshAccessCommand::Person(PersonCommand::Rm { name }) => {
            (SshAccessRequest::RemovePerson { name }, false)
        }
        SshAccessCommand::Key(KeyCommand::Add { person, file }) => {
            let public_key = if file == "-" {
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .context("reading the key from standard input")?;
                text
            } else {
                std::fs::read_to_string(&file).with_context(|| format!("reading {file}"))?
            };
            (SshAccessRequest::AddKey { person, public_key }, false)
        }
        SshAccessCommand::Key(KeyCommand::List { json }) => (SshAccessRequest::People, json),
        SshAccessCommand::Key(KeyCommand::Rm { fingerprint }) => {
            (SshAccessRequest::RemoveKey { fingerprint }, false)
        }
        SshAccessCommand::Grant(GrantCommand::Add(args)) => {
            let args = *args;
            let request = GrantRequest {
                person: args.person,
                key: args.key,
                users: args.users,
                host: args.host,
                group: args.group,
                expires_in: args.expires,
                from: args.from,
                command: args.command,
                no_port_forwarding: args.no_port_forwarding,
                no_agent_forwarding: args.no_agent_forwarding,
                no_pty: args.no_pty,
            };
            (SshAccessRequest::AddGrant(Box::new(request)), args.json)
        }
        SshAccessCommand::Grant(GrantCommand::List { json }) => (SshAccessRequest::Grants, json),
        SshAccessCommand::Grant(GrantCommand::Rm { id }) => {
            (SshAccessRequest::RemoveGrant { id }, false)
        }
        SshAccessCommand::Host(HostCommand::Set {
            host,
            mode,
            on_drift,
        }) => {
            if mode.is_none() && on_drift.is_none() {
                anyhow::bail!("give --mode and/or --on-drift");
            }
            (
                SshAccessRequest::SetHost {
                    host,
                    mode,
                    on_drift,
                },
                false,
            )
        }
        SshAccessCommand::Drift(DriftCommand::List { json }) => (SshAccessRequest::Drift, json),
        SshAccessCommand::Drift(DriftCommand::Restore { host, user: _ }) => {
            (SshAccessRequest::Restore { host }, false)
        }
        SshAccessCommand::Drift(DriftCommand::Adopt { host, user }) => {
            (SshAccessRequest::Adopt { host, user }, false)
        }
        SshAccessCommand::Drift(DriftCommand::Clear { host, user }) => {
            (SshAccessRequest::ClearAdopted { host, user }, false)
        }
        SshAccessCommand::Status { json } => (SshAccessRequest::Status, json),
    };
    let keys_only = matches!(request, SshAccessRequest::People) && !json;
    match call(config, request).await? {
        AdminResponse::Done(text) => outln!("{text}"),
        AdminResponse::SshAccess(answer) if json => print_json(&*answer)?,
        AdminResponse::SshAccess(answer) => print_answer(*answer, keys_only),
        other => return unexpected(other),
    }
    Ok(())
}

fn print_answer(answer: SshAccessAnswer, keys_only: bool) {
    match answer {
        SshAccessAnswer::People(people) if keys_only => {
            for person in people {
                outln!("{}: {} key(s)", person.name, person.keys.len());
                for key in person.keys {
                    outln!(
                        "  {}  {} {}  {}",
                        key.fingerprint,
                        key.algorithm,
                        key.bits,
                        key.comment
                    );
                }
            }
        }
        SshAccessAnswer::People(people) => {
            for person in people {
                outln!("{}: {} key(s)", person.name, person.keys.len());
            }
        }
        SshAccessAnswer::Person(person) => outln!(
            "Added {}; now add keys with `ssh key add {} FILE`.",
            person.name,
            person.name
        ),
        SshAccessAnswer::Key(key) => outln!(
            "Added {} {} {} ({}) for {}.",
            key.algorithm,
            key.bits,
            key.fingerprint,
            key.comment,
            key.person
        ),
        SshAccessAnswer::Grants(grants) => {
            for grant in grants {
                print_grant(&grant);
            }
        }
        SshAccessAnswer::Grant(grant) => {
            outln!(
                "Added grant {}; the hosts get the keys within seconds.",
                grant.id
            );
            print_grant(&grant);
        }
        SshAccessAnswer::Hosts(hosts) => {
            for host in hosts {
                outln!(
                    "{}  mode={} on_drift={} generation={} applied={}{}",
                    host.host,
                    host.mode,
                    host.on_drift,
                    host.generation,
                    host.applied_generation
                        .map_or("never".into(), |g| g.to_string()),
                    host.error
                        .map(|e| format!(" error: {e}"))
                        .unwrap_or_default()
                );
                for user in host.users {
                    let detail = user
                        .message
                        .or(user.keys.map(|k| format!("{k} keys")))
                        .unwrap_or_default();
                    outln!("  {}: {} {}", user.user, user.outcome, detail);
                }
            }
        }
        SshAccessAnswer::Drift(drift) => {
            if drift.is_empty() {
                outln!("No drift.");
            }
            for item in drift {
                outln!(
                    "{} {} (found {}):",
                    item.host,
                    item.user,
                    format_time_ms(item.at_ms)
                );
                for line in item.added {
                    outln!("  + {line}");
                }
                for line in item.missing {
                    outln!("  - {line}");
                }
            }
        }
    }
}

fn print_grant(grant: &crate::domain::ssh_access::GrantView) {
    let target = grant
        .host
        .as_ref()
        .map(|h| format!("host {h}"))
        .or(grant.group.as_ref().map(|g| format!("group {g}")))
        .unwrap_or_default();
    let expiry = match grant.expires_at_ms {
        None => "no expiry".to_owned(),
        Some(at) if grant.expired => format!("expired {}", format_time_ms(at)),
        Some(at) => format!("until {}", format_time_ms(at)),
    };
    outln!(
        "{:>4}  {} ({}) as {} on {target}, {expiry}",
        grant.id,
        grant.person,
        grant.key.as_deref().unwrap_or("all keys"),
        grant.users.join(","),
    );
}
