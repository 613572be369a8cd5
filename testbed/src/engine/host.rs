//! Host-side helpers shared by the engines: program lookup, unique names and subnets, a tiny
//! HTTP client for the API socket, and the clean-up steps of `Drop`.

use std::io::{Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use super::ContainerEngine;

pub(crate) fn checked(output: Output, args: &[&str]) -> anyhow::Result<String> {
    if !output.status.success() {
        bail!(
            "{args:?} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Fails with the Debian package to install when `program` is not on PATH.
pub fn require(program: &str, package: &str) -> anyhow::Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
        .with_context(|| {
            format!("{program} not found: apt-get install -y --no-install-recommends {package}")
        })
}

/// `prefix` + something unique to this process and call, at most 15 bytes (an interface name).
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = format!("{prefix}{}x{n}", radix36(std::process::id()));
    name.chars().take(15).collect()
}

pub(crate) fn radix36(mut value: u32) -> String {
    let digits = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(digits[(value % 36) as usize]);
        value /= 36;
        if value == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap()
}

/// A /16 of 10.0.0.0/8 (second octet 100..=250) that no host route overlaps, varied by
/// process and call so that engines started side by side draw from different pools.
pub fn free_pool() -> anyhow::Result<u8> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let routes = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    let used: Vec<u8> = routes
        .lines()
        .skip(1)
        .filter_map(|line| {
            let destination = line.split_whitespace().nth(1)?;
            let value = u32::from_str_radix(destination, 16).ok()?;
            // Little-endian in the file: the first octet is the low byte.
            let bytes = value.to_le_bytes();
            (bytes[0] == 10).then_some(bytes[1])
        })
        .collect();
    let start = std::process::id()
        .wrapping_mul(7)
        .wrapping_add(COUNTER.fetch_add(1, Ordering::Relaxed).wrapping_mul(13));
    (0..151u32)
        .map(|offset| 100 + ((start + offset) % 151) as u8)
        .find(|octet| !used.contains(octet))
        .context("no free 10.x.0.0/16 for container networks")
}

/// One HTTP/1.0 request over a Unix socket; returns status and body.
pub fn http(
    socket: &Path,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> anyhow::Result<(u16, String)> {
    let mut stream = UnixStream::connect(socket)
        .with_context(|| format!("connecting to {}", socket.display()))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: engine\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("no HTTP status in {answer:?}"))?;
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// Waits until `_ping` answers 200, failing early (with the log) if the daemon exits.
pub(crate) fn wait_for_ping(child: &mut Child, socket: &Path, log: &Path) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok((200, _)) = http(socket, "GET", "/_ping", None) {
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            bail!("engine exited ({status}): {}", tail(log));
        }
        if Instant::now() > deadline {
            bail!(
                "engine did not answer on {} in 60 s: {}",
                socket.display(),
                tail(log)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The end of a log file, for error messages.
pub fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

pub(crate) fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill")
        .args([format!("-{name}"), pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

/// Stops a daemon: SIGTERM, then SIGKILL after `grace`.
pub(crate) fn stop(child: &mut Child, grace: Duration) {
    signal(child.id(), "TERM");
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Removes every container and network of an engine (best effort, for Drop).
pub(crate) fn remove_everything(engine: &dyn ContainerEngine) {
    if let Ok(ids) = engine.cli(&["ps", "-aq"]) {
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f", "-v"];
            args.extend(ids);
            let _ = engine.cli(&args);
        }
    }
    let _ = engine.cli(&["network", "prune", "-f"]);
}

/// Kills every process whose command line names `dir` (conmon of `podman exec` sessions waits
/// five minutes after the exec by itself; a killed dockerd leaves containerd and shims).
pub(crate) fn kill_leftovers(dir: &Path) {
    let needle = dir.to_string_lossy().into_owned();
    let own = std::process::id().to_string();
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == own || !name.bytes().all(|byte| byte.is_ascii_digit()) {
            continue;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(&needle) {
            pids.push(name);
        }
    }
    if !pids.is_empty() {
        let _ = Command::new("kill")
            .arg("-KILL")
            .args(&pids)
            .stderr(Stdio::null())
            .status();
    }
}

/// Unmounts whatever is still mounted below `dir` (deepest first) and deletes links named
/// in `bridges`.
pub(crate) fn scrub(dir: &Path, bridges: &[String]) {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut below: Vec<&str> = mounts
        .lines()
        .filter_map(|line| line.split_whitespace().nth(4))
        .filter(|point| Path::new(point).starts_with(dir))
        .collect();
    below.sort_by_key(|point| std::cmp::Reverse(point.len()));
    for point in below {
        let _ = Command::new("umount").args(["-l", point]).status();
    }
    for bridge in bridges {
        let _ = Command::new("ip")
            .args(["link", "del", bridge])
            .stderr(Stdio::null())
            .status();
    }
}
