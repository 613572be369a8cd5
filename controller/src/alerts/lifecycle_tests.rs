//! Issue 18 §2 through [`super::evaluate_once`] on a real store: acknowledgements stop
//! reminders, silences mute until they expire, an offline host's alerts are unknown instead
//! of resolved, rules with `for` and a scope, and a controller restart (the store closed and
//! opened again) mid-incident re-sends nothing and loses no recovery.

use super::config::{SeriesRule, Threshold};
use super::evaluate_once;
use crate::config::alert_rule::RawSeriesRule;
use crate::config::Config;
use crate::context::Context;
use crate::domain::actor::Actor;
use crate::domain::alert_actions::{self, SilenceRequest};
use crate::domain::alert_rules;
use crate::storage::agents::AgentRecord;
use crate::storage::alerts::Severity;
use crate::storage::series::{IngestReport, Sample, SeriesKey};
use std::sync::Arc;
use std::time::Duration;
use unity_shared::proto::AgentId;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;

fn config(dir: &std::path::Path) -> Config {
    let mut config = Config::with_data_dir(dir.into());
    config.alerts.resolve_after = Duration::from_secs(120);
    config.alerts.offline_after = Duration::from_secs(120);
    config.alerts.repeat_interval = Duration::from_secs(4 * 3600);
    config.alerts.series_rules = vec![SeriesRule {
        name: "hot".into(),
        metric: "temp".into(),
        labels: vec![],
        threshold: Threshold::Above(50.0),
        severity: Severity::Critical,
        summary: None,
        for_duration: Duration::ZERO,
        groups: vec![],
        hosts: vec![],
    }];
    config
}

async fn open(config: Config) -> Arc<Context> {
    crate::service::offline_context(config).await.unwrap()
}

fn nas() -> AgentId {
    AgentId::new("nas").unwrap()
}

/// The host reports at `at_ms` (last seen) with `temp` = `value` (if given).
fn report(ctx: &Context, seq: u64, at_ms: i64, value: Option<f64>) {
    let mut record = AgentRecord::enrolled_for_tests(nas(), "nas");
    record.last_seen_ms = at_ms;
    ctx.store.agents.put_agent(&record).unwrap();
    if let Some(value) = value {
        let sample = Sample {
            series: SeriesKey::new("temp", Vec::new()),
            timestamp_ms: at_ms,
            value,
        };
        ctx.store
            .series
            .ingest(&[IngestReport {
                agent: "nas".into(),
                seq,
                samples: vec![sample],
            }])
            .unwrap();
    }
}

/// What one evaluation at `now` tells: `kind key`.
fn told(ctx: &Context, now: i64) -> Vec<String> {
    evaluate_once(ctx, 0, now)
        .unwrap()
        .into_iter()
        .map(|event| format!("{} {}", event.kind.as_str(), event.alert.key))
        .collect()
}

fn state_of(ctx: &Context, key: &str) -> String {
    crate::domain::alerts::list(ctx, crate::domain::alerts::Which::All, None, 100)
        .unwrap()
        .into_iter()
        .find(|alert| alert.key == key)
        .map_or("none".into(), |alert| alert.state.to_string())
}

const HOT: &str = "rule/nas/hot/";
const T0: i64 = 1_700_000_000_000;

#[tokio::test]
async fn issue_18_acknowledging_stops_reminders_until_resolved() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = open(config(dir.path())).await;
    report(&ctx, 1, T0, Some(80.0));
    assert_eq!(told(&ctx, T0), [format!("opened {HOT}")]);
    // Reminders every 4 h while unacknowledged.
    let mut now = T0;
    for seq in 2..10 {
        now += HOUR;
        report(&ctx, seq, now, Some(80.0));
        let events = told(&ctx, now);
        let expect: Vec<String> = if (now - T0) % (4 * HOUR) == 0 {
            vec![format!("reminder {HOT}")]
        } else {
            vec![]
        };
        assert_eq!(events, expect, "at +{} h", (now - T0) / HOUR);
    }
    alert_actions::acknowledge(
        &ctx,
        &Actor::user("ada"),
        &nas(),
        HOT,
        "<b>swapping</b> fan",
    )
    .unwrap();
    assert_eq!(state_of(&ctx, HOT), "acknowledged");
    for seq in 10..20 {
        now += HOUR;
        report(&ctx, seq, now, Some(80.0));
        assert!(told(&ctx, now).is_empty(), "no reminder once acknowledged");
    }
    // Resolved: the recovery is still told (its problem was), and the ack goes with it.
    report(&ctx, 20, now + MINUTE, Some(20.0));
    assert!(told(&ctx, now + MINUTE).is_empty());
    report(&ctx, 21, now + 4 * MINUTE, Some(20.0));
    assert_eq!(told(&ctx, now + 4 * MINUTE), [format!("resolved {HOT}")]);
    assert!(ctx.store.alert_lifecycle.acks().unwrap().is_empty());
    // Acknowledging what is not open, or on another host, is refused.
    let error = alert_actions::acknowledge(&ctx, &Actor::Cli, &nas(), HOT, "").unwrap_err();
    assert!(error.to_string().contains("no open alert"), "{error}");
    let audit = crate::domain::audit::recent(&ctx, 10).unwrap();
    assert!(audit
        .iter()
        .any(|entry| entry.action == "alert.acknowledge" && entry.actor == "ada"));
}

#[tokio::test]
async fn issue_18_a_silence_mutes_until_it_expires_and_is_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = open(config(dir.path())).await;
    let silence = alert_actions::silence(
        &ctx,
        &Actor::user("ada"),
        &SilenceRequest {
            host: Some("nas".into()),
            key_prefix: Some("rule/".into()),
            comment: "maintenance".into(),
            duration: "1h".into(),
            ..SilenceRequest::default()
        },
    )
    .unwrap();
    // The silence was made at the wall clock's now; evaluate relative to it.
    let t0 = silence.created_at_ms;
    report(&ctx, 1, t0, Some(80.0));
    assert!(
        told(&ctx, t0).is_empty(),
        "opened under a silence: not told"
    );
    assert_eq!(state_of(&ctx, HOT), "silenced");
    report(&ctx, 2, t0 + 30 * MINUTE, Some(80.0));
    assert!(told(&ctx, t0 + 30 * MINUTE).is_empty());
    // Expired: it stops applying (told as opened now) and is pruned.
    report(&ctx, 3, t0 + 61 * MINUTE, Some(80.0));
    assert_eq!(told(&ctx, t0 + 61 * MINUTE), [format!("opened {HOT}")]);
    assert!(ctx.store.alert_silences.list().unwrap().is_empty());
    assert_eq!(state_of(&ctx, HOT), "open");
    // A recovery of an alert never told is not told either.
    let dir2 = tempfile::tempdir().unwrap();
    let quiet = open(config(dir2.path())).await;
    let silence = alert_actions::silence(
        &quiet,
        &Actor::Cli,
        &SilenceRequest {
            label: Some("role=nas".into()),
            duration: "1h".into(),
            ..SilenceRequest::default()
        },
    )
    .unwrap();
    quiet
        .store
        .access
        .set_labels(&nas(), &[("role".into(), "nas".into())])
        .unwrap();
    let t0 = silence.created_at_ms;
    report(&quiet, 1, t0, Some(80.0));
    assert!(told(&quiet, t0).is_empty());
    report(&quiet, 2, t0 + MINUTE, Some(10.0));
    assert!(told(&quiet, t0 + MINUTE).is_empty());
    report(&quiet, 3, t0 + 4 * MINUTE, Some(10.0));
    assert!(told(&quiet, t0 + 4 * MINUTE).is_empty(), "no lone recovery");
    assert_eq!(state_of(&quiet, HOT), "resolved");
}

#[tokio::test]
async fn issue_18_offline_host_unknown_then_resolved_once_back_and_gone() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = open(config(dir.path())).await;
    report(&ctx, 1, T0, Some(80.0));
    assert_eq!(told(&ctx, T0), [format!("opened {HOT}")]);
    // The host stops reporting: offline after 2 min; its series goes stale after 5 min.
    let offline = "host/nas/offline";
    assert_eq!(told(&ctx, T0 + 3 * MINUTE), [format!("opened {offline}")]);
    for minutes in [6, 30, 120] {
        assert!(told(&ctx, T0 + minutes * MINUTE).is_empty());
        assert_eq!(state_of(&ctx, HOT), "unknown", "+{minutes} min");
    }
    // Back, condition gone: the offline alert resolves; the rule's countdown starts again.
    let back = T0 + 121 * MINUTE;
    report(&ctx, 2, back, Some(20.0));
    assert!(told(&ctx, back).is_empty());
    assert_eq!(state_of(&ctx, HOT), "open");
    report(&ctx, 3, back + 2 * MINUTE, Some(20.0));
    assert_eq!(
        told(&ctx, back + 2 * MINUTE),
        [format!("resolved {offline}"), format!("resolved {HOT}")]
    );
}

#[tokio::test]
async fn issue_18_restart_mid_incident_resends_nothing_and_loses_no_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let config_a = config(dir.path());
    let ctx = open(config_a.clone()).await;
    report(&ctx, 1, T0, Some(80.0));
    assert_eq!(told(&ctx, T0), [format!("opened {HOT}")]);
    report(&ctx, 2, T0 + HOUR, Some(80.0));
    assert!(told(&ctx, T0 + HOUR).is_empty());
    drop(ctx);
    // The store is closed once the last handle goes (the ingest writer's included).
    let ctx = loop {
        match crate::service::offline_context(config_a.clone()).await {
            Ok(ctx) => break ctx,
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    report(&ctx, 3, T0 + 2 * HOUR, Some(80.0));
    assert!(
        told(&ctx, T0 + 2 * HOUR).is_empty(),
        "no second opened after a restart"
    );
    report(&ctx, 4, T0 + 4 * HOUR, Some(80.0));
    assert_eq!(
        told(&ctx, T0 + 4 * HOUR),
        [format!("reminder {HOT}")],
        "the reminder clock survived"
    );
    // Killed again while the condition goes away; the recovery comes after the restart.
    report(&ctx, 5, T0 + 4 * HOUR + MINUTE, Some(10.0));
    drop(ctx);
    let ctx = loop {
        match crate::service::offline_context(config_a.clone()).await {
            Ok(ctx) => break ctx,
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    report(&ctx, 6, T0 + 4 * HOUR + 3 * MINUTE, Some(10.0));
    assert_eq!(
        told(&ctx, T0 + 4 * HOUR + 3 * MINUTE),
        [format!("resolved {HOT}")]
    );
    assert!(
        told(&ctx, T0 + 4 * HOUR + 4 * MINUTE).is_empty(),
        "told once"
    );
}

#[tokio::test]
async fn issue_18_stored_rules_with_for_and_scope() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.alerts.series_rules.clear();
    let ctx = open(config).await;
    let rule = |name: &str, groups: Vec<String>, hosts: Vec<String>| RawSeriesRule {
        name: name.into(),
        metric: "temp".into(),
        above: Some(50.0),
        for_duration: Some("10m".into()),
        groups,
        hosts,
        ..RawSeriesRule::default()
    };
    let admin = Actor::user("ada");
    alert_rules::put(&ctx, &admin, &rule("nas_hot", vec!["all".into()], vec![])).unwrap();
    alert_rules::put(&ctx, &admin, &rule("web_hot", vec![], vec!["web".into()])).unwrap();
    let key = "rule/nas/nas_hot/";
    for (minutes, expect) in [(0, 0), (5, 0), (9, 0), (10, 1)] {
        let now = T0 + minutes * MINUTE;
        report(&ctx, minutes as u64 + 1, now, Some(80.0));
        let events = told(&ctx, now);
        assert_eq!(events.len(), expect, "+{minutes} min: {events:?}");
    }
    assert_eq!(state_of(&ctx, key), "open");
    assert_eq!(state_of(&ctx, "rule/nas/web_hot/"), "none", "out of scope");
    let listed = alert_rules::list(&ctx).unwrap();
    assert_eq!(listed.len(), 2);
    alert_rules::delete(&ctx, &admin, "web_hot").unwrap();
    assert!(alert_rules::delete(&ctx, &admin, "web_hot").is_err());
}
