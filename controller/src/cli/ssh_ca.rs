//! `unity-controller ssh ca ...` and `ssh sign`: the SSH certificate authority (docs/ssh-ca.md)
//! through the daemon's admin socket (or the database when it is stopped).

use super::{admin_call, format_time_ms, print_json, unexpected};
use crate::admin::{AdminRequest, AdminResponse, SshCaRequest, SshCaResponse};
use crate::config::Config;
use crate::domain::ssh_ca::hosts::{EnableHost, SshHostView};
use crate::domain::ssh_ca::revocations::RevokeRequest;
use crate::domain::ssh_ca::SignUserRequest;
use anyhow::Context as _;
use clap::Subcommand;
use std::path::{Path, PathBuf};
use unity_shared::outln;

/// The SSH CA's commands, flattened into `unity-controller ssh`.
#[derive(Debug, Subcommand)]
pub enum SshCaCommand {
    /// The SSH certificate authority: its key, known_hosts line and hosts.
    #[command(subcommand)]
    Ca(CaCommand),
    /// Sign a user certificate for a public key (written to KEY-cert.pub beside it).
    Sign(Box<SignArgs>),
    /// The user certificates the SSH CA signed, newest first (serial, person, principals,
    /// validity, revoked).
    Certificates {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a user certificate (by serial) or every certificate of a public key: hosts that
    /// trust the user CA refuse the key (RevokedKeys) until its certificates expire.
    Revoke {
        /// The certificate's serial.
        #[arg(long, conflicts_with = "key", required_unless_present = "key")]
        serial: Option<u64>,
        /// A public key file (`id_ed25519.pub`): every certificate of that key.
        #[arg(long)]
        key: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// Make the SSH CA's key (if there is none) and show it.
    Init,
    /// Show the SSH CA's public key and settings.
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Print the `@cert-authority` line for known_hosts.
    KnownHosts,
    /// Hosts whose sshd the SSH CA configures.
    #[command(subcommand)]
    Host(HostCommand),
}

#[derive(Debug, Subcommand)]
pub enum HostCommand {
    /// Sign the host's keys and/or trust the user CA there (configured now if connected).
    Enable {
        /// The host's agent id.
        host: String,
        /// Do not install host certificates.
        #[arg(long)]
        no_host_certificates: bool,
        /// Do not trust the user CA (no TrustedUserCAKeys, no principals files).
        #[arg(long)]
        no_user_ca: bool,
        /// A host name or address besides the host name and agent id; repeatable.
        #[arg(long = "name")]
        names: Vec<String>,
        /// A login user that gets a principals file (default root); repeatable.
        #[arg(long = "user")]
        users: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Remove Unity's sshd drop-in and files from the host and stop managing it.
    Disable { host: String },
    /// Where one host (or every host) stands.
    Status {
        host: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

/// `ssh sign`'s arguments.
#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// The public key file (`id_ed25519.pub`).
    key: PathBuf,
    /// The person (Unity account) the certificate is for; recorded in its key id and the audit.
    #[arg(long)]
    user: String,
    /// A login name the certificate is valid for; repeatable.
    #[arg(long = "principal", required = true)]
    principals: Vec<String>,
    /// Valid on this host (agent id) only: the principals become `NAME@HOST`, which only that
    /// host's principals files list.
    #[arg(long)]
    host: Option<String>,
    /// Validity, e.g. 8h (default [ssh_ca] default_user_ttl, at most max_user_ttl).
    #[arg(long)]
    ttl: Option<String>,
    /// Where the certificate goes: a path, or - for stdout (default KEY-cert.pub).
    #[arg(long)]
    out: Option<String>,
    #[arg(long)]
    json: bool,
}

/// `id_ed25519.pub` -> `id_ed25519-cert.pub`, as ssh looks for it.
pub fn certificate_path(key: &Path) -> PathBuf {
    let text = key.to_string_lossy();
    let stem = text.strip_suffix(".pub").unwrap_or(&text);
    PathBuf::from(format!("{stem}-cert.pub"))
}

async fn call(config: &Config, request: SshCaRequest) -> anyhow::Result<SshCaResponse> {
    match admin_call(config, AdminRequest::SshCa(request)).await? {
        AdminResponse::SshCa(response) => Ok(response),
        other => unexpected(other).map(|()| SshCaResponse::Done(String::new())),
    }
}

fn print_host(view: &SshHostView) {
    let or_dash = |value: Option<String>| value.unwrap_or_else(|| "-".into());
    outln!(
        "{}: host certificates {}, user CA {} (users {})",
        view.agent_id,
        if view.host_certificates { "yes" } else { "no" },
        if view.trust_user_ca { "yes" } else { "no" },
        view.users.join(", ")
    );
    outln!(
        "  configured: {}",
        view.configured_at_ms.map_or("never".into(), format_time_ms)
    );
    outln!(
        "  valid until {}, renews {}",
        or_dash(view.valid_before.map(|s| format_time_ms(s as i64 * 1000))),
        or_dash(view.renew_at.map(|s| format_time_ms(s as i64 * 1000)))
    );
    if let Some(error) = &view.last_error {
        outln!("  last error ({} in a row): {error}", view.failures);
    }
}

fn hosts(response: SshCaResponse, json: bool) -> anyhow::Result<()> {
    match response {
        SshCaResponse::Hosts(views) if json => print_json(&views),
        SshCaResponse::Hosts(views) => {
            views.iter().for_each(print_host);
            match views.first().and_then(|view| view.last_error.as_ref()) {
                Some(error) if views.len() == 1 => anyhow::bail!("not configured: {error}"),
                _ => Ok(()),
            }
        }
        other => anyhow::bail!("unexpected answer from the controller: {other:?}"),
    }
}

pub async fn run(command: SshCaCommand, config: &Config) -> anyhow::Result<()> {
    match command {
        SshCaCommand::Ca(CaCommand::Init) | SshCaCommand::Ca(CaCommand::Show { json: false }) => {
            match call(config, SshCaRequest::Init).await? {
                SshCaResponse::Ca(view) => {
                    outln!("SSH CA {}", view.fingerprint);
                    outln!("  public key:  {}", view.public_key);
                    outln!("  known_hosts: {}", view.known_hosts_line);
                    Ok(())
                }
                other => anyhow::bail!("unexpected answer from the controller: {other:?}"),
            }
        }
        SshCaCommand::Ca(CaCommand::Show { json: true }) => {
            match call(config, SshCaRequest::Show).await? {
                SshCaResponse::Ca(view) => print_json(&view),
                other => anyhow::bail!("unexpected answer from the controller: {other:?}"),
            }
        }
        SshCaCommand::Ca(CaCommand::KnownHosts) => match call(config, SshCaRequest::Show).await? {
            SshCaResponse::Ca(view) => {
                outln!("{}", view.known_hosts_line);
                Ok(())
            }
            other => anyhow::bail!("unexpected answer from the controller: {other:?}"),
        },
        SshCaCommand::Ca(CaCommand::Host(HostCommand::Enable {
            host,
            no_host_certificates,
            no_user_ca,
            names,
            users,
            json,
        })) => {
            let request = SshCaRequest::HostEnable(EnableHost {
                host,
                host_certificates: !no_host_certificates,
                trust_user_ca: !no_user_ca,
                extra_names: names,
                users,
            });
            hosts(call(config, request).await?, json)
        }
        SshCaCommand::Ca(CaCommand::Host(HostCommand::Disable { host })) => {
            match call(config, SshCaRequest::HostDisable { host }).await? {
                SshCaResponse::Done(text) => {
                    outln!("{text}");
                    Ok(())
                }
                other => anyhow::bail!("unexpected answer from the controller: {other:?}"),
            }
        }
        SshCaCommand::Ca(CaCommand::Host(HostCommand::Status { host, json })) => {
            hosts(call(config, SshCaRequest::HostStatus { host }).await?, json)
        }
        SshCaCommand::Sign(arguments) => sign(*arguments, config).await,
        SshCaCommand::Certificates { json } => certificates(config, json).await,
        SshCaCommand::Revoke { serial, key } => revoke(config, serial, key).await,
    }
}

async fn certificates(config: &Config, json: bool) -> anyhow::Result<()> {
    let issued = match call(config, SshCaRequest::Certificates).await? {
        SshCaResponse::Certificates(issued) => issued,
        other => anyhow::bail!("unexpected answer from the controller: {other:?}"),
    };
    if json {
        return print_json(&issued);
    }
    for certificate in &issued {
        let state = match (&certificate.revoked_by, certificate.revoked_at_ms) {
            (Some(by), Some(at)) => format!("revoked {} by {by}", format_time_ms(at)),
            _ if certificate.expired => "expired".to_owned(),
            _ => "valid".to_owned(),
        };
        outln!(
            "{:>6}  {}  {}  until {}  {}  {}",
            certificate.serial,
            certificate.for_user,
            certificate.principals.join(","),
            format_time_ms(certificate.valid_before as i64 * 1000),
            certificate.key_fingerprint,
            state
        );
    }
    Ok(())
}

async fn revoke(config: &Config, serial: Option<u64>, key: Option<PathBuf>) -> anyhow::Result<()> {
    let public_key = match &key {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?
                .trim()
                .to_owned(),
        ),
        None => None,
    };
    let request = SshCaRequest::Revoke(RevokeRequest { serial, public_key });
    let outcome = match call(config, request).await? {
        SshCaResponse::Revoked(outcome) => outcome,
        other => anyhow::bail!("unexpected answer from the controller: {other:?}"),
    };
    let serials: Vec<String> = outcome.revoked.iter().map(u64::to_string).collect();
    outln!("Revoked serial(s) {}.", serials.join(", "));
    for host in &outcome.delivered {
        outln!("  {host}: sshd refuses the key now");
    }
    for line in &outcome.pending {
        outln!("  pending {line}");
    }
    Ok(())
}

async fn sign(arguments: SignArgs, config: &Config) -> anyhow::Result<()> {
    let public_key = std::fs::read_to_string(&arguments.key)
        .with_context(|| format!("reading {}", arguments.key.display()))?;
    let request = SshCaRequest::Sign(SignUserRequest {
        public_key: public_key.trim().to_owned(),
        user: arguments.user,
        principals: arguments.principals,
        host: arguments.host,
        ttl: arguments.ttl,
    });
    let signed = match call(config, request).await? {
        SshCaResponse::Signed(signed) => signed,
        other => anyhow::bail!("unexpected answer from the controller: {other:?}"),
    };
    if arguments.json {
        return print_json(&signed);
    }
    match arguments.out.as_deref() {
        Some("-") => outln!("{}", signed.certificate),
        out => {
            let path = out.map_or_else(|| certificate_path(&arguments.key), PathBuf::from);
            std::fs::write(&path, format!("{}\n", signed.certificate))
                .with_context(|| format!("writing {}", path.display()))?;
            outln!(
                "Signed serial {} for {} until {}: {}",
                signed.serial,
                signed.principals.join(", "),
                format_time_ms(signed.valid_before as i64 * 1000),
                path.display()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_certificate_goes_where_ssh_looks_for_it() {
        assert_eq!(
            certificate_path(Path::new("/home/ops/.ssh/id_ed25519.pub")),
            PathBuf::from("/home/ops/.ssh/id_ed25519-cert.pub")
        );
        assert_eq!(
            certificate_path(Path::new("key")),
            PathBuf::from("key-cert.pub")
        );
    }
}
