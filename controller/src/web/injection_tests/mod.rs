//! Issue 13: no text an agent reports reaches a page as HTML.
//!
//! Every place in [`reported::Reported`] that takes text (found by [`walker::slots`], so new
//! model fields are covered without touching this test) gets a hostile payload chosen by
//! proptest; every page that shows agent data is rendered with its pure render function; no
//! payload may appear unescaped, no `<form>` but the page's own may appear, and the fields
//! named in [`MUST_SHOW`] must reach the page (escaped), so the test cannot pass by showing
//! nothing.

mod access;
mod reported;
mod walker;

use super::layout::tests as layout_tests;
use super::overview_card;
use super::storage_pages::{array, disk, pool};
use super::{
    agentless, agents, certificates, container_logs, container_page, host, host_metrics,
    operations, overview, updates,
};
use crate::alerts::config::{SeriesRule, Threshold};
use crate::alerts::rules::{self, HostState, RuleConfig};
use crate::domain::alerts::{AlertState, AlertView};
use crate::domain::host_state::{Collected, ContainersView, PluginsView};
use crate::domain::hosts::{sections, HostDetail, LatestValue};
use crate::storage::alerts::Severity;
use crate::storage::auth::Role;
use crate::storage::series::SeriesKey;
use crate::updates::window::WindowPhase;
use proptest::collection::vec;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reported::Reported;
use std::collections::{BTreeMap, BTreeSet};
use walker::Slot;

/// The tag every payload carries, followed by the number of its slot.
const MARKER: &str = "x-unity-injected";

/// Payload templates; `{n}` is the slot number.
const PAYLOADS: &[&str] = &[
    "<x-unity-injected n={n}>",
    "\"><x-unity-injected n={n} a=\"",
    "'><x-unity-injected n={n}>",
    "</td></tr></table><form action=/x-unity-injected/{n}>",
];

/// Fields that must reach the pages (escaped): `(page, part of the slot's path)`.
const MUST_SHOW: &[(&str, &str)] = &[
    ("host", "host.hostname"),
    ("host", "host.os"),
    ("host", "host.agent_version"),
    ("host_metrics", "latest[1].metric"),
    ("host_metrics", "latest[0].labels[0][1]"),
    ("host", "status.root.children[0].state (other)"),
    ("host", "status.name"),
    ("host", "status.scan.text"),
    ("host", "status.errors.text"),
    ("host", "status.root.children[0].note"),
    ("host", "status.logs[0].name"),
    ("host", "status.spares[0].name"),
    ("host", "status.special[0].name"),
    ("host", "status.cache[0].name"),
    ("host", "status.dedup[0].name"),
    ("host", "zfs.pools[0].verdict.reasons[0].message"),
    ("host", "array.level (other)"),
    ("host", "array.name"),
    ("host", "array.members[0].device"),
    ("host", "array.member_status"),
    ("host", "smart.devices[0].device"),
    ("host", "smart.devices[0].report.device.model"),
    ("host", "smart.devices[0].report.device.serial"),
    ("host", "smart.devices[0].verdict.reasons[0].message"),
    ("host", "smart.devices[3].error"),
    ("host", "identity.serial"),
    ("host", "identity.model"),
    ("host", "databases[0].version"),
    ("host", "databases[0].error"),
    ("host", "databases[0].endpoint.tcp.host"),
    ("host", "databases[2].endpoint.unix.path"),
    ("host", "inventory.engine.version"),
    ("host", "inventory.engine.socket"),
    ("host", "inventory.error"),
    ("host", "inventory.containers[0].name"),
    ("host", "inventory.containers[0].image"),
    ("host", "inventory.containers[0].ports[0].host_ip"),
    ("host", "inventory.containers[0].ports[0].protocol"),
    ("host", "inventory.containers[0].compose.project"),
    ("host", "events[0].name"),
    ("host", "events[4].kind.other.action"),
    ("host", "operations[0].result.message"),
    ("host", "instances[1].hostname"),
    ("host", "instances[2].address"),
    ("host", "checks[0].name"),
    ("host", "checks[0].message"),
    ("host", "checks[1].error"),
    ("host", "checks[2].errors[0]"),
    ("host", "plugin_sources[0].source"),
    ("host", "plugin_sources[0].location"),
    ("host", "plugin_sources[0].errors[0]"),
    ("host", "plugin_sources[1].failure"),
    // Series whose `source` label is not a plugin's (the payload took it): raw series, on the
    // "All metrics" page only.
    ("host_metrics", "latest[8].metric"),
    ("host_metrics", "latest[9].labels[0][1]"),
    ("overview", "checks[0].message"),
    ("overview", "certificates.certificates[0].names[0].Dns"),
    (
        "overview",
        "certificates.certificates[0].location.File.path",
    ),
    (
        "overview",
        "certificates.certificates[1].location.Port.process",
    ),
    // An operator rule's alert names the plugin series' labels.
    ("overview", "latest[9].labels[0][1]"),
    ("overview", "instances[1].hostname"),
    ("overview", "host.hostname"),
    ("overview", "host.os"),
    ("overview", "smart.devices[0].report.device.model"),
    ("overview", "zfs.pools[0].status.name"),
    ("updates", "update_checks[0].container"),
    ("updates", "update_checks[0].image"),
    ("updates", "update_checks[0].outcome.update.candidate_tag"),
    ("updates", "update_checks[0].outcome.update.held_back"),
    ("updates", "update_checks[2].outcome.error.message"),
    ("updates", "operations[0].requested_by"),
    ("operation", "operations[0].result.message"),
    ("operation", "operations[0].result.log[0].message"),
    ("operation", "operations[1].progress[0].message"),
    ("operation", "operations[0].result.evidence.reason"),
    ("operation", "operations[0].result.evidence.log_tail"),
    (
        "operation",
        "operations[0].result.evidence.health_checks[0].output",
    ),
    (
        "operation",
        "operations[0].result.evidence.health_checks[0].start",
    ),
    ("operation", "operations[0].result.evidence.probe_failure"),
    ("operation", "operations[0].result.evidence.capture_error"),
    ("agents", "host.hostname"),
    ("agents", "host.agent_version"),
    ("agent_update", "host.agent_version"),
    ("certificates", "host.hostname"),
    ("host", "certificates.certificates[0].subject"),
    ("host", "certificates.certificates[1].location.Port.process"),
    ("host", "certificates.problems[0].message"),
    ("certificates", "certificates.certificates[0].subject"),
    ("certificates", "certificates.certificates[0].issuer"),
    ("certificates", "certificates.certificates[0].names[0].Dns"),
    ("certificates", "certificates.certificates[0].names[2].Uri"),
    (
        "certificates",
        "certificates.certificates[0].location.File.path",
    ),
    (
        "certificates",
        "certificates.certificates[0].key.Ecdsa.curve",
    ),
    (
        "certificates",
        "certificates.certificates[1].location.Port.address",
    ),
    (
        "certificates",
        "certificates.certificates[1].location.Port.process",
    ),
    (
        "certificates",
        "certificates.certificates[1].location.Port.server_name",
    ),
    (
        "certificates",
        "certificates.certificates[1].problems[0].MissingIntermediate.issuer",
    ),
    (
        "certificates",
        "certificates.certificates[1].problems[1].NameMismatch.name",
    ),
    ("certificates", "certificates.certificates[1].key.Other.oid"),
    ("certificates", "certificates.problems[0].location"),
    ("certificates", "certificates.problems[0].message"),
    ("container", "inventory.containers[0].name"),
    ("container", "inventory.containers[0].image"),
    ("container", "inventory.containers[0].labels[0][0]"),
    ("container", "inventory.containers[0].labels[0][1]"),
    ("container", "inventory.containers[0].mounts[0].destination"),
    ("container", "inventory.engine.version"),
    ("container", "update_checks[0].outcome.update.candidate_tag"),
    ("container_logs", "logs.lines[0].text"),
    ("container_logs", "logs.lines[2].text"),
    ("container_logs", "inventory.containers[0].name"),
    // The storage pages (issue 19): a drive's identity, findings, attributes and self-tests;
    // a pool's vdev tree and damaged files; an array's members and mdadm's detail.
    ("disk", "smart.devices[0].report.device.model"),
    ("disk", "smart.devices[0].report.device.serial"),
    ("disk", "smart.devices[0].report.device.firmware"),
    ("disk", "smart.devices[0].verdict.reasons[0].message"),
    (
        "disk",
        "smart.devices[0].report.ata.attributes[0].raw.string",
    ),
    (
        "disk",
        "smart.devices[0].report.self_test_log.entries[0].status",
    ),
    ("disk", "smart.devices[0].error"),
    ("pool", "status.name"),
    ("pool", "status.root.children[0].name"),
    ("pool", "status.errors.files[0]"),
    ("pool", "status.action"),
    ("pool", "zfs.pools[0].verdict.reasons[0].message"),
    ("array", "array.name"),
    ("array", "array.members[0].device"),
    ("array", "detail.uuid"),
];

/// The alerts the rules raise for this host, as the pages list them.
fn alerts(reported: &Reported, now_ms: i64) -> Vec<AlertView> {
    let latest: Vec<(SeriesKey, (i64, f64))> = reported
        .latest
        .iter()
        .map(|sample| {
            let key = SeriesKey {
                metric: sample.metric.clone(),
                labels: sample.labels.clone(),
            };
            (key, (now_ms, sample.value))
        })
        .collect();
    let filesystems = rules::filesystems(&latest);
    let host = HostState {
        agent_id: &reported.host.agent_id,
        revoked: false,
        last_seen_ms: reported.host.last_seen_ms,
        storage: Some(&reported.storage),
        databases: Some(&reported.databases),
        filesystems: &filesystems,
        instances: &reported.instances,
        checks: &reported.checks,
        latest: &latest,
    };
    // An operator's rule over a plugin series, so its labels (the agent's text) reach the
    // alert's summary and details.
    let config = RuleConfig {
        series_rules: vec![SeriesRule {
            name: "backup_stale".into(),
            // The backup textfile's series, whatever text the test gave its name.
            metric: reported.latest[9].metric.clone(),
            labels: Vec::new(),
            threshold: Threshold::Above(0.0),
            severity: Severity::Warning,
            summary: None,
            for_duration: std::time::Duration::ZERO,
            groups: vec![],
            hosts: vec![],
        }],
        ..RuleConfig::default()
    };
    let mut conditions = rules::evaluate(&host, now_ms, &config);
    // Certificate expiry: the summary names the certificate, the details its paths and process.
    conditions.extend(rules::certificates::conditions(
        &reported.host.agent_id,
        &reported.certificates,
        now_ms,
        &[21, 7],
    ));
    conditions
        .into_iter()
        .map(|condition| AlertView {
            key: condition.key,
            agent_id: condition.agent_id,
            hostname: reported.host.hostname.clone(),
            state: AlertState::Open,
            severity: condition.severity,
            summary: condition.summary,
            details: condition.details,
            opened_at_ms: now_ms - 60_000,
            last_seen_ms: now_ms,
            resolved_at_ms: None,
            acknowledged: None,
            silenced_by: vec![],
            unknown_since_ms: None,
        })
        .collect()
}

/// Every page that shows agent data, rendered for an admin (who sees every form).
fn pages(reported: &Reported, now_ms: i64) -> Vec<(&'static str, String)> {
    let caller = layout_tests::caller(Role::Admin);
    let host = &reported.host;
    let open_alerts = alerts(reported, now_ms);
    let latest: Vec<LatestValue> = reported
        .latest
        .iter()
        .map(|sample| LatestValue {
            metric: sample.metric.clone(),
            labels: sample.labels.iter().cloned().collect(),
            timestamp_ms: now_ms,
            value: sample.value,
        })
        .collect();
    let mut fleet = crate::domain::certificates::FleetCertificates::default();
    crate::domain::certificates::add_host(
        &mut fleet,
        &host.agent_id,
        &host.hostname,
        now_ms,
        reported.certificates.clone(),
        now_ms / 1000,
        &[21, 7],
    );
    let host_page = host::HostPageView {
        detail: HostDetail {
            host: host.clone(),
            sections: sections(&latest),
            latest,
        },
        storage: Some(reported.storage.clone()),
        databases: Some(reported.databases.clone()),
        containers: ContainersView {
            collected_at_ms: Some(now_ms),
            inventory: Some(reported.inventory.clone()),
            recent_events: reported.events.clone(),
            update_checks: reported.update_checks.clone(),
        },
        plugins: PluginsView {
            sources: Collected {
                collected_at_ms: Some(now_ms),
                state: Some(reported.plugin_sources.clone()),
            },
            checks: Collected {
                collected_at_ms: Some(now_ms),
                state: Some(reported.checks.clone()),
            },
        },
        operations: reported.operations.clone(),
        open_alerts: open_alerts.clone(),
        instances: reported.instances.clone(),
        certificates: fleet.clone(),
        range: "24h",
        first_sample_ms: Some(now_ms),
        disk_baselines: Default::default(),
    };
    // The overview's card and the live channel's part, from the reported samples (their
    // labels are agent text too).
    let samples: Vec<crate::storage::series::Sample> = reported
        .latest
        .iter()
        .map(|sample| crate::storage::series::Sample {
            series: SeriesKey::new(sample.metric.clone(), sample.labels.clone()),
            timestamp_ms: now_ms,
            value: sample.value,
        })
        .collect();
    let feed = crate::transport::live::LiveFeed::default();
    feed.observe(host.agent_id.as_str(), &samples);
    let recent = feed.recent(host.agent_id.as_str());
    let live_part = overview_card::live(host, &recent, now_ms).into_string();
    let host_groups = vec![crate::domain::groups::HostGroupView {
        name: "media".to_owned(),
        labels: vec![],
        hosts: vec![host.agent_id.clone()],
        members: vec![host.agent_id.clone()],
    }];
    let overview = overview::OverviewView {
        cards: overview::cards(
            std::slice::from_ref(host),
            vec![recent],
            &open_alerts,
            &std::collections::HashMap::from([(host.agent_id.clone(), 2)]),
            &host_groups,
        ),
        groups: vec!["media".to_owned()],
        hosts: vec![host.clone()],
        open_alerts,
    };
    let updates = updates::UpdatesView {
        records: reported
            .update_checks
            .iter()
            .map(|record| crate::domain::updates::CheckView {
                record: record.clone(),
                failed: None,
                waiting: None,
                insight: None,
                vulnerability_gate: None,
                cooldown: None,
            })
            .collect(),
        hosts: vec![host.clone()],
        operations: reported.operations.clone(),
        windows: BTreeMap::from([(
            host.agent_id.clone(),
            (WindowPhase::Open, Some("closes 02:00".to_owned())),
        )]),
    };
    let agents = agents::AgentsView {
        hosts: vec![host.clone()],
        administered: vec![host.agent_id.clone()],
        tokens: Vec::new(),
        new_token: None,
    };
    let operation = reported
        .operations
        .iter()
        .map(|record| operations::render(record, &caller, now_ms).into_string())
        .collect();
    // An agent update from the version the agent reported, its hello's word quoted back.
    let agent_update = super::agent_updates::render(
        &crate::storage::agent_updates::AgentUpdateRecord {
            id: "0001".into(),
            agent_id: host.agent_id.clone(),
            requested_by: "admin".into(),
            requested_at_ms: now_ms - 60_000,
            expires_at_ms: now_ms,
            build: "x86_64-binary-0.2.0".into(),
            from_version: host.agent_version.clone(),
            to_version: "0.2.0".into(),
            arch: "x86_64".into(),
            kind: "binary".into(),
            rollback: false,
            confirm_within_secs: 300,
            state: crate::storage::agent_updates::AgentUpdateState::Finished,
            started_at_ms: Some(now_ms - 50_000),
            restarting_at_ms: Some(now_ms - 40_000),
            confirm_by_ms: Some(now_ms + 320_000),
            finished_at_ms: Some(now_ms - 30_000),
            result: Some(crate::storage::agent_updates::AgentUpdateResult::RolledBack),
            message: Some(format!(
                "rolled back: the agent came back running {}, not 0.2.0",
                host.agent_version
            )),
            attempts: 1,
            events: vec![],
        },
        &caller,
        now_ms,
    )
    .into_string();
    let container = reported.inventory.containers[0].clone();
    let container_view = crate::domain::container_detail::ContainerDetail {
        agent_id: host.agent_id.clone(),
        name: container.name.clone(),
        events: reported.events.clone(),
        update_check: reported.update_checks.first().cloned(),
        operations: reported.operations.clone(),
        engine: reported.inventory.engine.clone(),
        collected_at_ms: Some(now_ms),
        n_backups: 2,
        newest_backup_ms: Some(now_ms - 60_000),
        connected: true,
        container: Some(container),
    };
    let logs_view = container_logs::LogsView {
        agent_id: host.agent_id.clone(),
        container: container_view.name.clone(),
        lines_asked: 200,
        logs: Ok(reported.logs.clone()),
    };
    let (disks, pools, arrays) = storage_pages(reported, now_ms);
    vec![
        ("disk", disks),
        ("pool", pools),
        ("array", arrays),
        (
            "container",
            container_page::render(&container_view, &caller, now_ms).into_string(),
        ),
        (
            "container_logs",
            container_logs::render(&logs_view, &caller).into_string(),
        ),
        (
            "certificates",
            certificates::render(&fleet, &caller, now_ms).into_string(),
        ),
        (
            "overview",
            overview::render(&overview, &caller, now_ms).into_string(),
        ),
        ("overview_live", live_part),
        (
            "host",
            host::render(&host_page, &caller, now_ms).into_string(),
        ),
        (
            "host_metrics",
            host_metrics::render(&host_page.detail, &caller, now_ms).into_string(),
        ),
        (
            "updates",
            updates::render(&updates, &caller, now_ms).into_string(),
        ),
        ("operation", operation),
        ("agents", agents::render(&agents, &caller).into_string()),
        ("agent_update", agent_update),
        (
            "agentless",
            agentless::render(&agentless_page(host), &caller).into_string(),
        ),
    ]
}

/// Every drive's, pool's and array's page of the host, each kind concatenated.
fn storage_pages(reported: &Reported, now_ms: i64) -> (String, String, String) {
    let caller = layout_tests::caller(Role::Admin);
    let host = &reported.host;
    let state = &reported.storage;
    let points = vec![(now_ms - 60_000, 1.0), (now_ms, 2.0)];
    let disks = state
        .smart
        .devices
        .iter()
        .map(|device| {
            let view = disk::DiskPageView {
                agent_id: host.agent_id.clone(),
                hostname: host.hostname.clone(),
                collected_at_ms: Some(now_ms),
                state: state.clone(),
                drive: crate::storage::disk_baselines::drive_id(device),
                attribute_trends: BTreeMap::from([(5, points.clone()), (9, points.clone())]),
                metric_trends: BTreeMap::from([(
                    "smart_nvme_percentage_used".to_owned(),
                    points.clone(),
                )]),
                range: "24h",
            };
            disk::render(&view, &caller, now_ms).into_string()
        })
        .collect();
    let pools = state
        .zfs
        .pools
        .iter()
        .map(|result| {
            let view = pool::PoolPageView {
                agent_id: host.agent_id.clone(),
                hostname: host.hostname.clone(),
                collected_at_ms: Some(now_ms),
                state: state.clone(),
                name: result.status.name.clone(),
                last_scrub_points: vec![(now_ms, 1_700_000_000.0)],
                scan_points: vec![("scrub".to_owned(), points.clone())],
                range: "24h",
            };
            pool::render(&view, &caller, now_ms).into_string()
        })
        .collect();
    let arrays = state
        .raid
        .arrays
        .iter()
        .map(|result| {
            let view = array::ArrayPageView {
                agent_id: host.agent_id.clone(),
                hostname: host.hostname.clone(),
                collected_at_ms: Some(now_ms),
                state: state.clone(),
                name: result.array.name.clone(),
                sync_points: vec![("check".to_owned(), points.clone())],
                range: "24h",
            };
            array::render(&view, &caller, now_ms).into_string()
        })
        .collect();
    (disks, pools, arrays)
}

/// The agentless page with the proxy's reported words (its status message, the presented
/// host key) taken from the host's reported text.
fn agentless_page(host: &crate::domain::hosts::Host) -> agentless::AgentlessPage {
    let reason = host
        .agentless
        .as_ref()
        .and_then(|mark| mark.down_reason.clone());
    agentless::AgentlessPage {
        hosts: vec![crate::domain::agentless::AgentlessView {
            host: host.agent_id.clone(),
            address: host.hostname.clone(),
            port: 22,
            user: "monitor".into(),
            proxy: host.agent_id.clone(),
            public_key: Some(host.os.clone()),
            key_secret: Some(host.os.clone()),
            host_key: None,
            host_key_fingerprint: None,
            presented_key: reason.clone(),
            presented_fingerprint: reason.clone(),
            collectors: vec!["system".into()],
            interval_secs: 60,
            command_timeout_secs: 30,
            state: Some("unreachable".into()),
            message: reason,
            state_at_ms: None,
        }],
        proxies: vec![host.hostname.clone()],
    }
}

/// The slot numbers whose payload appears in `html`, split into escaped and raw.
fn payloads_in(html: &str) -> (BTreeSet<usize>, BTreeSet<usize>) {
    let (mut escaped, mut raw) = (BTreeSet::new(), BTreeSet::new());
    for (at, _) in html.match_indices(MARKER) {
        let before = &html[..at];
        let after = &html[at + MARKER.len()..];
        let digits: String = after
            .trim_start_matches([' ', 'n', '=', '/'])
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let Ok(n) = digits.parse() else { continue };
        if before.ends_with('<') || before.ends_with("<form action=/") {
            raw.insert(n);
        } else {
            escaped.insert(n);
        }
    }
    (escaped, raw)
}

/// What is wrong with one page, if anything.
fn problems(page: &str, html: &str, slots: &[Slot]) -> Vec<String> {
    let describe = |numbers: &BTreeSet<usize>| -> Vec<String> {
        numbers.iter().map(|n| slots[*n].describe()).collect()
    };
    let mut problems = Vec::new();
    let (escaped, raw) = payloads_in(html);
    if !raw.is_empty() {
        problems.push(format!(
            "{page}: agent text reached the HTML unescaped from {:#?}",
            describe(&raw)
        ));
    } else if let Some(at) = html.find("<x-unity") {
        // A payload cut short (a digest shown by its first characters) has no number.
        problems.push(format!(
            "{page}: agent text reached the HTML unescaped: {}",
            &html[at..html.len().min(at + 60)]
        ));
    }
    if let Some(at) = html.match_indices("<form").map(|(at, _)| at).find(|at| {
        !html[*at..].starts_with("<form method=\"post\" action=\"/")
            && !html[*at..].starts_with("<form method=\"get\" action=\"/")
    }) {
        problems.push(format!(
            "{page}: a form the page did not make: {}",
            &html[at..html.len().min(at + 120)]
        ));
    }
    let shown = describe(&escaped);
    for (_, part) in MUST_SHOW.iter().filter(|(name, _)| *name == page) {
        if !shown.iter().any(|slot| slot.contains(part)) {
            problems.push(format!(
                "{page}: no agent text from `{part}` reached the page"
            ));
        }
    }
    problems
}

fn check(reported: &Reported, slots: &[Slot], now_ms: i64) -> Result<(), TestCaseError> {
    let problems: Vec<String> = pages(reported, now_ms)
        .iter()
        .flat_map(|(page, html)| problems(page, html, slots))
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(TestCaseError::fail(problems.join("\n")))
    }
}

#[test]
fn agent_text_never_reaches_a_page_unescaped() {
    let now_ms = 1_700_000_100_000;
    let base = reported::reported("agent-1", now_ms);
    let slots = walker::slots(&base);
    assert!(slots.len() > 500, "{} slots", slots.len());
    let fill = |choices: &[usize]| -> Reported {
        let texts: Vec<String> = choices
            .iter()
            .enumerate()
            .map(|(n, choice)| PAYLOADS[*choice].replace("{n}", &n.to_string()))
            .collect();
        walker::fill(&base, &slots, &texts)
    };
    // Each payload everywhere, then proptest's mixes.
    for (choice, payload) in PAYLOADS.iter().enumerate() {
        let reported = fill(&vec![choice; slots.len()]);
        if let Err(error) = check(&reported, &slots, now_ms) {
            panic!("payload {payload:?}: {error}");
        }
    }
    let config = Config {
        cases: 16,
        max_shrink_iters: 16,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&vec(0..PAYLOADS.len(), slots.len()), |choices| {
        check(&fill(&choices), &slots, now_ms)
    });
    if let Err(error) = result {
        panic!("{error}");
    }
}

#[test]
fn payloads_are_told_apart_from_their_escaped_forms() {
    let html = "<p>&lt;x-unity-injected n=3&gt;</p><x-unity-injected n=7>\
                &lt;form action=/x-unity-injected/4&gt;<form action=/x-unity-injected/9>";
    let (escaped, raw) = payloads_in(html);
    assert_eq!(escaped, BTreeSet::from([3, 4]));
    assert_eq!(raw, BTreeSet::from([7, 9]));
}
