//! Real container engines, each in its own temporary directory with its own API socket:
//! [`Dockerd`] (Debian `docker.io`) and [`Podman`] (`podman system service`). Both implement
//! [`ContainerEngine`]: the socket, the matching CLI pointed at it, networks with unique
//! bridge names, and the busybox base image (see [`crate::image`]).
//!
//! Host hygiene, so that tests can run side by side and leave nothing behind:
//! - dockerd runs with `--iptables=false` (no shared `DOCKER` chains; published ports go
//!   through docker-proxy on 127.0.0.1) and a default bridge of its own (a uniquely named
//!   Linux bridge the testbed creates), never `docker0`.
//! - Podman gets `containers.conf`/`storage.conf` in the temporary directory (runc, cgroupfs,
//!   file event log, capped ulimits, CNI configs in the directory) and a default network with
//!   a unique bridge name.
//! - Every engine draws its subnets from a /16 of 10.0.0.0/8 not routed on the host.
//! - Dropping an engine removes its containers and networks (so CNI and docker-proxy clean up
//!   after themselves), stops the daemon, deletes the bridges and unmounts what is left.

mod host;
mod podman;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};

pub use host::{free_pool, http, require, tail, unique_name};
pub use podman::Podman;

use host::{checked, kill_leftovers, remove_everything, scrub, stop, wait_for_ping};

/// Which engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    Docker,
    Podman,
}

/// What tests need from an engine.
pub trait ContainerEngine {
    fn kind(&self) -> EngineKind;
    /// The API socket.
    fn socket_path(&self) -> &Path;
    /// The temporary directory the engine lives in (bind-mount sources can go here).
    fn dir(&self) -> &Path;
    /// The CLI (`docker` or `podman --url ...`) against this engine, ready for arguments.
    fn command(&self) -> Command;

    /// `unix:///...`, for `DOCKER_HOST`.
    fn docker_host(&self) -> String {
        format!("unix://{}", self.socket_path().display())
    }

    /// Runs the CLI; fails with its stderr unless it exits 0. Returns stdout, trimmed.
    fn cli(&self, args: &[&str]) -> anyhow::Result<String> {
        let output = self
            .command()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running {:?} {args:?}", self.kind()))?;
        checked(output, args)
    }

    /// A bridge network with a unique bridge name (and a free subnet); returns its name.
    ///
    /// Podman picks the free subnet by listing the host's interfaces and then their routes; an
    /// interface that another test's engine deletes in between fails the call with "no such
    /// network interface". That race is the host's, not the code under test's: it is retried
    /// a few times, and any other answer fails at once.
    fn create_network(&self, name: &str) -> anyhow::Result<String> {
        let body = serde_json::json!({
            "Name": name,
            "Options": { "com.docker.network.bridge.name": unique_name("ut") },
        });
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (status, answer) = http(
                self.socket_path(),
                "POST",
                "/networks/create",
                Some(&body.to_string()),
            )?;
            if status == 201 || status == 200 {
                return Ok(name.to_owned());
            }
            if attempt < 6 && answer.contains("no such network interface") {
                std::thread::sleep(Duration::from_millis(250 * attempt));
                continue;
            }
            bail!("creating network {name}: HTTP {status}: {answer}");
        }
    }
}

/// A dockerd of its own. Dropping it removes its containers and networks and stops it.
pub struct Dockerd {
    dir: tempfile::TempDir,
    child: Child,
    socket: PathBuf,
    bridge: String,
}

impl Dockerd {
    /// Starts dockerd and waits for `_ping`; panics with the reason (a missing package says
    /// which).
    pub fn start() -> Dockerd {
        Dockerd::try_start().unwrap_or_else(|error| panic!("starting dockerd: {error:#}"))
    }

    pub fn try_start() -> anyhow::Result<Dockerd> {
        let dockerd = require("dockerd", "docker.io")?;
        require("docker", "docker.io")?;
        require("ip", "iproute2")?;
        let dir = tempfile::Builder::new()
            .prefix("unity-dockerd-")
            .tempdir()?;
        let socket = dir.path().join("docker.sock");
        let pool = free_pool()?;
        // The default bridge, ours alone: dockerd would otherwise share `docker0`.
        let bridge = unique_name("ud");
        let ip = |args: &[&str]| -> anyhow::Result<()> {
            let output = Command::new("ip").args(args).output()?;
            checked(output, args).map(|_| ())
        };
        ip(&["link", "add", "name", &bridge, "type", "bridge"])?;
        let gateway = format!("10.{pool}.255.1/24");
        ip(&["addr", "add", &gateway, "dev", &bridge])?;
        ip(&["link", "set", &bridge, "up"])?;
        let log = dir.path().join("dockerd.log");
        let namespace = unique_name("unity");
        let spawned = Command::new(dockerd)
            .arg("--data-root")
            .arg(dir.path().join("data"))
            .arg("--exec-root")
            .arg(dir.path().join("exec"))
            .arg("--pidfile")
            .arg(dir.path().join("dockerd.pid"))
            .arg("-H")
            .arg(format!("unix://{}", socket.display()))
            .args(["--bridge", &bridge, "--iptables=false", "--ip-masq=false"])
            .args(["--default-ulimit", "nofile=20000:20000"])
            .arg("--default-address-pool")
            .arg(format!("base=10.{pool}.0.0/17,size=24"))
            .args(["--containerd-namespace", &namespace])
            .args(["--containerd-plugins-namespace", &format!("{namespace}p")])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log)?)
            .stderr(std::fs::File::create(dir.path().join("dockerd.stderr"))?)
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(error) => {
                scrub(dir.path(), &[bridge]);
                return Err(error).context("spawning dockerd");
            }
        };
        let mut engine = Dockerd {
            dir,
            child,
            socket,
            bridge,
        };
        let stderr_log = engine.dir.path().join("dockerd.stderr");
        wait_for_ping(&mut engine.child, &engine.socket, &stderr_log)?;
        Ok(engine)
    }

    /// dockerd's log so far (for failure messages).
    pub fn log(&self) -> String {
        tail(&self.dir.path().join("dockerd.stderr"))
    }
}

impl ContainerEngine for Dockerd {
    fn kind(&self) -> EngineKind {
        EngineKind::Docker
    }
    fn socket_path(&self) -> &Path {
        &self.socket
    }
    fn dir(&self) -> &Path {
        self.dir.path()
    }
    fn command(&self) -> Command {
        let mut command = Command::new("docker");
        command
            .env("DOCKER_HOST", self.docker_host())
            // The classic builder: dockerd 20.10 without buildx, no BuildKit session.
            .env("DOCKER_BUILDKIT", "0")
            .env("DOCKER_CONFIG", self.dir.path().join("client"));
        command
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        remove_everything(self);
        stop(&mut self.child, Duration::from_secs(15));
        kill_leftovers(self.dir.path());
        scrub(self.dir.path(), std::slice::from_ref(&self.bridge));
    }
}
