//! Release notes kept for pending updates (issue 17 §3): per container, the notes of the
//! releases between what it runs and its candidate, where they came from, any error, and the
//! language-model summary with its prompt; per repository, the forge's release list for a
//! while (the cache); per forge host, until when it asked to be left alone (rate limits).

use super::{decode, encode, StorageError};
use serde::{Deserialize, Serialize};
use unity_shared::proto::AgentId;

const NOTES: &str = "release_notes";
const CACHE: &str = "release_cache";
const LIMITS: &str = "release_limits";

/// One release, as kept (the body already cut to the configured bound).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    pub tag: String,
    pub name: Option<String>,
    /// The notes as written (Markdown, usually), cut to the configured bound.
    pub body: String,
    /// The release's page.
    pub url: Option<String>,
    pub published_at: Option<String>,
    /// The body was longer than kept: its original length in bytes.
    pub truncated_from: Option<u64>,
    pub prerelease: bool,
}

/// Where the notes came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotesOrigin {
    /// `GitHub`, `GitLab`, `Gitea`, or `link` for a changelog that is only linked.
    pub provider: String,
    /// The repository's or changelog's page.
    pub url: String,
    /// What named it: `the candidate's label org.opencontainers.image.source`, …
    pub found_by: String,
}

/// The language model's summary of the notes: machine-generated, kept with its prompt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryRecord {
    pub model: String,
    pub at_ms: i64,
    /// The prompt sent, as sent.
    pub prompt: String,
    /// The answer's text as received (bounded).
    pub answer: Option<String>,
    /// "What changes for you", from the answer.
    pub summary: Option<String>,
    /// Breaking changes the model flagged.
    pub breaking: Vec<String>,
    /// Why there is no usable answer (timeout, refused, not the JSON asked for).
    pub error: Option<String>,
}

/// The notes for one container's pending update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotesRecord {
    pub agent_id: AgentId,
    pub container: String,
    /// The candidate these notes are for; notes of another candidate are stale.
    pub candidate_digest: String,
    pub fetched_at_ms: i64,
    pub origin: Option<NotesOrigin>,
    /// Newest first.
    pub releases: Vec<Release>,
    /// Why notes are missing or old (rate limited until …, unreachable, no source).
    pub error: Option<String>,
    pub summary: Option<SummaryRecord>,
}

/// A repository's release list as fetched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedReleases {
    pub fetched_at_ms: i64,
    pub releases: Vec<Release>,
}

pub struct ReleaseNotesStore {
    notes: sled::Tree,
    cache: sled::Tree,
    limits: sled::Tree,
}

fn notes_key(agent_id: &AgentId, container: &str) -> Vec<u8> {
    let mut key = agent_id.as_str().as_bytes().to_vec();
    key.push(0);
    key.extend_from_slice(container.as_bytes());
    key
}

impl ReleaseNotesStore {
    pub fn open(db: &sled::Db) -> Result<ReleaseNotesStore, StorageError> {
        Ok(ReleaseNotesStore {
            notes: db.open_tree(NOTES)?,
            cache: db.open_tree(CACHE)?,
            limits: db.open_tree(LIMITS)?,
        })
    }

    /// Replaces the container's notes.
    pub fn put(&self, record: &NotesRecord) -> Result<(), StorageError> {
        let key = notes_key(&record.agent_id, &record.container);
        self.notes.insert(key, encode(NOTES, record)?)?;
        Ok(())
    }

    pub fn get(
        &self,
        agent_id: &AgentId,
        container: &str,
    ) -> Result<Option<NotesRecord>, StorageError> {
        self.notes
            .get(notes_key(agent_id, container))?
            .map(|bytes| decode(NOTES, &bytes))
            .transpose()
    }

    /// Every container's notes.
    pub fn all(&self) -> Result<Vec<NotesRecord>, StorageError> {
        self.notes
            .iter()
            .map(|entry| decode(NOTES, &entry?.1))
            .collect()
    }

    /// Drops the notes of containers for which `keep` is false (no pending update any more).
    pub fn retain(&self, keep: impl Fn(&AgentId, &str) -> bool) -> Result<(), StorageError> {
        for record in self.all()? {
            if !keep(&record.agent_id, &record.container) {
                self.notes
                    .remove(notes_key(&record.agent_id, &record.container))?;
            }
        }
        Ok(())
    }

    pub fn cached(&self, source_key: &str) -> Result<Option<CachedReleases>, StorageError> {
        self.cache
            .get(source_key.as_bytes())?
            .map(|bytes| decode(CACHE, &bytes))
            .transpose()
    }

    pub fn put_cached(
        &self,
        source_key: &str,
        releases: &CachedReleases,
    ) -> Result<(), StorageError> {
        self.cache
            .insert(source_key.as_bytes(), encode(CACHE, releases)?)?;
        Ok(())
    }

    /// Drops cached release lists fetched before `before_ms` (bounds the cache).
    pub fn expire_cache(&self, before_ms: i64) -> Result<(), StorageError> {
        for entry in self.cache.iter() {
            let (key, bytes) = entry?;
            let cached: CachedReleases = decode(CACHE, &bytes)?;
            if cached.fetched_at_ms < before_ms {
                self.cache.remove(key)?;
            }
        }
        Ok(())
    }

    /// Until when (Unix ms) `host` asked not to be asked, if it did.
    pub fn limited_until(&self, host: &str) -> Result<Option<i64>, StorageError> {
        self.limits
            .get(host.as_bytes())?
            .map(|bytes| decode(LIMITS, &bytes))
            .transpose()
    }

    pub fn put_limit(&self, host: &str, until_ms: i64) -> Result<(), StorageError> {
        self.limits
            .insert(host.as_bytes(), encode(LIMITS, &until_ms)?)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_17_notes_cache_and_limits_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new()
            .path(dir.path())
            .temporary(true)
            .open()
            .unwrap();
        let store = ReleaseNotesStore::open(&db).unwrap();
        let agent_id = AgentId::new("nas-1").unwrap();
        let record = NotesRecord {
            agent_id: agent_id.clone(),
            container: "web".into(),
            candidate_digest: "sha256:bb".into(),
            fetched_at_ms: 5,
            origin: None,
            releases: vec![Release {
                tag: "v1.1.0".into(),
                name: None,
                body: "notes".into(),
                url: None,
                published_at: None,
                truncated_from: Some(9),
                prerelease: false,
            }],
            error: None,
            summary: None,
        };
        store.put(&record).unwrap();
        assert_eq!(store.get(&agent_id, "web").unwrap(), Some(record.clone()));
        store.retain(|_, container| container != "web").unwrap();
        assert_eq!(store.get(&agent_id, "web").unwrap(), None);
        let cached = CachedReleases {
            fetched_at_ms: 10,
            releases: record.releases.clone(),
        };
        store.put_cached("k", &cached).unwrap();
        assert_eq!(store.cached("k").unwrap(), Some(cached));
        store.expire_cache(11).unwrap();
        assert_eq!(store.cached("k").unwrap(), None);
        store.put_limit("api.github.com", 99).unwrap();
        assert_eq!(store.limited_until("api.github.com").unwrap(), Some(99));
        assert_eq!(store.limited_until("gitlab.com").unwrap(), None);
    }
}
