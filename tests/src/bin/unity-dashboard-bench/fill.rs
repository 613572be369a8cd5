//! The bench's data: 500 hosts' registry records and 30 days of 5-minute system series written
//! through `SeriesStore::ingest` as the ingest writer does, host 0's CPU total at 15 s, and the
//! live feed's rings as an hour of 30 s reports leaves them (what the overview's sparklines
//! draw).

use std::sync::Arc;
use unity_controller::context::Context;
use unity_controller::storage::agents::AgentRecord;
use unity_controller::storage::series::{IngestReport, Sample, SeriesKey};
use unity_shared::proto::{AgentId, HostFacts};

pub const STEP_MS: i64 = 5 * 60 * 1000;
const FINE_STEP_MS: i64 = 15 * 1000;

/// The agent id of host `host`.
pub fn agent(host: usize) -> String {
    format!("bench-{host:03}")
}

/// The 19 system series every host has (plus CPU total, added per report).
pub fn host_series() -> Vec<SeriesKey> {
    let key = |metric: &str, labels: &[(&str, &str)]| {
        SeriesKey::new(
            metric,
            labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    };
    let fs = [("device", "/dev/sda1"), ("fstype", "ext4"), ("mount", "/")];
    vec![
        key("cpu_usage_ratio", &[("cpu", "0")]),
        key("cpu_usage_ratio", &[("cpu", "1")]),
        key("memory_total_bytes", &[]),
        key("memory_available_bytes", &[]),
        key("memory_used_bytes", &[]),
        key("swap_total_bytes", &[]),
        key("swap_used_bytes", &[]),
        key("load_average", &[("period", "1m")]),
        key("load_average", &[("period", "5m")]),
        key("load_average", &[("period", "15m")]),
        key("uptime_seconds", &[]),
        key("filesystem_size_bytes", &fs),
        key("filesystem_available_bytes", &fs),
        key("filesystem_used_bytes", &fs),
        key("network_receive_bytes_total", &[("interface", "eth0")]),
        key("network_transmit_bytes_total", &[("interface", "eth0")]),
        key("network_receive_packets_total", &[("interface", "eth0")]),
        key("network_transmit_packets_total", &[("interface", "eth0")]),
        key("temperature_celsius", &[("sensor", "cpu")]),
    ]
}

/// A plausible value for series `index` of host `host` at step `step`.
fn value(index: usize, host: usize, step: i64) -> f64 {
    let phase = (step as f64 / 288.0 + host as f64 / 7.0) * std::f64::consts::TAU;
    match index {
        0 | 1 => (0.3 + 0.2 * phase.sin()).clamp(0.0, 1.0),
        2 | 5 | 11 => 16.0 * 1024.0 * 1024.0 * 1024.0,
        3 | 12 => 8e9 + 2e9 * phase.cos(),
        4 | 6 | 13 => 6e9 + 2e9 * phase.sin(),
        7..=9 => 1.0 + phase.sin().abs(),
        10 => (step * 300) as f64,
        14..=17 => (step as f64) * 1.5e6 * (1.0 + (host % 5) as f64),
        _ => 45.0 + 5.0 * phase.sin(),
    }
}

/// Registers `n_hosts` hosts and writes `n_steps` 5-minute steps of history ending at `now`.
/// Returns the number of samples written. Blocking.
pub fn history(ctx: &Arc<Context>, n_hosts: usize, n_steps: i64, now: i64) -> u64 {
    let start_ms = now - n_steps * STEP_MS;
    let series = host_series();
    let agents: Vec<String> = (0..n_hosts).map(agent).collect();
    for (host, agent) in agents.iter().enumerate() {
        let hostname = format!("host-{host:03}");
        ctx.store
            .agents
            .put_agent(&AgentRecord {
                agent_id: AgentId::new(agent.clone()).unwrap(),
                hostname: hostname.clone(),
                host: HostFacts {
                    hostname,
                    os: "Debian GNU/Linux".into(),
                    os_version: "12".into(),
                    kernel: "6.1.0".into(),
                    arch: "x86_64".into(),
                    cpu_model: "bench".into(),
                    n_cpus: 2,
                    memory_bytes: 16 << 30,
                },
                enrolled_at: start_ms / 1000,
                certificate_serial: "00".into(),
                certificate_not_after: now / 1000 + 86400 * 30,
                revoked_at: None,
                last_seen_ms: now - 60_000,
                agent_version: "0.1.0".into(),
                dropped_reports: 0,
                install: unity_shared::proto::InstallKind::Deb,
            })
            .unwrap();
    }
    let fine = SeriesKey::new("cpu_usage_ratio", vec![("cpu".into(), "total".into())]);
    let mut n_samples: u64 = 0;
    let steps_per_call: i64 = 12;
    let mut step = 0;
    while step < n_steps {
        let mut reports = Vec::with_capacity(n_hosts * steps_per_call as usize);
        for offset in 0..steps_per_call.min(n_steps - step) {
            let this_step = step + offset;
            let timestamp_ms = start_ms + this_step * STEP_MS;
            for (host, agent) in agents.iter().enumerate() {
                let mut samples: Vec<Sample> = series
                    .iter()
                    .enumerate()
                    .map(|(index, key)| Sample {
                        series: key.clone(),
                        timestamp_ms,
                        value: value(index, host, this_step),
                    })
                    .collect();
                if host == 0 {
                    for fine_step in 0..(STEP_MS / FINE_STEP_MS) {
                        samples.push(Sample {
                            series: fine.clone(),
                            timestamp_ms: timestamp_ms + fine_step * FINE_STEP_MS,
                            value: value(0, 0, this_step) + fine_step as f64 / 100.0,
                        });
                    }
                } else {
                    samples.push(Sample {
                        series: fine.clone(),
                        timestamp_ms,
                        value: value(0, host, this_step),
                    });
                }
                n_samples += samples.len() as u64;
                reports.push(IngestReport {
                    agent: agent.clone(),
                    seq: this_step as u64 + 1,
                    samples,
                });
            }
        }
        ctx.store.series.ingest(&reports).unwrap();
        step += steps_per_call;
        if step % (steps_per_call * 24 * 12) == 0 {
            ctx.store.series.checkpoint().unwrap();
        }
    }
    ctx.store.series.checkpoint().unwrap();
    ctx.store.flush().unwrap();
    n_samples
}

/// The live feed's rings, as an hour of 30 s reports leaves them.
pub fn live_rings(ctx: &Arc<Context>, n_hosts: usize, now: i64) {
    let series = host_series();
    for host in 0..n_hosts {
        for step in (0..120).rev() {
            let samples = live_samples(&series, host, now - step * 30_000);
            ctx.ingest.live.observe(&agent(host), &samples);
        }
    }
    ctx.ingest.live.take_changed();
}

/// One report's system samples for `host` at `timestamp_ms` (CPU total, memory, the
/// filesystem, network counters, temperature, uptime).
pub fn live_samples(series: &[SeriesKey], host: usize, timestamp_ms: i64) -> Vec<Sample> {
    let step = timestamp_ms / 30_000;
    let mut samples: Vec<Sample> = series
        .iter()
        .enumerate()
        .map(|(index, key)| Sample {
            series: key.clone(),
            timestamp_ms,
            value: value(index, host, step / 10),
        })
        .collect();
    samples.push(Sample {
        series: SeriesKey::new("cpu_usage_ratio", vec![("cpu".into(), "total".into())]),
        timestamp_ms,
        value: value(0, host, step),
    });
    samples
}
