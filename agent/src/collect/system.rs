//! System metrics through sysinfo: CPU, memory, swap, load, uptime, filesystems, network
//! counters and temperatures.
//!
//! [`SystemCollector::snapshot`] is the thin shell that reads the host (blocking); the pure
//! [`to_samples`] turns a [`SystemSnapshot`] into time series with stable names and labels.

use sysinfo::{Components, Disks, Networks, System};
use unity_shared::proto::{HostFacts, Sample};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct FilesystemUsage {
    pub mount_point: String,
    pub device: String,
    pub fs_type: String,
    pub size_bytes: u64,
    pub available_bytes: u64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct InterfaceCounters {
    pub interface: String,
    pub received_bytes: u64,
    pub transmitted_bytes: u64,
    pub received_packets: u64,
    pub transmitted_packets: u64,
    pub receive_errors: u64,
    pub transmit_errors: u64,
}

/// One reading of the host, before it becomes samples.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SystemSnapshot {
    /// Busy share of each CPU, 0..=1; `None` on the first reading (usage needs two).
    pub cpu_usage: Option<(f64, Vec<f64>)>,
    pub memory_total_bytes: u64,
    pub memory_available_bytes: u64,
    pub memory_used_bytes: u64,
    pub swap_total_bytes: u64,
    pub swap_used_bytes: u64,
    pub load_average: [f64; 3],
    pub uptime_seconds: u64,
    pub filesystems: Vec<FilesystemUsage>,
    pub interfaces: Vec<InterfaceCounters>,
    pub temperatures_celsius: Vec<(String, f64)>,
}

/// File systems that say nothing about storage: skip them.
pub const PSEUDO_FILESYSTEMS: &[&str] = &[
    "tmpfs",
    "devtmpfs",
    "overlay",
    "squashfs",
    "proc",
    "sysfs",
    "cgroup",
    "cgroup2",
    "nsfs",
    "ramfs",
    "autofs",
    "devpts",
    "mqueue",
    "tracefs",
    "debugfs",
    "fusectl",
    "securityfs",
];

fn sample(metric: &str, labels: &[(&str, &str)], timestamp_ms: i64, value: f64) -> Sample {
    let mut labels: Vec<(String, String)> = labels
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    labels.sort();
    Sample {
        metric: metric.to_owned(),
        labels,
        timestamp_ms,
        value,
    }
}

/// Turns a snapshot into samples, all stamped `timestamp_ms`.
pub fn to_samples(snapshot: &SystemSnapshot, timestamp_ms: i64) -> Vec<Sample> {
    let t = timestamp_ms;
    let mut samples = Vec::with_capacity(32);
    if let Some((total, per_cpu)) = &snapshot.cpu_usage {
        samples.push(sample("cpu_usage_ratio", &[("cpu", "total")], t, *total));
        for (index, usage) in per_cpu.iter().enumerate() {
            samples.push(sample(
                "cpu_usage_ratio",
                &[("cpu", &index.to_string())],
                t,
                *usage,
            ));
        }
    }
    samples.push(sample(
        "memory_total_bytes",
        &[],
        t,
        snapshot.memory_total_bytes as f64,
    ));
    samples.push(sample(
        "memory_available_bytes",
        &[],
        t,
        snapshot.memory_available_bytes as f64,
    ));
    samples.push(sample(
        "memory_used_bytes",
        &[],
        t,
        snapshot.memory_used_bytes as f64,
    ));
    samples.push(sample(
        "swap_total_bytes",
        &[],
        t,
        snapshot.swap_total_bytes as f64,
    ));
    samples.push(sample(
        "swap_used_bytes",
        &[],
        t,
        snapshot.swap_used_bytes as f64,
    ));
    for (period, value) in ["1m", "5m", "15m"].iter().zip(snapshot.load_average) {
        samples.push(sample("load_average", &[("period", period)], t, value));
    }
    samples.push(sample(
        "uptime_seconds",
        &[],
        t,
        snapshot.uptime_seconds as f64,
    ));
    for fs in &snapshot.filesystems {
        let labels = [
            ("mount", fs.mount_point.as_str()),
            ("device", fs.device.as_str()),
            ("fstype", fs.fs_type.as_str()),
        ];
        samples.push(sample(
            "filesystem_size_bytes",
            &labels,
            t,
            fs.size_bytes as f64,
        ));
        samples.push(sample(
            "filesystem_available_bytes",
            &labels,
            t,
            fs.available_bytes as f64,
        ));
        let used = fs.size_bytes.saturating_sub(fs.available_bytes);
        samples.push(sample("filesystem_used_bytes", &labels, t, used as f64));
    }
    for interface in &snapshot.interfaces {
        let labels = [("interface", interface.interface.as_str())];
        let counters = [
            ("network_receive_bytes_total", interface.received_bytes),
            ("network_transmit_bytes_total", interface.transmitted_bytes),
            ("network_receive_packets_total", interface.received_packets),
            (
                "network_transmit_packets_total",
                interface.transmitted_packets,
            ),
            ("network_receive_errors_total", interface.receive_errors),
            ("network_transmit_errors_total", interface.transmit_errors),
        ];
        for (metric, value) in counters {
            samples.push(sample(metric, &labels, t, value as f64));
        }
    }
    for (sensor, celsius) in &snapshot.temperatures_celsius {
        samples.push(sample(
            "temperature_celsius",
            &[("sensor", sensor)],
            t,
            *celsius,
        ));
    }
    samples
}

/// Keeps sysinfo's state between readings (CPU usage is a difference of two readings).
pub struct SystemCollector {
    system: System,
    disks: Disks,
    networks: Networks,
    components: Components,
    primed: bool,
}

impl Default for SystemCollector {
    fn default() -> Self {
        SystemCollector::new()
    }
}

impl SystemCollector {
    pub fn new() -> SystemCollector {
        SystemCollector {
            system: System::new(),
            disks: Disks::new(),
            networks: Networks::new(),
            components: Components::new(),
            primed: false,
        }
    }

    /// Reads the host. Note that this uses blocking I/O (procfs, sysfs, statvfs).
    pub fn snapshot(&mut self) -> SystemSnapshot {
        self.system.refresh_cpu_usage();
        self.system.refresh_memory();
        self.disks.refresh(true);
        self.networks.refresh(true);
        self.components.refresh(true);
        let cpu_usage = if self.primed {
            let per_cpu = self
                .system
                .cpus()
                .iter()
                .map(|cpu| f64::from(cpu.cpu_usage()) / 100.0)
                .collect();
            Some((f64::from(self.system.global_cpu_usage()) / 100.0, per_cpu))
        } else {
            None
        };
        self.primed = true;
        let load = System::load_average();
        let filesystems = self
            .disks
            .iter()
            .filter(|disk| {
                let fs_type = disk.file_system().to_string_lossy();
                !PSEUDO_FILESYSTEMS.contains(&fs_type.as_ref()) && disk.total_space() > 0
            })
            .map(|disk| FilesystemUsage {
                mount_point: disk.mount_point().to_string_lossy().into_owned(),
                device: disk.name().to_string_lossy().into_owned(),
                fs_type: disk.file_system().to_string_lossy().into_owned(),
                size_bytes: disk.total_space(),
                available_bytes: disk.available_space(),
            })
            .collect();
        let mut interfaces: Vec<InterfaceCounters> = self
            .networks
            .iter()
            .map(|(name, data)| InterfaceCounters {
                interface: name.clone(),
                received_bytes: data.total_received(),
                transmitted_bytes: data.total_transmitted(),
                received_packets: data.total_packets_received(),
                transmitted_packets: data.total_packets_transmitted(),
                receive_errors: data.total_errors_on_received(),
                transmit_errors: data.total_errors_on_transmitted(),
            })
            .collect();
        interfaces.sort_by(|a, b| a.interface.cmp(&b.interface));
        let temperatures_celsius = self
            .components
            .iter()
            .filter_map(|component| {
                let celsius = component.temperature()?;
                celsius
                    .is_finite()
                    .then(|| (component.label().to_owned(), f64::from(celsius)))
            })
            .collect();
        SystemSnapshot {
            cpu_usage,
            memory_total_bytes: self.system.total_memory(),
            memory_available_bytes: self.system.available_memory(),
            memory_used_bytes: self.system.used_memory(),
            swap_total_bytes: self.system.total_swap(),
            swap_used_bytes: self.system.used_swap(),
            load_average: [load.one, load.five, load.fifteen],
            uptime_seconds: System::uptime(),
            filesystems,
            interfaces,
            temperatures_celsius,
        }
    }
}

/// Facts sent at enrollment and in every hello. Note that this uses blocking I/O.
pub fn host_facts() -> HostFacts {
    let mut system = System::new();
    system.refresh_memory();
    system.refresh_cpu_list(sysinfo::CpuRefreshKind::nothing());
    HostFacts {
        hostname: System::host_name().unwrap_or_else(|| "unknown".into()),
        os: System::name().unwrap_or_default(),
        os_version: System::os_version().unwrap_or_default(),
        kernel: System::kernel_version().unwrap_or_default(),
        arch: System::cpu_arch(),
        cpu_model: system
            .cpus()
            .first()
            .map(|cpu| cpu.brand().trim().to_owned())
            .unwrap_or_default(),
        n_cpus: u32::try_from(system.cpus().len()).unwrap_or(u32::MAX),
        memory_bytes: system.total_memory(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_becomes_labelled_samples() {
        let snapshot = SystemSnapshot {
            cpu_usage: Some((0.5, vec![0.25, 0.75])),
            memory_total_bytes: 8 << 30,
            memory_available_bytes: 6 << 30,
            memory_used_bytes: 2 << 30,
            load_average: [0.1, 0.2, 0.3],
            filesystems: vec![FilesystemUsage {
                mount_point: "/".into(),
                device: "/dev/sda1".into(),
                fs_type: "ext4".into(),
                size_bytes: 100,
                available_bytes: 40,
            }],
            interfaces: vec![InterfaceCounters {
                interface: "eth0".into(),
                received_bytes: 10,
                ..InterfaceCounters::default()
            }],
            temperatures_celsius: vec![("coretemp Package id 0".into(), 45.0)],
            ..SystemSnapshot::default()
        };
        let samples = to_samples(&snapshot, 1000);
        let find = |metric: &str, label: (&str, &str)| {
            samples
                .iter()
                .find(|s| {
                    s.metric == metric && s.labels.iter().any(|(k, v)| k == label.0 && v == label.1)
                })
                .map(|s| s.value)
        };
        assert_eq!(find("cpu_usage_ratio", ("cpu", "1")), Some(0.75));
        assert_eq!(find("filesystem_used_bytes", ("mount", "/")), Some(60.0));
        assert_eq!(find("load_average", ("period", "15m")), Some(0.3));
        assert_eq!(
            find("network_receive_bytes_total", ("interface", "eth0")),
            Some(10.0)
        );
        assert!(samples.iter().all(|s| s.timestamp_ms == 1000));
        assert!(samples
            .iter()
            .all(|s| s.labels.windows(2).all(|w| w[0] <= w[1])));
    }

    #[test]
    fn first_reading_has_no_cpu_usage_and_second_does() {
        let mut collector = SystemCollector::new();
        assert!(collector.snapshot().cpu_usage.is_none());
        let second = collector.snapshot();
        let (total, per_cpu) = second.cpu_usage.unwrap();
        assert!((0.0..=1.0).contains(&total));
        assert!(!per_cpu.is_empty());
        assert!(second.memory_total_bytes > 0);
    }
}
