//! The running controller: opens the CA and the store, starts the QUIC endpoint, the storage
//! writer, housekeeping, the alert, update and operation loops, the admin socket and the
//! dashboard/API server, and shuts them down in order. It only starts and stops things: what
//! they share is [`crate::context::Context`], what they do lives in their own modules.

use crate::acme::AcmeAccounts;
use crate::admin;
use crate::ca::verifier::Revocations;
use crate::ca::CertificateAuthority;
use crate::config::Config;
use crate::context::Context;
use crate::storage::series::SeriesOptions;
use crate::storage::Store;
use crate::transport::hub::Hub;
use crate::transport::{self, ingest};
use crate::updates::queue::OperationQueue;
use crate::updates::watch::slot::UpdateWatch;
use anyhow::Context as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Opens the CA and the database (blocking work, run off the async threads).
pub async fn open_state(
    config: &Config,
) -> anyhow::Result<(CertificateAuthority, Arc<Store>, Revocations)> {
    let config = config.clone();
    tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating {}", config.data_dir.display()))?;
        let ca = CertificateAuthority::load_or_create(&config.ca_dir())
            .with_context(|| format!("loading the CA in {}", config.ca_dir().display()))?;
        let store =
            Store::open(&config.database_dir(), SeriesOptions::default()).with_context(|| {
                format!(
                    "opening the database in {}",
                    config.database_dir().display()
                )
            })?;
        let revoked = store
            .agents
            .agents()?
            .into_iter()
            .filter(|agent| agent.revoked_at.is_some())
            .map(|agent| agent.agent_id);
        let revocations = Revocations::new(revoked);
        Ok((ca, Arc::new(store), revocations))
    })
    .await?
}

pub struct RunningController {
    pub local_addr: SocketAddr,
    /// Where the dashboard and REST API listen (`api_listen`, resolved).
    pub api_addr: SocketAddr,
    /// The dashboard's URL (https when it serves TLS).
    pub dashboard_url: String,
    pub context: Arc<Context>,
    endpoint: quinn::Endpoint,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    writer: tokio::task::JoinHandle<()>,
}

/// Starts the controller with `config`.
pub async fn start(config: Config) -> anyhow::Result<RunningController> {
    // Say at start, loudly, when the sealing key is unusable (e.g. readable by others): every
    // use refuses it until it is fixed.
    if config.data_dir.join(crate::sealing::KEY_FILE).exists() {
        if let Err(error) = crate::sealing::SealingKey::open_or_create(&config.data_dir) {
            tracing::error!(%error, "The sealing key cannot be used: secrets, registry credentials and ACME accounts will not open until this is fixed.");
        }
    }
    let (ca, store, revocations) = open_state(&config).await?;
    let (ingest, writer) = ingest::spawn_writer(store.clone());
    let services_ca = crate::domain::managed_certificates::services_ca_slot(&config);
    let acme_accounts = AcmeAccounts::new(&config.data_dir);
    let context = Arc::new(Context {
        config,
        store,
        ca,
        revocations,
        hub: Hub::default(),
        ingest,
        update_watch: UpdateWatch::new(),
        operations: OperationQueue::default(),
        services_ca,
        acme_accounts,
        deliver_secret,
        agentless: crate::agentless::queue::AssignmentQueue::default(),
        remote_write: Arc::default(),
        backup: Arc::default(),
    });
    let server_config = transport::server_config(&context)?;
    let data_dir = context.config.data_dir.clone();
    let endpoint_config =
        tokio::task::spawn_blocking(move || transport::endpoint_config(&data_dir)).await??;
    let listen = context.config.listen;
    let endpoint = transport::socket::bind(listen)
        .and_then(|socket| {
            quinn::Endpoint::new(
                endpoint_config,
                Some(server_config),
                socket,
                Arc::new(quinn::TokioRuntime),
            )
        })
        .with_context(|| format!("binding the QUIC endpoint to {listen}"))?;
    let local_addr = endpoint.local_addr()?;
    let mut tasks = vec![tokio::spawn(transport::accept_loop(
        endpoint.clone(),
        context.clone(),
    ))];
    // The release key agents learn at their sessions: made now (audited) if there is none.
    {
        let context = context.clone();
        tokio::task::spawn_blocking(move || {
            crate::domain::agent_builds::keyring(
                &context,
                &crate::domain::actor::Actor::Controller("release-key"),
            )
        })
        .await?
        .map_err(|error| anyhow::anyhow!("the release key: {error}"))?;
    }
    tasks.push(crate::housekeeping::spawn(context.clone()));
    tasks.push(crate::alerts::spawn(context.clone()));
    tasks.push(crate::updates::watch::spawn(context.clone()));
    tasks.push(crate::updates::dispatch::spawn(context.clone()));
    tasks.push(crate::agent_updates::dispatch::spawn(context.clone()));
    tasks.push(crate::agent_updates::fleet::spawn(context.clone()));
    tasks.push(crate::updates::auto::spawn(context.clone()));
    tasks.push(crate::domain::managed_certificates::renewal::spawn(
        context.clone(),
    ));
    tasks.push(crate::domain::ssh_ca::renewal::spawn(context.clone()));
    tasks.push(crate::domain::ssh_access::apply::spawn(context.clone()));
    tasks.push(crate::agentless::spawn(context.clone()));
    tasks.extend(crate::remote_write::spawn(&context));
    tasks.extend(crate::domain::controller_backup::schedule::spawn(
        context.clone(),
    ));
    match admin::serve(context.clone()).await {
        Ok(task) => tasks.push(task),
        Err(error) => {
            tracing::warn!(%error, "Admin socket unavailable; CLI commands need the daemon stopped.")
        }
    }
    let routes = crate::web::with_error_pages(
        crate::api::routes(&context.config)
            .merge(crate::web::routes())
            .into_router(),
    );
    let (api_addr, https, api_task) = crate::http::server::serve(context.clone(), routes).await?;
    tasks.push(api_task);
    let dashboard_url = crate::http::server::dashboard_url(api_addr, https);
    tracing::info!(%local_addr, ca_hash = %context.ca.ca_hash(), "Controller listening.");
    tracing::info!(url = %dashboard_url, "Dashboard and API listening.");
    Ok(RunningController {
        local_addr,
        api_addr,
        dashboard_url,
        context,
        endpoint,
        tasks,
        writer,
    })
}

impl RunningController {
    /// Stops accepting, closes agent connections, drains the writer and checkpoints the store.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.endpoint.close(
            unity_shared::proto::error_code::SHUTDOWN.into(),
            b"controller shutting down",
        );
        for task in &self.tasks {
            task.abort();
        }
        let context = self.context;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.endpoint.wait_idle()).await;
        let _ = std::fs::remove_file(context.config.admin_socket());
        let store = context.store.clone();
        drop(context);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.writer).await;
        tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            store.series.checkpoint()?;
            store.flush()?;
            Ok(())
        })
        .await??;
        Ok(())
    }
}

/// A context without network endpoint, for CLI commands run while the daemon is stopped.
pub async fn offline_context(config: Config) -> anyhow::Result<Arc<Context>> {
    let (ca, store, revocations) = open_state(&config).await.map_err(|error| {
        error.context("is the controller running under another user, or is the socket missing?")
    })?;
    let (ingest, _writer) = ingest::spawn_writer(store.clone());
    let services_ca = crate::domain::managed_certificates::services_ca_slot(&config);
    let acme_accounts = AcmeAccounts::new(&config.data_dir);
    Ok(Arc::new(Context {
        config,
        store,
        ca,
        revocations,
        hub: Hub::default(),
        ingest,
        update_watch: UpdateWatch::new(),
        operations: OperationQueue::default(),
        services_ca,
        acme_accounts,
        deliver_secret,
        agentless: crate::agentless::queue::AssignmentQueue::default(),
        remote_write: Arc::default(),
        backup: Arc::default(),
    }))
}

/// The store's rules for giving a secret to a host ([`Context::deliver_secret`]).
fn deliver_secret(
    ctx: &Context,
    name: &unity_shared::model::secret::SecretName,
    host: &unity_shared::proto::AgentId,
    purpose: &str,
) -> Result<
    Option<unity_shared::model::secret::SecretValue>,
    Box<dyn std::error::Error + Send + Sync>,
> {
    Ok(crate::domain::secrets::deliver(ctx, name, host, purpose)?)
}
