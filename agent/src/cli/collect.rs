//! `unity-agent collect …`: one collector run now, printed as a table or JSON; the exit code
//! carries the verdict.

use crate::config::Config;
use crate::{clock, collect, diag, runtime};
use anyhow::Context as _;
use clap::Subcommand;
use std::path::PathBuf;
use std::time::Duration;
use unity_shared::outln;

#[derive(Debug, Subcommand)]
pub enum CollectCommand {
    /// System metrics (CPU, memory, load, filesystems, network, temperatures).
    System {
        #[arg(long)]
        json: bool,
    },
    /// SMART health of every disk `smartctl --scan-open` finds. Exit status: 0 passed,
    /// 1 warning, 2 failing, 3 collector failed.
    Smart {
        #[arg(long)]
        json: bool,
    },
    /// ZFS pools (state, vdev tree, errors, scrub) and datasets. Exit status as for `smart`.
    Zfs {
        #[arg(long)]
        json: bool,
    },
    /// Linux md RAID arrays from /proc/mdstat and `mdadm --detail`. Exit status as for `smart`.
    Raid {
        #[arg(long)]
        json: bool,
    },
    /// The whole storage stack: every drive with the md arrays, ZFS pools and mounts above
    /// it, drives that vanished marked missing. Exit status as for `smart`, worst of all.
    Storage {
        #[arg(long)]
        json: bool,
    },
    /// Databases on this host (PostgreSQL, MySQL/MariaDB, Redis, MongoDB, MinIO), found
    /// without configuration and probed without credentials. Exit status 1 when one is down.
    Databases {
        #[arg(long)]
        json: bool,
    },
    /// Textfiles, exporters and checks (docs/plugins.md), once, as the daemon runs them: try a
    /// new check script or cron job here. Exit status: the worst check's (0 ok, 1 warning,
    /// 2 critical, 3 unknown), at least 1 when a source failed or had parse errors.
    Plugins {
        #[arg(long)]
        json: bool,
    },
    /// Certificates on this host: files under `[certificates] paths` and `extra_paths`, and
    /// the chains served on listening TLS ports, sorted by expiry, with their problems
    /// (docs/certificates/inventory.md). Exit status 1 when one has expired.
    Certificates {
        #[arg(long)]
        json: bool,
    },
    /// Docker or Podman containers: image and digests, state and health, restart policy,
    /// ports, mounts, networks, labels, CPU and memory.
    ///
    /// The engine's socket is found as in the daemon (`[containers] socket`, then DOCKER_HOST if unix://, then
    /// /var/run/docker.sock, /run/docker.sock, /run/podman/podman.sock,
    /// $XDG_RUNTIME_DIR/podman/podman.sock). Takes about a second (CPU needs two readings).
    /// Exit status: 0 fine, 1 a container is unhealthy, dead or restarting, 3 no engine
    /// answered (missing socket, permission denied: the socket is root-equivalent, see
    /// docs/containers.md).
    Containers {
        /// Print the inventory as JSON (the model of docs/containers.md).
        #[arg(long)]
        json: bool,
        /// Use this engine socket instead of finding one, e.g. /run/podman/podman.sock.
        #[arg(long, value_name = "PATH")]
        socket: Option<PathBuf>,
    },
}

/// `collect …`: runs one collector and prints it; the exit code carries the verdict.
pub async fn collect_once(command: CollectCommand, config: &Config) -> anyhow::Result<u8> {
    let storage = &config.storage;
    let (collected, json) = match command {
        CollectCommand::System { json } => return collect_system(json).await.map(|()| 0),
        CollectCommand::Databases { json } => {
            let instances = diag::databases::collect_databases(&config.databases).await?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&instances)?);
            } else {
                outln!("{}", diag::databases::render_table(&instances));
            }
            return Ok(u8::from(
                instances.iter().any(|instance| !instance.reachable),
            ));
        }
        CollectCommand::Certificates { json } => {
            let inventory = diag::certificates::collect(&config.certificates).await?;
            let now = clock::now_seconds();
            if json {
                outln!("{}", diag::certificates::render_json(&inventory, now)?);
            } else {
                outln!("{}", diag::certificates::render_text(&inventory, now));
            }
            return Ok(diag::certificates::exit_code(&inventory));
        }
        CollectCommand::Plugins { json } => {
            let collected = diag::plugins::collect(&config.plugins).await?;
            if json {
                outln!("{}", diag::plugins::render_json(&collected)?);
            } else {
                outln!("{}", diag::plugins::render_text(&collected));
            }
            return Ok(diag::plugins::exit_code(&collected));
        }
        CollectCommand::Containers { json, socket } => {
            let inventory = diag::containers::collect_containers(&config.containers, socket).await;
            if json {
                outln!("{}", serde_json::to_string_pretty(&inventory)?);
            } else {
                outln!("{}", diag::containers::render_table(&inventory));
            }
            return Ok(diag::containers::exit_code(&inventory));
        }
        CollectCommand::Storage { json } => {
            let drives = runtime::storage::drives_file(&config.data_dir);
            let previous = runtime::storage::load_drives(&drives).await;
            let state = runtime::storage::collect(storage, &previous).await;
            if json {
                outln!("{}", serde_json::to_string_pretty(&state)?);
            } else {
                outln!("{}", diag::stack::render_stack(&state.stack));
            }
            let worst = [
                diag::storage::Collected::Smart(state.smart),
                diag::storage::Collected::Zfs(state.zfs),
                diag::storage::Collected::Raid(state.raid),
            ]
            .iter()
            .map(diag::storage::Collected::exit_code)
            .max()
            .unwrap_or(0);
            return Ok(u8::try_from(worst).unwrap_or(3));
        }
        CollectCommand::Smart { json } => {
            (diag::storage::collect_smart(&storage.smart).await?, json)
        }
        CollectCommand::Zfs { json } => (diag::storage::collect_zfs(&storage.zfs).await?, json),
        CollectCommand::Raid { json } => (diag::storage::collect_raid(&storage.raid).await?, json),
    };
    if json {
        outln!("{}", diag::storage::render_json(&collected)?);
    } else {
        outln!("{}", diag::storage::render_table(&collected));
    }
    Ok(u8::try_from(collected.exit_code()).unwrap_or(3))
}

async fn collect_system(json: bool) -> anyhow::Result<()> {
    let snapshot = tokio::task::spawn_blocking(|| {
        let mut collector = collect::system::SystemCollector::new();
        collector.snapshot();
        std::thread::sleep(Duration::from_millis(250));
        collector.snapshot()
    })
    .await
    .context("collecting")?;
    let samples = collect::system::to_samples(&snapshot, clock::now_ms());
    if json {
        let values: Vec<_> = samples
            .iter()
            .map(|sample| {
                serde_json::json!({
                    "metric": sample.metric,
                    "labels": sample.labels.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
                    "value": sample.value,
                })
            })
            .collect();
        outln!("{}", serde_json::to_string_pretty(&values)?);
        return Ok(());
    }
    for sample in samples {
        let labels: Vec<String> = sample
            .labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{v}\""))
            .collect();
        outln!("{}{{{}}} {}", sample.metric, labels.join(","), sample.value);
    }
    Ok(())
}
