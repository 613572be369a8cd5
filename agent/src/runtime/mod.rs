//! The running agent: [`start`] opens the identity, the instance and the spool into the
//! [`AgentState`] the tasks share (`state`), then starts the collector loops that spool reports
//! (`system`, [`storage`], `databases`, [`containers`], `plugins`, `certificates`), the
//! recovery of interrupted container operations (`operations`), and the connection loop (`connection`) that keeps one QUIC
//! `session` with the controller. The loops write the [`Status`] that `unity-agent status`
//! reads (`status`). Nothing here is imported by what it starts.

mod certificates;
mod connection;
mod container_logs;
pub mod containers;
mod databases;
pub(crate) mod operations;
mod plugins;
mod scans;
mod service_checks;
mod session;
pub mod state;
pub mod status;
pub mod storage;
mod system;

use crate::clock;
use crate::config::Config;
use crate::identity;
use crate::spool::Spool;
use anyhow::Context as _;
use state::AgentState;
use status::Status;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch, Notify};

/// The started agent: its shared state and its tasks.
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
    let (identity, spool, agentless_spools, instance, service_checks) =
        tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            let identity = identity::load(&data_dir)?;
            let instance = crate::instance::load_or_create(&data_dir, &machine)?;
            let spool_dir = identity::spool_dir(&data_dir);
            let spool = Spool::open(&spool_dir, max_bytes)
                .with_context(|| format!("opening the spool in {}", spool_dir.display()))?;
            let agentless_dir = crate::agentless::spools::root_dir(&data_dir);
            let agentless_spools = crate::agentless::spools::Spools::open(
                &agentless_dir,
                crate::agentless::spools::per_host_max_bytes(max_bytes),
            )
            .with_context(|| {
                format!(
                    "opening the agentless spools in {}",
                    agentless_dir.display()
                )
            })?;
            let service_checks = crate::service_checks::Assignment::load(&data_dir);
            Ok((identity, spool, agentless_spools, instance, service_checks))
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
    // A probe waits this long for a secret from the controller before reporting it missing.
    let secret_wait = config
        .controller_timeout
        .min(std::time::Duration::from_secs(10));
    let state = Arc::new(AgentState {
        config,
        spool: Mutex::new(spool),
        spooled: Notify::new(),
        status: Mutex::new(Status {
            agent_id: Some(identity.agent_id.clone()),
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
        agentless: crate::agentless::Proxy::new(agentless_spools),
        secrets: Arc::new(crate::secrets::SecretCache::new(secret_wait)),
        service_checks,
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
        tokio::spawn(plugins::metrics_loop(state.clone(), shutdown_rx.clone())),
        tokio::spawn(plugins::checks_loop(state.clone(), shutdown_rx.clone())),
        tokio::spawn(certificates::collector_loop(
            state.clone(),
            shutdown_rx.clone(),
        )),
        tokio::spawn(scans::scan_loop(state.clone(), shutdown_rx.clone())),
        tokio::spawn(service_checks::run_loop(state.clone(), shutdown_rx.clone())),
        tokio::spawn(operations::recover_at_start(state.clone())),
        tokio::spawn(operations::failed_images_loop(
            state.clone(),
            shutdown_rx.clone(),
        )),
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
