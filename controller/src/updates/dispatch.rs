//! Container operations, controller side: an operation is stored as queued, sent to its agent
//! over the authenticated command channel when the agent is connected (at once, or when it
//! returns, until the operation expires), its progress stored as it streams, and its result
//! kept as history. A connection lost mid-operation puts it back in the queue: the agent runs
//! an operation id at most once and answers a retry with the stored result, and it finishes
//! or undoes a half-done update when it starts again.

use super::credentials::CredentialKey;
use super::order::queue::Hold;
use super::reference::ImageRef;
use super::settings::UpdatesConfig;
use crate::clock::now_ms;
use crate::context::Context;
use crate::storage::operations::{OperationKind, OperationRecord, OperationState};
use std::sync::Arc;
use std::time::Duration;
use unity_shared::model::scan::VulnerabilityGate;
use unity_shared::model::secret::SecretName;
use unity_shared::model::update::{
    CommandResult, ContainerCommand, HealthPolicy, LogLine, OperationId, Probe, RegistryAuth,
    UpdateRequest,
};
use unity_shared::proto::AgentId;

/// How long the controller waits between two frames of a running operation.
const IDLE_TIMEOUT: Duration = Duration::from_secs(600);
/// The longest a single operation may run.
const TOTAL_TIMEOUT: Duration = Duration::from_secs(3600);
/// How often queued operations are looked at without a wake-up.
const POLL: Duration = Duration::from_secs(2);

/// What to do, with what the doing needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Update to `image` (a reference to pull); `digest` is the candidate it was detected as.
    Update {
        image: String,
        digest: Option<String>,
        force: bool,
        /// The container's `probe` policy, checked with the health gate.
        probe: Option<Probe>,
        /// The vulnerability gate the agent applies before the swap (issue 17 §2).
        gate: Option<VulnerabilityGate>,
    },
    Rollback,
    Restart,
    Backup,
    Restore {
        backup: String,
    },
}

impl Action {
    /// What the operation does, as stored.
    pub fn kind(&self) -> OperationKind {
        match self {
            Action::Update { .. } => OperationKind::Update,
            Action::Rollback => OperationKind::Rollback,
            Action::Restart => OperationKind::Restart,
            Action::Backup => OperationKind::Backup,
            Action::Restore { .. } => OperationKind::Restore,
        }
    }
}

/// An operation to queue.
#[derive(Debug, Clone)]
pub struct NewOperation {
    pub agent_id: AgentId,
    pub container: String,
    pub action: Action,
    pub requested_by: String,
    /// A queued operation not started within this fails as expired.
    pub expires_in: Duration,
    /// The image the container runs now, for the history.
    pub from_image: Option<String>,
}

fn new_id() -> String {
    format!("{:013x}-{:08x}", now_ms().max(0), rand::random::<u32>())
}

/// The command as stored (without credentials).
fn command_of(
    id: &str,
    container: &str,
    action: &Action,
    settings: &UpdatesConfig,
) -> ContainerCommand {
    let id = OperationId(id.to_owned());
    let container = container.to_owned();
    match action {
        Action::Update {
            image,
            digest,
            force,
            probe,
            gate,
        } => ContainerCommand::Update(UpdateRequest {
            id,
            container,
            image: pinned(image, digest.as_deref()),
            auth: None,
            health: HealthPolicy {
                probe: probe.clone(),
                ..settings.health.clone()
            },
            force: *force,
            volume_archive_limit_bytes: settings.volume_archive_max_bytes,
            vulnerability_gate: *gate,
        }),
        Action::Rollback => ContainerCommand::Rollback { id, container },
        Action::Restart => ContainerCommand::Restart { id, container },
        Action::Backup => ContainerCommand::Backup { id, container },
        Action::Restore { backup } => ContainerCommand::Restore {
            id,
            container,
            backup: backup.clone(),
        },
    }
}

/// The reference the agent is sent: with the candidate digest that was checked (and gated)
/// appended (`repo:tag@sha256:…`), so that the agent pulls that digest and not what the tag
/// names when it applies; a reference that names a digest already is sent as it is.
pub fn pinned(image: &str, digest: Option<&str>) -> String {
    match digest {
        Some(digest) if !image.contains('@') && digest.starts_with("sha256:") => {
            format!("{image}@{digest}")
        }
        _ => image.to_owned(),
    }
}

/// A reference with its tag replaced, keeping how the user wrote the rest
/// (`nginx:1.27` → `nginx:1.28`, `ghcr.io/o/app` → `ghcr.io/o/app:2.0.0`).
pub fn with_tag(reference: &str, tag: &str) -> String {
    let name = reference.split('@').next().unwrap_or(reference);
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let repository = match name[last_slash..].rfind(':') {
        Some(colon) => &name[..last_slash + colon],
        None => name,
    };
    format!("{repository}:{tag}")
}

/// Stores a queued operation and wakes the dispatch loop. Note that this uses blocking I/O.
pub fn submit(ctx: &Context, new: NewOperation) -> anyhow::Result<OperationRecord> {
    let id = new_id();
    let now = now_ms();
    let (to_image, to_digest) = match &new.action {
        Action::Update { image, digest, .. } => (Some(image.clone()), digest.clone()),
        _ => (None, None),
    };
    let record = OperationRecord {
        command: command_of(&id, &new.container, &new.action, &ctx.config.updates),
        id,
        agent_id: new.agent_id,
        container: new.container,
        action: new.action.kind(),
        requested_by: new.requested_by,
        requested_at_ms: now,
        expires_at_ms: now + new.expires_in.as_millis() as i64,
        from_image: new.from_image,
        to_image,
        to_digest,
        state: OperationState::Queued,
        started_at_ms: None,
        finished_at_ms: None,
        progress: Vec::new(),
        result: None,
        error: None,
        attempts: 0,
    };
    ctx.store.operations.put(&record)?;
    ctx.operations.wake();
    Ok(record)
}

/// Credentials for the update's registry, for this one pull by `host` (never stored on the
/// agent). When they name a secret of the store, its value reaches the host only through the
/// store's delivery path ([`Context::deliver_secret`]: in scope, not revoked, audited with
/// the operation as purpose); otherwise the operation fails saying why.
pub(crate) fn attach_credentials(
    ctx: &Context,
    host: &AgentId,
    operation: &str,
    command: &mut ContainerCommand,
) -> anyhow::Result<()> {
    let ContainerCommand::Update(request) = command else {
        return Ok(());
    };
    let registry = ImageRef::parse(&request.image)?.registry;
    let Some(record) = ctx.store.credentials.get(&registry)? else {
        return Ok(());
    };
    let key = CredentialKey::open_or_create(&ctx.config.data_dir)?;
    let mut credentials = key.open(&registry, &record.sealed)?;
    if let Some(name) = credentials.secret_reference() {
        let name = SecretName::new(name)?;
        let purpose = format!("registry credentials of {registry} for operation {operation}");
        let value = (ctx.deliver_secret)(ctx, &name, host, &purpose)
            .map_err(|error| anyhow::anyhow!("delivering secret {name}: {error}"))?
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "the credentials of {registry} name secret {name}, which is missing or \
                     whose scope does not include host {host}"
                )
            })?;
        credentials.secret = String::from_utf8(value.expose().to_vec())
            .map_err(|_| anyhow::anyhow!("secret {name} (registry {registry}) is not text"))?;
    }
    request.auth = Some(RegistryAuth {
        username: credentials.username,
        password: credentials.secret,
        server: registry,
    });
    Ok(())
}

pub(super) fn finish(
    ctx: &Context,
    id: &str,
    result: Option<CommandResult>,
    error: Option<String>,
) {
    // A backup's inspect (environment included) is stored sealed; no key, no inspect kept.
    let key = match result.as_ref().is_some_and(|result| result.backup_taken.is_some()) {
        true => crate::sealing::SealingKey::open_or_create(&ctx.config.data_dir)
            .map_err(|error| tracing::error!(%id, %error, "No sealing key: the backup's inspect is not stored."))
            .ok(),
        false => None,
    };
    let stored = ctx.store.operations.update(id, |record| {
        record.state = OperationState::Finished;
        record.finished_at_ms = Some(now_ms());
        record.result = result.clone();
        record.error = error.clone();
        if let Some(backup) = record
            .result
            .as_mut()
            .and_then(|result| result.backup_taken.as_mut())
        {
            let sealed = match &key {
                Some(key) => super::backup_sealing::seal(key, record.agent_id.as_str(), backup)
                    .map_err(|error| error.to_string()),
                None => Err("no sealing key".to_owned()),
            };
            if let Err(error) = sealed {
                tracing::error!(%error, "Cannot seal a backup: its inspect is not stored.");
                backup.inspect_json = "{}".to_owned();
            }
        }
    });
    if let Err(error) = stored {
        tracing::error!(%id, %error, "Storing an operation's result failed.");
    }
}

async fn run_one(ctx: Arc<Context>, record: OperationRecord) {
    let id = record.id.clone();
    let agent_id = record.agent_id.clone();
    let prepared = {
        let ctx = ctx.clone();
        let id = id.clone();
        tokio::task::spawn_blocking(move || -> anyhow::Result<ContainerCommand> {
            let mut command = record.command.clone();
            attach_credentials(&ctx, &record.agent_id, &id, &mut command)?;
            ctx.store.operations.update(&id, |record| {
                record.state = OperationState::Running;
                record.started_at_ms = record.started_at_ms.or(Some(now_ms()));
                record.attempts += 1;
            })?;
            Ok(command)
        })
        .await
    };
    let command = match prepared {
        Ok(Ok(command)) => command,
        Ok(Err(error)) => {
            finish(&ctx, &id, None, Some(format!("{error:#}")));
            return;
        }
        Err(error) => {
            finish(&ctx, &id, None, Some(format!("internal error: {error}")));
            return;
        }
    };
    tracing::info!(%id, agent = %agent_id, "Sending a container operation.");
    let progress_ctx = ctx.clone();
    let progress_id = id.clone();
    let outcome = ctx
        .hub
        .container_operation(
            &agent_id,
            command,
            move |progress| {
                let line = LogLine {
                    stage: progress.stage,
                    at_ms: now_ms().max(0) as u64,
                    message: progress.message,
                };
                let stored = progress_ctx
                    .store
                    .operations
                    .update(&progress_id, |record| record.progress.push(line.clone()));
                if let Err(error) = stored {
                    tracing::warn!(%error, "Storing progress failed.");
                }
            },
            IDLE_TIMEOUT,
            TOTAL_TIMEOUT,
        )
        .await;
    match outcome {
        Ok(result) => {
            tracing::info!(%id, outcome = ?result.outcome, "Container operation ended.");
            finish(&ctx, &id, Some(result), None);
        }
        Err(error) => {
            // Lost connection or timeout: queue it again; the agent recognises the id.
            tracing::warn!(%id, %error, "Container operation interrupted; queued again.");
            let _ = ctx.store.operations.update(&id, |record| {
                record.state = OperationState::Queued;
                record.error = Some(format!("interrupted: {error}"));
            });
        }
    }
}

/// Expires old queued operations and starts those whose agent is connected, queued updates
/// in their host's dependency order ([`super::order::queue`]).
async fn dispatch_ready(ctx: &Arc<Context>) -> anyhow::Result<()> {
    let store_ctx = ctx.clone();
    let (unfinished, holds) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let unfinished = store_ctx.store.operations.unfinished()?;
        let holds = super::order::holds(&store_ctx, &unfinished);
        Ok((unfinished, holds))
    })
    .await??;
    let now = now_ms();
    for record in unfinished {
        if ctx.operations.is_running(&record.id) {
            continue;
        }
        match holds.get(&record.id) {
            Some(Hold::Wait { .. }) => continue,
            Some(Hold::Stop {
                dependency,
                operation,
            }) => {
                let message = format!(
                    "not applied: the update of {dependency}, which {} depends on, failed \
                     (operation {operation})",
                    record.container
                );
                finish(ctx, &record.id, None, Some(message));
                continue;
            }
            Some(Hold::Go) | None => {}
        }
        if record.state == OperationState::Queued && record.expires_at_ms < now {
            let message = format!(
                "expired: the agent did not take it within {} s",
                (record.expires_at_ms - record.requested_at_ms) / 1000
            );
            finish(ctx, &record.id, None, Some(message));
            continue;
        }
        if !ctx.hub.is_connected(&record.agent_id) || !ctx.operations.claim(&record.id) {
            continue;
        }
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let id = record.id.clone();
            run_one(ctx.clone(), record).await;
            ctx.operations.release(&id);
        });
    }
    Ok(())
}

/// The dispatch loop, spawned by the service.
pub fn spawn(ctx: Arc<Context>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(error) = dispatch_ready(&ctx).await {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "Dispatching operations failed."
                );
            }
            tokio::select! {
                _ = ctx.operations.woken() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_tag_keeps_how_the_reference_was_written() {
        assert_eq!(with_tag("nginx:1.27", "1.28"), "nginx:1.28");
        assert_eq!(with_tag("nginx", "1.28"), "nginx:1.28");
        assert_eq!(
            with_tag("127.0.0.1:5000/lab/app:1.0.0", "1.1.0"),
            "127.0.0.1:5000/lab/app:1.1.0"
        );
        assert_eq!(with_tag("localhost:5000/app", "2"), "localhost:5000/app:2");
        assert_eq!(
            with_tag("ghcr.io/o/app:1@sha256:00", "2"),
            "ghcr.io/o/app:2"
        );
    }

    #[test]
    fn issue_17_the_agent_is_sent_the_checked_digest() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let command = command_of(
            "op",
            "web",
            &Action::Update {
                image: "127.0.0.1:5000/lab/app:2".into(),
                digest: Some(digest.clone()),
                force: false,
                probe: None,
                gate: None,
            },
            &UpdatesConfig::default(),
        );
        let ContainerCommand::Update(request) = command else {
            panic!("{command:?}")
        };
        assert_eq!(request.image, format!("127.0.0.1:5000/lab/app:2@{digest}"));
        assert_eq!(pinned("app@sha256:00", Some(&digest)), "app@sha256:00");
        assert_eq!(pinned("app:2", None), "app:2");
    }

    #[test]
    fn stored_commands_carry_no_credentials() {
        let command = command_of(
            "op",
            "web",
            &Action::Update {
                image: "app:2".into(),
                digest: None,
                force: false,
                probe: None,
                gate: None,
            },
            &UpdatesConfig::default(),
        );
        let ContainerCommand::Update(request) = command else {
            panic!("{command:?}")
        };
        assert!(request.auth.is_none());
        assert_eq!(request.id.0, "op");
    }
}
