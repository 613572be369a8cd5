//! Enrolled agents (their records and newest typed state) and join tokens: small records,
//! postcard-encoded, one key each.

use super::StorageError;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use unity_shared::proto::{AgentId, HostFacts, InstallKind};

/// One enrolled agent, as the controller knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentRecord {
    pub agent_id: AgentId,
    pub hostname: String,
    pub host: HostFacts,
    pub enrolled_at: i64,
    /// Serial (hex) and expiry (Unix seconds) of the newest certificate issued to it.
    pub certificate_serial: String,
    pub certificate_not_after: i64,
    pub revoked_at: Option<i64>,
    /// Unix milliseconds of the last message received; 0 if never connected.
    pub last_seen_ms: i64,
    pub agent_version: String,
    /// Cumulative reports the agent's spool had to drop, as last reported.
    pub dropped_reports: u64,
    /// How the agent was installed, from its last hello (appended in protocol 11; records
    /// written before read as [`InstallKind::Unknown`], see `decode_agent`).
    pub install: InstallKind,
}

/// An [`AgentRecord`] as controllers before protocol 11 stored it (without `install`).
#[derive(Deserialize)]
struct AgentRecordBefore11 {
    agent_id: AgentId,
    hostname: String,
    host: HostFacts,
    enrolled_at: i64,
    certificate_serial: String,
    certificate_not_after: i64,
    revoked_at: Option<i64>,
    last_seen_ms: i64,
    agent_version: String,
    dropped_reports: u64,
}

/// Decodes a stored agent record of either layout.
fn decode_agent(bytes: &[u8]) -> Result<AgentRecord, StorageError> {
    if let Ok(record) = postcard::from_bytes::<AgentRecord>(bytes) {
        return Ok(record);
    }
    let old: AgentRecordBefore11 = decode("agents", bytes)?;
    Ok(AgentRecord {
        agent_id: old.agent_id,
        hostname: old.hostname,
        host: old.host,
        enrolled_at: old.enrolled_at,
        certificate_serial: old.certificate_serial,
        certificate_not_after: old.certificate_not_after,
        revoked_at: old.revoked_at,
        last_seen_ms: old.last_seen_ms,
        agent_version: old.agent_version,
        dropped_reports: old.dropped_reports,
        install: InstallKind::Unknown,
    })
}

#[cfg(test)]
impl AgentRecord {
    /// An enrolled, unrevoked agent on a Debian host named `hostname`: the record the
    /// controller's tests put in the store.
    pub fn enrolled_for_tests(agent_id: AgentId, hostname: &str) -> AgentRecord {
        AgentRecord {
            agent_id,
            hostname: hostname.into(),
            host: HostFacts {
                hostname: hostname.into(),
                os: "Debian".into(),
                os_version: "12".into(),
                kernel: "6".into(),
                arch: "x86_64".into(),
                cpu_model: "cpu".into(),
                n_cpus: 1,
                memory_bytes: 1,
            },
            enrolled_at: 0,
            certificate_serial: "00".into(),
            certificate_not_after: 2_000_000_000,
            revoked_at: None,
            last_seen_ms: 0,
            agent_version: "0".into(),
            dropped_reports: 0,
            install: InstallKind::Unknown,
        }
    }
}

/// A join token, stored under the SHA-256 of the token so the database never holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub token_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub used_by: Option<AgentId>,
}

/// The key a join token is stored under: the SHA-256 of the token as typed (surrounding
/// whitespace ignored), so the database never holds the token itself.
pub fn token_hash(token: &str) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(token.trim().as_bytes()).into()
}

/// Why a token cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenRefusal {
    /// No token with that hash exists.
    #[error("unknown token")]
    Unknown,
    /// The token's lifetime has passed.
    #[error("expired token")]
    Expired,
    /// The token was used before.
    #[error("token already used")]
    AlreadyUsed,
}

/// Why a token was not consumed.
#[derive(Debug, thiserror::Error)]
pub enum ConsumeError {
    /// The token cannot be used.
    #[error(transparent)]
    Refused(#[from] TokenRefusal),
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

pub struct Agents {
    agents: sled::Tree,
    tokens: sled::Tree,
    /// The newest typed state per agent and kind (storage stack, databases, ...), in the tree
    /// named by [`latest_tree_name`] for this build's protocol version.
    latest: sled::Tree,
}

/// The tree that holds the newest state, named after the protocol version whose wire types it
/// holds. Postcard carries no field names: a value written by a build whose wire types had
/// fewer fields can decode as *other* values (one container's first bytes read as the
/// previous container's new field) instead of failing. Naming the tree by layout makes that
/// impossible: a build never reads another layout's values; it starts from none and the
/// agents' next reports fill it.
fn latest_tree_name() -> String {
    format!("latest.v{}", unity_shared::proto::PROTOCOL_VERSION)
}

/// Trees of newest state left by builds of other protocol versions (and the unversioned tree
/// of builds before this rule), dropped at open.
fn is_stale_latest_tree(name: &[u8], current: &str) -> bool {
    let is_latest = name == b"latest" || name.starts_with(b"latest.v");
    is_latest && name != current.as_bytes()
}

/// Kinds of typed state kept per agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateKind {
    Storage,
    Databases,
    /// The container engine's inventory (without its events, which go to the event log).
    Containers,
    /// The plugin sources (textfiles, exporters) as of the newest collection.
    PluginSources,
    /// The local checks' newest results.
    Checks,
    /// The certificate inventory (files and TLS ports).
    Certificates,
    /// The vulnerability scanner and the scans of the host's images (issue 17 §2).
    ImageScans,
}

impl StateKind {
    /// The kind's name in keys and logs.
    pub fn word(self) -> &'static str {
        match self {
            StateKind::Storage => "storage",
            StateKind::Databases => "databases",
            StateKind::Containers => "containers",
            StateKind::PluginSources => "plugin_sources",
            StateKind::Checks => "checks",
            StateKind::Certificates => "certificates",
            StateKind::ImageScans => "image_scans",
        }
    }

    fn key(self, agent_id: &AgentId) -> Vec<u8> {
        format!("{agent_id}\0{}", self.word()).into_bytes()
    }
}

fn encode<T: Serialize>(record: &T) -> Result<Vec<u8>, StorageError> {
    postcard::to_allocvec(record).map_err(|error| StorageError::Corrupt {
        tree: "agents",
        message: error.to_string(),
    })
}

fn decode<T: DeserializeOwned>(tree: &'static str, bytes: &[u8]) -> Result<T, StorageError> {
    postcard::from_bytes(bytes).map_err(|error| StorageError::Corrupt {
        tree,
        message: error.to_string(),
    })
}

impl Agents {
    pub fn open(db: &sled::Db) -> Result<Agents, StorageError> {
        Ok(Agents {
            agents: db.open_tree("agents")?,
            tokens: db.open_tree("tokens")?,
            latest: Agents::open_latest(db)?,
        })
    }

    fn open_latest(db: &sled::Db) -> Result<sled::Tree, StorageError> {
        let current = latest_tree_name();
        for name in db.tree_names() {
            if is_stale_latest_tree(&name, &current) {
                tracing::info!(
                    tree = %String::from_utf8_lossy(&name),
                    "Dropping the newest-state cache of another protocol version; the agents' next reports refill it."
                );
                db.drop_tree(&name)?;
            }
        }
        Ok(db.open_tree(current)?)
    }

    pub fn put_token(
        &self,
        token_hash: [u8; 32],
        record: &TokenRecord,
    ) -> Result<(), StorageError> {
        self.tokens.insert(token_hash, encode(record)?)?;
        Ok(())
    }

    pub fn tokens(&self) -> Result<Vec<TokenRecord>, StorageError> {
        self.tokens
            .iter()
            .values()
            .map(|value| decode("tokens", &value?))
            .collect()
    }

    /// Marks the token used by `agent_id` if it is valid at `now` (Unix seconds). Atomic: of
    /// two concurrent enrollments with one token, exactly one succeeds.
    pub fn consume_token(
        &self,
        token_hash: [u8; 32],
        now: i64,
        agent_id: &AgentId,
    ) -> Result<TokenRecord, ConsumeError> {
        loop {
            let current = self.tokens.get(token_hash).map_err(StorageError::from)?;
            let Some(current) = current else {
                return Err(TokenRefusal::Unknown.into());
            };
            let mut record: TokenRecord = decode("tokens", &current)?;
            if record.used_at.is_some() {
                return Err(TokenRefusal::AlreadyUsed.into());
            }
            if now >= record.expires_at {
                return Err(TokenRefusal::Expired.into());
            }
            record.used_at = Some(now);
            record.used_by = Some(agent_id.clone());
            let swapped = self
                .tokens
                .compare_and_swap(token_hash, Some(current), Some(encode(&record)?))
                .map_err(StorageError::from)?;
            if swapped.is_ok() {
                return Ok(record);
            }
        }
    }

    pub fn put_agent(&self, record: &AgentRecord) -> Result<(), StorageError> {
        self.agents
            .insert(record.agent_id.as_str().as_bytes(), encode(record)?)?;
        Ok(())
    }

    pub fn agent(&self, agent_id: &AgentId) -> Result<Option<AgentRecord>, StorageError> {
        self.agents
            .get(agent_id.as_str().as_bytes())?
            .map(|bytes| decode_agent(&bytes))
            .transpose()
    }

    /// Forgets a host record and its newest typed state (an agentless host removed).
    pub fn remove_agent(&self, agent_id: &AgentId) -> Result<(), StorageError> {
        self.agents.remove(agent_id.as_str().as_bytes())?;
        for kind in [
            StateKind::Storage,
            StateKind::Databases,
            StateKind::Containers,
            StateKind::PluginSources,
            StateKind::Checks,
            StateKind::Certificates,
            StateKind::ImageScans,
        ] {
            self.latest.remove(kind.key(agent_id))?;
        }
        Ok(())
    }

    pub fn agents(&self) -> Result<Vec<AgentRecord>, StorageError> {
        self.agents
            .iter()
            .values()
            .map(|value| decode_agent(&value?))
            .collect()
    }

    /// Keeps `value` as the agent's newest state of `kind` unless a newer one is stored (a
    /// replayed old report must not overwrite fresh state). Not flushed here: the report's
    /// ingest flush makes it durable before the report is acknowledged.
    pub fn put_latest<T: Serialize>(
        &self,
        agent_id: &AgentId,
        kind: StateKind,
        collected_at_ms: i64,
        value: &T,
    ) -> Result<bool, StorageError> {
        let key = kind.key(agent_id);
        let encoded = encode(&(collected_at_ms, value))?;
        loop {
            let current = self.latest.get(&key)?;
            if let Some(bytes) = &current {
                let stored_at: i64 = postcard::take_from_bytes::<i64>(bytes)
                    .map(|(at, _)| at)
                    .unwrap_or(i64::MIN);
                if stored_at > collected_at_ms {
                    return Ok(false);
                }
            }
            let swapped = self
                .latest
                .compare_and_swap(&key, current, Some(encoded.clone()))?;
            if swapped.is_ok() {
                return Ok(true);
            }
        }
    }

    /// The agent's newest state of `kind`, with its collection time. This tree is a cache of
    /// the newest report's state, not history: a value stored in an older layout (a wire type
    /// inside it gained a field since) reads as none, with a warning, until the agent's next
    /// report replaces it, rather than failing every page and check that looks at it.
    pub fn latest<T: DeserializeOwned>(
        &self,
        agent_id: &AgentId,
        kind: StateKind,
    ) -> Result<Option<(i64, T)>, StorageError> {
        let Some(bytes) = self.latest.get(kind.key(agent_id))? else {
            return Ok(None);
        };
        match decode("latest", &bytes) {
            Ok(value) => Ok(Some(value)),
            Err(error) => {
                tracing::warn!(
                    agent = %agent_id,
                    kind = kind.word(),
                    %error,
                    "Stored state is of an older layout; waiting for the agent's next report."
                );
                Ok(None)
            }
        }
    }

    /// Forgets the agent's newest state of `kind` (a revoked host's certificates).
    pub fn remove_latest(&self, agent_id: &AgentId, kind: StateKind) -> Result<(), StorageError> {
        self.latest.remove(kind.key(agent_id))?;
        Ok(())
    }

    /// Applies `change` to the agent's record atomically; `None` if the agent is unknown.
    pub fn update_agent(
        &self,
        agent_id: &AgentId,
        change: impl Fn(&mut AgentRecord),
    ) -> Result<Option<AgentRecord>, StorageError> {
        let key = agent_id.as_str().as_bytes();
        loop {
            let Some(current) = self.agents.get(key)? else {
                return Ok(None);
            };
            let mut record: AgentRecord = decode_agent(&current)?;
            change(&mut record);
            let swapped =
                self.agents
                    .compare_and_swap(key, Some(current), Some(encode(&record)?))?;
            if swapped.is_ok() {
                return Ok(Some(record));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agents() -> (tempfile::TempDir, Agents) {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::storage::open_test_db(dir.path());
        (dir, Agents::open(&db).unwrap())
    }

    /// Issue 17 appended `network_mode` to the wire's container: an inventory the controller
    /// stored before reads as none (not an error on every page) until the next report.
    #[test]
    fn issue_17_state_of_an_older_layout_reads_as_none_until_the_next_report() {
        #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
        struct Old {
            names: Vec<String>,
        }
        #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
        struct New {
            names: Vec<String>,
            network_modes: Vec<String>,
        }
        let (_dir, agents) = agents();
        let nas = AgentId::new("nas").unwrap();
        let old = Old {
            names: vec!["web".into()],
        };
        assert!(agents
            .put_latest(&nas, StateKind::Containers, 5, &old)
            .unwrap());
        let read: Option<(i64, New)> = agents.latest(&nas, StateKind::Containers).unwrap();
        assert_eq!(read, None);
        // A replay older than the stored value still does not overwrite it ...
        let new = New {
            names: vec!["web".into()],
            network_modes: vec!["bridge".into()],
        };
        assert!(!agents
            .put_latest(&nas, StateKind::Containers, 4, &new)
            .unwrap());
        // ... and the next report does.
        assert!(agents
            .put_latest(&nas, StateKind::Containers, 6, &new)
            .unwrap());
        assert_eq!(
            agents.latest(&nas, StateKind::Containers).unwrap(),
            Some((6, new))
        );
    }

    /// Values of another protocol version's layout are never read: their trees are dropped
    /// at open, so a shorter old value cannot decode as wrong values of the new layout.
    #[test]
    fn newest_state_of_another_protocol_version_is_dropped_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::storage::open_test_db(dir.path());
        let nas = AgentId::new("nas").unwrap();
        let key = StateKind::Containers.key(&nas);
        let old_value = postcard::to_allocvec(&(5_i64, vec!["web".to_owned()])).unwrap();
        for old in ["latest", "latest.v1"] {
            db.open_tree(old)
                .unwrap()
                .insert(&key, old_value.clone())
                .unwrap();
        }
        db.open_tree("latest_other")
            .unwrap()
            .insert(b"k", b"v")
            .unwrap();
        let agents = Agents::open(&db).unwrap();
        let names: Vec<String> = db
            .tree_names()
            .iter()
            .map(|name| String::from_utf8_lossy(name).into_owned())
            .collect();
        assert!(!names.contains(&"latest".to_owned()), "{names:?}");
        assert!(!names.contains(&"latest.v1".to_owned()), "{names:?}");
        assert!(names.contains(&"latest_other".to_owned()), "{names:?}");
        assert!(names.contains(&latest_tree_name()), "{names:?}");
        let read: Option<(i64, Vec<String>)> = agents.latest(&nas, StateKind::Containers).unwrap();
        assert_eq!(read, None);
        assert!(agents
            .put_latest(&nas, StateKind::Containers, 6, &vec!["db".to_owned()])
            .unwrap());
        drop(agents);
        // Reopening with the same version keeps what this build wrote.
        let agents = Agents::open(&db).unwrap();
        let read: Option<(i64, Vec<String>)> = agents.latest(&nas, StateKind::Containers).unwrap();
        assert_eq!(read, Some((6, vec!["db".to_owned()])));
    }

    #[test]
    fn token_is_single_use_and_expires() {
        let (_dir, agents) = agents();
        let agent = AgentId::new("a1").unwrap();
        let record = TokenRecord {
            token_id: "t1".into(),
            created_at: 0,
            expires_at: 100,
            used_at: None,
            used_by: None,
        };
        agents.put_token([1; 32], &record).unwrap();
        agents.put_token([2; 32], &record).unwrap();
        let refusal = |result: Result<TokenRecord, ConsumeError>| match result {
            Err(ConsumeError::Refused(refusal)) => Some(refusal),
            Err(ConsumeError::Storage(error)) => panic!("{error}"),
            Ok(_) => None,
        };
        assert_eq!(
            refusal(agents.consume_token([9; 32], 10, &agent)),
            Some(TokenRefusal::Unknown)
        );
        assert_eq!(refusal(agents.consume_token([1; 32], 10, &agent)), None);
        assert_eq!(
            refusal(agents.consume_token([1; 32], 11, &agent)),
            Some(TokenRefusal::AlreadyUsed)
        );
        assert_eq!(
            refusal(agents.consume_token([2; 32], 100, &agent)),
            Some(TokenRefusal::Expired)
        );
    }
}
