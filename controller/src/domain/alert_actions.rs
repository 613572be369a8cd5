//! What people do to alerts (issue 18 §2), audited like every change: acknowledge an open
//! alert with a note (no more reminders or escalations until it resolves) or take that
//! back; silence alerts by host, key prefix and/or host label until an expiry, list and
//! delete silences. The alert loop (`crate::alerts::apply`) honours both.

use super::actor::Actor;
use super::audit::{self, AuditAction};
use super::error::DomainError;
use crate::clock::now_ms;
use crate::config::alert_silence::{Matchers, RawMatchers, CONFIGURATION};
use crate::context::Context;
use crate::storage::alert_lifecycle::{Acknowledgement, ActorRecord};
use crate::storage::alert_silences::SilenceRecord;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use unity_shared::proto::AgentId;

/// The longest note an acknowledgement or silence keeps, in characters.
pub const MAX_NOTE_CHARS: usize = 1000;
/// The longest silence.
pub const MAX_SILENCE: Duration = Duration::from_secs(90 * 86_400);
/// Silences kept at most (expired ones are pruned every evaluation).
pub const MAX_SILENCES: usize = 1000;

/// An actor as stored.
pub fn actor_record(actor: &Actor) -> ActorRecord {
    match actor {
        Actor::User(name) => ActorRecord::User(name.clone()),
        Actor::Token { id, owner } => ActorRecord::Token {
            id: id.clone(),
            owner: owner.clone(),
        },
        Actor::Cli => ActorRecord::Cli,
        Actor::Agent(agent_id) => ActorRecord::Agent(agent_id.clone()),
        Actor::Controller(task) => ActorRecord::Controller((*task).to_owned()),
    }
}

/// A note or comment checked: at most [`MAX_NOTE_CHARS`], no control characters but line
/// breaks and tabs, trimmed.
pub fn checked_note(what: &str, text: &str) -> Result<String, DomainError> {
    let text = text.trim();
    if text.chars().count() > MAX_NOTE_CHARS {
        return Err(DomainError::Invalid(format!(
            "the {what} is too long: at most {MAX_NOTE_CHARS} characters"
        )));
    }
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\t'))
    {
        return Err(DomainError::Invalid(format!(
            "the {what} has control characters"
        )));
    }
    Ok(text.to_owned())
}

/// Acknowledges the open alert `key` of host `agent_id` with `note`, audited. Note that this
/// uses blocking I/O.
pub fn acknowledge(
    ctx: &Context,
    actor: &Actor,
    agent_id: &AgentId,
    key: &str,
    note: &str,
) -> Result<Acknowledgement, DomainError> {
    let note = checked_note("note", note)?;
    require_open(ctx, agent_id, key)?;
    let ack = Acknowledgement {
        by: actor_record(actor),
        at_ms: now_ms(),
        note,
    };
    ctx.store.alert_lifecycle.set_ack(key, Some(&ack))?;
    ctx.store.flush()?;
    audit::record(ctx, actor, AuditAction::AlertAcknowledge, key)?;
    Ok(ack)
}

/// Takes back the acknowledgement of the open alert `key`, audited. Note that this uses
/// blocking I/O.
pub fn unacknowledge(
    ctx: &Context,
    actor: &Actor,
    agent_id: &AgentId,
    key: &str,
) -> Result<(), DomainError> {
    require_open(ctx, agent_id, key)?;
    ctx.store.alert_lifecycle.set_ack(key, None)?;
    ctx.store.flush()?;
    audit::record(ctx, actor, AuditAction::AlertUnacknowledge, key)?;
    Ok(())
}

/// The host of the open alert `key`. Note that this uses blocking I/O.
pub fn host_of_open(ctx: &Context, key: &str) -> Result<AgentId, DomainError> {
    ctx.store
        .alerts
        .open_alerts()?
        .into_iter()
        .find(|alert| alert.key == key)
        .map(|alert| alert.agent_id)
        .ok_or_else(|| {
            DomainError::NotFound(format!(
                "no open alert {key:?} (the ids are the keys `alerts list` shows)"
            ))
        })
}

fn require_open(ctx: &Context, agent_id: &AgentId, key: &str) -> Result<(), DomainError> {
    let open = ctx.store.alerts.open_alerts()?;
    match open.iter().find(|alert| alert.key == key) {
        Some(alert) if &alert.agent_id == agent_id => Ok(()),
        _ => Err(DomainError::NotFound(format!(
            "no open alert {key:?} on host {agent_id}"
        ))),
    }
}

/// A silence as the faces show it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SilenceView {
    pub id: u64,
    pub host: Option<String>,
    pub key_prefix: Option<String>,
    /// `name=value`.
    pub label: Option<String>,
    pub comment: String,
    pub created_by: String,
    pub created_at_ms: i64,
    /// `i64::MAX`: never (a silence of the config file without `until`).
    pub expires_at_ms: i64,
    /// Kept in the config file (`[[alerts.silence]]`, id 0): removed by editing it.
    #[serde(default)]
    pub from_configuration: bool,
}

/// Whether `record` is one of the config file's silences.
pub fn is_from_configuration(record: &SilenceRecord) -> bool {
    record.id == 0
        && matches!(&record.created_by, ActorRecord::Controller(name) if name == CONFIGURATION)
}

impl SilenceView {
    pub fn of(record: &SilenceRecord) -> SilenceView {
        SilenceView {
            id: record.id,
            host: record.host.as_ref().map(ToString::to_string),
            key_prefix: record.key_prefix.clone(),
            label: record
                .label
                .as_ref()
                .map(|(name, value)| format!("{name}={value}")),
            comment: record.comment.clone(),
            created_by: record.created_by.to_string(),
            created_at_ms: record.created_at_ms,
            expires_at_ms: record.expires_at_ms,
            from_configuration: is_from_configuration(record),
        }
    }
}

/// What a new silence matches and for how long, as a face gives it (empty = not given).
#[derive(Debug, Clone, Default)]
pub struct SilenceRequest {
    pub host: Option<String>,
    /// The alerts' rule: the first part of their key (`disk`, `container`).
    pub rule: Option<String>,
    pub key_prefix: Option<String>,
    /// `name=value`.
    pub label: Option<String>,
    pub comment: String,
    /// How long from now, e.g. "2h".
    pub duration: String,
}

/// Checks a request into a record (without id).
pub fn checked_silence(
    request: &SilenceRequest,
    actor: &Actor,
    now_ms: i64,
) -> Result<SilenceRecord, DomainError> {
    let Matchers {
        host,
        key_prefix,
        label,
    } = Matchers::check(&RawMatchers {
        host: request.host.as_deref(),
        rule: request.rule.as_deref(),
        key_prefix: request.key_prefix.as_deref(),
        label: request.label.as_deref(),
    })
    .map_err(|error| DomainError::Invalid(error.to_string()))?;
    let duration = humantime::parse_duration(request.duration.trim()).map_err(|error| {
        DomainError::Invalid(format!("bad duration {:?}: {error}", request.duration))
    })?;
    if duration < Duration::from_secs(60) || duration > MAX_SILENCE {
        return Err(DomainError::Invalid(format!(
            "bad duration {:?}: from 1 minute to 90 days",
            request.duration
        )));
    }
    Ok(SilenceRecord {
        id: 0,
        host,
        key_prefix,
        label,
        comment: checked_note("comment", &request.comment)?,
        created_by: actor_record(actor),
        created_at_ms: now_ms,
        expires_at_ms: now_ms.saturating_add(duration.as_millis() as i64),
    })
}

/// Creates a silence, audited. Note that this uses blocking I/O.
pub fn silence(
    ctx: &Context,
    actor: &Actor,
    request: &SilenceRequest,
) -> Result<SilenceView, DomainError> {
    let now = now_ms();
    let record = checked_silence(request, actor, now)?;
    ctx.store.alert_silences.prune(now)?;
    if ctx.store.alert_silences.list()?.len() >= MAX_SILENCES {
        return Err(DomainError::Conflict(format!(
            "{MAX_SILENCES} silences in force already; delete some first"
        )));
    }
    let record = ctx.store.alert_silences.create(record)?;
    let view = SilenceView::of(&record);
    let target = format!(
        "silence {} host={} prefix={} label={} until {}",
        view.id,
        view.host.as_deref().unwrap_or("*"),
        view.key_prefix.as_deref().unwrap_or("*"),
        view.label.as_deref().unwrap_or("*"),
        view.expires_at_ms
    );
    audit::record(ctx, actor, AuditAction::AlertSilenceCreate, &target)?;
    Ok(view)
}

/// The silences in force at `now_ms`: the config file's, then the stored ones, oldest
/// first. Note that this uses blocking I/O.
pub fn in_force(ctx: &Context, now_ms: i64) -> Result<Vec<SilenceRecord>, DomainError> {
    Ok(ctx
        .config
        .alerts
        .silences
        .iter()
        .cloned()
        .chain(ctx.store.alert_silences.list()?)
        .filter(|silence| silence.expires_at_ms > now_ms)
        .collect())
}

/// The silences in force (see [`in_force`]). Note that this uses blocking I/O.
pub fn silences(ctx: &Context) -> Result<Vec<SilenceView>, DomainError> {
    Ok(in_force(ctx, now_ms())?
        .iter()
        .map(SilenceView::of)
        .collect())
}

/// Deletes silence `id`, audited. Note that this uses blocking I/O.
pub fn unsilence(ctx: &Context, actor: &Actor, id: u64) -> Result<(), DomainError> {
    if id == 0 {
        return Err(DomainError::Invalid(
            "silences from the configuration file ([[alerts.silence]]) are removed by editing it"
                .into(),
        ));
    }
    if !ctx.store.alert_silences.delete(id)? {
        return Err(DomainError::NotFound(format!("no silence {id}")));
    }
    audit::record(
        ctx,
        actor,
        AuditAction::AlertSilenceDelete,
        &format!("silence {id}"),
    )?;
    Ok(())
}

/// Parses a silence id from a path.
pub fn parse_silence_id(text: &str) -> Result<u64, DomainError> {
    text.parse()
        .map_err(|_| DomainError::Invalid(format!("bad silence id {text:?}: expected a number")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_18_hostile_silences_and_notes_are_refused() {
        let request = |host: &str, prefix: &str, label: &str, duration: &str| SilenceRequest {
            host: Some(host.into()),
            rule: None,
            key_prefix: Some(prefix.into()),
            label: Some(label.into()),
            comment: "c".into(),
            duration: duration.into(),
        };
        let actor = Actor::user("ada");
        let ok = checked_silence(&request("nas", "", "", "2h"), &actor, 0).unwrap();
        assert_eq!(ok.expires_at_ms, 7_200_000);
        assert_eq!(ok.created_by, ActorRecord::User("ada".into()));
        for (bad, why) in [
            (request("", "", "", "2h"), "needs a host"),
            (request("nas", "", "", "2 fortnights"), "bad duration"),
            (request("../x", "", "", "2h"), "bad host"),
            (request("", "", "novalue", "2h"), "name=value"),
            (request("nas", "", "", "soon"), "bad duration"),
            (request("nas", "", "", "1s"), "1 minute"),
            (request("nas", "", "", "1000d"), "90 days"),
            (request("nas", &"x".repeat(301), "", "1h"), "too long"),
        ] {
            let error = checked_silence(&bad, &actor, 0).unwrap_err().to_string();
            assert!(error.contains(why), "{error}");
        }
        assert!(checked_note("note", &"x".repeat(MAX_NOTE_CHARS + 1)).is_err());
        assert!(checked_note("note", "a\u{1b}[31m").is_err());
        assert_eq!(checked_note("note", " <b>hi</b>\n ").unwrap(), "<b>hi</b>");
        assert!(parse_silence_id("12x").is_err());
    }
}
