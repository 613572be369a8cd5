//! The running agent: collector loops that spool reports (`system`, [`storage`], `databases`,
//! [`containers`]), a connection loop that keeps one QUIC connection to the controller
//! (`connection`), and the status file that `unity-agent status` reads.

mod connection;
pub mod containers;
mod databases;
pub(crate) mod operations;
pub mod storage;
mod system;

use crate::clock;
use crate::config::Config;
use crate::identity;
use crate::spool::{Spool, TypedState};
use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch, Notify};
use unity_shared::proto::Sample;

/// What `unity-agent status` shows about the daemon; written to `status.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Status {
    pub agent_id: String,
    pub controller: String,
    /// `connecting`, `connected` or `disconnected`.
    pub connection: String,
    pub connection_since_ms: i64,
    pub last_error: Option<String>,
    pub last_collection_ms: i64,
    pub last_ack_ms: i64,
    pub certificate_not_after: i64,
    pub pid: u32,
    /// This installation of the identity (see `crate::instance`).
    pub instance_id: String,
    /// Set when the data directory was copied or moved from another machine.
    pub identity_note: Option<String>,
    /// When the oldest report or heartbeat still waiting for the controller's answer was
    /// sent; 0 when nothing waits.
    pub waiting_since_ms: i64,
}

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
}

impl AgentState {
    /// Runs `f` on the spool off the async threads.
    pub async fn with_spool<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Spool) -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        let state = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut spool = state
                .spool
                .lock()
                .map_err(|_| anyhow::anyhow!("spool lock poisoned"))?;
            Ok(f(&mut spool))
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
            .await??;
        self.spooled.notify_one();
        Ok(seq)
    }

    pub fn update_status(self: &Arc<Self>, change: impl FnOnce(&mut Status)) {
        let snapshot = match self.status.lock() {
            Ok(mut status) => {
                change(&mut status);
                status.clone()
            }
            Err(_) => return,
        };
        let path = self.config.data_dir.join("status.json");
        tokio::task::spawn_blocking(move || {
            let tmp = path.with_extension("json.tmp");
            if let Ok(bytes) = serde_json::to_vec_pretty(&snapshot) {
                if std::fs::write(&tmp, bytes).is_ok() {
                    let _ = std::fs::rename(&tmp, &path);
                }
            }
        });
    }
}

pub struct RunningAgent {
    pub state: Arc<AgentState>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Starts an enrolled agent.
pub async fn start(config: Config) -> anyhow::Result<RunningAgent> {
    let data_dir = config.data_dir.clone();
    let max_bytes = config.spool_max_bytes;
    let machine = config.machine.clone();
    let (identity, spool, instance) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let identity = identity::load(&data_dir)?;
        let instance = crate::instance::load_or_create(&data_dir, &machine)?;
        let spool_dir = identity::spool_dir(&data_dir);
        let spool = Spool::open(&spool_dir, max_bytes)
            .with_context(|| format!("opening the spool in {}", spool_dir.display()))?;
        Ok((identity, spool, instance))
    })
    .await??;
    if let Some(note) = instance.copied_note() {
        tracing::warn!(instance = %instance.id, "Identity copied: {note}.");
    }
    let controller = config
        .controller
        .clone()
        .unwrap_or_else(|| identity.controller.clone());
    tracing::info!(agent = %identity.agent_id, %controller, spooled = spool.depth(), "Agent starting.");
    let (collect_requests, collect_queue) = mpsc::channel(8);
    let update_journal = operations::open_journal(&config.data_dir);
    let state = Arc::new(AgentState {
        config,
        spool: Mutex::new(spool),
        spooled: Notify::new(),
        status: Mutex::new(Status {
            agent_id: identity.agent_id.to_string(),
            controller: controller.clone(),
            connection: "connecting".into(),
            connection_since_ms: clock::now_ms(),
            certificate_not_after: identity.not_after_unix().unwrap_or(0),
            pid: std::process::id(),
            instance_id: instance.id.to_string(),
            identity_note: instance.copied_note(),
            ..Status::default()
        }),
        collect_requests,
        container_ports: watch::Sender::new(Vec::new()),
        update_journal,
        instance,
    });
    let (shutdown, shutdown_rx) = watch::channel(false);
    let tasks = vec![
        tokio::spawn(system::collector_loop(
            state.clone(),
            collect_queue,
            shutdown_rx.clone(),
        )),
        tokio::spawn(storage::collector_loop(state.clone(), shutdown_rx.clone())),
        tokio::spawn(databases::collector_loop(
            state.clone(),
            shutdown_rx.clone(),
        )),
        tokio::spawn(containers::collector_loop(
            state.clone(),
            shutdown_rx.clone(),
        )),
        tokio::spawn(operations::recover_at_start(state.clone())),
        tokio::spawn(connection::connection_loop(
            state.clone(),
            identity,
            controller,
            shutdown_rx,
        )),
    ];
    Ok(RunningAgent {
        state,
        shutdown,
        tasks,
    })
}

impl RunningAgent {
    /// Stops collecting, closes the connection gracefully and waits for the tasks.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }

    /// Runs one collection now and returns the spooled report's sequence number.
    pub async fn collect_now(&self) -> anyhow::Result<u64> {
        let (reply, answer) = oneshot::channel();
        self.state
            .collect_requests
            .send(reply)
            .await
            .map_err(|_| anyhow::anyhow!("collector stopped"))?;
        answer.await?
    }
}
