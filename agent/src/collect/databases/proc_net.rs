//! What the host shows about listening sockets and their processes: pure parsers of
//! `/proc/net/{tcp,tcp6,unix}`, `/proc/PID/comm`, `/proc/PID/cmdline` and the `socket:[INODE]`
//! links in `/proc/PID/fd`, plus one thin function, [`read_snapshot`], that reads those files.
//!
//! Note that the parsers decode addresses with the host's byte order, as the kernel prints them
//! (each 32-bit word of the address in native order), so they are correct on the host they run on.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use unity_shared::model::storage::ParseWarning;

/// A TCP socket in the LISTEN state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpListener {
    pub address: IpAddr,
    pub port: u16,
    pub inode: u64,
}

/// A Unix stream socket that accepts connections and has a filesystem path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixListener {
    pub path: String,
    pub inode: u64,
}

/// One process and the socket inodes it holds open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    pub pid: u32,
    /// `/proc/PID/comm` without its newline.
    pub comm: String,
    /// `/proc/PID/cmdline` split at NUL bytes.
    pub cmdline: Vec<String>,
    /// Inodes of the `socket:[INODE]` links in `/proc/PID/fd`, sorted, each once.
    pub socket_inodes: Vec<u64>,
}

/// Everything discovery needs from `/proc`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcSnapshot {
    pub tcp: Vec<TcpListener>,
    pub unix: Vec<UnixListener>,
    pub processes: Vec<ProcessInfo>,
    /// Lines that could not be parsed and files that could not be read.
    pub warnings: Vec<ParseWarning>,
}

/// The kernel's `TCP_LISTEN` state as printed in the `st` column.
const TCP_LISTEN: &str = "0A";
/// `__SO_ACCEPTCON` in the `Flags` column of `/proc/net/unix`: the socket listens.
const SO_ACCEPTCON: u32 = 0x0001_0000;
/// `SOCK_STREAM` in the `Type` column.
const SOCK_STREAM: u32 = 1;

fn warning(line_number: usize, line: &str, message: impl Into<String>) -> ParseWarning {
    ParseWarning {
        line_number: u32::try_from(line_number + 1).ok(),
        line: line.trim_end().to_owned(),
        message: message.into(),
    }
}

/// Parses `/proc/net/tcp` or `/proc/net/tcp6` and keeps the listening sockets.
pub fn parse_proc_net_tcp(text: &str) -> (Vec<TcpListener>, Vec<ParseWarning>) {
    let mut listeners = Vec::new();
    let mut warnings = Vec::new();
    for (line_number, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(first) = fields.first() else {
            continue;
        };
        if *first == "sl" {
            continue;
        }
        let (Some(local), Some(state), Some(inode)) = (fields.get(1), fields.get(3), fields.get(9))
        else {
            warnings.push(warning(line_number, line, "too few columns"));
            continue;
        };
        if *state != TCP_LISTEN {
            continue;
        }
        let Some((address, port)) = parse_hex_socket_address(local) else {
            warnings.push(warning(line_number, line, "unreadable local address"));
            continue;
        };
        let Ok(inode) = inode.parse::<u64>() else {
            warnings.push(warning(line_number, line, "unreadable inode"));
            continue;
        };
        listeners.push(TcpListener {
            address,
            port,
            inode,
        });
    }
    (listeners, warnings)
}

/// Decodes `0100007F:1538` (IPv4) or 32 hex digits `:PORT` (IPv6) as the kernel prints them.
pub fn parse_hex_socket_address(text: &str) -> Option<(IpAddr, u16)> {
    let (address, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    if !address.is_ascii() {
        return None;
    }
    match address.len() {
        8 => {
            let word = u32::from_str_radix(address, 16).ok()?;
            Some((IpAddr::V4(Ipv4Addr::from(word.to_ne_bytes())), port))
        }
        32 => {
            let mut bytes = [0u8; 16];
            for (index, chunk) in bytes.chunks_mut(4).enumerate() {
                let hex = address.get(index * 8..index * 8 + 8)?;
                let word = u32::from_str_radix(hex, 16).ok()?;
                chunk.copy_from_slice(&word.to_ne_bytes());
            }
            Some((IpAddr::V6(Ipv6Addr::from(bytes)), port))
        }
        _ => None,
    }
}

/// Splits off the first `n` whitespace-separated fields and returns them with the rest of the
/// line (leading whitespace removed), which may itself contain spaces.
fn split_fields(line: &str, n: usize) -> Option<(Vec<&str>, &str)> {
    let mut fields = Vec::with_capacity(n);
    let mut rest = line;
    for _ in 0..n {
        rest = rest.trim_start();
        if rest.is_empty() {
            return None;
        }
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let (field, tail) = rest.split_at(end);
        fields.push(field);
        rest = tail;
    }
    Some((fields, rest.trim()))
}

/// Parses `/proc/net/unix` and keeps listening stream sockets bound to a filesystem path
/// (abstract sockets, whose path starts with `@`, are skipped).
pub fn parse_proc_net_unix(text: &str) -> (Vec<UnixListener>, Vec<ParseWarning>) {
    let mut listeners = Vec::new();
    let mut warnings = Vec::new();
    for (line_number, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with("Num") {
            continue;
        }
        let Some((fields, path)) = split_fields(line, 7) else {
            warnings.push(warning(line_number, line, "too few columns"));
            continue;
        };
        let (Some(flags), Some(kind), Some(inode)) = (fields.get(3), fields.get(4), fields.get(6))
        else {
            warnings.push(warning(line_number, line, "too few columns"));
            continue;
        };
        let (Ok(flags), Ok(kind), Ok(inode)) = (
            u32::from_str_radix(flags, 16),
            u32::from_str_radix(kind, 16),
            inode.parse::<u64>(),
        ) else {
            warnings.push(warning(
                line_number,
                line,
                "unreadable flags, type or inode",
            ));
            continue;
        };
        if flags & SO_ACCEPTCON == 0 || kind != SOCK_STREAM {
            continue;
        }
        if path.is_empty() || path.starts_with('@') {
            continue;
        }
        listeners.push(UnixListener {
            path: path.to_owned(),
            inode,
        });
    }
    (listeners, warnings)
}

/// Reads the inode out of a `/proc/PID/fd/N` link target such as `socket:[12345]`.
pub fn parse_socket_link(target: &str) -> Option<u64> {
    target
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// `/proc/PID/comm`: the name without its trailing newline.
pub fn parse_comm(text: &str) -> String {
    text.trim_end_matches('\n').to_owned()
}

/// `/proc/PID/cmdline`: NUL-separated arguments (a trailing NUL ends the last one). Processes
/// that rewrite their title (Redis, PostgreSQL children) may leave one space-separated string.
pub fn parse_cmdline(bytes: &[u8]) -> Vec<String> {
    let bytes = bytes.strip_suffix(&[0]).unwrap_or(bytes);
    if bytes.is_empty() {
        return Vec::new();
    }
    bytes
        .split(|byte| *byte == 0)
        .map(|argument| String::from_utf8_lossy(argument).into_owned())
        .collect()
}

fn read_warning(path: &Path, error: &std::io::Error) -> ParseWarning {
    ParseWarning {
        line_number: None,
        line: String::new(),
        message: format!("reading {}: {error}", path.display()),
    }
}

/// Reads listening sockets and the processes that hold them from `proc_root` (`/proc`).
///
/// Only processes holding at least one listening socket are returned. Processes that vanish
/// while being read are skipped; unreadable `fd` directories (another user's process when not
/// root) leave that process out, so its sockets are still found but not mapped.
///
/// Note that this uses blocking I/O: call it from `spawn_blocking`.
pub fn read_snapshot(proc_root: &Path) -> ProcSnapshot {
    let mut snapshot = ProcSnapshot::default();
    for name in ["tcp", "tcp6"] {
        let path = proc_root.join("net").join(name);
        match std::fs::read(&path) {
            Ok(bytes) => {
                let (listeners, warnings) = parse_proc_net_tcp(&String::from_utf8_lossy(&bytes));
                snapshot.tcp.extend(listeners);
                snapshot.warnings.extend(warnings);
            }
            // No IPv6 in this kernel: nothing listens there.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => snapshot.warnings.push(read_warning(&path, &error)),
        }
    }
    let unix_path = proc_root.join("net").join("unix");
    match std::fs::read(&unix_path) {
        Ok(bytes) => {
            let (listeners, warnings) = parse_proc_net_unix(&String::from_utf8_lossy(&bytes));
            snapshot.unix = listeners;
            snapshot.warnings.extend(warnings);
        }
        Err(error) => snapshot.warnings.push(read_warning(&unix_path, &error)),
    }
    let listening: std::collections::HashSet<u64> = snapshot
        .tcp
        .iter()
        .map(|listener| listener.inode)
        .chain(snapshot.unix.iter().map(|listener| listener.inode))
        .collect();
    if listening.is_empty() {
        return snapshot;
    }
    let Ok(entries) = std::fs::read_dir(proc_root) else {
        return snapshot;
    };
    let mut pids: Vec<u32> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    for pid in pids {
        let process_dir = proc_root.join(pid.to_string());
        let Ok(fds) = std::fs::read_dir(process_dir.join("fd")) else {
            continue;
        };
        let mut socket_inodes: Vec<u64> = fds
            .filter_map(Result::ok)
            .filter_map(|fd| std::fs::read_link(fd.path()).ok())
            .filter_map(|target| parse_socket_link(&target.to_string_lossy()))
            .filter(|inode| listening.contains(inode))
            .collect();
        if socket_inodes.is_empty() {
            continue;
        }
        socket_inodes.sort_unstable();
        socket_inodes.dedup();
        let comm = std::fs::read_to_string(process_dir.join("comm"))
            .map(|text| parse_comm(&text))
            .unwrap_or_default();
        let cmdline = std::fs::read(process_dir.join("cmdline"))
            .map(|bytes| parse_cmdline(&bytes))
            .unwrap_or_default();
        snapshot.processes.push(ProcessInfo {
            pid,
            comm,
            cmdline,
            socket_inodes,
        });
    }
    snapshot
}
