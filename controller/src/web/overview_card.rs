//! One host's card on the overview (issue 19): live CPU, memory, disk and network figures with
//! their sparklines, temperature, uptime, status, the health badges of its sections, open alerts
//! and pending updates. Pure: a [`CardView`] in, markup out.
//!
//! The card's `.live` part ([`live`]) is also what the live channel sends when the host reports
//! (`overview_live.rs`): it carries the status and the figures the overview's script sorts by
//! as `data-` attributes, so a replaced part re-sorts without another request.
//!
//! A host that is not reporting (offline, silent, revoked) shows no figures: dashes, empty
//! sparklines ("no recent data", a dashed baseline) and a muted "Offline since 02:41 UTC",
//! not its last values with a one-point line that draws as a dot.
//!
//! Markup is kept lean (500 cards make the overview): short attributes, classes only where the
//! stylesheet needs them, sparklines with integer relative paths (`sparkline.rs`).

use super::badge::{self, Tone};
use super::format::{ago, since, url_segment};
use super::metric_names::{self, Unit};
use super::sparkline::{no_recent_data, sparkline};
use crate::domain::hosts::{Host, HostStatus};
use crate::health::Counts;
use crate::transport::live::Recent;
use maud::{html, Markup};

/// What one card shows.
#[derive(Debug, Clone)]
pub struct CardView {
    pub host: Host,
    pub recent: Recent,
    pub open_alerts: usize,
    pub critical_alerts: usize,
    pub updates_pending: usize,
    /// The host groups it is in (not the built-in `all`).
    pub groups: Vec<String>,
}

/// The tone of a share of something that fills up (memory, disk): amber from 80 %, red from
/// 90 %.
pub fn fill_tone(ratio: Option<f64>) -> Tone {
    match ratio {
        Some(ratio) if ratio >= 0.9 => Tone::Critical,
        Some(ratio) if ratio >= 0.8 => Tone::Warning,
        Some(_) => Tone::Ok,
        None => Tone::Unknown,
    }
}

/// The tone of a section's counts.
fn counts_tone(counts: Counts) -> Tone {
    if counts.failing > 0 {
        Tone::Critical
    } else if counts.warning > 0 {
        Tone::Warning
    } else {
        Tone::Ok
    }
}

/// A figure for a `data-` attribute: the value in thousandths, or -1 when there is none
/// (sorts last). Short: it is on every card.
fn sort_key(value: Option<f64>) -> i64 {
    value.map_or(-1, |value| (value * 1000.0).round() as i64)
}

/// Why a host has no recent figures ("Offline since 02:41 UTC"), or `None` while it reports.
pub fn quiet_note(status: HostStatus, last_seen_ms: i64, now: i64) -> Option<String> {
    let word = match status {
        HostStatus::Online => return None,
        HostStatus::Stale => "Silent",
        HostStatus::Offline => "Offline",
        HostStatus::Revoked => return Some("Revoked: no recent data".to_owned()),
    };
    Some(if last_seen_ms > 0 {
        format!("{word} since {}", since(last_seen_ms, now))
    } else {
        format!("{word}: never reported")
    })
}

/// One figure: its value (a dash without one) and its sparkline, empty when `quiet` (the host
/// is not reporting).
fn figure(
    name: &str,
    value: Option<f64>,
    unit: Unit,
    points: &[(i64, f64)],
    tone: Tone,
    now: i64,
    quiet: bool,
) -> Markup {
    let text = value.map_or_else(|| "–".to_owned(), |value| unit.format(value, now));
    // Grey is the default colour of a figure: only amber and red take a class.
    let class = (tone != Tone::Unknown && tone != Tone::Ok).then(|| tone.class());
    let label = format!("{name}, last hour");
    html! {
        div data-figure=(name) {
            dt { (name) }
            dd class=[class] {
                span.value { (text) }
                @if quiet { (no_recent_data(&label)) } @else { (sparkline(points, &label)) }
            }
        }
    }
}

/// The card's live part: status, figures, sparklines, temperature, uptime, last seen and
/// the health badges. Sent alone by the live channel.
///
/// Lean, as 500 of them make the overview: no attribute the stylesheet or `overview.js` can
/// do without (the status rank and the name are derived in the script), figures as
/// thousandths, classes only where they differ from the default.
pub fn live(host: &Host, recent: &Recent, now: i64) -> Markup {
    let quiet = quiet_note(host.status, host.last_seen_ms, now);
    let newest = recent.newest.filter(|_| quiet.is_none());
    let cpu = newest.and_then(|o| o.cpu_ratio);
    let memory = newest.and_then(|o| o.memory_ratio());
    let disk = newest.and_then(|o| o.disk_ratio);
    let network = recent.network_rate().filter(|_| quiet.is_none());
    let quiet_figures = quiet.is_some();
    let points =
        |ring: &std::collections::VecDeque<(i64, f64)>| ring.iter().copied().collect::<Vec<_>>();
    let badges: Vec<(Tone, String)> = host
        .health
        .sections()
        .into_iter()
        .filter(|(_, counts)| counts.reported)
        .map(|(name, counts)| {
            let tone = counts_tone(counts);
            let text = match tone {
                Tone::Critical => format!("{name}: {} failing", counts.failing),
                Tone::Warning => format!("{name}: {} warning", counts.warning),
                _ => format!("{name}: {} ok", counts.ok),
            };
            (tone, text)
        })
        .collect();
    html! {
        div.live data-agent=(host.agent_id) data-status=(host.status.as_str())
            data-cpu=(sort_key(cpu)) data-memory=(sort_key(memory)) data-disk=(sort_key(disk)) {
            p.card-status {
                (badge::host_status(host.status))
                @if let Some(celsius) = newest.and_then(|o| o.temperature_celsius) {
                    span { (Unit::Celsius.format(celsius, now)) }
                }
                @if let Some(uptime) = newest.and_then(|o| o.uptime_seconds) {
                    span { "up " (metric_names::duration(uptime)) }
                }
                span { "seen " (ago(host.last_seen_ms, now)) }
            }
            dl.figures {
                (figure("CPU", cpu, Unit::Ratio, &points(&recent.cpu), Tone::Unknown, now, quiet_figures))
                (figure("Memory", memory, Unit::Ratio, &points(&recent.memory), fill_tone(memory), now, quiet_figures))
                (figure("Disk", disk, Unit::Ratio, &points(&recent.disk), fill_tone(disk), now, quiet_figures))
                (figure("Network", network, Unit::BytesPerSecond, &points(&recent.network), Tone::Unknown, now, quiet_figures))
            }
            @if let Some(note) = &quiet { p.quiet { (note) } }
            @if !badges.is_empty() {
                p.badges {
                    @for (tone, text) in &badges { (badge::badge(*tone, text)) }
                }
            }
        }
    }
}

/// One host's card.
pub fn card(view: &CardView, now: i64) -> Markup {
    let host = &view.host;
    let alerts_tone = match (view.critical_alerts, view.open_alerts) {
        (0, 0) => Tone::Ok,
        (0, _) => Tone::Warning,
        _ => Tone::Critical,
    };
    let groups = (!view.groups.is_empty()).then(|| view.groups.join("\n"));
    let counts = view.open_alerts > 0 || view.updates_pending > 0 || host.agentless.is_some();
    html! {
        article.host-card data-groups=[groups] {
            h3 { a href={ "/hosts/" (url_segment(host.agent_id.as_str())) } { (host.hostname) } }
            @if host.hostname != host.agent_id.as_str() || !host.os.is_empty() {
                p.sub {
                    @if host.hostname != host.agent_id.as_str() { (host.agent_id) " · " }
                    (host.os)
                }
            }
            (live(host, &view.recent, now))
            @if counts {
                p.badges {
                    @if view.open_alerts > 0 {
                        a.badge.(alerts_tone.class()) href="/alerts" {
                            (view.open_alerts) " open alert" @if view.open_alerts != 1 { "s" }
                        }
                    }
                    @if view.updates_pending > 0 {
                        a.badge.(Tone::Warning.class()) href="/updates" {
                            (view.updates_pending) " update" @if view.updates_pending != 1 { "s" } " pending"
                        }
                    }
                    @if let Some(mark) = &host.agentless {
                        a.badge.sev-unknown href="/agentless" { "agentless via " (mark.proxy.as_str()) }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::hosts::HostStatus;
    use crate::health::HealthRollup;
    use crate::storage::series::{Sample, SeriesKey};
    use crate::transport::live::Observation;
    use unity_shared::proto::AgentId;

    fn host(status: HostStatus) -> Host {
        Host {
            agent_id: AgentId::new("nas-1").unwrap(),
            hostname: "nas-1".to_owned(),
            status,
            last_seen_ms: 1_000,
            agent_version: String::new(),
            install: unity_shared::proto::InstallKind::Unknown,
            os: String::new(),
            certificate_not_after: 0,
            dropped_reports: 0,
            health: HealthRollup {
                disks: Counts {
                    reported: true,
                    ok: 3,
                    warning: 0,
                    failing: 1,
                },
                ..HealthRollup::default()
            },
            agentless: None,
        }
    }

    fn recent(memory_used: f64) -> Recent {
        let sample = |metric: &str, labels: Vec<(String, String)>, value: f64| Sample {
            series: SeriesKey::new(metric, labels),
            timestamp_ms: 1_000,
            value,
        };
        let mut recent = Recent::default();
        let observation = Observation::of(&[
            sample(
                "cpu_usage_ratio",
                vec![("cpu".into(), "total".into())],
                0.25,
            ),
            sample("memory_used_bytes", vec![], memory_used),
            sample("memory_total_bytes", vec![], 100.0),
            sample(
                "temperature_celsius",
                vec![("sensor".into(), "cpu".into())],
                46.987,
            ),
            sample("uptime_seconds", vec![], 350_735.0),
        ]);
        recent.push(observation.unwrap());
        recent
    }

    #[test]
    fn the_live_part_shows_figures_in_their_units_and_the_sort_keys() {
        let html = live(&host(HostStatus::Online), &recent(95.0), 2_000).into_string();
        for expected in [
            "25.0 %",
            "95.0 %",
            "47 °C",
            "up 4 d 1 h",
            "data-cpu=\"250\"",
            "data-disk=\"-1\"",
            "data-status=\"online\"",
            "disks: 1 failing",
        ] {
            assert!(html.contains(expected), "{expected} in {html}");
        }
        assert!(
            html.contains("<dd class=\"sev-critical\"><span class=\"value\">95.0 %"),
            "{html}"
        );
    }

    #[test]
    fn a_card_without_reports_has_dashes_and_empty_sparklines_offline_or_not() {
        let view = CardView {
            host: host(HostStatus::Offline),
            recent: Recent::default(),
            open_alerts: 2,
            critical_alerts: 1,
            updates_pending: 1,
            groups: vec!["media".into()],
        };
        let html = card(&view, 2_000).into_string();
        assert!(html.contains("CPU, last hour: no recent data"), "{html}");
        assert!(html.contains("Offline since 00:00 UTC"), "{html}");
        assert!(html.contains("data-status=\"offline\""), "{html}");
        let online = CardView {
            host: host(HostStatus::Online),
            ..view.clone()
        };
        let html = card(&online, 2_000).into_string();
        assert!(html.contains("CPU, last hour: no data"), "{html}");
        assert!(html.contains("<span class=\"value\">–</span>"), "{html}");
        assert!(html.contains("2 open alerts"), "{html}");
        assert!(html.contains("1 update pending"), "{html}");
    }

    #[test]
    fn issue_19_an_offline_host_has_no_figures_and_empty_sparklines_not_dots() {
        // 2026-12-08 02:41:05 UTC, looked at 29 minutes later.
        let last_seen = 1_796_697_665_000;
        let mut offline = host(HostStatus::Offline);
        offline.last_seen_ms = last_seen;
        let mut recent = recent(95.0);
        // Its one report: a single point per sparkline, which would draw as a dot.
        assert_eq!(recent.cpu.len(), 1);
        recent.newest.as_mut().unwrap().timestamp_ms = last_seen;
        let html = live(&offline, &recent, last_seen + 29 * 60_000).into_string();
        assert!(!html.contains("<path"), "no line at all: {html}");
        assert_eq!(html.matches("spark-empty").count(), 4, "{html}");
        assert!(html.contains("CPU, last hour: no recent data"), "{html}");
        assert!(
            html.contains("<p class=\"quiet\">Offline since 02:41 UTC</p>"),
            "{html}"
        );
        assert!(!html.contains("95.0 %"), "no stale figure: {html}");
        assert!(
            !html.contains("sev-critical\"><span"),
            "no stale colour: {html}"
        );
        assert!(html.contains("data-cpu=\"-1\""), "sorts last: {html}");
        // The same host online draws its lines and has no note.
        let online = live(&host(HostStatus::Online), &recent, last_seen + 1_000).into_string();
        assert!(online.contains("<path"), "{online}");
        assert!(!online.contains("class=\"quiet\""), "{online}");
        assert_eq!(
            quiet_note(HostStatus::Stale, last_seen, last_seen + 3 * 86_400_000).as_deref(),
            Some("Silent since 2026-12-08")
        );
        assert_eq!(
            quiet_note(HostStatus::Offline, 0, last_seen).as_deref(),
            Some("Offline: never reported")
        );
        assert_eq!(quiet_note(HostStatus::Online, last_seen, last_seen), None);
    }

    #[test]
    fn fill_tones_turn_amber_then_red() {
        assert_eq!(fill_tone(Some(0.5)), Tone::Ok);
        assert_eq!(fill_tone(Some(0.85)), Tone::Warning);
        assert_eq!(fill_tone(Some(0.95)), Tone::Critical);
        assert_eq!(fill_tone(None), Tone::Unknown);
    }
}
