//! A real OpenSSH `sshd` as a plain process on a loopback port (../shared/TESTBED-2.md §5), and
//! the real `ssh` client to log in to it: what the SSH access, SSH CA and agentless tests
//! drive. Needs `openssh-server` and `openssh-client` (scripts/test installs them).
//!
//! The daemon runs with `StrictModes no` (test files live under `/tmp`, which is
//! world-writable) and `UsePAM no`; the caller adds the directives under test.

// sshd, ssh and ssh-keygen are real processes, spawned here rather than through agent::exec.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running sshd; killed on drop.
pub struct Sshd {
    pub port: u16,
    pub dir: PathBuf,
    /// `dir/sshd_config`.
    pub config: PathBuf,
    /// The ed25519 host key's private half (`dir/host_ed25519`); `.pub` beside it.
    pub host_key: PathBuf,
    child: Child,
}

/// Makes an ed25519 key pair at `path` (and `path.pub`) with `ssh-keygen`.
pub fn keygen(path: &Path, comment: &str) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen runs");
    assert!(status.success(), "ssh-keygen failed for {}", path.display());
}

/// Runs `sshd -t -f config`: `Err` with sshd's message when the configuration is invalid.
pub fn check_config(config: &Path) -> Result<(), String> {
    std::fs::create_dir_all("/run/sshd").expect("create /run/sshd");
    let output = Command::new("/usr/sbin/sshd")
        .arg("-t")
        .arg("-f")
        .arg(config)
        .output()
        .expect("sshd runs");
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

impl Sshd {
    /// Writes `dir/sshd_config` (loopback, a fresh ed25519 host key, the `extra` directives
    /// appended) and starts `sshd -D -e` on a free port, waiting until it accepts connections.
    pub fn start(dir: &Path, extra: &str) -> Sshd {
        std::fs::create_dir_all(dir).unwrap();
        let host_key = dir.join("host_ed25519");
        if !host_key.exists() {
            keygen(&host_key, "test-host");
        }
        let config = dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "ListenAddress 127.0.0.1\nHostKey {}\nPidFile {}\nStrictModes no\nUsePAM no\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                 PermitRootLogin prohibit-password\nLogLevel VERBOSE\n{extra}\n",
                host_key.display(),
                dir.join("sshd.pid").display(),
            ),
        )
        .unwrap();
        Sshd::start_with_config(dir, &config, &host_key)
    }

    /// Starts sshd on a configuration the caller wrote (which must have `ListenAddress
    /// 127.0.0.1`, a `HostKey` and `PidFile`).
    pub fn start_with_config(dir: &Path, config: &Path, host_key: &Path) -> Sshd {
        if let Err(message) = check_config(config) {
            panic!("sshd -t refused {}: {message}", config.display());
        }
        let port = crate::free_port();
        let log = std::fs::File::create(dir.join("sshd.log")).unwrap();
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(config)
            .args(["-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("sshd starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "sshd did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Sshd {
            port,
            dir: dir.to_path_buf(),
            config: config.to_path_buf(),
            host_key: host_key.to_path_buf(),
            child,
        }
    }

    /// The daemon's log so far (failed logins say why here).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("sshd.log")).unwrap_or_default()
    }

    /// Logs in as `user` with the private key `identity` and runs `true`. `known_hosts`:
    /// verify the host strictly against that file; `None` accepts any host key. Extra `-o`
    /// options go in `options`. `Err` carries ssh's stderr.
    pub fn login(
        &self,
        user: &str,
        identity: &Path,
        known_hosts: Option<&Path>,
        options: &[&str],
    ) -> Result<(), String> {
        let mut command = Command::new("ssh");
        command.args([
            "-F",
            "none",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
        ]);
        match known_hosts {
            Some(file) => {
                command.args(["-o", "StrictHostKeyChecking=yes", "-o"]);
                command.arg(format!("UserKnownHostsFile={}", file.display()));
            }
            None => {
                command.args([
                    "-o",
                    "StrictHostKeyChecking=no",
                    "-o",
                    "UserKnownHostsFile=/dev/null",
                ]);
            }
        }
        for option in options {
            command.args(["-o", option]);
        }
        command
            .arg("-i")
            .arg(identity)
            .args(["-p", &self.port.to_string()])
            .arg(format!("{user}@127.0.0.1"))
            .arg("true")
            .stdin(Stdio::null());
        let output = command.output().expect("ssh runs");
        if output.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    }

    /// Sends SIGHUP: sshd re-executes itself and rereads its configuration.
    pub fn reload(&self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-HUP", &pid]).status();
        // sshd re-executes; wait until it accepts connections again.
        std::thread::sleep(Duration::from_millis(300));
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "sshd did not come back after SIGHUP"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_in_the_authorized_keys_file_logs_in_and_another_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let user_key = dir.path().join("user");
        keygen(&user_key, "user");
        let other_key = dir.path().join("other");
        keygen(&other_key, "other");
        let authorized = dir.path().join("authorized_keys");
        std::fs::copy(dir.path().join("user.pub"), &authorized).unwrap();
        let sshd = Sshd::start(
            &dir.path().join("sshd"),
            &format!("AuthorizedKeysFile {}", authorized.display()),
        );
        sshd.login("root", &user_key, None, &[]).unwrap();
        let refused = sshd.login("root", &other_key, None, &[]).unwrap_err();
        assert!(refused.contains("Permission denied"), "{refused}");
        assert!(check_config(&dir.path().join("missing")).is_err());
    }
}
