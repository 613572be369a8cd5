//! Service checks kept in the database (issue 18 §1): the checks defined through the API or
//! the dashboard (the file's are in the configuration), as the JSON the caller validated, and
//! each agent's newest result of each check. Stored as JSON so fields appended to the wire's
//! result never need a layout.

use super::StorageError;
use serde::{Deserialize, Serialize};
use unity_shared::model::service::ServiceCheckResult;
use unity_shared::proto::AgentId;

const DEFINITIONS: &str = "service_checks";
const RESULTS: &str = "service_results";

/// A check defined through the API or the dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredServiceCheck {
    pub name: String,
    /// The definition as validated (`config::service_checks::RawServiceCheck` in JSON).
    pub definition_json: String,
    pub updated_at_ms: i64,
    /// Who changed it last (the actor, as the audit log writes it).
    pub updated_by: String,
}

/// One agent's newest result of one check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredResult {
    pub agent_id: AgentId,
    pub result: ServiceCheckResult,
}

pub struct ServiceChecks {
    definitions: sled::Tree,
    results: sled::Tree,
}

fn json<T: Serialize>(tree: &'static str, value: &T) -> Result<Vec<u8>, StorageError> {
    serde_json::to_vec(value).map_err(|error| StorageError::Corrupt {
        tree,
        message: error.to_string(),
    })
}

fn from_json<T: serde::de::DeserializeOwned>(
    tree: &'static str,
    bytes: &[u8],
) -> Result<T, StorageError> {
    serde_json::from_slice(bytes).map_err(|error| StorageError::Corrupt {
        tree,
        message: error.to_string(),
    })
}

fn result_key(check: &str, agent_id: &AgentId) -> Vec<u8> {
    let mut key = check.as_bytes().to_vec();
    key.push(0);
    key.extend_from_slice(agent_id.as_str().as_bytes());
    key
}

impl ServiceChecks {
    pub fn open(db: &sled::Db) -> Result<ServiceChecks, StorageError> {
        Ok(ServiceChecks {
            definitions: db.open_tree(DEFINITIONS)?,
            results: db.open_tree(RESULTS)?,
        })
    }

    /// Creates or replaces a check.
    pub fn put(&self, check: &StoredServiceCheck) -> Result<(), StorageError> {
        self.definitions
            .insert(check.name.as_bytes(), json(DEFINITIONS, check)?)?;
        Ok(())
    }

    /// Every stored check, by name.
    pub fn all(&self) -> Result<Vec<StoredServiceCheck>, StorageError> {
        self.definitions
            .iter()
            .map(|entry| from_json(DEFINITIONS, &entry?.1))
            .collect()
    }

    /// Removes a check and its results; whether it existed.
    pub fn remove(&self, name: &str) -> Result<bool, StorageError> {
        let existed = self.definitions.remove(name.as_bytes())?.is_some();
        let mut prefix = name.as_bytes().to_vec();
        prefix.push(0);
        for entry in self.results.scan_prefix(prefix) {
            self.results.remove(entry?.0)?;
        }
        Ok(existed)
    }

    /// Keeps each result as its agent's newest of that check (an older one never replaces a
    /// newer: a replayed report).
    pub fn put_results(
        &self,
        agent_id: &AgentId,
        results: &[ServiceCheckResult],
    ) -> Result<(), StorageError> {
        for result in results {
            let key = result_key(&result.name, agent_id);
            if let Some(bytes) = self.results.get(&key)? {
                let kept: StoredResult = from_json(RESULTS, &bytes)?;
                if kept.result.checked_at_ms > result.checked_at_ms {
                    continue;
                }
            }
            let stored = StoredResult {
                agent_id: agent_id.clone(),
                result: result.clone(),
            };
            self.results.insert(key, json(RESULTS, &stored)?)?;
        }
        Ok(())
    }

    /// Every agent's newest result of every check.
    pub fn results(&self) -> Result<Vec<StoredResult>, StorageError> {
        self.results
            .iter()
            .map(|entry| from_json(RESULTS, &entry?.1))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(name: &str, at: i64, up: bool) -> ServiceCheckResult {
        ServiceCheckResult {
            name: name.into(),
            checked_at_ms: at,
            up,
            latency_ms: up.then_some(5),
            reason: (!up).then(|| "refused".into()),
            tls_days_left: None,
        }
    }

    #[test]
    fn issue_18_definitions_and_newest_results() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let store = ServiceChecks::open(&db).unwrap();
        let check = StoredServiceCheck {
            name: "web".into(),
            definition_json: "{}".into(),
            updated_at_ms: 1,
            updated_by: "user alice".into(),
        };
        store.put(&check).unwrap();
        assert_eq!(store.all().unwrap(), vec![check]);
        let nas = AgentId::new("nas-1").unwrap();
        store.put_results(&nas, &[result("web", 10, true)]).unwrap();
        store.put_results(&nas, &[result("web", 5, false)]).unwrap();
        let kept = store.results().unwrap();
        assert_eq!(kept.len(), 1);
        assert!(kept[0].result.up, "a replayed older result does not win");
        store
            .put_results(&nas, &[result("web", 20, false)])
            .unwrap();
        assert!(!store.results().unwrap()[0].result.up);
        assert!(store.remove("web").unwrap());
        assert!(store.results().unwrap().is_empty() && store.all().unwrap().is_empty());
        assert!(!store.remove("web").unwrap());
    }
}
