//! The update watch's state between runs, held by the context: the registry client (its tokens
//! and cached digests live as long as the controller) with what it was built for, behind the
//! lock that makes runs one at a time. [`super::run`] uses it.

use crate::updates::registry::RegistryClient;
use std::collections::HashSet;
use std::sync::Arc;

/// What the registry client was built for: plain-HTTP registries and the version of every
/// stored credential. A change of either builds a new client, so no token or authorization
/// obtained with old credentials is reused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientBasis {
    pub plain_http: HashSet<String>,
    pub credentials: Vec<(String, i64)>,
}

/// Shared between the loop and the faces: one run at a time.
pub struct UpdateWatch {
    pub(super) run_lock: tokio::sync::Mutex<Option<(ClientBasis, Arc<RegistryClient>)>>,
    /// Held by the release-notes refresh (`updates::notes`): one at a time.
    pub notes_lock: tokio::sync::Mutex<()>,
}

impl UpdateWatch {
    pub fn new() -> UpdateWatch {
        UpdateWatch {
            run_lock: tokio::sync::Mutex::new(None),
            notes_lock: tokio::sync::Mutex::new(()),
        }
    }
}

impl Default for UpdateWatch {
    fn default() -> Self {
        UpdateWatch::new()
    }
}
