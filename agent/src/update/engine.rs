//! What the update executor needs from the container engine, as a trait ([`Engine`]) so that
//! the executor's logic does not depend on a live engine, and its implementation over bollard
//! ([`Bollard`]), which serves Docker and Podman alike (Podman's Docker-compatible API), plus
//! Podman's libpod endpoint that runs a health check on demand.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::auth::DockerCredentials;
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerUpdateBody, EndpointSettings,
    ImageInspect, NetworkConnectRequest, RestartPolicy,
};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, LogsOptions, RemoveContainerOptions,
    RemoveImageOptions, RenameContainerOptions, RestartContainerOptions, StopContainerOptions,
    TagImageOptions,
};
use futures_util::StreamExt as _;
use unity_shared::model::container::EngineKind;
use unity_shared::model::update::RegistryAuth;

use super::container_exec::{self, ExecEnd, ExecError};
use super::dump_plan::ExecCommand;
use super::libpod;
use crate::collect::containers::socket::Client;
use tokio::io::AsyncWrite;

/// An engine call that failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The engine answered with an error.
    #[error("{operation}: {source}")]
    Api {
        operation: String,
        #[source]
        source: bollard::errors::Error,
    },
    /// The engine did not answer in time.
    #[error("{operation} did not finish within {after:?}")]
    Timeout { operation: String, after: Duration },
    /// Talking to the socket directly (Podman's libpod endpoint) failed.
    #[error("{operation}: {message}")]
    Socket { operation: String, message: String },
}

/// The engine operations an update needs. Names are container names (or ids); a missing
/// container or image is `Ok(None)`, not an error.
pub trait Engine: Sync {
    fn kind(&self) -> EngineKind;
    fn inspect_container(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<ContainerInspectResponse>, EngineError>> + Send;
    fn inspect_image(
        &self,
        reference: &str,
    ) -> impl Future<Output = Result<Option<ImageInspect>, EngineError>> + Send;
    /// Pulls `reference`, with credentials for this pull only.
    fn pull(
        &self,
        reference: &str,
        auth: Option<&RegistryAuth>,
    ) -> impl Future<Output = Result<(), EngineError>> + Send;
    /// Creates a container named `name`; returns its id.
    fn create(
        &self,
        name: &str,
        body: ContainerCreateBody,
    ) -> impl Future<Output = Result<String, EngineError>> + Send;
    fn rename(&self, from: &str, to: &str) -> impl Future<Output = Result<(), EngineError>> + Send;
    fn start(&self, name: &str) -> impl Future<Output = Result<(), EngineError>> + Send;
    fn stop(
        &self,
        name: &str,
        grace: Duration,
    ) -> impl Future<Output = Result<(), EngineError>> + Send;
    fn restart(
        &self,
        name: &str,
        grace: Duration,
    ) -> impl Future<Output = Result<(), EngineError>> + Send;
    /// Removes a container (forcefully, keeping its volumes); a missing one is fine.
    fn remove(&self, name: &str) -> impl Future<Output = Result<(), EngineError>> + Send;
    fn connect_network(
        &self,
        network: &str,
        container: &str,
        settings: EndpointSettings,
    ) -> impl Future<Output = Result<(), EngineError>> + Send;
    /// Runs the container's health check now (Podman runs them only when asked; Docker runs
    /// them itself, so this does nothing there).
    fn run_healthcheck(&self, name: &str) -> impl Future<Output = Result<(), EngineError>> + Send;
    /// Sets the restart policy (so that a parked container does not come back when the engine
    /// restarts). Podman 4 has no update endpoint and restarts nothing by itself: a no-op there.
    fn set_restart_policy(
        &self,
        name: &str,
        policy: RestartPolicy,
    ) -> impl Future<Output = Result<(), EngineError>> + Send;
    /// Where a volume's data is on the host (`None`: no such volume).
    fn volume_mountpoint(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<PathBuf>, EngineError>> + Send;
    /// Removes an image by id (not forced: an image in use stays).
    fn remove_image(&self, id: &str) -> impl Future<Output = Result<(), EngineError>> + Send;
    /// Tags an image (by id) as `reference` (`repo:tag`), moving the tag if it exists.
    fn tag_image(
        &self,
        image_id: &str,
        reference: &str,
    ) -> impl Future<Output = Result<(), EngineError>> + Send;
    /// The container's last `tail` log lines, stdout and stderr as the engine interleaves
    /// them; at most `max_bytes` (the newest) are kept while reading.
    fn container_logs(
        &self,
        name: &str,
        tail: usize,
        max_bytes: usize,
    ) -> impl Future<Output = Result<Vec<u8>, EngineError>> + Send;
    /// The engine's API socket, for a CLI run against the same engine (`docker compose`);
    /// `None` when there is none.
    fn socket_path(&self) -> Option<PathBuf> {
        None
    }
    /// Runs `command` inside the running `container` (`docker exec`), its stdout streamed into
    /// `stdout`, its stdin from the file `stdin`. Engines without exec refuse.
    fn exec_in(
        &self,
        container: &str,
        command: &ExecCommand,
        stdin: Option<&Path>,
        stdout: &mut (dyn AsyncWrite + Unpin + Send),
        timeout: Duration,
    ) -> impl Future<Output = Result<ExecEnd, ExecError>> + Send {
        let _ = (command, stdin, stdout, timeout);
        let why = format!("exec in {container}: this engine runs no commands in containers");
        async move { Err(ExecError::Unsupported(why)) }
    }
    /// Copies the file `source` into `container` (running or not) as `dir/name`.
    fn upload_file(
        &self,
        container: &str,
        dir: &str,
        name: &str,
        source: &Path,
    ) -> impl Future<Output = Result<(), ExecError>> + Send {
        let _ = (dir, name, source);
        let why = format!("copy into {container}: this engine copies no files into containers");
        async move { Err(ExecError::Unsupported(why)) }
    }
}

/// The bollard implementation over one connected engine.
#[derive(Debug, Clone)]
pub struct Bollard {
    pub client: Client,
    /// Longest a pull may take (the per-call timeout is much shorter).
    pub pull_timeout: Duration,
}

/// The bollard client's timeout: above every per-call timeout used below.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(3600);

impl Bollard {
    pub fn new(mut client: Client) -> Bollard {
        // bollard's own client timeout would cut a stop (grace period) or a pull short; every
        // call here is bounded by its own, longer timeout instead.
        client.docker = client.docker.with_timeout(CLIENT_TIMEOUT);
        Bollard {
            client,
            pull_timeout: Duration::from_secs(600),
        }
    }

    async fn call<T>(
        &self,
        operation: impl Into<String>,
        after: Duration,
        request: impl Future<Output = Result<T, bollard::errors::Error>>,
    ) -> Result<T, EngineError> {
        match tokio::time::timeout(after, request).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(source)) => Err(EngineError::Api {
                operation: operation.into(),
                source,
            }),
            Err(_) => Err(EngineError::Timeout {
                operation: operation.into(),
                after,
            }),
        }
    }

    fn socket(&self) -> PathBuf {
        self.client.socket.clone()
    }
}

/// True when the engine said 404 (no such container or image).
fn is_not_found(error: &EngineError) -> bool {
    matches!(
        error,
        EngineError::Api {
            source: bollard::errors::Error::DockerResponseServerError {
                status_code: 404,
                ..
            },
            ..
        }
    )
}

fn found<T>(result: Result<T, EngineError>) -> Result<Option<T>, EngineError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(error) if is_not_found(&error) => Ok(None),
        Err(error) => Err(error),
    }
}

fn grace_secs(grace: Duration) -> Option<i32> {
    Some(i32::try_from(grace.as_secs()).unwrap_or(i32::MAX))
}

impl Engine for Bollard {
    fn kind(&self) -> EngineKind {
        self.client.info.kind
    }

    async fn inspect_container(
        &self,
        name: &str,
    ) -> Result<Option<ContainerInspectResponse>, EngineError> {
        let docker = &self.client.docker;
        found(
            self.call(
                format!("inspect container {name}"),
                self.client.timeout,
                docker.inspect_container(name, None),
            )
            .await,
        )
    }

    async fn inspect_image(&self, reference: &str) -> Result<Option<ImageInspect>, EngineError> {
        let docker = &self.client.docker;
        let operation = format!("inspect image {reference}");
        let Some(mut image) = found(
            self.call(
                operation.clone(),
                self.client.timeout,
                docker.inspect_image(reference),
            )
            .await,
        )?
        else {
            return Ok(None);
        };
        if self.kind() == EngineKind::Podman {
            // The compatible answer leaves out the HEALTHCHECK; the libpod one has it.
            let request = libpod::get(
                self.socket(),
                format!("/v4.0.0/libpod/images/{reference}/json"),
            );
            match tokio::time::timeout(self.client.timeout, request).await {
                Ok(Ok((200, body))) => libpod::add_healthcheck(&mut image, &body),
                Ok(Ok((status, _))) => {
                    return Err(EngineError::Socket {
                        operation,
                        message: format!("HTTP status {status}"),
                    })
                }
                Ok(Err(error)) => {
                    return Err(EngineError::Socket {
                        operation,
                        message: error.to_string(),
                    })
                }
                Err(_) => {
                    return Err(EngineError::Timeout {
                        operation,
                        after: self.client.timeout,
                    })
                }
            }
        }
        Ok(Some(image))
    }

    async fn pull(&self, reference: &str, auth: Option<&RegistryAuth>) -> Result<(), EngineError> {
        let options = CreateImageOptions {
            from_image: Some(reference.to_owned()),
            ..CreateImageOptions::default()
        };
        let credentials = auth.map(|auth| DockerCredentials {
            username: Some(auth.username.clone()),
            password: Some(auth.password.clone()),
            serveraddress: Some(auth.server.clone()),
            ..DockerCredentials::default()
        });
        let docker = &self.client.docker;
        let pull = async {
            let mut stream = docker.create_image(Some(options), None, credentials);
            while let Some(item) = stream.next().await {
                item?;
            }
            Ok(())
        };
        self.call(format!("pull {reference}"), self.pull_timeout, pull)
            .await
    }

    async fn create(&self, name: &str, body: ContainerCreateBody) -> Result<String, EngineError> {
        let options = CreateContainerOptions {
            name: Some(name.to_owned()),
            ..CreateContainerOptions::default()
        };
        let docker = &self.client.docker;
        let created = self
            .call(
                format!("create {name}"),
                self.client.timeout,
                docker.create_container(Some(options), body),
            )
            .await?;
        Ok(created.id)
    }

    async fn rename(&self, from: &str, to: &str) -> Result<(), EngineError> {
        let options = RenameContainerOptions {
            name: to.to_owned(),
        };
        let docker = &self.client.docker;
        self.call(
            format!("rename {from} to {to}"),
            self.client.timeout,
            docker.rename_container(from, options),
        )
        .await
    }

    async fn start(&self, name: &str) -> Result<(), EngineError> {
        let docker = &self.client.docker;
        self.call(
            format!("start {name}"),
            self.client.timeout,
            docker.start_container(name, None),
        )
        .await
    }

    async fn stop(&self, name: &str, grace: Duration) -> Result<(), EngineError> {
        let options = StopContainerOptions {
            t: grace_secs(grace),
            signal: None,
        };
        let docker = &self.client.docker;
        let after = self.client.timeout + grace;
        self.call(
            format!("stop {name}"),
            after,
            docker.stop_container(name, Some(options)),
        )
        .await
    }

    async fn restart(&self, name: &str, grace: Duration) -> Result<(), EngineError> {
        let options = RestartContainerOptions {
            t: grace_secs(grace),
            signal: None,
        };
        let docker = &self.client.docker;
        let after = self.client.timeout + grace;
        self.call(
            format!("restart {name}"),
            after,
            docker.restart_container(name, Some(options)),
        )
        .await
    }

    async fn remove(&self, name: &str) -> Result<(), EngineError> {
        let options = RemoveContainerOptions {
            force: true,
            v: false,
            link: false,
        };
        let docker = &self.client.docker;
        // A forced remove of a running container stops it first: Podman waits for the
        // container's stop timeout (10 s by default) before it kills it.
        let result = self
            .call(
                format!("remove {name}"),
                self.client.timeout + Duration::from_secs(30),
                docker.remove_container(name, Some(options)),
            )
            .await;
        found(result).map(|_| ())
    }

    async fn connect_network(
        &self,
        network: &str,
        container: &str,
        settings: EndpointSettings,
    ) -> Result<(), EngineError> {
        let request = NetworkConnectRequest {
            container: container.to_owned(),
            endpoint_config: Some(settings),
        };
        let docker = &self.client.docker;
        self.call(
            format!("connect {container} to {network}"),
            self.client.timeout,
            docker.connect_network(network, request),
        )
        .await
    }

    async fn run_healthcheck(&self, name: &str) -> Result<(), EngineError> {
        if self.kind() != EngineKind::Podman {
            return Ok(());
        }
        let operation = format!("run the health check of {name}");
        let request = libpod::get(
            self.socket(),
            format!("/v4.0.0/libpod/containers/{name}/healthcheck"),
        );
        match tokio::time::timeout(self.client.timeout, request).await {
            Ok(Ok((200, _))) => Ok(()),
            Ok(Ok((status, _))) => Err(EngineError::Socket {
                operation,
                message: format!("HTTP status {status}"),
            }),
            Ok(Err(error)) => Err(EngineError::Socket {
                operation,
                message: error.to_string(),
            }),
            Err(_) => Err(EngineError::Timeout {
                operation,
                after: self.client.timeout,
            }),
        }
    }

    async fn set_restart_policy(
        &self,
        name: &str,
        policy: RestartPolicy,
    ) -> Result<(), EngineError> {
        if self.kind() == EngineKind::Podman {
            return Ok(());
        }
        let body = ContainerUpdateBody {
            restart_policy: Some(policy),
            ..ContainerUpdateBody::default()
        };
        let docker = &self.client.docker;
        self.call(
            format!("set the restart policy of {name}"),
            self.client.timeout,
            docker.update_container(name, body),
        )
        .await
    }

    async fn volume_mountpoint(&self, name: &str) -> Result<Option<PathBuf>, EngineError> {
        let docker = &self.client.docker;
        let volume = self
            .call(
                format!("inspect volume {name}"),
                self.client.timeout,
                docker.inspect_volume(name),
            )
            .await;
        Ok(found(volume)?.map(|volume| PathBuf::from(volume.mountpoint)))
    }

    async fn remove_image(&self, id: &str) -> Result<(), EngineError> {
        let docker = &self.client.docker;
        let options = RemoveImageOptions::default();
        let result = self
            .call(
                format!("remove image {id}"),
                self.client.timeout,
                docker.remove_image(id, Some(options), None),
            )
            .await;
        found(result).map(|_| ())
    }

    async fn tag_image(&self, image_id: &str, reference: &str) -> Result<(), EngineError> {
        let (repo, tag) = split_tag(reference);
        let options = TagImageOptions {
            repo: Some(repo.to_owned()),
            tag: tag.map(str::to_owned),
        };
        let docker = &self.client.docker;
        self.call(
            format!("tag {image_id} as {reference}"),
            self.client.timeout,
            docker.tag_image(image_id, Some(options)),
        )
        .await
    }

    async fn container_logs(
        &self,
        name: &str,
        tail: usize,
        max_bytes: usize,
    ) -> Result<Vec<u8>, EngineError> {
        let options = LogsOptions {
            stdout: true,
            stderr: true,
            tail: tail.to_string(),
            ..LogsOptions::default()
        };
        let docker = &self.client.docker;
        let read = async {
            let mut stream = docker.logs(name, Some(options));
            let mut bytes = Vec::new();
            while let Some(item) = stream.next().await {
                bytes.extend_from_slice(&item?.into_bytes());
                // A hostile container may write one endless line: keep only the newest.
                if bytes.len() > max_bytes.saturating_mul(2) {
                    let cut = bytes.len() - max_bytes;
                    bytes.drain(..cut);
                }
            }
            if bytes.len() > max_bytes {
                let cut = bytes.len() - max_bytes;
                bytes.drain(..cut);
            }
            Ok(bytes)
        };
        self.call(format!("logs of {name}"), self.client.timeout, read)
            .await
    }

    fn socket_path(&self) -> Option<PathBuf> {
        Some(self.socket())
    }

    async fn exec_in(
        &self,
        container: &str,
        command: &ExecCommand,
        stdin: Option<&Path>,
        stdout: &mut (dyn AsyncWrite + Unpin + Send),
        timeout: Duration,
    ) -> Result<ExecEnd, ExecError> {
        let docker = &self.client.docker;
        container_exec::exec(docker, container, command, stdin, stdout, timeout).await
    }

    async fn upload_file(
        &self,
        container: &str,
        dir: &str,
        name: &str,
        source: &Path,
    ) -> Result<(), ExecError> {
        let docker = &self.client.docker;
        container_exec::upload(docker, container, dir, name, source).await
    }
}

/// `repo:tag` → (`repo`, `Some(tag)`); a colon before the last `/` is a registry port. Pure.
pub fn split_tag(reference: &str) -> (&str, Option<&str>) {
    let name_start = reference.rfind('/').map_or(0, |slash| slash + 1);
    match reference[name_start..].rfind(':') {
        Some(colon) => (
            &reference[..name_start + colon],
            Some(&reference[name_start + colon + 1..]),
        ),
        None => (reference, None),
    }
}
