//! What the client caches: a tag's digest per (registry, repository, tag) and a repository's
//! tag list per (registry, repository), both for a TTL; manifests and config `created` times by
//! digest, which never change (content-addressed), bounded in number.

use super::super::manifest::Manifest;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

/// Immutable entries kept at most; the map is cleared when it grows past this.
const MAX_IMMUTABLE: usize = 4096;

/// A map whose entries expire after a TTL.
struct Expiring<K, V> {
    entries: Mutex<HashMap<K, (V, Instant)>>,
}

impl<K: Eq + Hash, V: Clone> Expiring<K, V> {
    fn new() -> Self {
        Expiring {
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, key: &K, ttl: Duration) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(key)
            .filter(|(_, stored)| stored.elapsed() < ttl)
            .map(|(value, _)| value.clone())
    }

    fn put(&self, key: K, value: V) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_IMMUTABLE {
            entries.clear();
        }
        entries.insert(key, (value, Instant::now()));
    }

    fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

/// The client's cache; see the module docs.
pub struct Cache {
    ttl: Duration,
    digests: Expiring<(String, String, String), String>,
    tag_lists: Expiring<(String, String), Arc<Vec<String>>>,
    manifests: Expiring<String, Manifest>,
    created: Expiring<String, Option<SystemTime>>,
}

impl Cache {
    /// A cache whose tag digests and tag lists live for `ttl`.
    pub fn new(ttl: Duration) -> Cache {
        Cache {
            ttl,
            digests: Expiring::new(),
            tag_lists: Expiring::new(),
            manifests: Expiring::new(),
            created: Expiring::new(),
        }
    }

    pub fn digest(&self, registry: &str, repository: &str, tag: &str) -> Option<String> {
        let key = (registry.into(), repository.into(), tag.into());
        self.digests.get(&key, self.ttl)
    }

    pub fn put_digest(&self, registry: &str, repository: &str, tag: &str, digest: String) {
        let key = (registry.into(), repository.into(), tag.into());
        self.digests.put(key, digest);
    }

    pub fn tags(&self, registry: &str, repository: &str) -> Option<Arc<Vec<String>>> {
        self.tag_lists
            .get(&(registry.into(), repository.into()), self.ttl)
    }

    pub fn put_tags(&self, registry: &str, repository: &str, tags: Arc<Vec<String>>) {
        self.tag_lists
            .put((registry.into(), repository.into()), tags);
    }

    pub fn manifest(&self, digest: &str) -> Option<Manifest> {
        self.manifests.get(&digest.to_string(), Duration::MAX)
    }

    pub fn put_manifest(&self, digest: &str, manifest: Manifest) {
        self.manifests.put(digest.to_string(), manifest);
    }

    pub fn created(&self, digest: &str) -> Option<Option<SystemTime>> {
        self.created.get(&digest.to_string(), Duration::MAX)
    }

    pub fn put_created(&self, digest: &str, created: Option<SystemTime>) {
        self.created.put(digest.to_string(), created);
    }

    /// Forgets everything.
    pub fn clear(&self) {
        self.digests.clear();
        self.tag_lists.clear();
        self.manifests.clear();
        self.created.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn digests_expire_manifests_do_not() {
        let cache = Cache::new(Duration::from_secs(60));
        cache.put_digest("r", "app", "1.0.0", "sha256:a".into());
        cache.put_manifest(
            "sha256:m",
            Manifest::Image {
                config_digest: "sha256:c".into(),
            },
        );
        assert_eq!(
            cache.digest("r", "app", "1.0.0").as_deref(),
            Some("sha256:a")
        );
        assert_eq!(cache.digest("r", "app", "1.0.1"), None);
        tokio::time::advance(Duration::from_secs(61)).await;
        assert_eq!(cache.digest("r", "app", "1.0.0"), None);
        assert!(cache.manifest("sha256:m").is_some());
        cache.clear();
        assert!(cache.manifest("sha256:m").is_none());
    }
}
