//! A seeded homelab for the browser tests (issue 19), built through the real ingest path: a
//! real controller, and hosts that report as agents do. The NAS is a real agent whose
//! `smartctl`, `zpool`, `zfs` and `mdadm` replay recorded outputs (twelve SATA drives, one
//! failing with 304 reallocated sectors; a degraded ZFS pool; an md RAID5 recovering). The
//! other hosts are enrolled identities that speak the agent's protocol over mutual-TLS QUIC
//! (hello, then a report a second with their samples and containers): a Proxmox-like host
//! with 30 containers, a Raspberry Pi, a VPS, and a host that reported once and went offline.

use crate::enroll_agent;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use unity_agent::runtime::RunningAgent;
use unity_controller::service::RunningController;
use unity_shared::model::container::{Container, ContainerInventory};
use unity_shared::proto::{
    AgentId, AgentMessage, ControllerMessage, Hello, HostFacts, InstanceId, Report, Sample,
    PROTOCOL_VERSION,
};

/// Twelve recorded SATA drives; the last one fails (304 reallocated sectors).
pub const NAS_DRIVES: [&str; 12] = [
    "beszel-sat-ssd-crucial-p3-2tb-7.5.json",
    "netdata-sat-hdd-wd181kryz-7.3.json",
    "pysmart-ata-hdd-wd-hc550-windows-7.3.json",
    "scrutiny-ata-ssd-850pro-type-ata-7.0.json",
    "scrutiny-sat-hdd-wd140edfz-7.0.json",
    "scrutiny-sat-megaraid-wd4000fyyx-7.1.json",
    "scrutiny-sat-ssd-samsung-860evo-7.0-x.json",
    "smartctl-exporter-sat-toshiba-mg09aca18te.json",
    "smartctl-exporter-sat-ssd-transcend-ts32gmts400-siliconmotion.json",
    "smartctl-exporter-sat-hgst-hus724020ale640-exit64.json",
    "telegraf-usb-sat-sandisk-pssd-7.4.json",
    "smartctl-exporter-sat-seagate-st3500418as-realloc304.json",
];

/// The failing drive's device name on the NAS (the last of [`NAS_DRIVES`]).
pub const FAILING_DEVICE: &str = "/dev/sdl";
/// The NAS's ZFS pool and md array (from the recorded outputs).
pub const NAS_POOL: &str = "dummy";
pub const NAS_ARRAY: &str = "md127";

/// A recorded tool output of the agent's collectors.
pub fn testdata(room: &str, name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../agent/src/collect")
        .join(room)
        .join("testdata")
        .join(name)
}

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// The agent's `[storage]` configuration for a 12-disk NAS made of recorded tool outputs
/// (fake tools written to `dir`).
pub fn nas_storage_config(dir: &Path) -> String {
    let names: Vec<String> = (0..NAS_DRIVES.len())
        .map(|i| format!("sd{}", (b'a' + i as u8) as char))
        .collect();
    let mut scan = String::new();
    let mut cases = String::new();
    for (name, fixture) in names.iter().zip(NAS_DRIVES) {
        scan.push_str(&format!(
            "echo \"/dev/{name} -d sat # /dev/{name} [SAT], ATA device\"; "
        ));
        cases.push_str(&format!(
            "  *{name}*) cat \"{}\"; exit 0;;\n",
            testdata("smart", fixture).display()
        ));
    }
    let smartctl = script(
        dir,
        "smartctl",
        &format!(
            "case \"$*\" in\n  *--version*) echo \"smartctl 7.3 2022-02-28 r5338 [x86_64-linux-6.1.0] (local build)\"; exit 0;;\n  *--scan-open*) {scan}exit 0;;\n{cases}esac\nexit 1\n"
        ),
    );
    let zpool = script(
        dir,
        "zpool",
        &format!(
            "case \"$1\" in\n  status) cat \"{}\"; exit 0;;\n  list) cat \"{}\"; exit 0;;\nesac\nexit 2\n",
            testdata("zfs", "status-degraded-device-removed.txt").display(),
            testdata("zfs", "list-Hp-four-pools-freenas.txt").display()
        ),
    );
    let zfs = script(
        dir,
        "zfs",
        &format!(
            "cat \"{}\"\n",
            testdata("zfs", "zfs-list-Hp-datasets-numeric.txt").display()
        ),
    );
    let mdadm = script(
        dir,
        "mdadm",
        &format!(
            "cat \"{}\"\n",
            testdata("mdraid", "mdadm-detail-raid1-faulty-degraded.txt").display()
        ),
    );
    format!(
        "[storage]\ninterval = \"2s\"\ntimeout = \"5s\"\nsmartctl = \"{}\"\nzpool = \"{}\"\nzfs = \"{}\"\nmdadm = \"{}\"\nmdstat = \"{}\"\n",
        smartctl.display(),
        zpool.display(),
        zfs.display(),
        mdadm.display(),
        testdata("mdraid", "proc-mdstat-raid5-recovery-degraded.txt").display()
    )
}

/// Enrolls and starts a real agent in `agent_dir` that reports the NAS's storage (and this
/// machine's system metrics).
pub async fn start_nas(controller: &RunningController, dir: &Path) -> (AgentId, RunningAgent) {
    let agent_dir = dir.join("nas");
    let agent_id = enroll_agent(controller, &agent_dir).await;
    let raw: unity_agent::config::RawConfig = toml::from_str(&nas_storage_config(dir)).unwrap();
    let mut config = unity_agent::config::Config::from_raw(raw).unwrap();
    config.data_dir = agent_dir;
    config.controller = Some(controller.local_addr.to_string());
    config.interval = Duration::from_millis(500);
    config.heartbeat = Duration::from_millis(500);
    config.databases.enabled = false;
    config.containers.enabled = false;
    config.plugins.enabled = false;
    config.certificates.enabled = false;
    let agent = unity_agent::runtime::start(config).await.unwrap();
    (agent_id, agent)
}

/// The seeded homelab; [`Homelab::stop`] ends its agents.
pub struct Homelab {
    pub nas: AgentId,
    pub proxmox: AgentId,
    pub pi: AgentId,
    pub vps: AgentId,
    pub offline: AgentId,
    nas_agent: RunningAgent,
    reporters: Vec<tokio::task::JoinHandle<()>>,
}

/// What a protocol-speaking host says about itself.
struct Profile {
    hostname: &'static str,
    arch: &'static str,
    cpu_model: &'static str,
    n_cpus: u32,
    memory_bytes: u64,
    containers: usize,
}

fn sample(metric: &str, labels: &[(&str, &str)], at: i64, value: f64) -> Sample {
    let mut labels: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    labels.sort();
    Sample {
        metric: metric.to_owned(),
        labels,
        timestamp_ms: at,
        value,
    }
}

/// `n` containers made from a recorded one, named like a Proxmox/Docker host's services.
fn containers(n: usize) -> Vec<Container> {
    let text = std::fs::read_to_string(testdata("containers", "docker-20.10/web.expect.json"))
        .expect("the recorded container");
    let template: serde_json::Value = serde_json::from_str(&text).unwrap();
    const NAMES: [&str; 10] = [
        "jellyfin",
        "nextcloud",
        "immich",
        "paperless",
        "grafana",
        "home-assistant",
        "pihole",
        "vaultwarden",
        "syncthing",
        "gitea",
    ];
    (0..n)
        .map(|i| {
            let mut value = template.clone();
            value["id"] = format!("{i:064x}").into();
            value["name"] = format!("{}-{}", NAMES[i % NAMES.len()], i / NAMES.len() + 1).into();
            serde_json::from_value(value).expect("a container")
        })
        .collect()
}

fn report(profile: &Profile, seq: u64, at: i64, containers: &[Container]) -> Report {
    let wave = (seq as f64 / 5.0).sin().abs();
    let memory = profile.memory_bytes as f64;
    let samples = vec![
        sample(
            "cpu_usage_ratio",
            &[("cpu", "total")],
            at,
            0.05 + 0.4 * wave,
        ),
        sample("memory_used_bytes", &[], at, memory * (0.3 + 0.2 * wave)),
        sample("memory_total_bytes", &[], at, memory),
        sample(
            "filesystem_used_bytes",
            &[("mount", "/")],
            at,
            12e9 + seq as f64 * 1e6,
        ),
        sample("filesystem_size_bytes", &[("mount", "/")], at, 64e9),
        sample(
            "network_receive_bytes_total",
            &[("interface", "eth0")],
            at,
            seq as f64 * 3e6,
        ),
        sample(
            "network_transmit_bytes_total",
            &[("interface", "eth0")],
            at,
            seq as f64 * 1e6,
        ),
        sample(
            "temperature_celsius",
            &[("sensor", "cpu")],
            at,
            45.0 + 10.0 * wave,
        ),
        sample("uptime_seconds", &[], at, 86_400.0 * 12.0 + seq as f64),
    ];
    Report {
        seq,
        collected_at_ms: at,
        samples,
        dropped_reports: 0,
        storage: None,
        databases: None,
        containers: (profile.containers > 0).then(|| {
            Box::new(ContainerInventory {
                engine: None,
                containers: containers.to_vec(),
                events: vec![],
                error: None,
            })
        }),
        plugin_series: None,
        plugin_sources: None,
        checks: None,
        certificates: None,
        image_scans: None,
        service_checks: None,
    }
}

const MAX_FRAME: usize = 16 << 20;

/// Connects as the enrolled identity in `agent_dir`, says hello as `profile`, and sends
/// `reports` reports (`None`: until aborted) one a second, each after the last one's
/// acknowledgement.
async fn report_as(
    agent_dir: PathBuf,
    address: std::net::SocketAddr,
    profile: Profile,
    reports: Option<u64>,
) -> anyhow::Result<()> {
    let identity = unity_agent::identity::load(&agent_dir)?;
    let endpoint = unity_agent::transport::client_endpoint(address)?;
    let connection = unity_agent::transport::connect(
        &endpoint,
        unity_agent::transport::client_config(&identity)?,
        address,
    )
    .await?;
    let (mut send, mut recv) = connection.open_bi().await?;
    let hello = AgentMessage::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        agent_version: "0.9.0".into(),
        host: HostFacts {
            hostname: profile.hostname.into(),
            os: "Debian GNU/Linux 12 (bookworm)".into(),
            os_version: "12".into(),
            kernel: "6.1.0-28".into(),
            arch: profile.arch.into(),
            cpu_model: profile.cpu_model.into(),
            n_cpus: profile.n_cpus,
            memory_bytes: profile.memory_bytes,
        },
        instance_id: InstanceId::from_bytes([profile.n_cpus as u8; 16]),
        install: unity_shared::proto::InstallKind::File,
    });
    unity_shared::wire::write(&mut send, &hello, MAX_FRAME).await?;
    let welcome: Option<ControllerMessage> = unity_shared::wire::read(&mut recv, MAX_FRAME).await?;
    let mut seq = match welcome {
        Some(ControllerMessage::Welcome(welcome)) => welcome.last_stored_seq.unwrap_or(0),
        other => anyhow::bail!("expected a welcome, got {other:?}"),
    };
    let containers = containers(profile.containers);
    let mut sent = 0;
    while reports.is_none_or(|n| sent < n) {
        seq += 1;
        let at = unity_controller::clock::now_ms();
        let message = AgentMessage::Report(report(&profile, seq, at, &containers));
        unity_shared::wire::write(&mut send, &message, MAX_FRAME).await?;
        loop {
            let answer: Option<ControllerMessage> =
                unity_shared::wire::read(&mut recv, MAX_FRAME).await?;
            match answer {
                Some(ControllerMessage::Ack(ack)) if ack.seq == seq => break,
                Some(_) => continue,
                None => anyhow::bail!("the controller closed the session"),
            }
        }
        sent += 1;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    connection.close(0u32.into(), b"done");
    Ok(())
}

impl Homelab {
    /// Enrolls and starts every host of the homelab against `controller`, data under `dir`.
    pub async fn seed(controller: &RunningController, dir: &Path) -> Homelab {
        let (nas, nas_agent) = start_nas(controller, dir).await;
        let address = controller.local_addr;
        let mut ids = Vec::new();
        let mut reporters = Vec::new();
        let profiles = [
            (
                Profile {
                    hostname: "pve",
                    arch: "x86_64",
                    cpu_model: "AMD Ryzen 7 5700G",
                    n_cpus: 16,
                    memory_bytes: 64 << 30,
                    containers: 30,
                },
                None,
            ),
            (
                Profile {
                    hostname: "pi",
                    arch: "aarch64",
                    cpu_model: "Cortex-A76",
                    n_cpus: 4,
                    memory_bytes: 8 << 30,
                    containers: 0,
                },
                None,
            ),
            (
                Profile {
                    hostname: "vps",
                    arch: "x86_64",
                    cpu_model: "QEMU Virtual CPU",
                    n_cpus: 2,
                    memory_bytes: 2 << 30,
                    containers: 0,
                },
                None,
            ),
            (
                Profile {
                    hostname: "old-laptop",
                    arch: "x86_64",
                    cpu_model: "Intel Core i5-4300U",
                    n_cpus: 3,
                    memory_bytes: 8 << 30,
                    containers: 0,
                },
                Some(1),
            ),
        ];
        for (profile, reports) in profiles {
            let agent_dir = dir.join(profile.hostname);
            ids.push(enroll_agent(controller, &agent_dir).await);
            let hostname = profile.hostname;
            let task = tokio::spawn(async move {
                if let Err(error) = report_as(agent_dir, address, profile, reports).await {
                    tracing::warn!("homelab host {hostname}: {error:#}");
                }
            });
            if reports.is_some() {
                // The offline host: its one report is in before the test looks.
                let _ = tokio::time::timeout(Duration::from_secs(20), task).await;
            } else {
                reporters.push(task);
            }
        }
        let [proxmox, pi, vps, offline]: [AgentId; 4] = ids.try_into().expect("four hosts");
        Homelab {
            nas,
            proxmox,
            pi,
            vps,
            offline,
            nas_agent,
            reporters,
        }
    }

    /// Stops the NAS's agent and the other hosts' reports.
    pub async fn stop(self) {
        for reporter in &self.reporters {
            reporter.abort();
        }
        self.nas_agent.stop().await;
    }
}
