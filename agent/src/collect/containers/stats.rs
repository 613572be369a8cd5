//! Resource usage from the stats endpoint. Pure.
//!
//! CPU use is a rate, so it needs two readings. The collector asks with `stream=false` and
//! `one-shot=true`, which answers at once (without it, Docker waits a second to fill in
//! `precpu_stats`; with thirty containers on a Raspberry Pi that adds up). The earlier reading
//! is the previous collection's of the same container ([`CpuReading`], kept by the caller), so
//! the daemon reports the mean CPU use since its last collection rather than over one second.
//! A collection without an earlier reading (the first one, `unity-agent collect containers`)
//! reads twice, a second apart. An answer that does carry `precpu_stats` (Docker before API
//! 1.41 ignores `one-shot`) is used as is. Podman 4 never sends `precpu_stats` here.
//!
//! Memory is "usage minus inactive file cache", as `docker stats` computes it (cgroup v1:
//! `total_inactive_file`, v2: `inactive_file`), so page cache that the kernel can drop at
//! will does not count as the container's memory.

use bollard::models::{ContainerCpuStats, ContainerStatsResponse};
use unity_shared::model::container::ContainerUsage;

/// Cumulative CPU counters of one container at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuReading {
    /// Nanoseconds of CPU the container used, all cores together.
    pub container_ns: u64,
    /// Nanoseconds of CPU the whole host used (Docker's `system_cpu_usage`).
    pub system_ns: u64,
    pub online_cpus: u32,
}

impl CpuReading {
    /// The counters of a stats section; `None` when it is empty (a missing `precpu_stats`).
    pub fn from_stats(stats: &ContainerCpuStats) -> Option<CpuReading> {
        let container_ns = stats.cpu_usage.as_ref()?.total_usage?;
        let system_ns = stats.system_cpu_usage.filter(|ns| *ns > 0)?;
        let online_cpus = stats
            .online_cpus
            .filter(|cpus| *cpus > 0)
            .or_else(|| {
                let per_cpu = stats.cpu_usage.as_ref()?.percpu_usage.as_ref()?;
                u32::try_from(per_cpu.len()).ok().filter(|cpus| *cpus > 0)
            })
            .unwrap_or(1);
        Some(CpuReading {
            container_ns,
            system_ns,
            online_cpus,
        })
    }
}

/// CPU use between two readings as a percentage of one core (`docker stats`' formula):
/// the container's share of the host's CPU time, times the number of CPUs.
pub fn cpu_percent(now: &CpuReading, before: &CpuReading) -> Option<f64> {
    let container = now.container_ns.checked_sub(before.container_ns)?;
    let system = now.system_ns.checked_sub(before.system_ns)?;
    if system == 0 {
        return None;
    }
    Some(container as f64 / system as f64 * f64::from(now.online_cpus) * 100.0)
}

/// The container's current CPU reading, when the answer has one.
pub fn cpu_reading(stats: &ContainerStatsResponse) -> Option<CpuReading> {
    CpuReading::from_stats(stats.cpu_stats.as_ref()?)
}

/// Whether the answer carries its own earlier reading (Docker's `stream=false` does).
pub fn has_precpu(stats: &ContainerStatsResponse) -> bool {
    stats
        .precpu_stats
        .as_ref()
        .and_then(CpuReading::from_stats)
        .is_some()
}

fn memory_without_cache(stats: &ContainerStatsResponse) -> Option<u64> {
    let memory = stats.memory_stats.as_ref()?;
    let usage = memory.usage?;
    let inactive_file = memory.stats.as_ref().and_then(|stats| {
        stats
            .get("total_inactive_file")
            .or_else(|| stats.get("inactive_file"))
            .copied()
    });
    Some(match inactive_file {
        Some(cache) if cache < usage => usage - cache,
        _ => usage,
    })
}

fn block_bytes(stats: &ContainerStatsResponse, operation: &str) -> Option<u64> {
    let entries = stats
        .blkio_stats
        .as_ref()?
        .io_service_bytes_recursive
        .as_ref()?;
    Some(
        entries
            .iter()
            .filter(|entry| {
                entry
                    .op
                    .as_deref()
                    .is_some_and(|op| op.eq_ignore_ascii_case(operation))
            })
            .filter_map(|entry| entry.value)
            .sum(),
    )
}

/// Usage from one stats answer. `previous` is an earlier reading of the same container, used
/// when the answer has no `precpu_stats` of its own.
pub fn usage(stats: &ContainerStatsResponse, previous: Option<&CpuReading>) -> ContainerUsage {
    let now = cpu_reading(stats);
    let before = stats
        .precpu_stats
        .as_ref()
        .and_then(CpuReading::from_stats)
        .or_else(|| previous.copied());
    let cpu_percent = match (now, before) {
        (Some(now), Some(before)) => cpu_percent(&now, &before),
        _ => None,
    };
    let networks = stats.networks.as_ref();
    let sum_networks = |pick: fn(&bollard::models::ContainerNetworkStats) -> Option<u64>| {
        networks.map(|networks| networks.values().filter_map(pick).sum())
    };
    ContainerUsage {
        cpu_percent,
        memory_bytes: memory_without_cache(stats),
        memory_limit_bytes: stats
            .memory_stats
            .as_ref()
            .and_then(|memory| memory.limit)
            .filter(|limit| *limit > 0),
        net_rx_bytes: sum_networks(|network| network.rx_bytes),
        net_tx_bytes: sum_networks(|network| network.tx_bytes),
        block_read_bytes: block_bytes(stats, "read"),
        block_write_bytes: block_bytes(stats, "write"),
        pids: stats.pids_stats.as_ref().and_then(|pids| pids.current),
    }
}
