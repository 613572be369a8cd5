//! Images without a registry: no registry on the internet is reachable from CI, so every image
//! starts from a busybox root file system (Debian `busybox-static`) imported into the engine
//! ([`import_busybox`]), and images of our own are built `FROM` it ([`build`]) with files,
//! labels, a `CMD` and a `HEALTHCHECK`.
//!
//! ```ignore
//! let engine = Dockerd::start();
//! engine.import_busybox()?;
//! let id = image::build(&engine, &ImageBuild::new("localhost/web:1.0")
//!     .file("/www/index.html", b"hello")
//!     .label("org.opencontainers.image.title", "web")
//!     .healthcheck("test -f /tmp/ok", "1s")
//!     .cmd(&["httpd", "-f", "-p", "8080", "-h", "/www"]))?;
//! ```

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::engine::{require, ContainerEngine, EngineKind};

/// The tag [`import_busybox`] gives the base image.
pub const BUSYBOX: &str = "localhost/busybox:latest";

/// `engine.import_busybox()` on any engine (bring the trait into scope:
/// `use unity_testbed::image::ImportBusybox as _;`). A trait of this module's, so that the
/// engines know nothing of images.
pub trait ImportBusybox {
    /// Imports the busybox rootfs as `localhost/busybox:latest` (`CMD ["/bin/sh"]`).
    fn import_busybox(&self) -> anyhow::Result<()>;
}

impl<E: ContainerEngine + ?Sized> ImportBusybox for E {
    fn import_busybox(&self) -> anyhow::Result<()> {
        import_busybox(self, BUSYBOX)
    }
}

/// Writes a busybox root file system into `dir` (`/bin/busybox` and a link per applet,
/// `/etc/passwd` and `/etc/group` for root, empty `/tmp`, `/proc`, `/sys`, `/dev`) and returns
/// `dir`. Fails with the package to install when `/bin/busybox` is missing or not static.
pub fn busybox_rootfs(dir: &Path) -> anyhow::Result<PathBuf> {
    let busybox = Path::new("/bin/busybox");
    let bytes = std::fs::read(busybox).map_err(|_| {
        anyhow::anyhow!(
            "/bin/busybox not found: apt-get install -y --no-install-recommends busybox-static"
        )
    })?;
    if !is_static_elf(&bytes) {
        bail!("/bin/busybox is dynamically linked: apt-get install -y --no-install-recommends busybox-static");
    }
    for sub in ["bin", "tmp", "etc", "proc", "sys", "dev", "www"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    std::fs::write(dir.join("bin/busybox"), &bytes)?;
    std::fs::set_permissions(
        dir.join("bin/busybox"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )?;
    let list = std::process::Command::new(busybox)
        .arg("--list")
        .output()
        .context("busybox --list")?;
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let applet = applet.trim();
        if applet.is_empty() || applet == "busybox" || applet.contains('/') {
            continue;
        }
        let link = dir.join("bin").join(applet);
        if !link.exists() {
            std::os::unix::fs::symlink("busybox", link)?;
        }
    }
    std::fs::write(dir.join("etc/passwd"), "root:x:0:0:root:/:/bin/sh\n")?;
    std::fs::write(dir.join("etc/group"), "root:x:0:\n")?;
    Ok(dir.to_owned())
}

/// Whether an ELF executable has no program interpreter (`PT_INTERP`), i.e. is static.
fn is_static_elf(bytes: &[u8]) -> bool {
    let read = |at: usize, size: usize| -> Option<u64> {
        let slice = bytes.get(at..at + size)?;
        let mut value = 0u64;
        for (shift, byte) in slice.iter().enumerate() {
            value |= u64::from(*byte) << (8 * shift);
        }
        Some(value)
    };
    if bytes.get(..4) != Some(b"\x7fELF") || bytes.get(5) != Some(&1) {
        return false; // Not ELF, or big-endian: not ours to judge.
    }
    let (phoff, phentsize, phnum) = match bytes.get(4) {
        Some(2) => (read(0x20, 8), read(0x36, 2), read(0x38, 2)),
        Some(1) => (read(0x1c, 4), read(0x2a, 2), read(0x2c, 2)),
        _ => return false,
    };
    let (Some(phoff), Some(phentsize), Some(phnum)) = (phoff, phentsize, phnum) else {
        return false;
    };
    (0..phnum).all(|index| {
        let at = (phoff + index * phentsize) as usize;
        read(at, 4) != Some(3)
    })
}

/// A tarball of [`busybox_rootfs`] at `dir/busybox.tar`.
pub fn busybox_tar(dir: &Path) -> anyhow::Result<PathBuf> {
    require("tar", "tar")?;
    let rootfs = busybox_rootfs(&dir.join("busybox-rootfs"))?;
    let tarball = dir.join("busybox.tar");
    let status = std::process::Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .arg("-cf")
        .arg(&tarball)
        .arg(".")
        .status()?;
    if !status.success() {
        bail!("tar of the busybox rootfs failed: {status}");
    }
    Ok(tarball)
}

/// Imports the busybox root file system into `engine` as `tag`, with `CMD ["/bin/sh"]`.
pub fn import_busybox(engine: &(impl ContainerEngine + ?Sized), tag: &str) -> anyhow::Result<()> {
    let work = tempfile::Builder::new()
        .prefix("unity-busybox-")
        .tempdir()?;
    let tarball = busybox_tar(work.path())?;
    let tarball = tarball.to_string_lossy();
    engine.cli(&["import", "--change", r#"CMD ["/bin/sh"]"#, &tarball, tag])?;
    Ok(())
}

/// An image to build `FROM` another (by default the busybox base).
#[derive(Debug, Clone)]
pub struct ImageBuild {
    pub tag: String,
    pub from: String,
    /// Absolute path in the image, content.
    pub files: Vec<(String, Vec<u8>)>,
    pub labels: Vec<(String, String)>,
    pub cmd: Option<Vec<String>>,
    /// Shell command and interval (`"1s"`); unhealthy after 3 failures.
    pub healthcheck: Option<(String, String)>,
    /// `ENV` entries of the image.
    pub env: Vec<(String, String)>,
}

impl ImageBuild {
    pub fn new(tag: &str) -> ImageBuild {
        ImageBuild {
            tag: tag.to_owned(),
            from: BUSYBOX.to_owned(),
            files: Vec::new(),
            labels: Vec::new(),
            cmd: None,
            healthcheck: None,
            env: Vec::new(),
        }
    }

    pub fn env(mut self, key: &str, value: &str) -> ImageBuild {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    pub fn from(mut self, base: &str) -> ImageBuild {
        self.from = base.to_owned();
        self
    }

    pub fn file(mut self, path: &str, content: &[u8]) -> ImageBuild {
        self.files.push((path.to_owned(), content.to_owned()));
        self
    }

    pub fn label(mut self, key: &str, value: &str) -> ImageBuild {
        self.labels.push((key.to_owned(), value.to_owned()));
        self
    }

    pub fn cmd(mut self, cmd: &[&str]) -> ImageBuild {
        self.cmd = Some(cmd.iter().map(|part| (*part).to_owned()).collect());
        self
    }

    pub fn healthcheck(mut self, shell_command: &str, interval: &str) -> ImageBuild {
        self.healthcheck = Some((shell_command.to_owned(), interval.to_owned()));
        self
    }

    /// The Dockerfile; file `i` is `COPY`ed from `file{i}` in the context.
    pub fn dockerfile(&self) -> String {
        let quote = |text: &str| serde_json::Value::from(text).to_string();
        let mut lines = vec![format!("FROM {}", self.from)];
        for (key, value) in &self.labels {
            lines.push(format!("LABEL {}={}", quote(key), quote(value)));
        }
        for (key, value) in &self.env {
            lines.push(format!("ENV {key}={}", quote(value)));
        }
        for (index, (path, _)) in self.files.iter().enumerate() {
            lines.push(format!("COPY file{index} {path}"));
        }
        if let Some((command, interval)) = &self.healthcheck {
            lines.push(format!(
                "HEALTHCHECK --interval={interval} --timeout=5s --retries=3 CMD {command}"
            ));
        }
        if let Some(cmd) = &self.cmd {
            lines.push(format!("CMD {}", serde_json::Value::from(cmd.clone())));
        }
        lines.join("\n") + "\n"
    }
}

/// Builds `spec` in `engine`; returns the image id. Podman builds in Docker format, since the
/// OCI format has no `HEALTHCHECK`.
pub fn build(
    engine: &(impl ContainerEngine + ?Sized),
    spec: &ImageBuild,
) -> anyhow::Result<String> {
    let context = tempfile::Builder::new().prefix("unity-build-").tempdir()?;
    std::fs::write(context.path().join("Dockerfile"), spec.dockerfile())?;
    for (index, (_, content)) in spec.files.iter().enumerate() {
        std::fs::write(context.path().join(format!("file{index}")), content)?;
    }
    let directory = context.path().to_string_lossy().into_owned();
    let mut args = vec!["build", "-q", "-t", &spec.tag];
    if engine.kind() == EngineKind::Podman {
        args.extend(["--format", "docker"]);
    }
    args.push(&directory);
    let output = engine.cli(&args)?;
    let id = output.lines().last().unwrap_or_default().trim().to_owned();
    if id.is_empty() {
        bail!("building {}: no image id in the output", spec.tag);
    }
    Ok(id)
}
