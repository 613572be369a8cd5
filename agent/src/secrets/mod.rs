//! Secrets drawn from the controller's store, in memory only. A collector asks
//! [`SecretCache::get`] for a name; a cached value is returned at once, otherwise the session
//! sends a `SecretRequest` (the cache's outbox) and the reply wakes the waiter. The
//! controller's `SecretsWithdrawn` removes values, and a new session starts with an empty
//! cache (withdrawals missed while away cannot leave a stale value behind). Nothing here is
//! written to disk or logged: [`SecretValue`]'s `Debug` is redacted. A tool that needs a file
//! gets a [`SecretFile`]: 0600, removed when dropped. See `docs/secrets.md`.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::{oneshot, Notify};
use unity_shared::model::secret::{
    SecretAnswer, SecretName, SecretReply, SecretRequest, SecretValue,
};

/// The in-memory secret cache and the queue of requests for the session to send.
pub struct SecretCache {
    values: Mutex<HashMap<SecretName, SecretValue>>,
    waiting: Mutex<HashMap<u64, oneshot::Sender<Vec<SecretAnswer>>>>,
    outbox: Mutex<Vec<SecretRequest>>,
    /// Signalled when the outbox has requests to send.
    pub wanted: Notify,
    next_id: AtomicU64,
    connected: AtomicBool,
    wait: Duration,
}

impl std::fmt::Debug for SecretCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretCache(<redacted>)")
    }
}

impl SecretCache {
    /// An empty cache; [`SecretCache::get`] waits at most `wait` for the controller.
    pub fn new(wait: Duration) -> SecretCache {
        SecretCache {
            values: Mutex::new(HashMap::new()),
            waiting: Mutex::new(HashMap::new()),
            outbox: Mutex::new(Vec::new()),
            wanted: Notify::new(),
            next_id: AtomicU64::new(1),
            connected: AtomicBool::new(false),
            wait,
        }
    }

    /// The value of `name`: cached, or asked of the controller when connected. `None` when
    /// the controller is not connected, does not answer in time, or gives nothing (no such
    /// secret, or this host is not in its scope).
    pub async fn get(&self, name: &SecretName) -> Option<SecretValue> {
        if let Some(value) = self.cached(name) {
            return Some(value);
        }
        if !self.connected.load(Ordering::SeqCst) {
            return None;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (answer, answered) = oneshot::channel();
        lock(&self.waiting).insert(id, answer);
        lock(&self.outbox).push(SecretRequest {
            id,
            names: vec![name.clone()],
        });
        self.wanted.notify_one();
        match tokio::time::timeout(self.wait, answered).await {
            Ok(Ok(answers)) => answers
                .into_iter()
                .find(|answer| &answer.name == name)
                .and_then(|answer| answer.value),
            _ => {
                lock(&self.waiting).remove(&id);
                None
            }
        }
    }

    fn cached(&self, name: &SecretName) -> Option<SecretValue> {
        lock(&self.values).get(name).cloned()
    }

    /// The requests waiting to be sent (the session sends them).
    pub fn take_requests(&self) -> Vec<SecretRequest> {
        std::mem::take(&mut *lock(&self.outbox))
    }

    /// The controller answered: cache the values given and wake the waiter.
    pub fn answered(&self, reply: SecretReply) {
        {
            let mut values = lock(&self.values);
            for answer in &reply.answers {
                match &answer.value {
                    Some(value) => values.insert(answer.name.clone(), value.clone()),
                    None => values.remove(&answer.name),
                };
            }
        }
        if let Some(waiter) = lock(&self.waiting).remove(&reply.id) {
            let _ = waiter.send(reply.answers);
        }
    }

    /// The controller withdrew these values: forget them.
    pub fn withdraw(&self, names: &[SecretName]) {
        let mut values = lock(&self.values);
        for name in names {
            values.remove(name);
        }
    }

    /// A session was welcomed: start from an empty cache.
    pub fn session_started(&self) {
        lock(&self.values).clear();
        self.connected.store(true, Ordering::SeqCst);
    }

    /// The session ended: waiters get nothing, unsent requests are dropped. Cached values
    /// stay until the next session starts (probes keep working while the controller is
    /// briefly away).
    pub fn session_ended(&self) {
        self.connected.store(false, Ordering::SeqCst);
        lock(&self.waiting).clear();
        lock(&self.outbox).clear();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A secret written to a file for a tool that only reads files: created 0600 (never
/// readable by others, even for a moment), removed when dropped.
#[derive(Debug)]
pub struct SecretFile {
    path: PathBuf,
}

impl SecretFile {
    /// Writes `value` to a new file with a random name in `dir`.
    ///
    /// Note that this uses blocking I/O.
    pub fn create(dir: &Path, value: &SecretValue) -> std::io::Result<SecretFile> {
        let suffix: u128 = rand::random();
        let path = dir.join(format!(".unity-secret-{suffix:032x}"));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&path)?;
        // From here on, dropping the guard removes the file, also when writing fails.
        let guard = SecretFile { path };
        file.write_all(value.expose())?;
        file.sync_all()?;
        Ok(guard)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SecretFile {
    fn drop(&mut self) {
        if let Err(error) = std::fs::remove_file(&self.path) {
            tracing::warn!(path = %self.path.display(), %error, "Removing a secret's file failed.");
        }
    }
}

#[cfg(test)]
mod tests;
