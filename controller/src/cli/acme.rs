//! `unity-controller acme …`: try an ACME provider from `[acme]` end to end, fetching its
//! directory and registering (or loading) the controller's account with it. Issuing
//! certificates is the managed certificates' business (`unity-controller cert …`).

use crate::acme::{AcmeAccounts, AcmeProvider};
use crate::config::Config;
use anyhow::Context as _;
use clap::Subcommand;
use unity_shared::outln;

#[derive(Debug, Subcommand)]
pub enum AcmeCommand {
    /// List the providers configured in `[acme]`.
    Providers,
    /// Fetch a provider's directory and register the account (once; later runs reuse it).
    Check {
        /// The provider's `name` in `[[acme.providers]]`.
        provider: String,
    },
}

pub async fn run_acme(command: AcmeCommand, config: &Config) -> anyhow::Result<()> {
    match command {
        AcmeCommand::Providers => {
            outln!("{:<16} {:<16} DIRECTORY", "PROVIDER", "CHALLENGE");
            for provider in &config.acme.providers {
                let challenge = match &provider.challenge {
                    crate::acme::settings::ChallengeSettings::Rfc2136(_) => "dns-rfc2136",
                    crate::acme::settings::ChallengeSettings::Cloudflare(_) => "dns-cloudflare",
                    crate::acme::settings::ChallengeSettings::Http01(_) => "http-01",
                };
                outln!(
                    "{:<16} {:<16} {}",
                    provider.name,
                    challenge,
                    provider.directory
                );
            }
            Ok(())
        }
        AcmeCommand::Check { provider } => {
            let settings = config
                .acme
                .provider(&provider)
                .with_context(|| format!("no [[acme.providers]] named {provider:?}"))?
                .clone();
            let provider =
                tokio::task::spawn_blocking(move || AcmeProvider::new(settings)).await??;
            let accounts = AcmeAccounts::new(&config.data_dir);
            let check = provider
                .check(&accounts)
                .await
                .with_context(|| format!("checking {}", provider.settings.directory))?;
            outln!("directory {}:", provider.settings.directory);
            outln!("{}", check.directory.trim());
            outln!(
                "account {} ({})",
                check.account_url,
                if check.created {
                    "registered now, stored sealed"
                } else {
                    "already registered, reused"
                }
            );
            Ok(())
        }
    }
}
