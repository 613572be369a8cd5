//! `unity-controller cert ...`: declare, list, show, renew, revoke and delete managed
//! certificates, and print the services CA's root (`cert ca --pem | --der`), through the
//! daemon's admin socket (or the database when it is stopped).

use super::{admin_call, format_time_ms, print_json, unexpected};
use crate::admin::{AdminRequest, AdminResponse, CertificateRequest};
use crate::config::Config;
use crate::domain::managed_certificates::{Declaration, FilesDeclaration, ManagedCertificateView};
use clap::Subcommand;
use unity_shared::outln;

#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Declare a certificate for a host: its key is made there, the services CA signs it, the
    /// agent writes the files and reloads; renewed at two thirds of its lifetime.
    Declare(Box<DeclareArgs>),
    /// List managed certificates, soonest expiry first.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one managed certificate with its last error.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Renew now (waits up to --wait for the attempt when the host is connected).
    Renew {
        name: String,
        #[arg(long, default_value = "180s")]
        wait: String,
    },
    /// Revoke: never renewed again, listed in the services CA's CRL.
    Revoke { name: String },
    /// Forget a declared certificate (its files stay on the host).
    Delete { name: String },
    /// Print the services CA's root certificate.
    Ca {
        /// PEM (the default).
        #[arg(long, conflicts_with = "der")]
        pem: bool,
        /// DER bytes, for trust stores that want them (redirect to a file).
        #[arg(long)]
        der: bool,
    },
}

/// `cert declare`'s arguments.
#[derive(Debug, clap::Args)]
pub struct DeclareArgs {
    /// 1 to 64 characters of a-z, 0-9 and '-'.
    name: String,
    /// The agent id of the host that gets it.
    #[arg(long)]
    host: String,
    /// A DNS name; repeatable.
    #[arg(long = "dns")]
    dns_names: Vec<String>,
    /// An IP address; repeatable.
    #[arg(long = "ip")]
    ip_addresses: Vec<String>,
    /// ecdsa-p256 (default), rsa-2048, rsa-3072 or ed25519.
    #[arg(long)]
    key_type: Option<String>,
    /// E.g. 90d (default: [certificates] default_lifetime).
    #[arg(long)]
    lifetime: Option<String>,
    /// Where the leaf goes.
    #[arg(long)]
    cert: Option<String>,
    /// Where the intermediates go.
    #[arg(long)]
    chain: Option<String>,
    /// Where leaf + intermediates go.
    #[arg(long)]
    fullchain: Option<String>,
    /// Where the private key goes (made on the host).
    #[arg(long)]
    key: Option<String>,
    /// One PEM with leaf, intermediates and key.
    #[arg(long)]
    combined: Option<String>,
    #[arg(long)]
    owner: Option<String>,
    #[arg(long)]
    group: Option<String>,
    /// Octal mode of the key and combined files (default 0600).
    #[arg(long)]
    key_mode: Option<String>,
    /// The reload command, split on spaces (no shell), e.g. "systemctl reload nginx".
    #[arg(long)]
    reload: Option<String>,
    /// services-ca (default) or acme:<provider>.
    #[arg(long)]
    issuer: Option<String>,
    #[arg(long)]
    json: bool,
}

fn print_view(view: &ManagedCertificateView) {
    let or_dash = |value: Option<String>| value.unwrap_or_else(|| "-".into());
    outln!(
        "Certificate {} on {}: {}",
        view.name,
        view.host,
        view.status
    );
    let mut names = view.dns_names.clone();
    names.extend(view.ip_addresses.iter().cloned());
    outln!("  names:      {}", names.join(", "));
    outln!(
        "  key:        {}, lifetime {}, issuer {}",
        view.key_type,
        humantime::format_duration(std::time::Duration::from_secs(view.lifetime_secs)),
        view.issuer
    );
    outln!("  serial:     {}", or_dash(view.serial_hex.clone()));
    outln!(
        "  expires:    {}",
        view.not_after_unix
            .map_or("-".into(), |unix| format_time_ms(unix * 1000))
    );
    outln!(
        "  renews:     {}",
        view.renew_at_ms.map_or("-".into(), format_time_ms)
    );
    if let Some(error) = &view.last_error {
        outln!(
            "  last error: {} ({}; {} in a row, next try {})",
            error,
            view.last_error_at_ms.map_or("-".into(), format_time_ms),
            view.failures,
            view.retry_at_ms.map_or("-".into(), format_time_ms)
        );
    }
    if let Some(revoked) = view.revoked_at_ms {
        outln!("  revoked:    {}", format_time_ms(revoked));
    }
}

fn certificate(response: AdminResponse, json: bool) -> anyhow::Result<()> {
    match response {
        AdminResponse::ManagedCertificate(view) if json => print_json(&view),
        AdminResponse::ManagedCertificate(view) => {
            print_view(&view);
            Ok(())
        }
        other => unexpected(other),
    }
}

async fn call(config: &Config, request: CertificateRequest) -> anyhow::Result<AdminResponse> {
    admin_call(config, AdminRequest::ManagedCertificate(request)).await
}

pub async fn run_cert(command: CertCommand, config: &Config) -> anyhow::Result<()> {
    match command {
        CertCommand::Declare(arguments) => {
            let DeclareArgs {
                name,
                host,
                dns_names,
                ip_addresses,
                key_type,
                lifetime,
                cert,
                chain,
                fullchain,
                key,
                combined,
                owner,
                group,
                key_mode,
                reload,
                issuer,
                json,
            } = *arguments;
            let declaration = Declaration {
                name,
                host,
                dns_names,
                ip_addresses,
                key_type,
                lifetime,
                files: FilesDeclaration {
                    cert,
                    chain,
                    fullchain,
                    key,
                    combined,
                    owner,
                    group,
                    key_mode,
                },
                reload: reload.map(|line| line.split_whitespace().map(str::to_owned).collect()),
                issuer,
            };
            let response = call(config, CertificateRequest::Declare(Box::new(declaration))).await?;
            certificate(response, json)
        }
        CertCommand::List { json } => match call(config, CertificateRequest::List).await? {
            AdminResponse::ManagedCertificates(views) if json => print_json(&views),
            AdminResponse::ManagedCertificates(views) => {
                outln!(
                    "{:<24} {:<24} {:<8} {:<22} {:<22} SERIAL",
                    "NAME",
                    "HOST",
                    "STATUS",
                    "EXPIRES",
                    "RENEWS"
                );
                for view in views {
                    outln!(
                        "{:<24} {:<24} {:<8} {:<22} {:<22} {}",
                        view.name,
                        view.host,
                        view.status,
                        view.not_after_unix
                            .map_or("-".into(), |unix| format_time_ms(unix * 1000)),
                        view.renew_at_ms.map_or("-".into(), format_time_ms),
                        view.serial_hex.as_deref().unwrap_or("-")
                    );
                }
                Ok(())
            }
            other => unexpected(other),
        },
        CertCommand::Show { name, json } => {
            certificate(call(config, CertificateRequest::Show { name }).await?, json)
        }
        CertCommand::Renew { name, wait } => {
            let wait_secs = humantime::parse_duration(&wait)
                .map_err(|error| anyhow::anyhow!("--wait {wait:?}: {error}"))?
                .as_secs();
            match call(config, CertificateRequest::Renew { name, wait_secs }).await? {
                AdminResponse::RenewalRequested {
                    certificate,
                    attempted,
                } => {
                    if !attempted {
                        outln!("Renewal queued: it runs when the host is connected and the controller is running.");
                    }
                    print_view(&certificate);
                    match (&certificate.last_error, attempted) {
                        (Some(error), true) => anyhow::bail!("renewal failed: {error}"),
                        _ => Ok(()),
                    }
                }
                other => unexpected(other),
            }
        }
        CertCommand::Revoke { name } => certificate(
            call(config, CertificateRequest::Revoke { name }).await?,
            false,
        ),
        CertCommand::Delete { name } => {
            match call(config, CertificateRequest::Delete { name }).await? {
                AdminResponse::Done(text) => {
                    outln!("{text}");
                    Ok(())
                }
                other => unexpected(other),
            }
        }
        CertCommand::Ca { pem: _, der } => match call(config, CertificateRequest::Root).await? {
            AdminResponse::ServicesRoot { der_hex, .. } if der => {
                use std::io::Write as _;
                let bytes = hex::decode(der_hex)?;
                std::io::stdout().write_all(&bytes)?;
                Ok(())
            }
            AdminResponse::ServicesRoot { root, .. } => {
                outln!("{}", root.pem.trim_end());
                Ok(())
            }
            other => unexpected(other),
        },
    }
}
