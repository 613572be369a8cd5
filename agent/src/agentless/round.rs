//! One collection of an agentless host: log in, read the facts, run the chosen collectors on
//! the host through the same collector code as the local loops (over [`SshRunner`]), and say
//! how it went. Every command has the target's timeout; a program missing on the host is "not
//! installed", not a failure.

use super::ssh::{self, SshRunner};
use crate::collect::{mdraid, proc_text, smart, stack, system, zfs};
use crate::exec::{CommandSpec, ExecError, Runner};
use std::time::Duration;
use unity_shared::model::agentless::{AgentlessOutcome, AgentlessTarget};
use unity_shared::model::storage::{
    CollectorOutcome, RaidCollection, SmartCollection, ZfsCollection,
};
use unity_shared::proto::{HostFacts, Sample, StorageState};

/// What one round produced.
#[derive(Debug)]
pub struct Collected {
    pub facts: Option<HostFacts>,
    pub samples: Vec<Sample>,
    pub storage: Option<StorageState>,
}

/// Runs one round. `Err` is an outcome with nothing collected (unreachable, host key, login);
/// `Ok` carries what was collected and the outcome (`Collected`, or the first command that
/// failed).
pub async fn run(
    target: &AgentlessTarget,
    now_ms: i64,
) -> Result<(Collected, AgentlessOutcome), AgentlessOutcome> {
    let timeout = Duration::from_secs(u64::from(target.command_timeout_secs.max(1)));
    let runner = ssh::connect(target, timeout).await?;
    let mut failures = Failures::default();
    let facts = facts(&runner, timeout, &mut failures).await;
    let mut samples = Vec::new();
    if target.collectors.system {
        let snapshot = system_snapshot(&runner, timeout, &mut failures).await;
        samples.extend(system::to_samples(&snapshot, now_ms));
    }
    let collectors = target.collectors;
    let storage = if collectors.smart || collectors.zfs || collectors.raid {
        let state = storage(&runner, target, timeout, now_ms, &mut failures).await;
        samples.extend(crate::collect::storage_samples(&state, now_ms));
        Some(state)
    } else {
        None
    };
    runner.close().await;
    let outcome = failures.first.unwrap_or(AgentlessOutcome::Collected);
    Ok((
        Collected {
            facts,
            samples,
            storage,
        },
        outcome,
    ))
}

/// The first command that failed, for the host's status.
#[derive(Default)]
struct Failures {
    first: Option<AgentlessOutcome>,
}

impl Failures {
    fn note(&mut self, command: String, message: String) {
        self.first
            .get_or_insert(AgentlessOutcome::CommandFailed { command, message });
    }
}

/// The command's standard output when it ran and exited 0; `None` (noted unless the program
/// is simply missing there) otherwise.
async fn text(
    runner: &SshRunner,
    timeout: Duration,
    failures: &mut Failures,
    program: &str,
    args: &[&str],
) -> Option<String> {
    let spec = CommandSpec::new(program, args);
    match runner.run(&spec, timeout).await {
        Ok(output) if output.exit_code == Some(0) => Some(output.stdout_lossy()),
        Ok(output) => {
            failures.note(
                spec.display(),
                format!(
                    "exit {:?}: {}",
                    output.exit_code,
                    String::from_utf8_lossy(&output.stderr).trim()
                ),
            );
            None
        }
        Err(error) if error.is_not_found() => None,
        Err(error) => {
            failures.note(spec.display(), error.to_string());
            None
        }
    }
}

async fn facts(
    runner: &SshRunner,
    timeout: Duration,
    failures: &mut Failures,
) -> Option<HostFacts> {
    let hostname = text(runner, timeout, failures, "uname", &["-n"]).await?;
    let uname = text(runner, timeout, failures, "uname", &["-srm"])
        .await
        .unwrap_or_default();
    let mut quiet = Failures::default();
    let os_release = text(runner, timeout, &mut quiet, "cat", &["/etc/os-release"])
        .await
        .unwrap_or_default();
    let meminfo = text(runner, timeout, &mut quiet, "cat", &["/proc/meminfo"]).await;
    let nproc = text(runner, timeout, &mut quiet, "nproc", &[])
        .await
        .unwrap_or_default();
    Some(proc_text::host_facts(
        &hostname,
        &uname,
        &os_release,
        meminfo.as_deref(),
        &nproc,
    ))
}

async fn system_snapshot(
    runner: &SshRunner,
    timeout: Duration,
    failures: &mut Failures,
) -> system::SystemSnapshot {
    let loadavg = text(runner, timeout, failures, "cat", &["/proc/loadavg"]).await;
    let meminfo = text(runner, timeout, failures, "cat", &["/proc/meminfo"]).await;
    let uptime = text(runner, timeout, failures, "cat", &["/proc/uptime"]).await;
    let df = text(runner, timeout, failures, "df", &["-P", "-T", "-B1"]).await;
    proc_text::snapshot(
        loadavg.as_deref(),
        meminfo.as_deref(),
        uptime.as_deref(),
        df.as_deref(),
    )
}

fn not_collected(tool: &str) -> CollectorOutcome {
    CollectorOutcome::NotInstalled {
        tool: format!("{tool} (not collected on this host)"),
    }
}

async fn storage(
    runner: &SshRunner,
    target: &AgentlessTarget,
    timeout: Duration,
    now_ms: i64,
    failures: &mut Failures,
) -> StorageState {
    let collectors = target.collectors;
    let smart = if collectors.smart {
        let config = smart::SmartConfig {
            timeout,
            ..smart::SmartConfig::default()
        };
        smart::run::collect_with(runner, &config).await
    } else {
        SmartCollection {
            outcome: not_collected("smartctl"),
            devices: Vec::new(),
        }
    };
    let zfs = if collectors.zfs {
        let config = zfs::ZfsConfig {
            timeout,
            ..zfs::ZfsConfig::default()
        };
        zfs::run::collect_with(runner, &config, Some(now_ms.div_euclid(1000))).await
    } else {
        ZfsCollection {
            outcome: not_collected("zpool"),
            pools: Vec::new(),
            capacity: Vec::new(),
            datasets: Vec::new(),
            warnings: Vec::new(),
            errors: Vec::new(),
        }
    };
    let raid = if collectors.raid {
        let config = mdraid::RaidConfig {
            timeout,
            ..mdraid::RaidConfig::default()
        };
        let mdstat = read_file(runner, timeout, "/proc/mdstat").await;
        mdraid::run::collect_with(runner, &config, mdstat).await
    } else {
        RaidCollection {
            outcome: not_collected("mdstat"),
            arrays: Vec::new(),
            warnings: Vec::new(),
            errors: Vec::new(),
        }
    };
    for (name, outcome) in [
        ("smartctl", &smart.outcome),
        ("zpool", &zfs.outcome),
        ("mdstat", &raid.outcome),
    ] {
        if let CollectorOutcome::Failed { message } = outcome {
            failures.note(name.to_owned(), message.clone());
        }
    }
    let mounts = read_file(runner, timeout, "/proc/mounts")
        .await
        .map(|text| stack::parse_mounts(&text))
        .unwrap_or_default();
    let stack = stack::link(&smart, &zfs, &raid, &[], &mounts, &[]);
    StorageState {
        smart,
        zfs,
        raid,
        stack,
    }
}

/// A file on the host through `cat`: a missing file is `NotFound`, as a local read says.
async fn read_file(runner: &SshRunner, timeout: Duration, path: &str) -> std::io::Result<String> {
    let spec = CommandSpec::new("cat", &[path]);
    match runner.run(&spec, timeout).await {
        Ok(output) if output.exit_code == Some(0) => Ok(output.stdout_lossy()),
        Ok(output) => {
            let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
            let kind = if stderr.contains("No such file") {
                std::io::ErrorKind::NotFound
            } else {
                std::io::ErrorKind::Other
            };
            Err(std::io::Error::new(
                kind,
                format!("{path} on the remote host: {stderr}"),
            ))
        }
        Err(ExecError::Spawn { source, .. }) => Err(source),
        Err(error) => Err(std::io::Error::other(error.to_string())),
    }
}
