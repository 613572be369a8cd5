//! The agent's one chokepoint for running external programs (`smartctl`, `zpool`, `mdadm`, local
//! check scripts, ...).
//!
//! Every command runs with a timeout, has its output captured, and is killed when dropped. A
//! non-zero exit status is *not* an error here: tools such as `smartctl` encode findings in their
//! exit status, so callers decide what it means.
//!
//! [`run`] is for the tools the agent knows. [`run_limited`] is for programs it does not (local
//! checks): the child leads a process group of its own, which is killed as a whole when the
//! timeout passes, when the future is dropped, and when the child exits leaving something behind
//! (a script that forks forever takes its forks with it); its output is cut at a cap; it can run
//! as another user ([`RunAs`]) with a clean environment.

mod group;
mod user;

pub use user::{lookup_user, RunAs, UserError};

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncReadExt as _;

/// The `PATH` a child with a cleared environment gets.
pub const CLEAN_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What to run: a program (a path or a name looked up on `PATH`) and its arguments, plus
/// environment entries added to the agent's own and the directory to run in (the agent's by
/// default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSpec {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub current_dir: Option<PathBuf>,
    /// Run as this user instead of the agent's own (needs `CAP_SETUID` and `CAP_SETGID`).
    pub run_as: Option<RunAs>,
    /// Start from an empty environment (plus `LC_ALL=C`, [`CLEAN_PATH`] and `env`) instead of
    /// the agent's, so nothing the agent was started with reaches the child.
    pub clear_env: bool,
}

impl CommandSpec {
    pub fn new(program: impl Into<PathBuf>, args: &[&str]) -> CommandSpec {
        CommandSpec {
            program: program.into(),
            args: args.iter().map(|arg| (*arg).to_owned()).collect(),
            env: Vec::new(),
            current_dir: None,
            run_as: None,
            clear_env: false,
        }
    }

    /// Adds an environment entry for the child.
    pub fn env(mut self, key: &str, value: &str) -> CommandSpec {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Runs the child in `dir`.
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> CommandSpec {
        self.current_dir = Some(dir.into());
        self
    }

    /// Runs the child as `user`.
    pub fn run_as(mut self, user: RunAs) -> CommandSpec {
        self.run_as = Some(user);
        self
    }

    /// Gives the child a clean environment.
    pub fn clear_env(mut self) -> CommandSpec {
        self.clear_env = true;
        self
    }

    /// The command line as a person would type it, for messages.
    pub fn display(&self) -> String {
        let mut line = self.program.display().to_string();
        for arg in &self.args {
            line.push(' ');
            line.push_str(arg);
        }
        if let Some(user) = &self.run_as {
            line.push_str(" (as ");
            line.push_str(&user.name);
            line.push(')');
        }
        line
    }

    fn command(&self) -> tokio::process::Command {
        #[allow(clippy::disallowed_methods)] // This is the one place allowed to spawn processes.
        let mut command = tokio::process::Command::new(&self.program);
        command
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if self.clear_env {
            command.env_clear().env("PATH", CLEAN_PATH);
        }
        command
            .env("LC_ALL", "C")
            .envs(self.env.iter().map(|(key, value)| (key, value)));
        if let Some(dir) = &self.current_dir {
            command.current_dir(dir);
        }
        if let Some(user) = &self.run_as {
            // std drops the supplementary groups (setgroups) before it changes the user.
            command.uid(user.uid).gid(user.gid);
        }
        command
    }

    fn spawn_error(&self, source: std::io::Error) -> ExecError {
        ExecError::Spawn {
            program: match &self.run_as {
                Some(user) => format!("{} as user {}", self.program.display(), user.name),
                None => self.program.display().to_string(),
            },
            source,
        }
    }
}

/// A finished command: its exit code (`None` when it was killed by a signal) and captured output.
#[derive(Debug, Clone, Default)]
pub struct Output {
    pub exit_code: Option<i32>,
    /// The signal that ended it, if one did.
    pub signal: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Output past the cap of [`run_limited`] was not read (the pipe was closed on the child).
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
}

impl Output {
    pub fn stdout_lossy(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// How long a program may run and how much of its output is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub timeout: Duration,
    pub max_stdout: usize,
    pub max_stderr: usize,
}

/// Why a command produced no output at all. Evidence is kept for the operator.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The program could not be started (missing, not executable, not allowed to change user).
    #[error("cannot run `{program}`: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    /// The program did not finish in time and was killed.
    #[error("`{command}` did not finish within {after:?} and was killed")]
    Timeout { command: String, after: Duration },
    /// Reading the program's output failed.
    #[error("reading output of `{command}`: {source}")]
    Io {
        command: String,
        #[source]
        source: std::io::Error,
    },
}

impl ExecError {
    /// True when the program is simply not installed on this host.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ExecError::Spawn { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

/// Where the collectors' commands run: here ([`Local`], through [`run`]) or on another host
/// (the agentless proxy's SSH session). A program missing on that host is
/// [`ExecError::is_not_found`] either way, so the collectors decide "not installed" once.
pub trait Runner: Sync {
    /// Runs `spec`, waiting at most `timeout`.
    fn run(
        &self,
        spec: &CommandSpec,
        timeout: Duration,
    ) -> impl std::future::Future<Output = Result<Output, ExecError>> + Send;
}

/// This host: [`run`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Local;

impl Runner for Local {
    fn run(
        &self,
        spec: &CommandSpec,
        timeout: Duration,
    ) -> impl std::future::Future<Output = Result<Output, ExecError>> + Send {
        run(spec, timeout)
    }
}

/// Runs `spec`, waiting at most `timeout`. The child is killed if the timeout passes or the
/// returned future is dropped.
pub async fn run(spec: &CommandSpec, timeout: Duration) -> Result<Output, ExecError> {
    let child = spec
        .command()
        .spawn()
        .map_err(|source| spec.spawn_error(source))?;
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Err(_elapsed) => Err(ExecError::Timeout {
            command: spec.display(),
            after: timeout,
        }),
        Ok(Err(source)) => Err(ExecError::Io {
            command: spec.display(),
            source,
        }),
        Ok(Ok(output)) => Ok(Output {
            exit_code: output.status.code(),
            signal: std::os::unix::process::ExitStatusExt::signal(&output.status),
            stdout: output.stdout,
            stderr: output.stderr,
            stdout_truncated: false,
            stderr_truncated: false,
        }),
    }
}

/// Reads at most `cap` bytes of `pipe`; past that the pipe is closed (the child's next write
/// fails) and the output is marked truncated.
async fn read_capped<R: tokio::io::AsyncRead + Unpin>(
    pipe: Option<R>,
    cap: usize,
) -> std::io::Result<(Vec<u8>, bool)> {
    let Some(pipe) = pipe else {
        return Ok((Vec::new(), false));
    };
    let mut bytes = Vec::new();
    let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
    pipe.take(limit).read_to_end(&mut bytes).await?;
    let truncated = bytes.len() > cap;
    bytes.truncate(cap);
    Ok((bytes, truncated))
}

/// Runs a program the agent does not know (a local check) in a process group of its own,
/// within `limits`. When the time is up, when the future is dropped, and when the program
/// exits, everything left in its process group is killed with SIGKILL. A process that leaves
/// the group on purpose (`setsid`) escapes this; systemd's control group still ends it when the
/// agent stops.
pub async fn run_limited(spec: &CommandSpec, limits: &Limits) -> Result<Output, ExecError> {
    let mut command = spec.command();
    command.process_group(0);
    let mut child = command.spawn().map_err(|source| spec.spawn_error(source))?;
    let group = group::ProcessGroup::of(child.id());
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let work = async {
        let (stdout, stderr) = tokio::join!(
            read_capped(stdout, limits.max_stdout),
            read_capped(stderr, limits.max_stderr)
        );
        let status = child.wait().await?;
        Ok::<_, std::io::Error>((status, stdout?, stderr?))
    };
    let finished = tokio::time::timeout(limits.timeout, work).await;
    // Whatever happened, nothing the program started outlives it.
    group.kill();
    match finished {
        Err(_elapsed) => {
            let _ = child.start_kill();
            let _ = child.wait().await;
            Err(ExecError::Timeout {
                command: spec.display(),
                after: limits.timeout,
            })
        }
        Ok(Err(source)) => Err(ExecError::Io {
            command: spec.display(),
            source,
        }),
        Ok(Ok((status, (stdout, stdout_truncated), (stderr, stderr_truncated)))) => Ok(Output {
            exit_code: status.code(),
            signal: std::os::unix::process::ExitStatusExt::signal(&status),
            stdout,
            stderr,
            stdout_truncated,
            stderr_truncated,
        }),
    }
}

#[cfg(test)]
mod tests;
