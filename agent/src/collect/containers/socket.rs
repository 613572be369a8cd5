//! The engine's API socket: where it is ([`candidate_sockets`] is pure, [`find_socket`] looks
//! at the file system), connecting to it ([`connect`], which gives a [`Client`]), and which
//! engine answers ([`engine_kind`], pure: Podman names itself in the version endpoint's
//! components).

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::models::SystemVersion;
use bollard::{ClientVersion, Docker, API_DEFAULT_VERSION};
use unity_shared::model::container::{EngineInfo, EngineKind};

use super::SocketSetting;

/// The well-known socket paths, in the order they are tried: Docker's two, then rootful
/// Podman's. Rootless Podman's (`$XDG_RUNTIME_DIR/podman/podman.sock`) comes last.
pub const WELL_KNOWN_SOCKETS: [&str; 3] = [
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/run/podman/podman.sock",
];

/// Why there is no engine to talk to, or why a call to it failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Automatic detection found no socket.
    #[error("no container engine socket found (looked at {looked}); set containers.socket if the engine listens elsewhere")]
    NoSocket { looked: String },
    /// The configured (or `DOCKER_HOST`) socket does not exist.
    #[error("container engine socket {path} does not exist")]
    Missing { path: PathBuf },
    /// The socket exists but the agent may not connect to it.
    #[error("permission denied on {path}: the agent needs access to the engine socket (root, or the docker group; see docs/containers.md)")]
    PermissionDenied { path: PathBuf },
    /// Connecting to the socket failed (nothing listening, not a socket).
    #[error("cannot connect to {path}: {source}")]
    Connect {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// An API call failed.
    #[error("container engine at {path}: {source}")]
    Api {
        path: PathBuf,
        #[source]
        source: bollard::errors::Error,
    },
    /// An API call did not answer in time.
    #[error("container engine at {path} did not answer within {timeout:?}")]
    Timeout { path: PathBuf, timeout: Duration },
}

/// A client connected to the engine's API socket.
#[derive(Debug, Clone)]
pub struct Client {
    pub docker: Docker,
    pub info: EngineInfo,
    pub socket: PathBuf,
    /// Per API call.
    pub timeout: Duration,
}

impl Client {
    /// Runs one API call bounded by the engine's timeout.
    pub async fn call<T>(
        &self,
        request: impl std::future::Future<Output = Result<T, bollard::errors::Error>>,
    ) -> Result<T, ClientError> {
        match tokio::time::timeout(self.timeout, request).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(source)) => Err(ClientError::Api {
                path: self.socket.clone(),
                source,
            }),
            Err(_) => Err(ClientError::Timeout {
                path: self.socket.clone(),
                timeout: self.timeout,
            }),
        }
    }
}

/// The socket paths to try, in order. `docker_host` is the `DOCKER_HOST` variable (only
/// `unix://` values count) and `xdg_runtime_dir` the `XDG_RUNTIME_DIR` variable. Pure.
pub fn candidate_sockets(
    setting: &SocketSetting,
    docker_host: Option<&str>,
    xdg_runtime_dir: Option<&str>,
) -> Vec<PathBuf> {
    if let SocketSetting::Path(path) = setting {
        return vec![path.clone()];
    }
    let mut candidates = Vec::new();
    if let Some(path) = docker_host.and_then(|host| host.strip_prefix("unix://")) {
        if !path.is_empty() {
            candidates.push(PathBuf::from(path));
        }
    }
    candidates.extend(WELL_KNOWN_SOCKETS.iter().map(PathBuf::from));
    if let Some(dir) = xdg_runtime_dir.filter(|dir| !dir.is_empty()) {
        candidates.push(Path::new(dir).join("podman/podman.sock"));
    }
    candidates
}

/// The socket to use: an explicit path as is (even when missing, so that the error names it),
/// else the first candidate that exists. Note that this uses blocking `stat` calls (cheap).
pub fn find_socket(
    setting: &SocketSetting,
    candidates: &[PathBuf],
) -> Result<PathBuf, ClientError> {
    if let SocketSetting::Path(path) = setting {
        return Ok(path.clone());
    }
    candidates
        .iter()
        .find(|path| path.exists())
        .cloned()
        .ok_or_else(|| ClientError::NoSocket {
            looked: candidates
                .iter()
                .map(|path| path.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// Resolves the socket from the setting and the process environment.
pub fn resolve_socket(setting: &SocketSetting) -> Result<PathBuf, ClientError> {
    let docker_host = std::env::var("DOCKER_HOST").ok();
    let xdg_runtime_dir = std::env::var("XDG_RUNTIME_DIR").ok();
    let candidates = candidate_sockets(setting, docker_host.as_deref(), xdg_runtime_dir.as_deref());
    find_socket(setting, &candidates)
}

/// Which engine a version answer comes from. Pure.
pub fn engine_kind(version: &SystemVersion) -> EngineKind {
    let names_podman = |name: &str| name.to_ascii_lowercase().contains("podman");
    let podman_component = version
        .components
        .iter()
        .flatten()
        .any(|component| names_podman(&component.name));
    let podman_platform = version
        .platform
        .as_ref()
        .is_some_and(|platform| names_podman(&platform.name));
    if podman_component || podman_platform {
        EngineKind::Podman
    } else {
        EngineKind::Docker
    }
}

/// The engine's own version: Podman's from its component (the top-level one is the same on
/// 4.x, but the component is what Podman documents), Docker's from the top level. Pure.
pub fn engine_version(version: &SystemVersion, kind: EngineKind) -> String {
    let component = version.components.iter().flatten().find(|component| {
        let name = component.name.to_ascii_lowercase();
        match kind {
            EngineKind::Podman => name.contains("podman"),
            EngineKind::Docker => name == "engine",
        }
    });
    component
        .map(|component| component.version.clone())
        .or_else(|| version.version.clone())
        .unwrap_or_default()
}

/// The API version to speak: the engine's when it is older than bollard's default. Pure.
pub fn api_version(version: &SystemVersion) -> ClientVersion {
    let parsed = version.api_version.as_deref().and_then(|text| {
        let (major, minor) = text.split_once('.')?;
        Some(ClientVersion {
            major_version: major.parse().ok()?,
            minor_version: minor.parse().ok()?,
        })
    });
    match parsed {
        Some(server) if server < *API_DEFAULT_VERSION => server,
        _ => *API_DEFAULT_VERSION,
    }
}

/// Connects to the engine on `socket` and asks who it is. Each call is bounded by `timeout`.
pub async fn connect(socket: &Path, timeout: Duration) -> Result<Client, ClientError> {
    // A plain connect first: its error says clearly what is wrong (missing, permission,
    // nothing listening), which bollard's would not.
    match tokio::time::timeout(timeout, tokio::net::UnixStream::connect(socket)).await {
        Ok(Ok(_stream)) => {}
        Ok(Err(error)) => {
            return Err(match error.kind() {
                io::ErrorKind::NotFound => ClientError::Missing {
                    path: socket.to_owned(),
                },
                io::ErrorKind::PermissionDenied => ClientError::PermissionDenied {
                    path: socket.to_owned(),
                },
                _ => ClientError::Connect {
                    path: socket.to_owned(),
                    source: error,
                },
            })
        }
        Err(_) => {
            return Err(ClientError::Timeout {
                path: socket.to_owned(),
                timeout,
            })
        }
    }
    let path = socket.to_string_lossy().into_owned();
    let timeout_secs = timeout.as_secs().max(1);
    let docker = |version: &ClientVersion| {
        Docker::connect_with_unix(&path, timeout_secs, version).map_err(|source| ClientError::Api {
            path: socket.to_owned(),
            source,
        })
    };
    let mut client = Client {
        docker: docker(API_DEFAULT_VERSION)?,
        info: EngineInfo {
            kind: EngineKind::Docker,
            version: String::new(),
            socket: path.clone(),
        },
        socket: socket.to_owned(),
        timeout,
    };
    let version = client.call(client.docker.version()).await?;
    let kind = engine_kind(&version);
    client.info.kind = kind;
    client.info.version = engine_version(&version, kind);
    client.docker = docker(&api_version(&version))?;
    Ok(client)
}

/// Resolves the socket from the setting and connects.
pub async fn connect_with(
    setting: &SocketSetting,
    timeout: Duration,
) -> Result<Client, ClientError> {
    let socket = resolve_socket(setting)?;
    connect(&socket, timeout).await
}
