//! The services CA as the controller's tasks share it: created on first use (not at start, so
//! a controller that never issues a service certificate has no such root), the renewal loop's
//! wake-up, and which certificates are being issued right now (one issuance per certificate).

use super::services::{NameScope, ServicesCa};
use super::CaError;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub struct ServicesCaSlot {
    dir: PathBuf,
    scope: NameScope,
    ca: Mutex<Option<Arc<ServicesCa>>>,
    /// Wakes the renewal loop (a new declaration, a renew-now).
    pub wake: tokio::sync::Notify,
    in_flight: Mutex<HashSet<String>>,
}

/// Held while a certificate is being issued; dropping it lets the next issuance start.
pub struct InFlight<'a> {
    slot: &'a ServicesCaSlot,
    name: String,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if let Ok(mut names) = self.slot.in_flight.lock() {
            names.remove(&self.name);
        }
    }
}

impl ServicesCaSlot {
    pub fn new(dir: PathBuf, scope: NameScope) -> ServicesCaSlot {
        ServicesCaSlot {
            dir,
            scope,
            ca: Mutex::new(None),
            wake: tokio::sync::Notify::new(),
            in_flight: Mutex::new(HashSet::new()),
        }
    }

    /// The name constraints from the configuration.
    pub fn scope(&self) -> &NameScope {
        &self.scope
    }

    /// The services CA, loaded or created on first use. Note that this uses blocking I/O.
    pub fn get(&self) -> Result<Arc<ServicesCa>, CaError> {
        let mut ca = self
            .ca
            .lock()
            .map_err(|_| CaError::BadCsr("the services CA lock is poisoned".into()))?;
        if let Some(ca) = ca.as_ref() {
            return Ok(ca.clone());
        }
        let loaded = Arc::new(ServicesCa::load_or_create(&self.dir, &self.scope)?);
        *ca = Some(loaded.clone());
        Ok(loaded)
    }

    /// Marks `name` as being issued; `None` when it already is.
    pub fn begin(&self, name: &str) -> Option<InFlight<'_>> {
        let mut names = self.in_flight.lock().ok()?;
        names.insert(name.to_owned()).then(|| InFlight {
            slot: self,
            name: name.to_owned(),
        })
    }
}
