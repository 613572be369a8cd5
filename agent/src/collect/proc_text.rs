//! Pure parsers for what a Linux host prints about itself as text: `/proc/loadavg`,
//! `/proc/meminfo`, `/proc/uptime`, `df -P -T -B1`, `/etc/os-release` and `uname -srm`. The local
//! system collector reads these through sysinfo; the agentless proxy reads them over SSH and
//! builds the same [`SystemSnapshot`], so both give the same series.

use super::system::{FilesystemUsage, SystemSnapshot, PSEUDO_FILESYSTEMS};
use unity_shared::proto::HostFacts;

/// `0.52 0.58 0.59 1/467 12345` -> the three load averages.
pub fn parse_loadavg(text: &str) -> Option<[f64; 3]> {
    let mut words = text.split_whitespace();
    let mut load = [0.0; 3];
    for slot in &mut load {
        *slot = words.next()?.parse().ok()?;
    }
    Some(load)
}

/// `/proc/uptime`: `350735.47 234388.90` -> whole seconds up.
pub fn parse_uptime(text: &str) -> Option<u64> {
    let seconds: f64 = text.split_whitespace().next()?.parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then_some(seconds as u64)
}

/// The memory figures of `/proc/meminfo`, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Meminfo {
    pub total: u64,
    pub available: u64,
    pub swap_total: u64,
    pub swap_free: u64,
}

/// `/proc/meminfo` (`MemTotal:  16314948 kB`, ...). `None` without `MemTotal`.
pub fn parse_meminfo(text: &str) -> Option<Meminfo> {
    let mut info = Meminfo::default();
    let mut total = None;
    let mut available = None;
    let mut free_buffers_cached = 0u64;
    for line in text.lines() {
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        let mut words = rest.split_whitespace();
        let Some(Ok(number)) = words.next().map(str::parse::<u64>) else {
            continue;
        };
        let bytes = match words.next() {
            Some("kB") => number.saturating_mul(1024),
            _ => number,
        };
        match key.trim() {
            "MemTotal" => total = Some(bytes),
            "MemAvailable" => available = Some(bytes),
            "MemFree" | "Buffers" | "Cached" => free_buffers_cached += bytes,
            "SwapTotal" => info.swap_total = bytes,
            "SwapFree" => info.swap_free = bytes,
            _ => {}
        }
    }
    info.total = total?;
    // Kernels before 3.14 have no MemAvailable: the old estimate.
    info.available = available.unwrap_or(free_buffers_cached).min(info.total);
    Some(info)
}

/// `df -P -T -B1`: one line per mounted file system after the header, pseudo file systems left
/// out. Mount points with spaces keep them (the mount point is the rest of the line).
pub fn parse_df(text: &str) -> Vec<FilesystemUsage> {
    let mut filesystems = Vec::new();
    for line in text.lines().skip(1) {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.len() < 7 {
            continue;
        }
        let (Ok(size), Ok(available)) = (words[2].parse::<u64>(), words[4].parse::<u64>()) else {
            continue;
        };
        if PSEUDO_FILESYSTEMS.contains(&words[1]) || size == 0 {
            continue;
        }
        // The mount point starts after the capacity column (`42%`).
        let mount_point = match line.find(words[5]) {
            Some(at) => line[at + words[5].len()..].trim().to_owned(),
            None => words[6..].join(" "),
        };
        filesystems.push(FilesystemUsage {
            mount_point,
            device: words[0].to_owned(),
            fs_type: words[1].to_owned(),
            size_bytes: size,
            available_bytes: available,
        });
    }
    filesystems
}

/// A snapshot from the texts read (`None` where a file could not be read); CPU usage, network
/// counters and temperatures are not read remotely.
pub fn snapshot(
    loadavg: Option<&str>,
    meminfo: Option<&str>,
    uptime: Option<&str>,
    df: Option<&str>,
) -> SystemSnapshot {
    let memory = meminfo.and_then(parse_meminfo).unwrap_or_default();
    SystemSnapshot {
        cpu_usage: None,
        memory_total_bytes: memory.total,
        memory_available_bytes: memory.available,
        memory_used_bytes: memory.total.saturating_sub(memory.available),
        swap_total_bytes: memory.swap_total,
        swap_used_bytes: memory.swap_total.saturating_sub(memory.swap_free),
        load_average: loadavg.and_then(parse_loadavg).unwrap_or_default(),
        uptime_seconds: uptime.and_then(parse_uptime).unwrap_or_default(),
        filesystems: df.map(parse_df).unwrap_or_default(),
        interfaces: Vec::new(),
        temperatures_celsius: Vec::new(),
    }
}

/// Host facts from `hostname`, `uname -srm` (`Linux 6.1.0-18-amd64 x86_64`), `/etc/os-release`,
/// `/proc/meminfo` and the processor count of `nproc`.
pub fn host_facts(
    hostname: &str,
    uname: &str,
    os_release: &str,
    meminfo: Option<&str>,
    nproc: &str,
) -> HostFacts {
    let mut uname_words = uname.split_whitespace();
    let system = uname_words.next().unwrap_or_default();
    let kernel = uname_words.next().unwrap_or_default();
    let arch = uname_words.next().unwrap_or_default();
    let field = |name: &str| {
        os_release.lines().find_map(|line| {
            let value = line.strip_prefix(name)?.strip_prefix('=')?;
            Some(value.trim().trim_matches('"').to_owned())
        })
    };
    HostFacts {
        hostname: hostname.trim().to_owned(),
        os: field("NAME").unwrap_or_else(|| system.to_owned()),
        os_version: field("VERSION_ID").unwrap_or_default(),
        kernel: kernel.to_owned(),
        arch: arch.to_owned(),
        cpu_model: String::new(),
        n_cpus: nproc.trim().parse().unwrap_or(0),
        memory_bytes: meminfo
            .and_then(parse_meminfo)
            .map(|info| info.total)
            .unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEMINFO: &str = "MemTotal:       16314948 kB\nMemFree:         1020300 kB\n\
        MemAvailable:   10485760 kB\nBuffers:          100000 kB\nSwapTotal:       2097148 kB\n\
        SwapFree:        1048576 kB\n";

    #[test]
    fn proc_files_become_a_snapshot() {
        let df = "Filesystem     Type  1-blocks        Used   Available Capacity Mounted on\n\
            /dev/sda1      ext4  1000000000  400000000   600000000      40% /\n\
            tmpfs          tmpfs    1000000         0     1000000       0% /run\n\
            /dev/sdb1      xfs   2000000000 1000000000 1000000000      50% /srv/my data\n";
        let snapshot = snapshot(
            Some("0.52 0.58 0.59 1/467 12345\n"),
            Some(MEMINFO),
            Some("350735.47 234388.90\n"),
            Some(df),
        );
        assert_eq!(snapshot.load_average, [0.52, 0.58, 0.59]);
        assert_eq!(snapshot.uptime_seconds, 350_735);
        assert_eq!(snapshot.memory_total_bytes, 16_314_948 * 1024);
        assert_eq!(snapshot.memory_available_bytes, 10_485_760 * 1024);
        assert_eq!(snapshot.memory_used_bytes, (16_314_948 - 10_485_760) * 1024);
        assert_eq!(snapshot.swap_used_bytes, (2_097_148 - 1_048_576) * 1024);
        let mounts: Vec<(&str, &str, u64)> = snapshot
            .filesystems
            .iter()
            .map(|fs| {
                (
                    fs.mount_point.as_str(),
                    fs.fs_type.as_str(),
                    fs.available_bytes,
                )
            })
            .collect();
        assert_eq!(
            mounts,
            [
                ("/", "ext4", 600_000_000),
                ("/srv/my data", "xfs", 1_000_000_000)
            ]
        );
    }

    #[test]
    fn unreadable_files_leave_zeros() {
        assert_eq!(parse_loadavg("garbage"), None);
        assert_eq!(parse_meminfo("SwapTotal: 1 kB\n"), None);
        let empty = snapshot(None, Some("nonsense"), None, None);
        assert_eq!(empty, SystemSnapshot::default());
    }

    #[test]
    fn facts_from_uname_and_os_release() {
        let facts = host_facts(
            "nas\n",
            "Linux 6.1.0-18-amd64 x86_64\n",
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\n",
            Some(MEMINFO),
            "4\n",
        );
        assert_eq!(facts.hostname, "nas");
        assert_eq!(facts.os, "Debian GNU/Linux");
        assert_eq!(facts.os_version, "12");
        assert_eq!(facts.kernel, "6.1.0-18-amd64");
        assert_eq!(facts.arch, "x86_64");
        assert_eq!(facts.n_cpus, 4);
        assert_eq!(facts.memory_bytes, 16_314_948 * 1024);
    }
}
