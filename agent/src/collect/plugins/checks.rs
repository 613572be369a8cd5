//! Local checks: every executable in the checks directory runs through
//! [`crate::exec::run_limited`] (its own process group, killed as a whole at the timeout; its
//! output capped; a clean environment; the configured unprivileged user), a few at a time.
//! What a run means is `check_result.rs`'s (pure).

use super::batch::BatchBuilder;
use super::check_result::{self, Meta, Run};
use super::PluginsConfig;
use crate::clock::now_ms;
use crate::exec::{self, CommandSpec, Limits, RunAs};
use futures_util::StreamExt as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::PathBuf;
use std::time::Instant;
use unity_shared::model::plugin::CheckResult;

/// The most stderr kept from a check (its first line explains a failure).
const MAX_STDERR: usize = 4096;

/// The most output read from a check.
const MAX_OUTPUT: u64 = 1024 * 1024;

/// A file of the checks directory that is a check.
#[derive(Debug)]
struct Check {
    name: String,
    path: PathBuf,
    /// Why it may not run, if so.
    refusal: Option<String>,
}

/// The checks in the directory, by name: executable regular files (following symlinks)
/// whose names are not leftovers. A missing directory has none.
///
/// Note that this uses blocking I/O.
fn list(config: &PluginsConfig) -> Result<Vec<Check>, String> {
    let entries = match std::fs::read_dir(&config.checks_dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(format!("reading {}: {error}", config.checks_dir.display())),
    };
    let agent_uid = rustix::process::getuid().as_raw();
    let mut checks: Vec<Check> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !check_result::is_check_name(&name) {
                return None;
            }
            let path = entry.path();
            let metadata = std::fs::metadata(&path).ok()?;
            if !metadata.is_file() || metadata.mode() & 0o111 == 0 {
                return None;
            }
            let refusal = check_result::refusal(metadata.mode(), metadata.uid(), agent_uid);
            Some(Check {
                name,
                path,
                refusal,
            })
        })
        .collect();
    checks.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(checks)
}

/// The user checks run as: `None` for the agent's own.
fn user(config: &PluginsConfig) -> Result<Option<RunAs>, String> {
    let Some(name) = config.check_user.as_deref() else {
        return Ok(None);
    };
    let passwd = std::fs::read_to_string(&config.passwd_file)
        .map_err(|error| format!("reading {}: {error}", config.passwd_file.display()))?;
    let user = exec::lookup_user(name, &passwd).map_err(|error| error.to_string())?;
    // Already that user (tests, an agent not run as root by choice): nothing to switch.
    let me = rustix::process::getuid().as_raw();
    Ok((user.uid != me).then_some(user))
}

/// What one run gave, before it is read.
struct Ran {
    name: String,
    started_at_ms: i64,
    duration_ms: u64,
    outcome: Result<exec::Output, String>,
}

async fn run_one(check: Check, user: Result<Option<RunAs>, String>, limits: Limits) -> Ran {
    let started_at_ms = now_ms();
    let started = Instant::now();
    let outcome = match (check.refusal, user) {
        (Some(refusal), _) => Err(refusal),
        (None, Err(error)) => Err(format!("cannot run as the check user: {error}")),
        (None, Ok(user)) => {
            let mut spec = CommandSpec::new(&check.path, &[])
                .clear_env()
                .current_dir("/")
                .env("UNITY_CHECK", &check.name);
            if let Some(user) = user {
                spec = spec.run_as(user);
            }
            exec::run_limited(&spec, &limits)
                .await
                .map_err(|error| match error {
                    exec::ExecError::Timeout { after, .. } => {
                        format!("did not finish within {after:?}; its process group was killed")
                    }
                    other => other.to_string(),
                })
        }
    };
    Ran {
        name: check.name,
        started_at_ms,
        duration_ms: started.elapsed().as_millis() as u64,
        outcome,
    }
}

/// Runs every check once, a few at a time; their series go into `batch`.
pub async fn run_all(
    config: &PluginsConfig,
    batch: &mut BatchBuilder,
) -> Result<Vec<CheckResult>, String> {
    let listed = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || {
            let checks = list(&config)?;
            let user = if checks.is_empty() {
                Ok(None)
            } else {
                user(&config)
            };
            Ok::<_, String>((checks, user))
        })
        .await
        .map_err(|error| format!("listing the checks: {error}"))?
    };
    let (checks, user) = listed?;
    let limits = Limits {
        timeout: config.checks_timeout,
        max_stdout: usize::try_from(config.caps.max_bytes.min(MAX_OUTPUT)).unwrap_or(usize::MAX),
        max_stderr: MAX_STDERR,
    };
    let mut runs: Vec<Ran> = futures_util::stream::iter(checks)
        .map(|check| run_one(check, user.clone(), limits))
        .buffer_unordered(config.max_concurrent_checks.max(1))
        .collect()
        .await;
    runs.sort_by(|a, b| a.name.cmp(&b.name));
    let interval_ms = config.checks_interval.as_millis() as u64;
    let results = runs
        .iter()
        .map(|ran| {
            let meta = Meta {
                name: &ran.name,
                started_at_ms: ran.started_at_ms,
                duration_ms: ran.duration_ms,
                interval_ms,
            };
            let run = match &ran.outcome {
                Ok(output) => Run::Exited {
                    exit_code: output.exit_code,
                    signal: output.signal,
                    stdout: &output.stdout,
                    stdout_truncated: output.stdout_truncated,
                    stderr: &output.stderr,
                },
                Err(why) => Run::Failed(why),
            };
            check_result::result(batch, meta, run, &config.caps)
        })
        .collect();
    Ok(results)
}
