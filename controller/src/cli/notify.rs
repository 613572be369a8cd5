//! `unity-controller notify …`: the configured receivers with their secrets left out, and a
//! test message to one of them or to any receiver URL, sent from this process (no daemon
//! needed), so a URL can be tried before it goes into the configuration.

use crate::alerts::notify;
use crate::config::Config;
use clap::Subcommand;
use unity_shared::outln;

#[derive(Debug, Subcommand)]
pub enum NotifyCommand {
    /// The receivers from `[[alerts.receiver]]`, `[[alerts.webhook]]` and `[[alerts.ntfy]]`:
    /// name, service, routing and quiet hours; never tokens or passwords.
    List,
    /// Sends a test notification now and says whether the receiver took it.
    Test {
        /// A receiver URL (`docs/notifications.md`) or the name of a configured receiver.
        /// Quote it: it may hold `&` and `?`.
        target: String,
    },
}

pub async fn run(command: NotifyCommand, config: &Config) -> anyhow::Result<()> {
    let alerts = &config.alerts;
    match command {
        NotifyCommand::List => {
            if alerts.receivers.is_empty() {
                outln!("no receivers configured ([[alerts.receiver]] in the configuration file)");
            }
            for receiver in &alerts.receivers {
                let mut routing = Vec::new();
                if !receiver.groups.is_empty() {
                    routing.push(format!("groups {}", receiver.groups.join(",")));
                }
                if !receiver.rules.is_empty() {
                    routing.push(format!("rules {}", receiver.rules.join(",")));
                }
                if let Some(quiet) = &receiver.quiet {
                    routing.push(format!(
                        "quiet {:02}:{:02}-{:02}:{:02} ({:?}, {} still sent)",
                        quiet.start_minute / 60,
                        quiet.start_minute % 60,
                        quiet.end_minute / 60,
                        quiet.end_minute % 60,
                        quiet.mode,
                        quiet.min_severity.as_str()
                    ));
                }
                outln!(
                    "{}\t{}\tfrom {}\t{}",
                    receiver.name,
                    receiver.channel.redacted(),
                    receiver.min_severity.as_str(),
                    if routing.is_empty() {
                        "all alerts".to_owned()
                    } else {
                        routing.join("; ")
                    }
                );
            }
            Ok(())
        }
        NotifyCommand::Test { target } => {
            let dashboard_url = alerts.dashboard_url.clone();
            let outcome = match alerts
                .receivers
                .iter()
                .find(|receiver| receiver.name == target)
            {
                Some(receiver) => notify::test_receiver(receiver, dashboard_url).await,
                None => notify::test_url(&target, dashboard_url).await,
            };
            match outcome {
                Ok(description) => {
                    outln!("sent: {description}");
                    Ok(())
                }
                Err(message) => anyhow::bail!("not sent: {message}"),
            }
        }
    }
}
