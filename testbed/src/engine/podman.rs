//! `podman system service` with its own configuration and storage.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context;

use super::host::{
    free_pool, kill_leftovers, remove_everything, require, scrub, stop, tail, unique_name,
    wait_for_ping,
};
use super::{ContainerEngine, EngineKind};

/// A Podman API service of its own. Dropping it removes its containers and networks and
/// stops it.
pub struct Podman {
    dir: tempfile::TempDir,
    child: Child,
    socket: PathBuf,
    default_bridge: String,
}

impl Podman {
    /// Starts `podman system service` and waits for `_ping`; panics with the reason.
    pub fn start() -> Podman {
        Podman::try_start().unwrap_or_else(|error| panic!("starting podman: {error:#}"))
    }

    pub fn try_start() -> anyhow::Result<Podman> {
        let podman = require("podman", "podman")?;
        require("runc", "runc")?;
        require("conmon", "conmon")?;
        let dir = tempfile::Builder::new().prefix("unity-podman-").tempdir()?;
        let root = dir.path();
        for sub in ["cni", "root", "runroot", "tmp"] {
            std::fs::create_dir_all(root.join(sub))?;
        }
        let pool = free_pool()?;
        let network = unique_name("unity");
        let default_bridge = unique_name("up");
        std::fs::write(
            root.join("containers.conf"),
            format!(
                r#"[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "{root}/events.log"
runtime = "runc"
tmp_dir = "{root}/tmp"
[network]
network_backend = "cni"
network_config_dir = "{root}/cni"
default_network = "{network}"
default_subnet = "10.{pool}.255.0/24"
default_subnet_pools = [{{ "base" = "10.{pool}.0.0/17", "size" = 24 }}]
"#,
                root = root.display()
            ),
        )?;
        std::fs::write(
            root.join("storage.conf"),
            format!(
                "[storage]\ndriver = \"overlay\"\ngraphroot = \"{root}/root\"\nrunroot = \"{root}/runroot\"\n",
                root = root.display()
            ),
        )?;
        // The default network, defined before Podman starts so that it gets a bridge of its
        // own instead of the shared `cni-podman0`.
        let conflist = serde_json::json!({
            "cniVersion": "0.4.0",
            "name": network,
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": default_bridge,
                    "isGateway": true,
                    "ipMasq": true,
                    "hairpinMode": true,
                    "ipam": {
                        "type": "host-local",
                        "routes": [{ "dst": "0.0.0.0/0" }],
                        "ranges": [[{
                            "subnet": format!("10.{pool}.255.0/24"),
                            "gateway": format!("10.{pool}.255.1"),
                        }]],
                    },
                },
                { "type": "portmap", "capabilities": { "portMappings": true } },
                { "type": "firewall", "backend": "" },
                { "type": "tuning" },
            ],
        });
        std::fs::write(
            root.join("cni").join(format!("{network}.conflist")),
            serde_json::to_string_pretty(&conflist)?,
        )?;
        let socket = root.join("podman.sock");
        let log = root.join("service.log");
        let child = Command::new(podman)
            .env("CONTAINERS_CONF", root.join("containers.conf"))
            .env("CONTAINERS_STORAGE_CONF", root.join("storage.conf"))
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", socket.display()))
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log)?)
            .stderr(std::fs::File::create(root.join("service.stderr"))?)
            .spawn()
            .context("spawning podman system service")?;
        let mut engine = Podman {
            dir,
            child,
            socket,
            default_bridge,
        };
        let stderr_log = engine.dir.path().join("service.stderr");
        wait_for_ping(&mut engine.child, &engine.socket, &stderr_log)?;
        Ok(engine)
    }

    /// The service's log so far.
    pub fn log(&self) -> String {
        tail(&self.dir.path().join("service.stderr"))
    }

    /// Runs the container's health check now (Podman runs health checks only when a systemd
    /// timer triggers them, and there is none here).
    pub fn healthcheck_run(&self, container: &str) -> anyhow::Result<String> {
        self.cli(&["healthcheck", "run", container])
    }

    /// Bridges named in this engine's network configurations.
    fn bridges(&self) -> Vec<String> {
        let mut bridges = vec![self.default_bridge.clone()];
        if let Ok(entries) = std::fs::read_dir(self.dir.path().join("cni")) {
            for entry in entries.flatten() {
                let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
                let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                for plugin in json["plugins"].as_array().into_iter().flatten() {
                    if let Some(bridge) = plugin["bridge"].as_str() {
                        bridges.push(bridge.to_owned());
                    }
                }
            }
        }
        bridges
    }
}

impl ContainerEngine for Podman {
    fn kind(&self) -> EngineKind {
        EngineKind::Podman
    }
    fn socket_path(&self) -> &Path {
        &self.socket
    }
    fn dir(&self) -> &Path {
        self.dir.path()
    }
    fn command(&self) -> Command {
        let mut command = Command::new("podman");
        command.arg("--url").arg(self.docker_host());
        command
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let bridges = self.bridges();
        remove_everything(self);
        stop(&mut self.child, Duration::from_secs(10));
        kill_leftovers(self.dir.path());
        scrub(self.dir.path(), &bridges);
    }
}
