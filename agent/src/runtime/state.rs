//! The state the agent's tasks share ([`AgentState`]): the configuration, the spool, the status,
//! the journal of container operations and this installation's instance. A leaf of the
//! runtime: the loops and the session import it, and it imports none of them.

use super::status::{self, Status};
use crate::config::Config;
use crate::spool::{Spool, SpoolError, TypedState};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot, watch, Notify};
use unity_shared::proto::Sample;

/// A collect-now request: answered with the spooled report's sequence number.
pub type CollectRequest = oneshot::Sender<anyhow::Result<u64>>;

/// State shared by the agent's tasks.
pub struct AgentState {
    pub config: Config,
    pub spool: Mutex<Spool>,
    /// Signalled when a report was spooled.
    pub spooled: Notify,
    pub status: Mutex<Status>,
    pub collect_requests: mpsc::Sender<CollectRequest>,
    /// The published ports of running containers, from the container loop's latest
    /// inventory; database discovery probes them.
    pub container_ports: watch::Sender<Vec<crate::collect::databases::ContainerPorts>>,
    /// The journal of container operations (`None` when it could not be opened).
    pub update_journal: Option<crate::update::Journal>,
    /// Which installation of the identity this is; sent in every hello.
    pub instance: crate::instance::Instance,
    /// The agentless hosts this agent is the proxy of (issue 16).
    pub agentless: crate::agentless::Proxy,
    /// Secrets drawn from the controller, in memory only; the session sends its requests.
    pub secrets: Arc<crate::secrets::SecretCache>,
    /// The service checks the controller assigned to this agent (issue 18).
    pub service_checks: crate::service_checks::Assignment,
}

impl AgentState {
    /// Runs `f` on the spool off the async threads; its error, a poisoned lock and a failed
    /// task are one error.
    pub async fn with_spool<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Spool) -> Result<T, SpoolError> + Send + 'static,
    ) -> anyhow::Result<T> {
        let state = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut spool = state
                .spool
                .lock()
                .map_err(|_| anyhow::anyhow!("spool lock poisoned"))?;
            Ok(f(&mut spool)?)
        })
        .await?
    }

    /// Spools one report (samples plus typed state) and wakes the sender; returns its
    /// sequence number.
    pub async fn spool_report(
        self: &Arc<Self>,
        collected_at_ms: i64,
        samples: Vec<Sample>,
        typed: TypedState,
    ) -> anyhow::Result<u64> {
        let seq = self
            .with_spool(move |spool| spool.append_with(collected_at_ms, samples, typed))
            .await?;
        self.spooled.notify_one();
        Ok(seq)
    }

    /// Changes the status and writes it to `status.json` (off the async threads).
    pub fn update_status(self: &Arc<Self>, change: impl FnOnce(&mut Status)) {
        let snapshot = match self.status.lock() {
            Ok(mut status) => {
                change(&mut status);
                status.clone()
            }
            Err(_) => return,
        };
        let data_dir = self.config.data_dir.clone();
        tokio::task::spawn_blocking(move || status::write(&data_dir, &snapshot));
    }
}
