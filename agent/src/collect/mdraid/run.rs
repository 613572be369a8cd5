//! Reads the mdstat file (`/proc/mdstat` by default) with `tokio::fs`, runs
//! `mdadm --detail /dev/<array>` through [`crate::exec::run`] when mdadm is installed, and
//! gives each array a verdict.

use std::path::PathBuf;
use std::time::Duration;

use unity_shared::model::storage::{ArrayResult, CollectorOutcome, MdDetail, RaidCollection};

use super::{array_verdict, parse_detail, parse_mdstat};
use crate::exec::{CommandSpec, Local, Runner};

/// Where to read md RAID state from.
#[derive(Debug, Clone)]
pub struct RaidConfig {
    /// `/proc/mdstat`, or a file with saved contents (tests).
    pub mdstat_path: PathBuf,
    /// `mdadm`, or a full path; `None` skips `mdadm --detail`.
    pub mdadm_path: Option<PathBuf>,
    /// Per command.
    pub timeout: Duration,
}

impl Default for RaidConfig {
    fn default() -> RaidConfig {
        RaidConfig {
            mdstat_path: PathBuf::from("/proc/mdstat"),
            mdadm_path: Some(PathBuf::from("mdadm")),
            timeout: Duration::from_secs(15),
        }
    }
}

/// Reads and parses md RAID state. Never fails as a whole: no mdstat file (no md driver) is
/// [`CollectorOutcome::NotInstalled`]; a missing mdadm only means no details.
pub async fn collect(config: &RaidConfig) -> RaidCollection {
    let text = tokio::fs::read(&config.mdstat_path)
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
    collect_with(&Local, config, text).await
}

/// [`collect`] from the mdstat text already read (`Err` when reading it failed), with
/// `mdadm --detail` run by `runner` (here, or on an agentless host).
pub async fn collect_with(
    runner: &impl Runner,
    config: &RaidConfig,
    mdstat: std::io::Result<String>,
) -> RaidCollection {
    let mut collection = RaidCollection {
        outcome: CollectorOutcome::Ok,
        arrays: Vec::new(),
        warnings: Vec::new(),
        errors: Vec::new(),
    };
    let text = match mdstat {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            collection.outcome = CollectorOutcome::NotInstalled {
                tool: config.mdstat_path.display().to_string(),
            };
            return collection;
        }
        Err(error) => {
            collection.outcome = CollectorOutcome::Failed {
                message: format!("reading {}: {error}", config.mdstat_path.display()),
            };
            return collection;
        }
    };
    let (mdstat, warnings) = match parse_mdstat(&text) {
        Ok(parsed) => parsed,
        Err(error) => {
            collection.outcome = CollectorOutcome::Failed {
                message: format!("parsing {}: {error}", config.mdstat_path.display()),
            };
            return collection;
        }
    };
    collection.warnings = warnings;
    let mut mdadm_path = config.mdadm_path.clone();
    for array in mdstat.arrays {
        let mut detail: Option<MdDetail> = None;
        if let Some(mdadm) = &mdadm_path {
            let device = format!("/dev/{}", array.name);
            let spec = CommandSpec::new(mdadm, &["--detail", &device]);
            match runner.run(&spec, config.timeout).await {
                Ok(output) => match parse_detail(&output.stdout_lossy()) {
                    Ok((parsed, warnings)) => {
                        detail = Some(parsed);
                        collection.warnings.extend(warnings);
                    }
                    Err(error) => collection.errors.push(format!(
                        "`{}` (exit {:?}): {error}; stderr: {}",
                        spec.display(),
                        output.exit_code,
                        String::from_utf8_lossy(&output.stderr).trim()
                    )),
                },
                // mdadm is optional: without it, mdstat alone decides.
                Err(error) if error.is_not_found() => mdadm_path = None,
                Err(error) => collection.errors.push(error.to_string()),
            }
        }
        let verdict = array_verdict(&array, detail.as_ref());
        collection.arrays.push(ArrayResult {
            array,
            detail,
            verdict,
        });
    }
    collection
}
