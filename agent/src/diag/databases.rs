//! `unity-agent collect databases [--json]`: discover and probe the databases on this host once
//! and render them as a table for people (the JSON form is the model itself, see
//! `docs/databases.md`).

use std::fmt::Write as _;
use std::time::Duration;

use unity_shared::model::database::{DatabaseInstance, DiscoveryMethod};

use crate::collect::databases::{self, DatabasesConfig};

/// Discovers databases on this host with no configuration and probes each one, every probe
/// bounded by `timeout`.
pub async fn collect_databases(config: &DatabasesConfig) -> anyhow::Result<Vec<DatabaseInstance>> {
    databases::collect(config, &[], &[]).await
}

fn yes_no(value: Option<bool>) -> &'static str {
    match value {
        Some(true) => "yes",
        Some(false) => "no",
        None => "?",
    }
}

fn method_name(method: DiscoveryMethod) -> &'static str {
    match method {
        DiscoveryMethod::ListeningSocket => "socket",
        DiscoveryMethod::ProcessName => "process",
        DiscoveryMethod::WellKnownPort => "port",
        DiscoveryMethod::Container => "container",
        DiscoveryMethod::Configured => "config",
        DiscoveryMethod::Remembered => "remembered",
    }
}

/// Renders instances as an aligned table, one line per instance, with problems listed below.
pub fn render_table(instances: &[DatabaseInstance]) -> String {
    if instances.is_empty() {
        return "No databases found.\n".to_owned();
    }
    let header = [
        "ENGINE", "VERSION", "ENDPOINT", "STATUS", "AUTH", "TLS", "LATENCY", "PROCESS", "FOUND BY",
    ];
    let rows: Vec<[String; 9]> = instances
        .iter()
        .map(|instance| {
            let process = match (&instance.process, &instance.container) {
                (_, Some(container)) => format!(
                    "container {}",
                    container.name.as_deref().unwrap_or(&container.image)
                ),
                (Some(process), None) => format!("{} ({})", process.name, process.pid),
                (None, None) => "-".to_owned(),
            };
            [
                instance.engine.display_name().to_owned(),
                instance.version.clone().unwrap_or_else(|| "-".to_owned()),
                instance.endpoint.to_string(),
                if instance.reachable { "up" } else { "DOWN" }.to_owned(),
                yes_no(instance.auth_required).to_owned(),
                yes_no(instance.tls_offered).to_owned(),
                instance
                    .latency_ms
                    .map_or_else(|| "-".to_owned(), |ms| format!("{ms:.1} ms")),
                process,
                instance
                    .discovered_by
                    .iter()
                    .map(|method| method_name(*method))
                    .collect::<Vec<_>>()
                    .join(","),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
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
    for instance in instances {
        if let Some(error) = &instance.error {
            let _ = writeln!(out, "{}: {error}", instance.endpoint);
        }
        if let Some(health) = &instance.health {
            let mut parts = Vec::new();
            if let Some(connections) = health.connections {
                match health.max_connections {
                    Some(limit) => parts.push(format!("connections {connections}/{limit}")),
                    None => parts.push(format!("connections {connections}")),
                }
            }
            if let Some(replication) = &health.replication {
                parts.push(format!("role {:?}", replication.role).to_lowercase());
            }
            if let Some(uptime) = health.uptime_seconds {
                parts.push(format!(
                    "up {}",
                    humantime::format_duration(Duration::from_secs(uptime))
                ));
            }
            if let Some(memory) = health.used_memory_bytes {
                parts.push(format!("memory {} MiB", memory / (1024 * 1024)));
            }
            if !health.databases.is_empty() {
                parts.push(format!("{} databases", health.databases.len()));
            }
            if let Some(healthy) = health.cluster_healthy {
                parts.push(format!(
                    "cluster {}",
                    if healthy { "healthy" } else { "NO QUORUM" }
                ));
            }
            if !parts.is_empty() {
                let _ = writeln!(out, "{}: {}", instance.endpoint, parts.join(", "));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use unity_shared::model::database::{
        DatabaseEndpoint, DatabaseEngine, DatabaseHealth, DatabaseProcess,
    };

    use super::*;

    #[test]
    fn table() {
        let instances = vec![
            DatabaseInstance {
                engine: DatabaseEngine::Postgres,
                endpoint: DatabaseEndpoint::Tcp {
                    host: "127.0.0.1".to_owned(),
                    port: 5432,
                },
                other_endpoints: vec![],
                discovered_by: vec![
                    DiscoveryMethod::ListeningSocket,
                    DiscoveryMethod::ProcessName,
                    DiscoveryMethod::WellKnownPort,
                ],
                process: Some(DatabaseProcess {
                    pid: 812,
                    name: "postgres".to_owned(),
                }),
                container: None,
                version: Some("15.18 (Debian 15.18-0+deb12u1)".to_owned()),
                reachable: true,
                auth_required: Some(true),
                tls_offered: Some(false),
                latency_ms: Some(1.25),
                error: None,
                health: None,
            },
            DatabaseInstance {
                engine: DatabaseEngine::Redis,
                endpoint: DatabaseEndpoint::Tcp {
                    host: "127.0.0.1".to_owned(),
                    port: 6379,
                },
                other_endpoints: vec![],
                discovered_by: vec![DiscoveryMethod::Remembered],
                process: None,
                container: None,
                version: None,
                reachable: false,
                auth_required: None,
                tls_offered: None,
                latency_ms: None,
                error: Some("cannot connect: Connection refused (os error 111)".to_owned()),
                health: Some(DatabaseHealth {
                    connections: Some(3),
                    max_connections: Some(10000),
                    ..DatabaseHealth::default()
                }),
            },
        ];
        expect_test::expect![[r#"
            ENGINE      VERSION                         ENDPOINT        STATUS  AUTH  TLS  LATENCY  PROCESS         FOUND BY
            PostgreSQL  15.18 (Debian 15.18-0+deb12u1)  127.0.0.1:5432  up      yes   no   1.2 ms   postgres (812)  socket,process,port
            Redis       -                               127.0.0.1:6379  DOWN    ?     ?    -        -               remembered
            127.0.0.1:6379: cannot connect: Connection refused (os error 111)
            127.0.0.1:6379: connections 3/10000
        "#]]
        .assert_eq(&render_table(&instances));
        assert_eq!(render_table(&[]), "No databases found.\n");
    }
}
