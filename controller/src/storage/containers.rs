//! Container history the controller keeps beside each agent's newest inventory (which lives in
//! [`super::agents`] as `StateKind::Containers`): the engine's runtime events, bounded per
//! agent, and the outcome of the newest update check per container.
//!
//! Event keys are `agent \0 at_ms (big-endian, sign-flipped) container_id \0 kind`, so a
//! replayed report stores its events once and a prefix scan returns them in time order.

use super::{decode, encode, StorageError};
use crate::storage::words::words;
use serde::{Deserialize, Serialize};
use unity_shared::model::container::{ContainerEvent, ContainerEventKind};
use unity_shared::proto::AgentId;

/// Events kept per agent; older ones are trimmed as new ones arrive.
pub const MAX_EVENTS_PER_AGENT: usize = 1000;

words! {
    /// How big a detected update is; stored as its word, as the `String` before it.
    pub enum UpdateKind ("update kind") {
        /// The same tag with a new image (a rebuild).
        Digest => "digest",
        /// A newer tag, same major and minor version.
        Patch => "patch",
        /// A newer tag, same major version.
        Minor => "minor",
        /// A newer tag of a new major version.
        Major => "major",
    }
}

words! {
    /// What a container's update policy does with what it finds; stored as its word in update
    /// checks, as the `String` before it, and written so in policies and labels.
    #[derive(Default)]
    pub enum UpdateMode ("update mode") {
        /// Detect, record and apply (inside the host's maintenance windows).
        Auto => "auto",
        /// Detect and record only; an operator applies. The default.
        #[default]
        Notify => "notify",
        /// Do not check at all.
        Off => "off",
    }
}

/// What the newest update check found for one container. Kept per (agent, container name) and
/// replaced at every check; `first_seen_ms` carries over while the candidate stays the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateCheckRecord {
    pub agent_id: AgentId,
    pub container: String,
    /// The image reference as the container was created with.
    pub image: String,
    pub checked_at_ms: i64,
    pub outcome: CheckOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckOutcome {
    UpToDate,
    /// A newer image exists. `offered` is false while the policy holds it back (cooldown,
    /// mode `off`), with the reason in `held_back`.
    Update(DetectedUpdate),
    /// Not checked, and why (pinned, policy off, referenced by digest, local image).
    Skipped {
        reason: String,
    },
    /// The check failed for this container only.
    Error {
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetectedUpdate {
    pub kind: UpdateKind,
    pub current_tag: Option<String>,
    pub current_digest: Option<String>,
    pub candidate_tag: String,
    pub candidate_digest: String,
    /// When the candidate image was built, from its config.
    pub candidate_created_ms: Option<i64>,
    /// When the controller first saw this candidate.
    pub first_seen_ms: i64,
    /// From the container's effective policy.
    pub mode: UpdateMode,
    pub offered: bool,
    pub held_back: Option<String>,
}

/// Where an update-policy override applies. The controller-wide default comes from the
/// configuration file; container labels sit between host and container overrides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyScope {
    Host {
        agent_id: AgentId,
    },
    Container {
        agent_id: AgentId,
        container: String,
    },
    /// A host's maintenance windows (settings: `("window", text)` pairs), overriding its
    /// group's and the controller's.
    HostWindows {
        agent_id: AgentId,
    },
}

impl PolicyScope {
    fn key(&self) -> Vec<u8> {
        match self {
            PolicyScope::Host { agent_id } => format!("host\0{agent_id}").into_bytes(),
            PolicyScope::Container {
                agent_id,
                container,
            } => format!("container\0{agent_id}\0{container}").into_bytes(),
            PolicyScope::HostWindows { agent_id } => format!("windows\0{agent_id}").into_bytes(),
        }
    }
}

/// An update-policy override: policy keys (`mode`, `level`, `include`, `exclude`,
/// `transform`, `cooldown`, `pin`) and their values as written, validated before storing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyOverride {
    pub scope: PolicyScope,
    pub settings: Vec<(String, String)>,
}

pub struct Containers {
    events: sled::Tree,
    checks: sled::Tree,
    policies: sled::Tree,
}

fn agent_prefix(agent_id: &AgentId) -> Vec<u8> {
    prefix_of(agent_id.as_str())
}

fn prefix_of(agent_id: &str) -> Vec<u8> {
    let mut key = agent_id.as_bytes().to_vec();
    key.push(0);
    key
}

fn kind_name(kind: &ContainerEventKind) -> &str {
    match kind {
        ContainerEventKind::Start => "start",
        ContainerEventKind::Die { .. } => "die",
        ContainerEventKind::HealthStatus { .. } => "health_status",
        ContainerEventKind::Oom => "oom",
        ContainerEventKind::Stop => "stop",
        ContainerEventKind::Restart => "restart",
        ContainerEventKind::Create => "create",
        ContainerEventKind::Destroy => "destroy",
        ContainerEventKind::Pause => "pause",
        ContainerEventKind::Unpause => "unpause",
        ContainerEventKind::Kill => "kill",
        ContainerEventKind::Other { action } => action,
    }
}

fn event_key(agent_id: &AgentId, event: &ContainerEvent) -> Vec<u8> {
    let mut key = agent_prefix(agent_id);
    // Flip the sign bit so negative times sort before positive ones.
    key.extend_from_slice(&((event.at_ms as u64) ^ (1 << 63)).to_be_bytes());
    key.extend_from_slice(event.container_id.as_bytes());
    key.push(0);
    key.extend_from_slice(kind_name(&event.kind).as_bytes());
    key
}

fn check_key(agent_id: &str, container: &str) -> Vec<u8> {
    let mut key = prefix_of(agent_id);
    key.extend_from_slice(container.as_bytes());
    key
}

impl Containers {
    pub fn open(db: &sled::Db) -> Result<Containers, StorageError> {
        Ok(Containers {
            events: db.open_tree("container_events")?,
            checks: db.open_tree("update_checks")?,
            policies: db.open_tree("update_policies")?,
        })
    }

    /// Stores `events` (idempotent for a replayed report) and trims the agent's log to
    /// [`MAX_EVENTS_PER_AGENT`]. Not flushed here: the report's ingest flush covers it.
    pub fn append_events(
        &self,
        agent_id: &AgentId,
        events: &[ContainerEvent],
    ) -> Result<(), StorageError> {
        if events.is_empty() {
            return Ok(());
        }
        let mut batch = sled::Batch::default();
        for event in events {
            batch.insert(
                event_key(agent_id, event),
                encode("container_events", event)?,
            );
        }
        self.events.apply_batch(batch)?;
        let prefix = agent_prefix(agent_id);
        let n_events = self.events.scan_prefix(&prefix).keys().count();
        if n_events > MAX_EVENTS_PER_AGENT {
            let mut trim = sled::Batch::default();
            for key in self
                .events
                .scan_prefix(&prefix)
                .keys()
                .take(n_events - MAX_EVENTS_PER_AGENT)
            {
                trim.remove(key?);
            }
            self.events.apply_batch(trim)?;
        }
        Ok(())
    }

    /// The agent's newest `limit` events, newest first.
    pub fn recent_events(
        &self,
        agent_id: &AgentId,
        limit: usize,
    ) -> Result<Vec<ContainerEvent>, StorageError> {
        self.events
            .scan_prefix(agent_prefix(agent_id))
            .values()
            .rev()
            .take(limit)
            .map(|value| decode("container_events", &value?))
            .collect()
    }

    /// Replaces the stored check of one container.
    pub fn put_check(&self, record: &UpdateCheckRecord) -> Result<(), StorageError> {
        self.checks.insert(
            check_key(record.agent_id.as_str(), &record.container),
            encode("update_checks", record)?,
        )?;
        Ok(())
    }

    pub fn check(
        &self,
        agent_id: &AgentId,
        container: &str,
    ) -> Result<Option<UpdateCheckRecord>, StorageError> {
        self.checks
            .get(check_key(agent_id.as_str(), container))?
            .map(|bytes| decode("update_checks", &bytes))
            .transpose()
    }

    /// Every stored check of one agent, by container name.
    pub fn checks_of(&self, agent_id: &AgentId) -> Result<Vec<UpdateCheckRecord>, StorageError> {
        self.checks
            .scan_prefix(agent_prefix(agent_id))
            .values()
            .map(|value| decode("update_checks", &value?))
            .collect()
    }

    /// Every stored check, by agent then container name.
    pub fn all_checks(&self) -> Result<Vec<UpdateCheckRecord>, StorageError> {
        self.checks
            .iter()
            .values()
            .map(|value| decode("update_checks", &value?))
            .collect()
    }

    /// Forgets checks of containers that no longer exist on the agent.
    pub fn retain_checks(
        &self,
        agent_id: &AgentId,
        keep: impl Fn(&str) -> bool,
    ) -> Result<(), StorageError> {
        let mut batch = sled::Batch::default();
        for record in self.checks_of(agent_id)? {
            if !keep(&record.container) {
                batch.remove(check_key(agent_id.as_str(), &record.container));
            }
        }
        self.checks.apply_batch(batch)?;
        Ok(())
    }
}

impl Containers {
    /// Stores an override (replacing the scope's previous one), or removes it when `settings`
    /// is empty. Flushed: an operator's change must survive a crash.
    pub fn put_policy(&self, policy: &PolicyOverride) -> Result<(), StorageError> {
        if policy.settings.is_empty() {
            self.policies.remove(policy.scope.key())?;
        } else {
            self.policies
                .insert(policy.scope.key(), encode("update_policies", policy)?)?;
        }
        self.policies.flush()?;
        Ok(())
    }

    pub fn policy(&self, scope: &PolicyScope) -> Result<Option<PolicyOverride>, StorageError> {
        self.policies
            .get(scope.key())?
            .map(|bytes| decode("update_policies", &bytes))
            .transpose()
    }

    /// Every stored override.
    pub fn policies(&self) -> Result<Vec<PolicyOverride>, StorageError> {
        self.policies
            .iter()
            .values()
            .map(|value| decode("update_policies", &value?))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn containers() -> (tempfile::TempDir, Containers) {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::storage::open_test_db(dir.path());
        (dir, Containers::open(&db).unwrap())
    }

    fn event(at_ms: i64, id: &str, kind: ContainerEventKind) -> ContainerEvent {
        ContainerEvent {
            at_ms,
            container_id: id.into(),
            name: Some(format!("name-{id}")),
            kind,
        }
    }

    #[test]
    fn events_are_idempotent_ordered_per_agent_and_bounded() {
        let (_dir, containers) = containers();
        let a = AgentId::new("a").unwrap();
        let b = AgentId::new("b").unwrap();
        let first = vec![
            event(-5, "x", ContainerEventKind::Start),
            event(10, "x", ContainerEventKind::Die { exit_code: Some(1) }),
        ];
        containers.append_events(&a, &first).unwrap();
        containers.append_events(&a, &first).unwrap(); // replayed report
        containers
            .append_events(&b, &[event(7, "y", ContainerEventKind::Oom)])
            .unwrap();
        let recent = containers.recent_events(&a, 10).unwrap();
        assert_eq!(recent, vec![first[1].clone(), first[0].clone()]);
        assert_eq!(containers.recent_events(&b, 10).unwrap().len(), 1);

        let many: Vec<_> = (0..MAX_EVENTS_PER_AGENT as i64 + 20)
            .map(|at| event(100 + at, "z", ContainerEventKind::Start))
            .collect();
        containers.append_events(&a, &many).unwrap();
        let kept = containers.recent_events(&a, usize::MAX).unwrap();
        assert_eq!(kept.len(), MAX_EVENTS_PER_AGENT);
        assert_eq!(kept[0].at_ms, 100 + MAX_EVENTS_PER_AGENT as i64 + 19);
        assert_eq!(containers.recent_events(&b, 10).unwrap().len(), 1);
    }

    #[test]
    fn policy_overrides_are_kept_per_scope_and_removed_when_empty() {
        let (_dir, containers) = containers();
        let host = PolicyScope::Host {
            agent_id: AgentId::new("a").unwrap(),
        };
        let web = PolicyScope::Container {
            agent_id: AgentId::new("a").unwrap(),
            container: "web".into(),
        };
        let set = |scope: &PolicyScope, settings: &[(&str, &str)]| PolicyOverride {
            scope: scope.clone(),
            settings: settings
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        containers
            .put_policy(&set(&host, &[("mode", "notify")]))
            .unwrap();
        containers
            .put_policy(&set(&web, &[("pin", "true")]))
            .unwrap();
        assert_eq!(
            containers.policy(&web).unwrap().unwrap().settings,
            vec![("pin".to_string(), "true".to_string())]
        );
        assert_eq!(containers.policies().unwrap().len(), 2);
        containers.put_policy(&set(&web, &[])).unwrap();
        assert_eq!(containers.policy(&web).unwrap(), None);
        assert!(containers.policy(&host).unwrap().is_some());
    }

    #[test]
    fn checks_are_replaced_listed_and_retained() {
        let (_dir, containers) = containers();
        let record = |agent: &str, name: &str, outcome| UpdateCheckRecord {
            agent_id: AgentId::new(agent).unwrap(),
            container: name.into(),
            image: "app:1.0.0".into(),
            checked_at_ms: 1,
            outcome,
        };
        containers
            .put_check(&record("a", "web", CheckOutcome::UpToDate))
            .unwrap();
        containers
            .put_check(&record(
                "a",
                "web",
                CheckOutcome::Error {
                    message: "boom".into(),
                },
            ))
            .unwrap();
        containers
            .put_check(&record("a", "db", CheckOutcome::UpToDate))
            .unwrap();
        containers
            .put_check(&record("b", "web", CheckOutcome::UpToDate))
            .unwrap();
        let a = AgentId::new("a").unwrap();
        let of_a = containers.checks_of(&a).unwrap();
        assert_eq!(of_a.len(), 2);
        assert!(matches!(
            containers.check(&a, "web").unwrap().unwrap().outcome,
            CheckOutcome::Error { .. }
        ));
        containers.retain_checks(&a, |name| name == "db").unwrap();
        assert_eq!(containers.checks_of(&a).unwrap().len(), 1);
        assert_eq!(containers.all_checks().unwrap().len(), 2);
    }
}
