//! `alerts ...` requests on the admin socket (issue 18): list open alerts, acknowledge one,
//! silences (make, list, remove) and the operator's rules, through
//! [`crate::domain::alerts`], [`crate::domain::alert_actions`] and
//! [`crate::domain::alert_rules`] as the actor `cli`, audited as the API's changes are.
//! What the operator typed travels as text and is checked by the domain.

use crate::context::Context;
use crate::domain::access::Right;
use crate::domain::actor::Actor;
use crate::domain::alert_actions::{self, SilenceRequest, SilenceView};
use crate::domain::alert_rules::{self, RuleView};
use crate::domain::alerts::{self, AlertView, Which};
use crate::domain::error::DomainError;
use serde::{Deserialize, Serialize};

/// `unity-controller alerts ...`, as typed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum AlertsRequest {
    /// Open alerts (`all`: resolved ones too), optionally of one host or rule.
    List {
        all: bool,
        host: Option<String>,
        rule: Option<String>,
    },
    Acknowledge {
        key: String,
        note: String,
    },
    Silence {
        host: Option<String>,
        rule: Option<String>,
        key_prefix: Option<String>,
        label: Option<String>,
        /// How long from now, e.g. "2h".
        duration: String,
        reason: String,
    },
    Silences,
    Unsilence {
        id: u64,
    },
    Rules,
}

impl AlertsRequest {
    /// The right on every host it needs, as the API's routes ask for.
    pub fn right(&self) -> Right {
        match self {
            AlertsRequest::List { .. } | AlertsRequest::Silences | AlertsRequest::Rules => {
                Right::View
            }
            AlertsRequest::Acknowledge { .. }
            | AlertsRequest::Silence { .. }
            | AlertsRequest::Unsilence { .. } => Right::Operate,
        }
    }
}

/// One alert as `alerts list` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AlertLine {
    pub key: String,
    pub agent_id: String,
    pub hostname: String,
    /// open, acknowledged, silenced, unknown or resolved.
    pub state: String,
    pub severity: String,
    pub summary: String,
    pub opened_at_ms: i64,
    pub resolved_at_ms: Option<i64>,
    /// Who acknowledged it, and the note.
    pub acknowledged_by: Option<String>,
    pub acknowledged_at_ms: Option<i64>,
    pub note: Option<String>,
    /// The silences muting it (0: one of the config file's).
    pub silenced_by: Vec<u64>,
}

impl From<AlertView> for AlertLine {
    fn from(view: AlertView) -> AlertLine {
        AlertLine {
            key: view.key,
            agent_id: view.agent_id.to_string(),
            hostname: view.hostname,
            state: view.state.as_str().to_owned(),
            severity: view.severity.as_str().to_owned(),
            summary: view.summary,
            opened_at_ms: view.opened_at_ms,
            resolved_at_ms: view.resolved_at_ms,
            acknowledged_by: view.acknowledged.as_ref().map(|ack| ack.by.clone()),
            acknowledged_at_ms: view.acknowledged.as_ref().map(|ack| ack.at_ms),
            note: view.acknowledged.map(|ack| ack.note),
            silenced_by: view.silenced_by,
        }
    }
}

/// One rule as `alerts rules` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RuleLine {
    pub name: String,
    pub metric: String,
    pub labels: Vec<(String, String)>,
    /// above, below or older_than.
    pub threshold: String,
    pub value: f64,
    pub severity: String,
    pub for_seconds: u64,
    pub groups: Vec<String>,
    pub hosts: Vec<String>,
    /// config or stored.
    pub source: String,
}

impl From<RuleView> for RuleLine {
    fn from(view: RuleView) -> RuleLine {
        RuleLine {
            name: view.name,
            metric: view.metric,
            labels: view.labels.into_iter().collect(),
            threshold: view.threshold.to_owned(),
            value: view.value,
            severity: view.severity.as_str().to_owned(),
            for_seconds: view.for_seconds,
            groups: view.groups,
            hosts: view.hosts,
            source: view.source.to_owned(),
        }
    }
}

/// What the daemon answers to an `alerts ...` request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum AlertsResponse {
    Alerts(Vec<AlertLine>),
    Acknowledged {
        key: String,
        agent_id: String,
        by: String,
        note: String,
    },
    Silences(Vec<SilenceView>),
    Silenced(SilenceView),
    Unsilenced {
        id: u64,
    },
    Rules(Vec<RuleLine>),
}

/// The alert's rule: the first part of its key, or for the operator's rules
/// (`rule/<agent>/<name>/..`) also the rule's name.
fn of_rule(key: &str, rule: &str) -> bool {
    let mut parts = key.split('/');
    let kind = parts.next();
    kind == Some(rule) || (kind == Some("rule") && parts.nth(1) == Some(rule))
}

/// Answers one alerts request. Note that this uses blocking I/O.
pub fn handle(ctx: &Context, request: AlertsRequest) -> Result<AlertsResponse, DomainError> {
    let actor = Actor::Cli;
    let answer = match request {
        AlertsRequest::List { all, host, rule } => {
            let which = if all { Which::All } else { Which::Open };
            let views = alerts::list(ctx, which, host.as_deref(), alerts::MAX_LIMIT)?;
            AlertsResponse::Alerts(
                views
                    .into_iter()
                    .filter(|view| rule.as_deref().is_none_or(|rule| of_rule(&view.key, rule)))
                    .map(AlertLine::from)
                    .collect(),
            )
        }
        AlertsRequest::Acknowledge { key, note } => {
            let agent_id = alert_actions::host_of_open(ctx, &key)?;
            let ack = alert_actions::acknowledge(ctx, &actor, &agent_id, &key, &note)?;
            AlertsResponse::Acknowledged {
                key,
                agent_id: agent_id.to_string(),
                by: ack.by.to_string(),
                note: ack.note,
            }
        }
        AlertsRequest::Silence {
            host,
            rule,
            key_prefix,
            label,
            duration,
            reason,
        } => {
            let request = SilenceRequest {
                host,
                rule,
                key_prefix,
                label,
                comment: reason,
                duration,
            };
            AlertsResponse::Silenced(alert_actions::silence(ctx, &actor, &request)?)
        }
        AlertsRequest::Silences => AlertsResponse::Silences(alert_actions::silences(ctx)?),
        AlertsRequest::Unsilence { id } => {
            alert_actions::unsilence(ctx, &actor, id)?;
            AlertsResponse::Unsilenced { id }
        }
        AlertsRequest::Rules => AlertsResponse::Rules(
            alert_rules::list(ctx)?
                .into_iter()
                .map(RuleLine::from)
                .collect(),
        ),
    };
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_18_cli_rule_filter_matches_kind_and_operator_rule_names() {
        assert!(of_rule("disk/nas/sda/smart", "disk"));
        assert!(!of_rule("disk/nas/sda/smart", "dis"));
        assert!(of_rule("rule/nas/cpu_hot/", "cpu_hot"));
        assert!(of_rule("rule/nas/cpu_hot/", "rule"));
        assert!(!of_rule("container/nas/cpu_hot/x", "cpu_hot"));
    }
}
