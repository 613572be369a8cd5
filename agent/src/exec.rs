//! The agent's one chokepoint for running external programs (`smartctl`, `zpool`, `mdadm`, ...).
//!
//! Every command runs with a timeout, has its output captured, and is killed when dropped. A
//! non-zero exit status is *not* an error here: tools such as `smartctl` encode findings in their
//! exit status, so callers decide what it means.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

/// What to run: a program (a path or a name looked up on `PATH`) and its arguments, plus
/// environment entries added to the agent's own and the directory to run in (the agent's by
/// default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSpec {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub current_dir: Option<PathBuf>,
}

impl CommandSpec {
    pub fn new(program: impl Into<PathBuf>, args: &[&str]) -> CommandSpec {
        CommandSpec {
            program: program.into(),
            args: args.iter().map(|arg| (*arg).to_owned()).collect(),
            env: Vec::new(),
            current_dir: None,
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

    /// The command line as a person would type it, for messages.
    pub fn display(&self) -> String {
        let mut line = self.program.display().to_string();
        for arg in &self.args {
            line.push(' ');
            line.push_str(arg);
        }
        line
    }
}

/// A finished command: its exit code (`None` when it was killed by a signal) and captured output.
#[derive(Debug, Clone)]
pub struct Output {
    pub exit_code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Output {
    pub fn stdout_lossy(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// Why a command produced no output at all. Evidence is kept for the operator.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The program could not be started (missing, not executable, ...).
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

/// Runs `spec`, waiting at most `timeout`. The child is killed if the timeout passes or the
/// returned future is dropped.
pub async fn run(spec: &CommandSpec, timeout: Duration) -> Result<Output, ExecError> {
    #[allow(clippy::disallowed_methods)] // This is the one place allowed to spawn processes.
    let mut command = tokio::process::Command::new(&spec.program);
    command
        .args(&spec.args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .env("LC_ALL", "C")
        .envs(spec.env.iter().map(|(key, value)| (key, value)));
    if let Some(dir) = &spec.current_dir {
        command.current_dir(dir);
    }
    let child = command.spawn().map_err(|source| ExecError::Spawn {
        program: spec.program.display().to_string(),
        source,
    })?;
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
            stdout: output.stdout,
            stderr: output.stderr,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn captures_exit_code_and_output() {
        let spec = CommandSpec::new("sh", &["-c", "echo out; echo err >&2; exit 3"]);
        let output = run(&spec, Duration::from_secs(5)).await.unwrap();
        assert_eq!(output.exit_code, Some(3));
        assert_eq!(output.stdout, b"out\n");
        assert_eq!(output.stderr, b"err\n");
    }

    #[tokio::test]
    async fn passes_environment_and_directory() {
        let dir = tempfile::tempdir().unwrap();
        let spec = CommandSpec::new("sh", &["-c", "echo $UNITY_TEST; pwd"])
            .env("UNITY_TEST", "set")
            .current_dir(dir.path());
        let output = run(&spec, Duration::from_secs(5)).await.unwrap();
        let pwd = std::fs::canonicalize(dir.path()).unwrap();
        assert_eq!(output.stdout_lossy(), format!("set\n{}\n", pwd.display()));
    }

    #[tokio::test]
    async fn missing_program_is_reported_as_not_found() {
        let spec = CommandSpec::new("/nonexistent/unity-tool", &[]);
        let error = run(&spec, Duration::from_secs(5)).await.unwrap_err();
        assert!(error.is_not_found(), "{error}");
    }

    #[tokio::test]
    async fn slow_program_times_out() {
        let spec = CommandSpec::new("sleep", &["10"]);
        let error = run(&spec, Duration::from_millis(100)).await.unwrap_err();
        assert!(matches!(error, ExecError::Timeout { .. }), "{error}");
    }
}
