//! The container inventory as older reports carried it: protocol 4 to 8 without
//! `network_mode` (appended in protocol 9, issue 17), protocol 9 without `oom_killed`
//! (appended in protocol 10, issue 18). Spooled reports of those versions are read through
//! these mirrors (`super::layout`) and upgraded with the fields empty.
//!
//! postcard writes a struct as its fields one after the other, with no framing, so a newer
//! mirror embeds the one before it and lists only the fields appended since.

use serde::Deserialize;
use unity_shared::model::container::{
    ComposeInfo, Container, ContainerEvent, ContainerInventory, ContainerUsage, EngineInfo,
    HealthStatus, MountInfo, NetworkAttachment, Platform, PortMapping, RunState,
};

/// [`ContainerInventory`] up to protocol 8.
#[derive(Deserialize)]
pub(super) struct InventoryV8 {
    engine: Option<EngineInfo>,
    containers: Vec<ContainerV8>,
    events: Vec<ContainerEvent>,
    error: Option<String>,
}

/// [`Container`] up to protocol 8, field for field.
#[derive(Deserialize)]
struct ContainerV8 {
    id: String,
    name: String,
    image: String,
    image_id: String,
    repo_digests: Vec<String>,
    platform: Option<Platform>,
    image_created_ms: Option<i64>,
    state: RunState,
    health: Option<HealthStatus>,
    exit_code: Option<i64>,
    restart_policy: Option<String>,
    restart_count: u64,
    created_ms: Option<i64>,
    started_ms: Option<i64>,
    ports: Vec<PortMapping>,
    mounts: Vec<MountInfo>,
    networks: Vec<NetworkAttachment>,
    labels: Vec<(String, String)>,
    compose: Option<ComposeInfo>,
    usage: Option<ContainerUsage>,
}

impl InventoryV8 {
    pub(super) fn upgrade(self) -> ContainerInventory {
        ContainerInventory {
            engine: self.engine,
            containers: self
                .containers
                .into_iter()
                .map(ContainerV8::upgrade)
                .collect(),
            events: self.events,
            error: self.error,
        }
    }
}

/// Upgrades an inventory of a spooled report, when it has one.
pub(super) fn upgrade(inventory: Option<Box<InventoryV8>>) -> Option<Box<ContainerInventory>> {
    inventory.map(|inventory| Box::new(inventory.upgrade()))
}

/// [`ContainerInventory`] of protocol 9.
#[derive(Deserialize)]
pub(super) struct InventoryV9 {
    engine: Option<EngineInfo>,
    containers: Vec<ContainerV9>,
    events: Vec<ContainerEvent>,
    error: Option<String>,
}

/// [`Container`] of protocol 9: protocol 8's fields, then `network_mode`.
#[derive(Deserialize)]
struct ContainerV9 {
    before: ContainerV8,
    network_mode: Option<String>,
}

impl InventoryV9 {
    fn upgrade(self) -> ContainerInventory {
        ContainerInventory {
            engine: self.engine,
            containers: self
                .containers
                .into_iter()
                .map(|container| Container {
                    network_mode: container.network_mode,
                    ..container.before.upgrade()
                })
                .collect(),
            events: self.events,
            error: self.error,
        }
    }
}

/// Upgrades a protocol-9 inventory of a spooled report, when it has one.
pub(super) fn upgrade_v9(inventory: Option<Box<InventoryV9>>) -> Option<Box<ContainerInventory>> {
    inventory.map(|inventory| Box::new(inventory.upgrade()))
}

impl ContainerV8 {
    fn upgrade(self) -> Container {
        Container {
            id: self.id,
            name: self.name,
            image: self.image,
            image_id: self.image_id,
            repo_digests: self.repo_digests,
            platform: self.platform,
            image_created_ms: self.image_created_ms,
            state: self.state,
            health: self.health,
            exit_code: self.exit_code,
            restart_policy: self.restart_policy,
            restart_count: self.restart_count,
            created_ms: self.created_ms,
            started_ms: self.started_ms,
            ports: self.ports,
            mounts: self.mounts,
            networks: self.networks,
            labels: self.labels,
            compose: self.compose,
            usage: self.usage,
            network_mode: None,
            oom_killed: false,
        }
    }
}
