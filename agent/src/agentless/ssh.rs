//! The SSH side of an agentless host: log in with the target's private key (held in memory
//! only) after the host key check of [`super::host_key`], and run the collectors' commands on
//! the host through [`SshRunner`], an [`exec::Runner`]: exit status 127 ("command not found")
//! is a program missing there, as a missing program is here.

use super::host_key::{self, HostKeyCheck};
use crate::exec::{self, CommandSpec, ExecError, Output};
use russh::client;
use russh::keys::{PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh::ChannelMsg;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use unity_shared::model::agentless::{AgentlessOutcome, AgentlessTarget, SshLine};

/// Output kept per command, at most: collectors print kilobytes; a runaway command is cut.
const MAX_OUTPUT: usize = 16 << 20;

/// Checks the host key during the handshake and remembers the decision.
struct HostKeyHandler {
    pinned: Option<SshLine>,
    decision: Arc<Mutex<Option<HostKeyCheck>>>,
}

impl client::Handler for HostKeyHandler {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        presented: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let key_data = match presented {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.key_data(),
            PublicKeyOrCertificate::Certificate(certificate) => certificate.public_key(),
        };
        let key = russh::keys::PublicKey::from(key_data.clone());
        let decision = host_key::check(&key, self.pinned.as_ref());
        let trusted = matches!(decision, Some(HostKeyCheck::Trusted));
        if let Ok(mut slot) = self.decision.lock() {
            *slot = decision;
        }
        Ok(trusted)
    }
}

/// A logged-in session on an agentless host.
pub struct SshRunner {
    handle: client::Handle<HostKeyHandler>,
}

/// Connects and logs in within `timeout`, or says why not as the outcome to report. Nothing
/// is sent to a host whose key is not the pinned one: the handshake stops before
/// authentication.
pub async fn connect(
    target: &AgentlessTarget,
    timeout: Duration,
) -> Result<SshRunner, AgentlessOutcome> {
    let key_text =
        target
            .private_key
            .expose_str()
            .ok_or_else(|| AgentlessOutcome::AuthenticationFailed {
                message: "the private key is not text (an OpenSSH private key was expected)".into(),
            })?;
    let key = russh::keys::decode_secret_key(key_text, None).map_err(|error| {
        AgentlessOutcome::AuthenticationFailed {
            message: format!("the private key cannot be read: {error}"),
        }
    })?;
    let decision = Arc::new(Mutex::new(None));
    let handler = HostKeyHandler {
        pinned: target.host_key.clone(),
        decision: decision.clone(),
    };
    let config = Arc::new(client::Config {
        inactivity_timeout: Some(timeout.max(Duration::from_secs(5)) * 2),
        ..client::Config::default()
    });
    let address = (target.address.clone(), target.port);
    let connected = tokio::time::timeout(timeout, client::connect(config, address, handler)).await;
    let refused_key = || match decision.lock().ok().and_then(|slot| slot.clone()) {
        Some(HostKeyCheck::ToConfirm(presented)) => {
            Some(AgentlessOutcome::HostKeyToConfirm { presented })
        }
        Some(HostKeyCheck::Mismatch(presented)) => {
            Some(AgentlessOutcome::HostKeyMismatch { presented })
        }
        _ => None,
    };
    let mut handle = match connected {
        Ok(Ok(handle)) => handle,
        Ok(Err(error)) => {
            return Err(
                refused_key().unwrap_or_else(|| AgentlessOutcome::Unreachable {
                    message: format!("{}:{}: {error}", target.address, target.port),
                }),
            )
        }
        Err(_) => {
            return Err(
                refused_key().unwrap_or_else(|| AgentlessOutcome::Unreachable {
                    message: format!(
                        "{}:{}: no SSH handshake within {}",
                        target.address,
                        target.port,
                        humantime::format_duration(timeout)
                    ),
                }),
            )
        }
    };
    let login = handle.authenticate_publickey(
        target.user.as_str(),
        PrivateKeyWithHashAlg::new(Arc::new(key), None),
    );
    match tokio::time::timeout(timeout, login).await {
        Ok(Ok(result)) if result.success() => Ok(SshRunner { handle }),
        Ok(Ok(_)) => Err(AgentlessOutcome::AuthenticationFailed {
            message: format!("{}@{} refused the key", target.user, target.address),
        }),
        Ok(Err(error)) => Err(AgentlessOutcome::AuthenticationFailed {
            message: format!("logging in as {}: {error}", target.user),
        }),
        Err(_) => Err(AgentlessOutcome::Unreachable {
            message: format!("logging in as {} timed out", target.user),
        }),
    }
}

impl SshRunner {
    /// Says goodbye; errors do not matter any more.
    pub async fn close(self) {
        let _ = self
            .handle
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await;
    }

    async fn exec(&self, spec: &CommandSpec) -> Result<Output, ExecError> {
        let io = |error: russh::Error| ExecError::Io {
            command: spec.display(),
            source: std::io::Error::other(error.to_string()),
        };
        let mut channel = self.handle.channel_open_session().await.map_err(io)?;
        channel.exec(true, command_line(spec)).await.map_err(io)?;
        let mut output = Output::default();
        while let Some(message) = channel.wait().await {
            match message {
                ChannelMsg::Data { data } => {
                    append(&mut output.stdout, &data, &mut output.stdout_truncated)
                }
                ChannelMsg::ExtendedData { data, .. } => {
                    append(&mut output.stderr, &data, &mut output.stderr_truncated)
                }
                ChannelMsg::ExitStatus { exit_status } => {
                    output.exit_code = i32::try_from(exit_status).ok();
                }
                ChannelMsg::ExitSignal { .. } => output.signal = Some(0),
                _ => {}
            }
        }
        if output.exit_code == Some(127) {
            return Err(ExecError::Spawn {
                program: format!("{} (on the remote host)", spec.program.display()),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "command not found on the remote host",
                ),
            });
        }
        Ok(output)
    }
}

fn append(buffer: &mut Vec<u8>, data: &[u8], truncated: &mut bool) {
    let room = MAX_OUTPUT.saturating_sub(buffer.len());
    if data.len() > room {
        *truncated = true;
    }
    buffer.extend_from_slice(&data[..data.len().min(room)]);
}

impl exec::Runner for SshRunner {
    async fn run(&self, spec: &CommandSpec, timeout: Duration) -> Result<Output, ExecError> {
        match tokio::time::timeout(timeout, self.exec(spec)).await {
            Ok(result) => result,
            Err(_) => Err(ExecError::Timeout {
                command: spec.display(),
                after: timeout,
            }),
        }
    }
}

/// The command line the remote shell runs: every word single-quoted, with `LC_ALL=C` as the
/// local runs have it.
pub fn command_line(spec: &CommandSpec) -> String {
    let mut line = String::from("LC_ALL=C");
    for word in std::iter::once(spec.program.to_string_lossy().into_owned())
        .chain(spec.args.iter().cloned())
    {
        line.push(' ');
        line.push('\'');
        line.push_str(&word.replace('\'', r"'\''"));
        line.push('\'');
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_for_the_remote_shell() {
        let spec = CommandSpec::new("smartctl", &["-x", "/dev/it's here"]);
        assert_eq!(
            command_line(&spec),
            r"LC_ALL=C 'smartctl' '-x' '/dev/it'\''s here'"
        );
    }
}
