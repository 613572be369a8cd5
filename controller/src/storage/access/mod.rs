//! Who may do what on which host: user groups with their rights per host group, host groups
//! (label selectors and explicit lists), and the labels an operator gives each host.
//!
//! Trees: `access_groups` (name -> [`GroupRecord`]), `access_host_groups` (name ->
//! [`HostGroupRecord`]), `access_host_labels` (agent id -> sorted labels). The host group
//! [`ALL_HOSTS`] is built in (every host, never stored); the user groups [`ADMINS`] (administer
//! on all hosts) and [`VIEWERS`] (view on all hosts) are created on open when missing, so the
//! roles of older versions keep their meaning.

use super::{decode, encode, StorageError};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use unity_shared::proto::AgentId;

/// The built-in host group of every host.
pub const ALL_HOSTS: &str = "all";
/// The built-in user group with administer on all hosts (the old `admin` role).
pub const ADMINS: &str = "admins";
/// The built-in user group with view on all hosts (the old `viewer` role).
pub const VIEWERS: &str = "viewers";

crate::storage::words::words! {
    /// What a right allows on a host; each includes the ones before it.
    #[derive(PartialOrd, Ord)]
    pub enum Right ("right") {
        /// See the host, its history, state, alerts and operations.
        View => "view",
        /// Also restart containers, update them, collect now, ping.
        Operate => "operate",
        /// Also revoke the host, set its policies, windows and labels; on all hosts: manage
        /// users, groups, join tokens and registry credentials.
        Administer => "administer",
    }
}

/// One right of a user group: `right` on the hosts of `host_group`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRecord {
    pub host_group: String,
    pub right: Right,
}

/// A group of users and what its members may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRecord {
    pub name: String,
    pub description: String,
    /// At most one per host group.
    pub grants: Vec<GrantRecord>,
    pub created_at_ms: i64,
}

/// A group of hosts: those carrying every label of `labels` (when there are any), plus those
/// listed in `hosts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostGroupRecord {
    pub name: String,
    /// `(name, value)` pairs a host must all carry; empty: no host by label.
    pub labels: Vec<(String, String)>,
    pub hosts: Vec<AgentId>,
    pub created_at_ms: i64,
}

impl HostGroupRecord {
    /// Whether the host `agent_id`, carrying `labels`, is in this group.
    pub fn contains(&self, agent_id: &AgentId, labels: &[(String, String)]) -> bool {
        self.hosts.contains(agent_id)
            || (!self.labels.is_empty() && self.labels.iter().all(|pair| labels.contains(pair)))
    }
}

/// A host's labels, `(name, value)` sorted by name.
pub type Labels = Vec<(String, String)>;

pub struct AccessStore {
    groups: sled::Tree,
    host_groups: sled::Tree,
    labels: sled::Tree,
}

fn all<T: DeserializeOwned>(tree: &sled::Tree, name: &'static str) -> Result<Vec<T>, StorageError> {
    tree.iter()
        .values()
        .map(|value| decode(name, &value?))
        .collect()
}

impl AccessStore {
    /// Opens the trees and creates the built-in user groups when missing (created "at 0":
    /// they have always existed).
    pub fn open(db: &sled::Db) -> Result<AccessStore, StorageError> {
        let store = AccessStore {
            groups: db.open_tree("access_groups")?,
            host_groups: db.open_tree("access_host_groups")?,
            labels: db.open_tree("access_host_labels")?,
        };
        for (name, description, right) in [
            (
                ADMINS,
                "Administer every host (the admin role)",
                Right::Administer,
            ),
            (VIEWERS, "View every host (the viewer role)", Right::View),
        ] {
            store.create_group(&GroupRecord {
                name: name.to_owned(),
                description: description.to_owned(),
                grants: vec![GrantRecord {
                    host_group: ALL_HOSTS.to_owned(),
                    right,
                }],
                created_at_ms: 0,
            })?;
        }
        Ok(store)
    }

    /// Adds a user group; `false` (and nothing written) if the name is taken.
    pub fn create_group(&self, record: &GroupRecord) -> Result<bool, StorageError> {
        let bytes = encode("access_groups", record)?;
        let swapped =
            self.groups
                .compare_and_swap(record.name.as_bytes(), None::<&[u8]>, Some(bytes))?;
        Ok(swapped.is_ok())
    }

    /// Replaces a user group's record.
    pub fn put_group(&self, record: &GroupRecord) -> Result<(), StorageError> {
        self.groups
            .insert(record.name.as_bytes(), encode("access_groups", record)?)?;
        Ok(())
    }

    pub fn group(&self, name: &str) -> Result<Option<GroupRecord>, StorageError> {
        self.groups
            .get(name.as_bytes())?
            .map(|bytes| decode("access_groups", &bytes))
            .transpose()
    }

    /// Every user group, by name.
    pub fn groups(&self) -> Result<Vec<GroupRecord>, StorageError> {
        all(&self.groups, "access_groups")
    }

    pub fn delete_group(&self, name: &str) -> Result<bool, StorageError> {
        Ok(self.groups.remove(name.as_bytes())?.is_some())
    }

    /// Adds or replaces a host group.
    pub fn put_host_group(&self, record: &HostGroupRecord) -> Result<(), StorageError> {
        self.host_groups.insert(
            record.name.as_bytes(),
            encode("access_host_groups", record)?,
        )?;
        Ok(())
    }

    pub fn host_group(&self, name: &str) -> Result<Option<HostGroupRecord>, StorageError> {
        self.host_groups
            .get(name.as_bytes())?
            .map(|bytes| decode("access_host_groups", &bytes))
            .transpose()
    }

    /// Every stored host group, by name (not the built-in [`ALL_HOSTS`]).
    pub fn host_groups(&self) -> Result<Vec<HostGroupRecord>, StorageError> {
        all(&self.host_groups, "access_host_groups")
    }

    pub fn delete_host_group(&self, name: &str) -> Result<bool, StorageError> {
        Ok(self.host_groups.remove(name.as_bytes())?.is_some())
    }

    /// Replaces a host's labels (sorted by name); empty removes them.
    pub fn set_labels(
        &self,
        agent_id: &AgentId,
        labels: &[(String, String)],
    ) -> Result<(), StorageError> {
        let key = agent_id.as_str().as_bytes();
        if labels.is_empty() {
            self.labels.remove(key)?;
        } else {
            let mut sorted = labels.to_vec();
            sorted.sort();
            self.labels
                .insert(key, encode("access_host_labels", &sorted)?)?;
        }
        Ok(())
    }

    /// A host's labels, sorted by name.
    pub fn labels(&self, agent_id: &AgentId) -> Result<Vec<(String, String)>, StorageError> {
        Ok(self
            .labels
            .get(agent_id.as_str().as_bytes())?
            .map(|bytes| decode("access_host_labels", &bytes))
            .transpose()?
            .unwrap_or_default())
    }

    /// Every labelled host with its labels.
    pub fn all_labels(&self) -> Result<Vec<(AgentId, Labels)>, StorageError> {
        self.labels
            .iter()
            .map(|item| {
                let (key, value) = item?;
                let agent_id =
                    AgentId::new(String::from_utf8_lossy(&key).into_owned()).map_err(|error| {
                        StorageError::Corrupt {
                            tree: "access_host_labels",
                            message: error.to_string(),
                        }
                    })?;
                Ok((agent_id, decode("access_host_labels", &value)?))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nas() -> AgentId {
        AgentId::new("nas").unwrap()
    }

    #[test]
    fn built_in_groups_labels_and_host_groups() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::storage::open_test_db(dir.path());
        let store = AccessStore::open(&db).unwrap();
        let admins = store.group(ADMINS).unwrap().unwrap();
        assert_eq!(admins.grants[0].right, Right::Administer);
        assert_eq!(store.groups().unwrap().len(), 2);
        // Opening again keeps what an operator changed.
        let mut viewers = store.group(VIEWERS).unwrap().unwrap();
        viewers.description = "changed".into();
        store.put_group(&viewers).unwrap();
        let store = AccessStore::open(&db).unwrap();
        assert_eq!(
            store.group(VIEWERS).unwrap().unwrap().description,
            "changed"
        );

        let labels = vec![("role".to_owned(), "media".to_owned())];
        store.set_labels(&nas(), &labels).unwrap();
        assert_eq!(store.labels(&nas()).unwrap(), labels);
        assert_eq!(store.all_labels().unwrap(), vec![(nas(), labels.clone())]);
        let media = HostGroupRecord {
            name: "media".into(),
            labels: labels.clone(),
            hosts: vec![],
            created_at_ms: 1,
        };
        assert!(media.contains(&nas(), &labels));
        assert!(!media.contains(&nas(), &[]));
        let listed = HostGroupRecord {
            labels: vec![],
            hosts: vec![nas()],
            ..media.clone()
        };
        assert!(listed.contains(&nas(), &[]));
        assert!(!listed.contains(&AgentId::new("pi").unwrap(), &labels));
        store.set_labels(&nas(), &[]).unwrap();
        assert!(store.labels(&nas()).unwrap().is_empty());
        assert!(Right::View < Right::Operate && Right::Operate < Right::Administer);
    }
}
