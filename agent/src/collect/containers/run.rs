//! One container collection: list every container, inspect each one and its image, read the
//! stats of the running ones; a few calls at a time, each bounded by the timeout. Never fails:
//! an engine that cannot be reached gives an inventory with no engine and the reason in
//! `error`, and a call that fails for one container is noted in `error` while the rest is
//! reported.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::time::Duration;

use bollard::models::{ContainerStatsResponse, ContainerSummary, ImageInspect};
use bollard::query_parameters::{ListContainersOptionsBuilder, StatsOptionsBuilder};
use futures_util::StreamExt as _;
use tracing::Instrument as _;
use unity_shared::model::container::{Container, ContainerInventory, RunState};

use super::socket::{self, Client, ClientError};
use super::stats::{self, CpuReading};
use super::{inventory, ContainersConfig};
use crate::collect::databases::{ContainerPorts, PortProtocol, PublishedPort};

/// API calls in flight at once: enough to finish quickly, few enough for a small host.
const CONCURRENCY: usize = 4;

/// At most this many problems are spelled out in `error`; the rest are counted.
const MAX_ERRORS: usize = 3;

/// The CPU readings of the previous collection, by container id: the base of the next
/// collection's CPU percentages (see [`stats`]).
#[derive(Debug, Default, Clone)]
pub struct StatsMemory {
    readings: HashMap<String, CpuReading>,
}

/// Connects as configured and collects once.
pub async fn collect(config: &ContainersConfig, memory: &mut StatsMemory) -> ContainerInventory {
    let span = tracing::info_span!("collector", collector = "containers");
    async {
        match socket::connect_with(&config.socket, config.timeout).await {
            Ok(client) => collect_with(&client, config.stats, memory).await,
            Err(error) => unreachable_engine(&error),
        }
    }
    .instrument(span)
    .await
}

/// The inventory of an engine that could not be reached.
pub fn unreachable_engine(error: &ClientError) -> ContainerInventory {
    ContainerInventory {
        engine: None,
        containers: Vec::new(),
        events: Vec::new(),
        error: Some(error.to_string()),
    }
}

/// Collects once from a connected engine.
pub async fn collect_with(
    client: &Client,
    with_stats: bool,
    memory: &mut StatsMemory,
) -> ContainerInventory {
    let mut inventory = ContainerInventory {
        engine: Some(client.info.clone()),
        ..ContainerInventory::default()
    };
    let list_options = ListContainersOptionsBuilder::default().all(true).build();
    let summaries = match client
        .call(client.docker.list_containers(Some(list_options)))
        .await
    {
        Ok(summaries) => summaries,
        Err(error) => {
            inventory.error = Some(format!("listing containers: {error}"));
            return inventory;
        }
    };
    let mut errors = Vec::new();
    let inspected: Vec<(ContainerSummary, Result<_, ClientError>)> =
        futures_util::stream::iter(summaries)
            .map(|summary| async move {
                let id = summary.id.clone().unwrap_or_default();
                let inspected = client
                    .call(client.docker.inspect_container(&id, None))
                    .await;
                (summary, inspected)
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
    let image_ids: HashSet<String> = inspected
        .iter()
        .filter_map(|(_, inspect)| inspect.as_ref().ok()?.image.clone())
        .collect();
    let images = inspect_images(client, image_ids, &mut errors).await;
    let running: Vec<String> = inspected
        .iter()
        .filter_map(|(_, inspect)| {
            let inspect = inspect.as_ref().ok()?;
            let running = inspect.state.as_ref()?.running.unwrap_or(false);
            running.then(|| inspect.id.clone()).flatten()
        })
        .collect();
    let mut usage = if with_stats {
        read_all_stats(client, &running, memory).await
    } else {
        HashMap::new()
    };
    for (summary, inspect) in inspected {
        let container = match inspect {
            Ok(inspect) => {
                let image = inspect.image.as_ref().and_then(|id| images.get(id));
                let id = inspect.id.clone().unwrap_or_default();
                inventory::from_inspect(&inspect, image, usage.remove(&id))
            }
            Err(error) => {
                let container = inventory::from_summary(&summary);
                errors.push(format!("inspecting {}: {error}", container.name));
                container
            }
        };
        inventory.containers.push(container);
    }
    inventory
        .containers
        .sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
    inventory.error = summarize(&errors);
    inventory
}

fn summarize(errors: &[String]) -> Option<String> {
    if errors.is_empty() {
        return None;
    }
    let mut text = errors
        .iter()
        .take(MAX_ERRORS)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if errors.len() > MAX_ERRORS {
        text.push_str(&format!(" (and {} more)", errors.len() - MAX_ERRORS));
    }
    Some(text)
}

async fn inspect_images(
    client: &Client,
    image_ids: HashSet<String>,
    errors: &mut Vec<String>,
) -> HashMap<String, ImageInspect> {
    let answers: Vec<(String, Result<ImageInspect, ClientError>)> =
        futures_util::stream::iter(image_ids)
            .map(|id| async move {
                let answer = client.call(client.docker.inspect_image(&id)).await;
                (id, answer)
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
    let mut images = HashMap::new();
    for (id, answer) in answers {
        match answer {
            Ok(image) => {
                images.insert(id, image);
            }
            // The image can vanish between the two calls (`docker image prune` of an image
            // whose last container was just removed); the container is still reported.
            Err(error) => errors.push(format!("inspecting image {id}: {error}")),
        }
    }
    images
}

async fn read_stats(client: &Client, id: &str) -> Option<ContainerStatsResponse> {
    let options = StatsOptionsBuilder::default()
        .stream(false)
        .one_shot(true)
        .build();
    let mut stream = Box::pin(client.docker.stats(id, Some(options)));
    match client.call(async { stream.next().await.transpose() }).await {
        Ok(answer) => answer,
        Err(error) => {
            // Usually the container stopped since it was listed.
            tracing::debug!(container = id, %error, "No stats.");
            None
        }
    }
}

async fn read_stats_of(client: &Client, ids: &[String]) -> HashMap<String, ContainerStatsResponse> {
    futures_util::stream::iter(ids.iter().cloned())
        .map(|id| async move { read_stats(client, &id).await.map(|stats| (id, stats)) })
        .buffer_unordered(CONCURRENCY)
        .filter_map(|answer| async move { answer })
        .collect()
        .await
}

/// Usage of the running containers. CPU readings come from `memory` (and go back into it);
/// containers with neither `precpu_stats` nor a remembered reading are read again a second
/// later.
async fn read_all_stats(
    client: &Client,
    running: &[String],
    memory: &mut StatsMemory,
) -> HashMap<String, unity_shared::model::container::ContainerUsage> {
    let mut answers = read_stats_of(client, running).await;
    let without_base: Vec<String> = answers
        .iter()
        .filter(|(id, answer)| !stats::has_precpu(answer) && !memory.readings.contains_key(*id))
        .map(|(id, _)| id.clone())
        .collect();
    if !without_base.is_empty() {
        for id in &without_base {
            if let Some(reading) = answers.get(id).and_then(stats::cpu_reading) {
                memory.readings.insert(id.clone(), reading);
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        answers.extend(read_stats_of(client, &without_base).await);
    }
    let mut usage = HashMap::new();
    let mut readings = HashMap::new();
    for (id, answer) in answers {
        usage.insert(id.clone(), stats::usage(&answer, memory.readings.get(&id)));
        if let Some(reading) = stats::cpu_reading(&answer) {
            readings.insert(id, reading);
        }
    }
    memory.readings = readings;
    usage
}

/// The published ports of the running containers, as database discovery takes them.
pub fn published_ports(containers: &[Container]) -> Vec<ContainerPorts> {
    containers
        .iter()
        .filter(|container| container.state == RunState::Running)
        .map(|container| ContainerPorts {
            name: Some(container.name.clone()),
            image: container.image.clone(),
            published: container
                .ports
                .iter()
                .filter_map(|port| {
                    let protocol = match port.protocol.as_str() {
                        "tcp" => PortProtocol::Tcp,
                        "udp" => PortProtocol::Udp,
                        _ => return None,
                    };
                    Some(PublishedPort {
                        host_ip: port
                            .host_ip
                            .as_deref()
                            .and_then(|ip| ip.parse::<IpAddr>().ok()),
                        host_port: port.host_port?,
                        container_port: port.container_port,
                        protocol,
                    })
                })
                .collect(),
        })
        .filter(|container| !container.published.is_empty())
        .collect()
}
