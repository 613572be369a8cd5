//! The health roll-up: how many disks, pools, arrays and databases of a host are ok, need a
//! look, or are failing, from the newest typed state each agent reported. Pure, apart from
//! [`host_rollup`], which reads that state from the store.

use crate::storage::agents::StateKind;
use crate::storage::{StorageError, Store};
use serde::{Deserialize, Serialize};
use unity_shared::model::container::{Container, ContainerInventory, HealthStatus, RunState};
use unity_shared::model::database::DatabaseInstance;
use unity_shared::model::storage::{Verdict, VerdictStatus};
use unity_shared::proto::{AgentId, StorageState};

/// Counts per verdict. `reported` is false when the host never sent this section.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub reported: bool,
    pub ok: u32,
    pub warning: u32,
    pub failing: u32,
}

impl Counts {
    fn add(&mut self, status: VerdictStatus) {
        self.reported = true;
        match status {
            VerdictStatus::Passed => self.ok += 1,
            VerdictStatus::Warning => self.warning += 1,
            VerdictStatus::Failing => self.failing += 1,
        }
    }

    /// Sums another host's counts into these.
    pub fn merge(&mut self, other: Counts) {
        self.reported |= other.reported;
        self.ok += other.ok;
        self.warning += other.warning;
        self.failing += other.failing;
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthRollup {
    pub disks: Counts,
    pub pools: Counts,
    pub arrays: Counts,
    pub databases: Counts,
    pub containers: Counts,
}

impl HealthRollup {
    pub fn merge(&mut self, other: &HealthRollup) {
        self.disks.merge(other.disks);
        self.pools.merge(other.pools);
        self.arrays.merge(other.arrays);
        self.databases.merge(other.databases);
        self.containers.merge(other.containers);
    }

    /// The sections in display order.
    pub fn sections(&self) -> [(&'static str, Counts); 5] {
        [
            ("disks", self.disks),
            ("pools", self.pools),
            ("arrays", self.arrays),
            ("databases", self.databases),
            ("containers", self.containers),
        ]
    }
}

fn status_of(verdict: Option<&Verdict>) -> VerdictStatus {
    // A device without a verdict could not be read: it needs a look.
    verdict.map_or(VerdictStatus::Warning, |verdict| verdict.status)
}

/// How a container looks at a glance: unhealthy or dead is failing; restarting (a crash loop),
/// paused or exited with an error needs a look (a container stopped by hand exits non-zero too,
/// so that alone is not failing); running, or exited 0 (a job that finished), is ok.
pub fn container_status(container: &Container) -> VerdictStatus {
    match (container.state, container.health) {
        (_, Some(HealthStatus::Unhealthy)) | (RunState::Dead, _) => VerdictStatus::Failing,
        (RunState::Restarting | RunState::Paused, _) => VerdictStatus::Warning,
        (RunState::Exited, _) if container.exit_code.unwrap_or(0) != 0 => VerdictStatus::Warning,
        _ => VerdictStatus::Passed,
    }
}

/// The roll-up of one host's newest storage, database and container state.
pub fn rollup(
    storage: Option<&StorageState>,
    databases: Option<&[DatabaseInstance]>,
    containers: Option<&ContainerInventory>,
) -> HealthRollup {
    let mut health = HealthRollup::default();
    if let Some(storage) = storage {
        for device in &storage.smart.devices {
            health.disks.add(status_of(device.verdict.as_ref()));
        }
        // A drive that vanished is data at risk, whatever its last verdict.
        for _ in storage.stack.drives.iter().filter(|drive| drive.missing) {
            health.disks.add(VerdictStatus::Failing);
        }
        for pool in &storage.zfs.pools {
            health.pools.add(pool.verdict.status);
        }
        for array in &storage.raid.arrays {
            health.arrays.add(array.verdict.status);
        }
    }
    if let Some(databases) = databases {
        for instance in databases {
            let status = match (instance.reachable, &instance.error) {
                (false, _) => VerdictStatus::Failing,
                (true, Some(_)) => VerdictStatus::Warning,
                (true, None) => VerdictStatus::Passed,
            };
            health.databases.add(status);
        }
    }
    if let Some(inventory) = containers {
        if inventory.engine.is_some() {
            health.containers.reported = true;
        }
        for container in &inventory.containers {
            health.containers.add(container_status(container));
        }
    }
    health
}

/// Reads the host's newest state and rolls it up. Note that this uses blocking I/O.
pub fn host_rollup(store: &Store, agent_id: &AgentId) -> Result<HealthRollup, StorageError> {
    let storage: Option<(i64, StorageState)> = store.agents.latest(agent_id, StateKind::Storage)?;
    let databases: Option<(i64, Vec<DatabaseInstance>)> =
        store.agents.latest(agent_id, StateKind::Databases)?;
    let containers: Option<(i64, ContainerInventory)> =
        store.agents.latest(agent_id, StateKind::Containers)?;
    Ok(rollup(
        storage.as_ref().map(|(_, state)| state),
        databases
            .as_ref()
            .map(|(_, instances)| instances.as_slice()),
        containers.as_ref().map(|(_, inventory)| inventory),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use unity_shared::model::database::{DatabaseEndpoint, DatabaseEngine};

    fn database(reachable: bool, error: Option<&str>) -> DatabaseInstance {
        DatabaseInstance {
            engine: DatabaseEngine::Postgres,
            endpoint: DatabaseEndpoint::Tcp {
                host: "127.0.0.1".into(),
                port: 5432,
            },
            other_endpoints: vec![],
            discovered_by: vec![],
            process: None,
            container: None,
            version: None,
            reachable,
            auth_required: None,
            tls_offered: None,
            latency_ms: None,
            error: error.map(str::to_owned),
            health: None,
        }
    }

    #[test]
    fn nothing_reported_is_not_ok() {
        let health = rollup(None, None, None);
        assert!(health.sections().iter().all(|(_, counts)| !counts.reported));
    }

    #[test]
    fn databases_count_by_reachability() {
        let instances = [
            database(true, None),
            database(true, Some("auth")),
            database(false, None),
        ];
        let health = rollup(None, Some(&instances), None);
        assert_eq!(
            health.databases,
            Counts {
                reported: true,
                ok: 1,
                warning: 1,
                failing: 1
            }
        );
        let mut total = HealthRollup::default();
        total.merge(&health);
        total.merge(&health);
        assert_eq!(total.databases.failing, 2);
    }

    fn container(
        state: RunState,
        health: Option<HealthStatus>,
        exit_code: Option<i64>,
    ) -> Container {
        Container {
            id: "id".into(),
            name: "c".into(),
            image: "app:1".into(),
            image_id: "sha256:00".into(),
            repo_digests: vec![],
            platform: None,
            image_created_ms: None,
            state,
            health,
            exit_code,
            restart_policy: None,
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
    fn containers_count_by_state_and_health() {
        let inventory = ContainerInventory {
            engine: None,
            containers: vec![
                container(RunState::Running, Some(HealthStatus::Healthy), None),
                container(RunState::Running, None, None),
                container(RunState::Exited, None, Some(0)),
                container(RunState::Exited, None, Some(137)),
                container(RunState::Restarting, None, None),
                container(RunState::Running, Some(HealthStatus::Unhealthy), None),
                container(RunState::Dead, None, None),
            ],
            events: vec![],
            error: None,
        };
        let health = rollup(None, None, Some(&inventory));
        assert_eq!(
            health.containers,
            Counts {
                reported: true,
                ok: 3,
                warning: 2,
                failing: 2
            }
        );
        // An engine that answered with no containers still counts as reported.
        let empty = ContainerInventory {
            engine: Some(unity_shared::model::container::EngineInfo {
                kind: unity_shared::model::container::EngineKind::Docker,
                version: "20.10".into(),
                socket: "/var/run/docker.sock".into(),
            }),
            ..ContainerInventory::default()
        };
        assert!(rollup(None, None, Some(&empty)).containers.reported);
        assert!(
            !rollup(None, None, Some(&ContainerInventory::default()))
                .containers
                .reported
        );
    }
}
