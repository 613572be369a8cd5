//! `unity-controller alerts …` (issue 18): open alerts with their acknowledgement and
//! silences, acknowledge one with a note, silence by host, rule or label for a while, list and
//! remove silences, list the operator's rules. Through the daemon's admin socket when it
//! runs, on the database otherwise; the changes are audited as the actor `cli`.

use super::{admin_call, format_time_ms, print_json, unexpected};
use crate::admin::{AdminRequest, AdminResponse, AlertLine, AlertsRequest, AlertsResponse};
use crate::domain::alert_actions::SilenceView;
use anyhow::Context as _;
use clap::Subcommand;
use unity_shared::outln;

#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// Open alerts: severity, host, what, since when, acknowledged or silenced.
    #[command(after_help = "Examples:\n  \
unity-controller alerts list\n  \
unity-controller alerts list --host nas01 --rule disk\n  \
unity-controller alerts list --all --json")]
    List {
        /// Only open alerts (the default).
        #[arg(long, conflicts_with = "all")]
        open: bool,
        /// Resolved alerts too (the newest ones kept in the history).
        #[arg(long)]
        all: bool,
        /// Only this host's alerts (agent id).
        #[arg(long)]
        host: Option<String>,
        /// Only this rule's alerts: the first part of the key (disk, pool, container,
        /// filesystem, service, rule, ...) or the name of one of your rules.
        #[arg(long)]
        rule: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Acknowledge an open alert: no more reminders until it resolves.
    #[command(
        after_help = "The ID is the alert's key, as `alerts list` shows it.\n\n\
Example:\n  unity-controller alerts ack pool/nas01/tank --note \"resilvering, disk replaced\""
    )]
    Ack {
        /// The alert's key, e.g. pool/nas01/tank.
        id: String,
        /// Why, for the others (at most 1000 characters).
        #[arg(long)]
        note: String,
    },
    /// Silence alerts by host, rule and/or host label for a while: they stay listed but no
    /// one is notified.
    #[command(after_help = "Every matcher given must match. Examples:\n  \
unity-controller alerts silence --host nas01 --for 2h --reason \"replacing a disk\"\n  \
unity-controller alerts silence --rule container --label role=lab --until 2027-01-31T00:00:00Z --reason \"lab rebuild\"")]
    Silence {
        /// Only this host's alerts (agent id).
        #[arg(long)]
        host: Option<String>,
        /// Only this rule's alerts: the first part of their key (disk, pool, container,
        /// filesystem, service, rule, ...).
        #[arg(long, conflicts_with = "key_prefix")]
        rule: Option<String>,
        /// Only alerts whose key starts with this, e.g. disk/nas01/sda/.
        #[arg(long)]
        key_prefix: Option<String>,
        /// Only alerts of hosts with this label, NAME=VALUE.
        #[arg(long)]
        label: Option<String>,
        /// How long, from now: 30m, 2h, 3d (1 minute to 90 days).
        #[arg(
            long = "for",
            value_name = "DURATION",
            required_unless_present = "until"
        )]
        for_duration: Option<String>,
        /// Until this time, RFC 3339 (2027-01-31T00:00:00Z), in UTC.
        #[arg(long, value_name = "TIME", conflicts_with = "for_duration")]
        until: Option<String>,
        /// Why, for the others.
        #[arg(long)]
        reason: String,
    },
    /// The silences in force, those of the config file included ("from configuration").
    Silences {
        #[arg(long)]
        json: bool,
    },
    /// Remove a silence made in the dashboard, API or CLI (those of the config file are
    /// removed by editing it).
    Unsilence {
        /// The silence's id, as `alerts silences` shows it.
        id: u64,
    },
    /// Your rules over series: the config file's and those made in the dashboard or API.
    Rules {
        #[arg(long)]
        json: bool,
    },
}

/// `--until TIME` as a duration from now, for the daemon (which checks the bounds).
fn duration_until(text: &str, now_ms: i64) -> anyhow::Result<String> {
    let time = humantime::parse_rfc3339_weak(text.trim()).with_context(|| {
        format!("--until {text:?}: expected a time such as 2027-01-31T00:00:00Z")
    })?;
    let until_ms = time
        .duration_since(std::time::UNIX_EPOCH)
        .map(|since| i64::try_from(since.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let seconds = (until_ms - now_ms) / 1000;
    if seconds <= 0 {
        anyhow::bail!("--until {text:?} is in the past");
    }
    Ok(format!("{seconds}s"))
}

fn print_alerts(alerts: &[AlertLine]) {
    if alerts.is_empty() {
        outln!("No alerts.");
        return;
    }
    outln!(
        "{:<9} {:<20} {:<14} {:<22} {:<40} WHAT",
        "SEVERITY",
        "HOST",
        "STATE",
        "SINCE",
        "ID"
    );
    for alert in alerts {
        outln!(
            "{:<9} {:<20} {:<14} {:<22} {:<40} {}",
            alert.severity,
            alert.hostname,
            alert.state,
            format_time_ms(alert.opened_at_ms),
            alert.key,
            alert.summary
        );
        if let (Some(by), Some(note)) = (&alert.acknowledged_by, &alert.note) {
            outln!("{:<9} acknowledged by {by}: {note}", "");
        }
        if !alert.silenced_by.is_empty() {
            let ids: Vec<String> = alert
                .silenced_by
                .iter()
                .map(|id| match id {
                    0 => "from configuration".to_owned(),
                    id => id.to_string(),
                })
                .collect();
            outln!("{:<9} silenced by {}", "", ids.join(", "));
        }
    }
}

fn print_silences(silences: &[SilenceView]) {
    if silences.is_empty() {
        outln!("No silences in force.");
        return;
    }
    outln!(
        "{:<6} {:<20} {:<24} {:<20} {:<22} {:<20} REASON",
        "ID",
        "HOST",
        "KEY PREFIX",
        "LABEL",
        "UNTIL",
        "BY"
    );
    for silence in silences {
        let until = if silence.expires_at_ms == i64::MAX {
            "while configured".to_owned()
        } else {
            format_time_ms(silence.expires_at_ms)
        };
        let (id, by) = if silence.from_configuration {
            ("config".to_owned(), "from configuration".to_owned())
        } else {
            (silence.id.to_string(), silence.created_by.clone())
        };
        outln!(
            "{id:<6} {:<20} {:<24} {:<20} {until:<22} {by:<20} {}",
            silence.host.as_deref().unwrap_or("*"),
            silence.key_prefix.as_deref().unwrap_or("*"),
            silence.label.as_deref().unwrap_or("*"),
            silence.comment
        );
    }
}

pub async fn run(command: AlertsCommand, config: &crate::config::Config) -> anyhow::Result<()> {
    let (request, json) = match command {
        AlertsCommand::List {
            open: _,
            all,
            host,
            rule,
            json,
        } => (AlertsRequest::List { all, host, rule }, json),
        AlertsCommand::Ack { id, note } => (AlertsRequest::Acknowledge { key: id, note }, false),
        AlertsCommand::Silence {
            host,
            rule,
            key_prefix,
            label,
            for_duration,
            until,
            reason,
        } => {
            let duration = match (for_duration, until) {
                (Some(duration), _) => duration,
                (None, Some(until)) => duration_until(&until, crate::clock::now_ms())?,
                (None, None) => anyhow::bail!("give --for DURATION or --until TIME"),
            };
            let request = AlertsRequest::Silence {
                host,
                rule,
                key_prefix,
                label,
                duration,
                reason,
            };
            (request, false)
        }
        AlertsCommand::Silences { json } => (AlertsRequest::Silences, json),
        AlertsCommand::Unsilence { id } => (AlertsRequest::Unsilence { id }, false),
        AlertsCommand::Rules { json } => (AlertsRequest::Rules, json),
    };
    let answer = match admin_call(config, AdminRequest::Alerts(request)).await? {
        AdminResponse::Alerts(answer) => *answer,
        other => return unexpected(other),
    };
    match answer {
        AlertsResponse::Alerts(alerts) if json => print_json(&alerts),
        AlertsResponse::Alerts(alerts) => {
            print_alerts(&alerts);
            Ok(())
        }
        AlertsResponse::Acknowledged {
            key,
            agent_id,
            by,
            note,
        } => {
            outln!("Acknowledged {key} on {agent_id} as {by}: {note}");
            Ok(())
        }
        AlertsResponse::Silenced(silence) => {
            outln!(
                "Silence {} in force until {}.",
                silence.id,
                format_time_ms(silence.expires_at_ms)
            );
            Ok(())
        }
        AlertsResponse::Unsilenced { id } => {
            outln!("Removed silence {id}.");
            Ok(())
        }
        AlertsResponse::Silences(silences) if json => print_json(&silences),
        AlertsResponse::Silences(silences) => {
            print_silences(&silences);
            Ok(())
        }
        AlertsResponse::Rules(rules) if json => print_json(&rules),
        AlertsResponse::Rules(rules) => {
            outln!(
                "{:<24} {:<7} {:<40} {:<24} {:<9} {:>8}  SCOPE",
                "NAME",
                "SOURCE",
                "METRIC",
                "THRESHOLD",
                "SEVERITY",
                "FOR (s)"
            );
            for rule in rules {
                let scope: Vec<String> = rule
                    .groups
                    .iter()
                    .map(|group| format!("group:{group}"))
                    .chain(rule.hosts.iter().map(|host| format!("host:{host}")))
                    .collect();
                outln!(
                    "{:<24} {:<7} {:<40} {:<24} {:<9} {:>8}  {}",
                    rule.name,
                    rule.source,
                    rule.metric,
                    format!("{} {}", rule.threshold, rule.value),
                    rule.severity,
                    rule.for_seconds,
                    if scope.is_empty() {
                        "every host".to_owned()
                    } else {
                        scope.join(",")
                    }
                );
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_18_cli_until_is_a_duration_from_now_and_never_in_the_past() {
        let now_ms = 1_800_000_000_000;
        assert_eq!(
            duration_until("2027-01-15T09:00:00Z", now_ms).unwrap(),
            "3600s"
        );
        let error = duration_until("2027-01-15T06:00:00Z", now_ms)
            .unwrap_err()
            .to_string();
        assert!(error.contains("in the past"), "{error}");
        let error = format!("{:#}", duration_until("tomorrow", now_ms).unwrap_err());
        assert!(error.contains("--until \"tomorrow\""), "{error}");
    }
}
