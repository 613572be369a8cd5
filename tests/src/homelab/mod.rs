//! A seeded homelab for the browser tests (issue 19), built through the real ingest path: a
//! real controller, and hosts that speak the agent's protocol over mutual-TLS QUIC (enrolled
//! with their own host facts, then hello and a report a second with their samples, containers
//! and storage): a 12-disk NAS, a Proxmox-like host with 30 containers, a Raspberry Pi, a VPS
//! whose CPU sits at a steady 75 %, and a laptop that reported once and went offline. Each is
//! named as a homelab names its machines (`nas`, `proxmox`, `pi`, `vps`, `old-laptop`),
//! whatever this machine is called, and runs an operating system of its own.
//!
//! The NAS's storage comes from the agent's real collectors (`runtime::storage::collect`) running
//! fake `smartctl`, `zpool`, `zfs` and `mdadm` that replay recorded outputs (twelve SATA drives,
//! one failing with 304 reallocated sectors; a degraded ZFS pool; an md RAID5 recovering).
//! [`start_nas`] runs the same storage in a whole real agent (which reports this machine's own
//! name and system figures).

mod nas;

pub use nas::{
    nas_storage_config, start_nas, testdata, FAILING_DEVICE, NAS_ARRAY, NAS_DRIVES, NAS_POOL,
};

use crate::create_token;
use nas::nas_agent_config;
use std::path::{Path, PathBuf};
use std::time::Duration;
use unity_controller::service::RunningController;
use unity_shared::model::container::{Container, ContainerInventory};
use unity_shared::model::storage::stack::DriveIdentity;
use unity_shared::proto::{
    AgentId, AgentMessage, ControllerMessage, Hello, HostFacts, InstanceId, Report, Sample,
    StorageState, PROTOCOL_VERSION,
};

/// The seeded homelab; [`Homelab::stop`] ends its hosts' reports.
pub struct Homelab {
    pub nas: AgentId,
    pub proxmox: AgentId,
    pub pi: AgentId,
    pub vps: AgentId,
    pub offline: AgentId,
    reporters: Vec<tokio::task::JoinHandle<()>>,
}

/// What a protocol-speaking host says about itself and reports.
struct Profile {
    hostname: &'static str,
    /// os-release's name and version as the agent sends them (`NAME` or `PRETTY_NAME`, and
    /// `VERSION_ID` or `VERSION`).
    os: (&'static str, &'static str),
    arch: &'static str,
    cpu_model: &'static str,
    n_cpus: u32,
    memory_bytes: u64,
    containers: usize,
    /// A CPU that stays at this share, instead of a wave.
    steady_cpu: Option<f64>,
    /// The storage collectors' configuration (the NAS).
    storage: Option<unity_agent::config::StorageConfig>,
}

impl Profile {
    fn facts(&self) -> HostFacts {
        HostFacts {
            hostname: self.hostname.into(),
            os: self.os.0.into(),
            os_version: self.os.1.into(),
            kernel: "6.1.0-28-amd64".into(),
            arch: self.arch.into(),
            cpu_model: self.cpu_model.into(),
            n_cpus: self.n_cpus,
            memory_bytes: self.memory_bytes,
        }
    }

    /// One installation per host: its name's bytes.
    fn instance_id(&self) -> InstanceId {
        let mut bytes = [0u8; 16];
        for (byte, name) in bytes.iter_mut().zip(self.hostname.bytes()) {
            *byte = name;
        }
        InstanceId::from_bytes(bytes)
    }
}

/// Enrolls an identity in `agent_dir` that says it is `facts`' host (its agent id follows its
/// name, not this machine's), as `unity-agent enroll` would on that host.
async fn enroll_as(controller: &RunningController, agent_dir: &Path, facts: HostFacts) -> AgentId {
    let token = create_token(controller, Duration::from_secs(60)).await;
    let address = controller.local_addr.to_string();
    let (enrolled, key) =
        unity_agent::transport::enroll(&address, &token, &controller.context.ca.ca_hash(), facts)
            .await
            .expect("enrollment succeeds");
    unity_agent::identity::store_enrollment(
        agent_dir,
        &enrolled.agent_id,
        &address,
        &enrolled.ca_certificate_der,
        &enrolled.certificate_der,
        &key,
    )
    .expect("the identity is stored");
    enrolled.agent_id
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

fn report(
    profile: &Profile,
    seq: u64,
    at: i64,
    containers: &[Container],
    storage: Option<StorageState>,
) -> Report {
    let wave = (seq as f64 / 5.0).sin().abs();
    let memory = profile.memory_bytes as f64;
    let cpu = profile.steady_cpu.unwrap_or(0.05 + 0.4 * wave);
    let mut samples = vec![
        sample("cpu_usage_ratio", &[("cpu", "total")], at, cpu),
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
            "filesystem_available_bytes",
            &[("mount", "/")],
            at,
            52e9 - seq as f64 * 1e6,
        ),
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
    if let Some(state) = &storage {
        samples.extend(unity_agent::runtime::storage::to_samples(state, at));
    }
    Report {
        seq,
        collected_at_ms: at,
        samples,
        dropped_reports: 0,
        storage: storage.map(Box::new),
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
        host: profile.facts(),
        instance_id: profile.instance_id(),
        install: unity_shared::proto::InstallKind::File,
    });
    unity_shared::wire::write(&mut send, &hello, MAX_FRAME).await?;
    let welcome: Option<ControllerMessage> = unity_shared::wire::read(&mut recv, MAX_FRAME).await?;
    let mut seq = match welcome {
        Some(ControllerMessage::Welcome(welcome)) => welcome.last_stored_seq.unwrap_or(0),
        other => anyhow::bail!("expected a welcome, got {other:?}"),
    };
    let containers = containers(profile.containers);
    let mut drives: Vec<DriveIdentity> = Vec::new();
    let mut sent = 0;
    while reports.is_none_or(|n| sent < n) {
        seq += 1;
        // Storage every other report, as the agent collects it less often than the system.
        let storage = match &profile.storage {
            Some(config) if sent % 2 == 0 => {
                let state = unity_agent::runtime::storage::collect(config, &drives).await;
                drives = state.stack.identities();
                Some(state)
            }
            _ => None,
        };
        let at = unity_controller::clock::now_ms();
        let message = AgentMessage::Report(report(&profile, seq, at, &containers, storage));
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
        let address = controller.local_addr;
        let mut ids = Vec::new();
        let mut reporters = Vec::new();
        let host = |hostname, os, arch, cpu_model, n_cpus, memory_bytes| Profile {
            hostname,
            os,
            arch,
            cpu_model,
            n_cpus,
            memory_bytes,
            containers: 0,
            steady_cpu: None,
            storage: None,
        };
        let profiles = [
            (
                Profile {
                    storage: Some(nas_agent_config(dir).storage),
                    ..host(
                        "nas",
                        ("Debian GNU/Linux 12 (bookworm)", "12"),
                        "x86_64",
                        "Intel Xeon E-2224",
                        4,
                        32 << 30,
                    )
                },
                None,
            ),
            (
                Profile {
                    containers: 30,
                    ..host(
                        "proxmox",
                        ("Proxmox VE", "8.1.4"),
                        "x86_64",
                        "AMD Ryzen 7 5700G",
                        16,
                        64 << 30,
                    )
                },
                None,
            ),
            (
                host(
                    "pi",
                    ("Raspbian GNU/Linux 11 (bullseye)", "11"),
                    "aarch64",
                    "Cortex-A76",
                    4,
                    8 << 30,
                ),
                None,
            ),
            (
                Profile {
                    // A steady series: uPlot's auto-range drew this axis to 150 %.
                    steady_cpu: Some(0.75),
                    ..host(
                        "vps",
                        ("Ubuntu", "22.04.3 LTS (Jammy Jellyfish)"),
                        "x86_64",
                        "QEMU Virtual CPU",
                        2,
                        2 << 30,
                    )
                },
                None,
            ),
            (
                host(
                    "old-laptop",
                    ("Fedora Linux", "39"),
                    "x86_64",
                    "Intel Core i5-4300U",
                    4,
                    8 << 30,
                ),
                Some(1),
            ),
        ];
        for (profile, reports) in profiles {
            let agent_dir = dir.join(profile.hostname);
            ids.push(enroll_as(controller, &agent_dir, profile.facts()).await);
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
        let [nas, proxmox, pi, vps, offline]: [AgentId; 5] = ids.try_into().expect("five hosts");
        Homelab {
            nas,
            proxmox,
            pi,
            vps,
            offline,
            reporters,
        }
    }

    /// Stops the hosts' reports.
    pub async fn stop(self) {
        for reporter in &self.reporters {
            reporter.abort();
        }
    }
}
