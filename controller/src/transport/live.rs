//! The live feed for the dashboard's overview (issue 19): what each host's newest reports said,
//! kept in memory, and which hosts changed since the overview's renderer last looked.
//!
//! The ingest writer hands every stored report to [`LiveFeed::observe`]: its system figures
//! (CPU, memory, fullest filesystem, network throughput, hottest sensor, uptime) go into a small
//! ring per host, and the host is marked changed with a wake-up. Bounded: at most [`RING`] points
//! per figure and host, none older than [`WINDOW_MS`] behind the newest; one entry per host that
//! reported. The rings are why the overview's 500 × 4 sparklines cost no series-store read; they
//! are not persisted (after a restart the sparklines fill again as reports arrive; the store
//! keeps the history for the host page). Observing never waits on a reader: readers copy out
//! under a short lock, and the rendered cards go out on a `broadcast` channel whose slow
//! receivers lag and are dropped, never block.
//!
//! [`Observation::of`] and [`Recent::push`] are pure.

use crate::storage::series::Sample;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use tokio::sync::{broadcast, Notify};
use unity_shared::proto::AgentId;

/// Most points a figure's ring keeps per host (an hour at 30 s reports).
pub const RING: usize = 120;
/// How far behind the newest point a ring reaches.
pub const WINDOW_MS: i64 = 3_600_000;

/// One report's system figures (pure: from its samples); `None` where it had none.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Observation {
    pub timestamp_ms: i64,
    /// CPU busy, 0..1 (`cpu_usage_ratio{cpu="total"}`).
    pub cpu_ratio: Option<f64>,
    pub memory_used_bytes: Option<f64>,
    pub memory_total_bytes: Option<f64>,
    /// The fullest filesystem's used share, 0..1.
    pub disk_ratio: Option<f64>,
    /// Bytes received plus sent over every interface but loopback, since boot (a counter).
    pub network_bytes_total: Option<f64>,
    /// The hottest sensor.
    pub temperature_celsius: Option<f64>,
    pub uptime_seconds: Option<f64>,
}

/// A filesystem's used and total bytes, as far as the report has them.
type UsedAndSize = (Option<f64>, Option<f64>);

impl Observation {
    /// The figures in `samples`; `None` when the report carried no system figure at all (a
    /// container or storage report only).
    pub fn of(samples: &[Sample]) -> Option<Observation> {
        let mut observation = Observation::default();
        let mut filesystems: HashMap<&[(String, String)], UsedAndSize> = HashMap::new();
        let mut found = false;
        let max = |slot: &mut Option<f64>, value: f64| {
            *slot = Some(slot.map_or(value, |old: f64| old.max(value)));
        };
        for sample in samples.iter().filter(|sample| sample.value.is_finite()) {
            let labels = &sample.series.labels;
            let label = |name: &str| {
                labels
                    .iter()
                    .find(|(key, _)| key == name)
                    .map(|(_, value)| value.as_str())
            };
            let value = sample.value;
            match sample.series.metric.as_str() {
                "cpu_usage_ratio" if label("cpu") == Some("total") => {
                    observation.cpu_ratio = Some(value)
                }
                "memory_used_bytes" => observation.memory_used_bytes = Some(value),
                "memory_total_bytes" => observation.memory_total_bytes = Some(value),
                "filesystem_used_bytes" => {
                    filesystems.entry(labels.as_slice()).or_default().0 = Some(value)
                }
                "filesystem_size_bytes" => {
                    filesystems.entry(labels.as_slice()).or_default().1 = Some(value)
                }
                "network_receive_bytes_total" | "network_transmit_bytes_total"
                    if label("interface") != Some("lo") =>
                {
                    *observation.network_bytes_total.get_or_insert(0.0) += value
                }
                "temperature_celsius" => max(&mut observation.temperature_celsius, value),
                "uptime_seconds" => observation.uptime_seconds = Some(value),
                _ => continue,
            }
            found = true;
            observation.timestamp_ms = observation.timestamp_ms.max(sample.timestamp_ms);
        }
        for (used, size) in filesystems.into_values() {
            if let (Some(used), Some(size)) = (used, size) {
                if size > 0.0 {
                    max(&mut observation.disk_ratio, used / size);
                }
            }
        }
        found.then_some(observation)
    }

    /// Memory used, 0..1.
    pub fn memory_ratio(&self) -> Option<f64> {
        match (self.memory_used_bytes, self.memory_total_bytes) {
            (Some(used), Some(total)) if total > 0.0 => Some(used / total),
            _ => None,
        }
    }
}

/// A host's recent figures: the rings the sparklines draw and the newest observation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recent {
    pub cpu: VecDeque<(i64, f64)>,
    pub memory: VecDeque<(i64, f64)>,
    pub disk: VecDeque<(i64, f64)>,
    /// Bytes per second, received plus sent.
    pub network: VecDeque<(i64, f64)>,
    pub newest: Option<Observation>,
}

fn keep(ring: &mut VecDeque<(i64, f64)>, point: (i64, f64)) {
    ring.push_back(point);
    while ring.len() > RING
        || ring
            .front()
            .is_some_and(|(time, _)| *time < point.0 - WINDOW_MS)
    {
        ring.pop_front();
    }
}

impl Recent {
    /// Adds `observation` (pure). One older than the newest is ignored (a replayed spool);
    /// the network rate comes from the previous observation's counter (none after a counter
    /// reset or for the first).
    pub fn push(&mut self, observation: Observation) {
        let previous = self.newest;
        if previous.is_some_and(|previous| observation.timestamp_ms <= previous.timestamp_ms) {
            return;
        }
        let t = observation.timestamp_ms;
        if let Some(cpu) = observation.cpu_ratio {
            keep(&mut self.cpu, (t, cpu));
        }
        if let Some(memory) = observation.memory_ratio() {
            keep(&mut self.memory, (t, memory));
        }
        if let Some(disk) = observation.disk_ratio {
            keep(&mut self.disk, (t, disk));
        }
        let counters = previous.and_then(|previous| {
            Some((
                previous.timestamp_ms,
                previous.network_bytes_total?,
                observation.network_bytes_total?,
            ))
        });
        if let Some((then, before, now)) = counters {
            if now >= before && t > then {
                keep(
                    &mut self.network,
                    (t, (now - before) * 1000.0 / (t - then) as f64),
                );
            }
        }
        self.newest = Some(observation);
    }

    /// The newest network rate.
    pub fn network_rate(&self) -> Option<f64> {
        self.network.back().map(|(_, rate)| *rate)
    }
}

/// One host's card as the overview's renderer drew it, for the live streams.
#[derive(Debug, Clone)]
pub struct LiveCard {
    pub agent_id: AgentId,
    /// The card's live part, rendered (and escaped) by the web face.
    pub html: Arc<str>,
}

/// The rings, the changed set and the cards' channel (see the module's documentation).
#[derive(Default)]
pub struct LiveFeed {
    hosts: Mutex<HashMap<String, Recent>>,
    changed: Mutex<BTreeSet<String>>,
    wake: Notify,
    /// The rendered cards; created by the web face's renderer when the first browser listens.
    pub cards: OnceLock<broadcast::Sender<LiveCard>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl LiveFeed {
    /// Takes one stored report of `agent`: its figures into the rings, the host marked changed.
    pub fn observe(&self, agent: &str, samples: &[Sample]) {
        let Some(observation) = Observation::of(samples) else {
            return;
        };
        lock(&self.hosts)
            .entry(agent.to_owned())
            .or_default()
            .push(observation);
        self.mark_changed(agent);
    }

    /// Marks `agent`'s card as changed and wakes the renderer.
    pub fn mark_changed(&self, agent: &str) {
        lock(&self.changed).insert(agent.to_owned());
        self.wake.notify_one();
    }

    /// `agent`'s recent figures (empty when it has not reported since the controller started).
    pub fn recent(&self, agent: &str) -> Recent {
        lock(&self.hosts).get(agent).cloned().unwrap_or_default()
    }

    /// The recent figures of every host in `agents`, in one lock.
    pub fn recent_of<'a>(&self, agents: impl Iterator<Item = &'a str>) -> Vec<Recent> {
        let hosts = lock(&self.hosts);
        agents
            .map(|agent| hosts.get(agent).cloned().unwrap_or_default())
            .collect()
    }

    /// Waits until some host changed, then takes every changed host.
    pub async fn next_changed(&self) -> BTreeSet<String> {
        loop {
            let taken = self.take_changed();
            if !taken.is_empty() {
                return taken;
            }
            self.wake.notified().await;
        }
    }

    /// Takes every host changed since the last take, without waiting.
    pub fn take_changed(&self) -> BTreeSet<String> {
        std::mem::take(&mut *lock(&self.changed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::series::SeriesKey;

    fn sample(metric: &str, labels: &[(&str, &str)], t: i64, value: f64) -> Sample {
        Sample {
            series: SeriesKey::new(
                metric,
                labels
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
            timestamp_ms: t,
            value,
        }
    }

    fn report(t: i64, cpu: f64, network: f64) -> Vec<Sample> {
        let root = [("mount", "/")];
        let data = [("mount", "/data")];
        vec![
            sample("cpu_usage_ratio", &[("cpu", "total")], t, cpu),
            sample("cpu_usage_ratio", &[("cpu", "0")], t, 0.99),
            sample("memory_used_bytes", &[], t, 2.0),
            sample("memory_total_bytes", &[], t, 8.0),
            sample("filesystem_used_bytes", &root, t, 10.0),
            sample("filesystem_size_bytes", &root, t, 100.0),
            sample("filesystem_used_bytes", &data, t, 90.0),
            sample("filesystem_size_bytes", &data, t, 100.0),
            sample(
                "network_receive_bytes_total",
                &[("interface", "eth0")],
                t,
                network,
            ),
            sample(
                "network_transmit_bytes_total",
                &[("interface", "eth0")],
                t,
                network,
            ),
            sample(
                "network_receive_bytes_total",
                &[("interface", "lo")],
                t,
                1e12,
            ),
            sample("temperature_celsius", &[("sensor", "cpu")], t, 51.0),
            sample("temperature_celsius", &[("sensor", "nvme")], t, 38.0),
            sample("uptime_seconds", &[], t, 3600.0),
        ]
    }

    #[test]
    fn an_observation_takes_the_total_cpu_the_fullest_disk_and_the_hottest_sensor() {
        let observation = Observation::of(&report(1_000, 0.25, 500.0)).unwrap();
        assert_eq!(observation.cpu_ratio, Some(0.25), "not core 0's 0.99");
        assert_eq!(observation.memory_ratio(), Some(0.25));
        assert_eq!(observation.disk_ratio, Some(0.9), "/data, not /");
        assert_eq!(
            observation.network_bytes_total,
            Some(1000.0),
            "loopback left out"
        );
        assert_eq!(observation.temperature_celsius, Some(51.0));
        assert_eq!(observation.uptime_seconds, Some(3600.0));
        assert_eq!(observation.timestamp_ms, 1_000);
        let containers_only = [sample("container_cpu_ratio", &[("name", "web")], 1, 0.5)];
        assert_eq!(Observation::of(&containers_only), None);
        let not_finite = [sample("cpu_usage_ratio", &[("cpu", "total")], 1, f64::NAN)];
        assert_eq!(Observation::of(&not_finite), None);
    }

    #[test]
    fn the_network_rate_comes_from_two_counters_and_skips_a_reset() {
        let mut recent = Recent::default();
        recent.push(Observation::of(&report(10_000, 0.1, 1_000.0)).unwrap());
        assert_eq!(recent.network_rate(), None, "one counter is no rate");
        recent.push(Observation::of(&report(20_000, 0.2, 6_000.0)).unwrap());
        assert_eq!(recent.network_rate(), Some(1_000.0), "10,000 B in 10 s");
        recent.push(Observation::of(&report(30_000, 0.3, 10.0)).unwrap());
        assert_eq!(recent.network.len(), 1, "a reboot's reset adds no point");
        assert_eq!(recent.cpu.len(), 3);
    }

    #[test]
    fn rings_are_bounded_by_count_and_by_age_and_ignore_replays() {
        let mut recent = Recent::default();
        for step in 0..(RING as i64 + 50) {
            recent.push(Observation::of(&report(step * 1_000, 0.5, 0.0)).unwrap());
        }
        assert_eq!(recent.cpu.len(), RING);
        let newest = recent.cpu.back().copied();
        recent.push(Observation::of(&report(5_000, 0.9, 0.0)).unwrap());
        assert_eq!(
            recent.cpu.back().copied(),
            newest,
            "an older report is ignored"
        );
        recent.push(Observation::of(&report(10 * WINDOW_MS, 0.9, 0.0)).unwrap());
        assert_eq!(
            recent.cpu.len(),
            1,
            "points an hour behind the newest are gone"
        );
    }

    #[tokio::test]
    async fn changed_hosts_are_coalesced_until_taken() {
        let feed = LiveFeed::default();
        for step in 1..=5 {
            feed.observe("nas-1", &report(step * 1_000, 0.5, 0.0));
        }
        feed.observe("pi-1", &report(1_000, 0.5, 0.0));
        feed.observe("pi-2", &[sample("container_cpu_ratio", &[], 1, 0.5)]);
        let changed = feed.next_changed().await;
        assert_eq!(changed.into_iter().collect::<Vec<_>>(), ["nas-1", "pi-1"]);
        assert_eq!(feed.recent("nas-1").cpu.len(), 5);
        assert_eq!(feed.recent("pi-2"), Recent::default());
        let waiting =
            tokio::time::timeout(std::time::Duration::from_millis(50), feed.next_changed());
        assert!(waiting.await.is_err(), "nothing changed since");
    }
}
