//! Database availability and health as time series: `database_up`, probe latency, and the
//! health figures a probe could read. Pure.

use unity_shared::model::database::{DatabaseEngine, DatabaseInstance};
use unity_shared::proto::Sample;

fn engine_name(engine: DatabaseEngine) -> &'static str {
    match engine {
        DatabaseEngine::Postgres => "postgres",
        DatabaseEngine::Mysql => "mysql",
        DatabaseEngine::Mariadb => "mariadb",
        DatabaseEngine::Redis => "redis",
        DatabaseEngine::Mongodb => "mongodb",
        DatabaseEngine::Minio => "minio",
        DatabaseEngine::Unknown => "unknown",
    }
}

/// One series set per instance, labelled `engine` and `endpoint`.
pub fn to_samples(instances: &[DatabaseInstance], timestamp_ms: i64) -> Vec<Sample> {
    let mut samples = Vec::new();
    for instance in instances {
        let endpoint = instance.endpoint.to_string();
        let mut labels = vec![
            ("endpoint".to_owned(), endpoint),
            ("engine".to_owned(), engine_name(instance.engine).to_owned()),
        ];
        labels.sort();
        let mut push = |metric: &str, value: f64| {
            if value.is_finite() {
                samples.push(Sample {
                    metric: metric.to_owned(),
                    labels: labels.clone(),
                    timestamp_ms,
                    value,
                });
            }
        };
        push("database_up", if instance.reachable { 1.0 } else { 0.0 });
        if let Some(latency_ms) = instance.latency_ms {
            push("database_probe_latency_seconds", latency_ms / 1000.0);
        }
        let Some(health) = &instance.health else {
            continue;
        };
        let figures = [
            ("database_connections", health.connections),
            ("database_max_connections", health.max_connections),
            ("database_uptime_seconds", health.uptime_seconds),
            ("database_used_memory_bytes", health.used_memory_bytes),
            ("database_max_memory_bytes", health.max_memory_bytes),
            ("database_blocked_clients", health.blocked_clients),
            ("database_slow_queries", health.slow_queries),
        ];
        for (metric, value) in figures {
            if let Some(value) = value {
                push(metric, value as f64);
            }
        }
        let total_size: u64 = health.databases.iter().filter_map(|db| db.size_bytes).sum();
        if !health.databases.is_empty() {
            push("database_size_bytes_total", total_size as f64);
        }
    }
    samples
}

#[cfg(test)]
mod tests {
    use super::*;
    use unity_shared::model::database::{DatabaseEndpoint, DatabaseHealth};

    fn instance(reachable: bool) -> DatabaseInstance {
        DatabaseInstance {
            engine: DatabaseEngine::Redis,
            endpoint: DatabaseEndpoint::Tcp {
                host: "127.0.0.1".into(),
                port: 6379,
            },
            other_endpoints: vec![],
            discovered_by: vec![],
            process: None,
            container: None,
            version: Some("7.0.15".into()),
            reachable,
            auth_required: Some(false),
            tls_offered: None,
            latency_ms: Some(1.5),
            error: None,
            health: Some(DatabaseHealth {
                connections: Some(3),
                max_connections: Some(10000),
                databases: vec![],
                replication: None,
                uptime_seconds: Some(60),
                used_memory_bytes: Some(1 << 20),
                max_memory_bytes: None,
                blocked_clients: Some(0),
                slow_queries: None,
                cluster_healthy: None,
            }),
        }
    }

    #[test]
    fn up_latency_and_health_become_series() {
        let samples = to_samples(&[instance(true)], 7);
        let value = |metric: &str| samples.iter().find(|s| s.metric == metric).map(|s| s.value);
        assert_eq!(value("database_up"), Some(1.0));
        assert_eq!(value("database_probe_latency_seconds"), Some(0.0015));
        assert_eq!(value("database_connections"), Some(3.0));
        assert_eq!(value("database_max_memory_bytes"), None);
        let labels: Vec<(String, String)> = samples
            .first()
            .map(|s| s.labels.clone())
            .unwrap_or_default();
        assert_eq!(
            labels,
            vec![
                ("endpoint".to_owned(), "127.0.0.1:6379".to_owned()),
                ("engine".to_owned(), "redis".to_owned())
            ]
        );
        let down = to_samples(&[instance(false)], 7);
        assert_eq!(down.first().map(|s| s.value), Some(0.0));
    }
}
