//! `unity-agent collect containers [--json] [--socket PATH]`: take the container inventory once
//! and render it as a table for people (the JSON form is the model itself, see
//! `docs/containers.md`).

use std::fmt::Write as _;
use std::path::PathBuf;

use unity_shared::model::container::{Container, ContainerInventory, HealthStatus, RunState};

use crate::collect::containers::{self, ContainersConfig, SocketSetting, StatsMemory};

/// Collects once, from `socket` when given, else as configured.
pub async fn collect_containers(
    config: &ContainersConfig,
    socket: Option<PathBuf>,
) -> ContainerInventory {
    let mut config = config.clone();
    if let Some(socket) = socket {
        config.socket = SocketSetting::Path(socket);
    }
    containers::collect(&config, &mut StatsMemory::default()).await
}

/// 0 all well, 1 a container is unhealthy, dead or restarting, 3 no engine answered.
pub fn exit_code(inventory: &ContainerInventory) -> u8 {
    if inventory.engine.is_none() {
        return 3;
    }
    let troubled = inventory.containers.iter().any(|container| {
        container.health == Some(HealthStatus::Unhealthy)
            || matches!(container.state, RunState::Dead | RunState::Restarting)
    });
    u8::from(troubled)
}

fn state(container: &Container) -> String {
    let state = match container.state {
        RunState::Created => "created",
        RunState::Running => "running",
        RunState::Paused => "paused",
        RunState::Restarting => "RESTARTING",
        RunState::Removing => "removing",
        RunState::Exited => "exited",
        RunState::Dead => "DEAD",
        RunState::Unknown => "?",
    };
    let mut text = state.to_owned();
    if let Some(code) = container.exit_code {
        let _ = write!(text, " ({code})");
    }
    match container.health {
        Some(HealthStatus::Healthy) => text.push_str(", healthy"),
        Some(HealthStatus::Unhealthy) => text.push_str(", UNHEALTHY"),
        Some(HealthStatus::Starting) => text.push_str(", starting"),
        Some(HealthStatus::Unknown) => text.push_str(", health ?"),
        None => {}
    }
    text
}

fn ports(container: &Container) -> String {
    let published: Vec<String> = container
        .ports
        .iter()
        .filter_map(|port| {
            let host_port = port.host_port?;
            let host = match port.host_ip.as_deref() {
                Some(ip) if ip.contains(':') => format!("[{ip}]:"),
                Some(ip) => format!("{ip}:"),
                None => String::new(),
            };
            let protocol = if port.protocol == "tcp" {
                String::new()
            } else {
                format!("/{}", port.protocol)
            };
            Some(format!(
                "{host}{host_port}->{}{protocol}",
                port.container_port
            ))
        })
        .collect();
    if published.is_empty() {
        "-".to_owned()
    } else {
        published.join(",")
    }
}

fn mebibytes(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Renders the inventory as an aligned table, one line per container, with the engine above
/// and any problem below.
pub fn render_table(inventory: &ContainerInventory) -> String {
    let mut out = String::new();
    let Some(engine) = &inventory.engine else {
        let _ = writeln!(
            out,
            "No container engine: {}",
            inventory.error.as_deref().unwrap_or("unknown reason")
        );
        return out;
    };
    let _ = writeln!(
        out,
        "{:?} {} on {}, {} containers",
        engine.kind,
        engine.version,
        engine.socket,
        inventory.containers.len()
    );
    if !inventory.containers.is_empty() {
        let header = ["NAME", "IMAGE", "STATE", "PORTS", "CPU", "MEMORY"];
        let rows: Vec<[String; 6]> = inventory
            .containers
            .iter()
            .map(|container| {
                let usage = container.usage.as_ref();
                [
                    container.name.clone(),
                    container.image.clone(),
                    state(container),
                    ports(container),
                    usage
                        .and_then(|usage| usage.cpu_percent)
                        .map_or_else(|| "-".to_owned(), |cpu| format!("{cpu:.1}%")),
                    usage
                        .and_then(|usage| usage.memory_bytes)
                        .map_or_else(|| "-".to_owned(), mebibytes),
                ]
            })
            .collect();
        let mut widths = header.map(str::len);
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let mut line = |cells: &[String]| {
            let mut text = String::new();
            for (cell, width) in cells.iter().zip(widths) {
                let _ = write!(text, "{cell:<width$}  ");
            }
            out.push_str(text.trim_end());
            out.push('\n');
        };
        line(&header.map(str::to_owned));
        for row in &rows {
            line(row);
        }
    }
    if let Some(error) = &inventory.error {
        let _ = writeln!(out, "problem: {error}");
    }
    out
}

#[cfg(test)]
mod tests {
    use unity_shared::model::container::{ContainerUsage, EngineInfo, EngineKind, PortMapping};

    use super::*;

    fn container(name: &str, state: RunState, health: Option<HealthStatus>) -> Container {
        Container {
            id: format!("{name}-id"),
            name: name.to_owned(),
            image: format!("localhost/{name}:1.0"),
            image_id: "sha256:00".to_owned(),
            repo_digests: vec![],
            platform: None,
            image_created_ms: None,
            state,
            health,
            exit_code: None,
            restart_policy: Some("no".to_owned()),
            restart_count: 0,
            created_ms: None,
            started_ms: None,
            ports: vec![],
            mounts: vec![],
            networks: vec![],
            labels: vec![],
            compose: None,
            usage: None,
            network_mode: None,
            oom_killed: false,
        }
    }

    #[test]
    fn table() {
        let mut web = container("web", RunState::Running, Some(HealthStatus::Healthy));
        web.ports = vec![
            PortMapping {
                container_port: 8080,
                protocol: "tcp".to_owned(),
                host_ip: Some("127.0.0.1".to_owned()),
                host_port: Some(18080),
            },
            PortMapping {
                container_port: 9090,
                protocol: "udp".to_owned(),
                host_ip: None,
                host_port: Some(9090),
            },
        ];
        web.usage = Some(ContainerUsage {
            cpu_percent: Some(1.25),
            memory_bytes: Some(3 * 1024 * 1024),
            ..ContainerUsage::default()
        });
        let mut job = container("job", RunState::Exited, None);
        job.exit_code = Some(3);
        let inventory = ContainerInventory {
            engine: Some(EngineInfo {
                kind: EngineKind::Docker,
                version: "20.10.24".to_owned(),
                socket: "/var/run/docker.sock".to_owned(),
            }),
            containers: vec![
                job,
                web,
                container("db", RunState::Running, Some(HealthStatus::Unhealthy)),
            ],
            events: vec![],
            error: Some("inspecting image sha256:00: gone".to_owned()),
        };
        expect_test::expect![[r#"
            Docker 20.10.24 on /var/run/docker.sock, 3 containers
            NAME  IMAGE              STATE               PORTS                                 CPU   MEMORY
            job   localhost/job:1.0  exited (3)          -                                     -     -
            web   localhost/web:1.0  running, healthy    127.0.0.1:18080->8080,9090->9090/udp  1.2%  3.0 MiB
            db    localhost/db:1.0   running, UNHEALTHY  -                                     -     -
            problem: inspecting image sha256:00: gone
        "#]]
        .assert_eq(&render_table(&inventory));
        assert_eq!(exit_code(&inventory), 1);
        let none = ContainerInventory {
            error: Some("no container engine socket found".to_owned()),
            ..ContainerInventory::default()
        };
        assert_eq!(
            render_table(&none),
            "No container engine: no container engine socket found\n"
        );
        assert_eq!(exit_code(&none), 3);
    }
}
