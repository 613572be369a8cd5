//! Containers as time series, labelled `container` (the name) and, for compose projects,
//! `compose_project` / `compose_service`. Pure.
//!
//! - `container_running` 1 or 0; `container_restart_count`;
//! - `container_healthy` 1 or 0, only for containers with a health check (starting counts as
//!   not healthy yet);
//! - `container_cpu_percent` (100 = one core), `container_memory_bytes` (without page cache),
//!   only with usage.
//!
//! Reports sent right after an event carry no usage series (`with_usage = false`): their
//! usage is the previous full collection's, and its samples were sent with it.

use unity_shared::model::container::{ContainerInventory, HealthStatus, RunState};
use unity_shared::proto::Sample;

use crate::collect::series::Sink;

/// The series of one inventory.
pub fn to_samples(
    inventory: &ContainerInventory,
    timestamp_ms: i64,
    with_usage: bool,
) -> Vec<Sample> {
    let mut sink = Sink {
        timestamp_ms,
        samples: Vec::new(),
    };
    for container in &inventory.containers {
        let mut labels: Vec<(&str, &str)> = vec![("container", container.name.as_str())];
        if let Some(compose) = &container.compose {
            labels.push(("compose_project", compose.project.as_str()));
            labels.push(("compose_service", compose.service.as_str()));
        }
        let running = container.state == RunState::Running;
        sink.push("container_running", &labels, f64::from(u8::from(running)));
        sink.push(
            "container_restart_count",
            &labels,
            container.restart_count as f64,
        );
        if let Some(health) = container.health {
            let healthy = health == HealthStatus::Healthy;
            sink.push("container_healthy", &labels, f64::from(u8::from(healthy)));
        }
        let Some(usage) = container.usage.as_ref().filter(|_| with_usage && running) else {
            continue;
        };
        if let Some(cpu_percent) = usage.cpu_percent {
            sink.push("container_cpu_percent", &labels, cpu_percent);
        }
        if let Some(memory_bytes) = usage.memory_bytes {
            sink.push("container_memory_bytes", &labels, memory_bytes as f64);
        }
    }
    sink.samples
}
