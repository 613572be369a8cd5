//! Runs `zpool list -Hp`, `zfs list -Hp` and `zpool status -p` through [`crate::exec::run`],
//! parses them and gives each pool a verdict.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use unity_shared::model::storage::{CollectorOutcome, PoolResult, ZfsCollection};

use super::parse_list::{ZFS_LIST_COLUMNS, ZPOOL_LIST_COLUMNS};
use super::{parse_status, parse_zfs_list, parse_zpool_list, verdict, ZfsThresholds};
use crate::exec::{self, CommandSpec, ExecError, Output};

/// How to run the ZFS tools.
#[derive(Debug, Clone)]
pub struct ZfsConfig {
    pub zpool_path: PathBuf,
    pub zfs_path: PathBuf,
    /// Per command.
    pub timeout: Duration,
    pub thresholds: ZfsThresholds,
}

impl Default for ZfsConfig {
    fn default() -> ZfsConfig {
        ZfsConfig {
            zpool_path: PathBuf::from("zpool"),
            zfs_path: PathBuf::from("zfs"),
            timeout: Duration::from_secs(30),
            thresholds: ZfsThresholds::default(),
        }
    }
}

/// Runs the ZFS tools and parses their output. Never fails as a whole: a missing `zpool` is
/// [`CollectorOutcome::NotInstalled`]; a failing `zfs list` is recorded in `errors`.
pub async fn collect(config: &ZfsConfig) -> ZfsCollection {
    let now_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_secs()).ok());
    collect_at(config, now_unix).await
}

/// [`collect`] with the clock passed in (tests pin it).
pub async fn collect_at(config: &ZfsConfig, now_unix: Option<i64>) -> ZfsCollection {
    let mut collection = ZfsCollection {
        outcome: CollectorOutcome::Ok,
        pools: Vec::new(),
        capacity: Vec::new(),
        datasets: Vec::new(),
        warnings: Vec::new(),
        errors: Vec::new(),
    };
    // `zpool status -p` prints exact counters; old zpool versions reject `-p`.
    let status = match run(config, &config.zpool_path, &["status", "-p"]).await {
        Ok(output) if output.exit_code == Some(0) => output,
        Ok(_) => match run(config, &config.zpool_path, &["status"]).await {
            Ok(output) => output,
            Err(error) => return failed(collection, config, &error),
        },
        Err(error) => return failed(collection, config, &error),
    };
    let status_text = status.stdout_lossy();
    let stderr = String::from_utf8_lossy(&status.stderr);
    if status_text.trim().is_empty() && stderr.contains("no pools available") {
        // Nothing imported: a valid, empty result.
    } else {
        match parse_status(&status_text) {
            Ok((parsed, warnings)) => {
                collection.warnings.extend(warnings);
                for pool in parsed.pools {
                    let verdict = verdict(&pool, &config.thresholds, now_unix);
                    collection.pools.push(PoolResult {
                        status: pool,
                        verdict,
                    });
                }
            }
            Err(error) => {
                collection.outcome = CollectorOutcome::Failed {
                    message: format!(
                        "parsing `zpool status` (exit {:?}, stderr {:?}): {error}",
                        status.exit_code,
                        stderr.trim()
                    ),
                };
                return collection;
            }
        }
    }
    let list_args = ["list", "-Hp", "-o", ZPOOL_LIST_COLUMNS];
    match run(config, &config.zpool_path, &list_args).await {
        Ok(output) => {
            let text = output.stdout_lossy();
            if !text.trim().is_empty() {
                match parse_zpool_list(&text) {
                    Ok((capacity, warnings)) => {
                        collection.capacity = capacity;
                        collection.warnings.extend(warnings);
                    }
                    Err(error) => collection.errors.push(format!("zpool list: {error}")),
                }
            }
        }
        Err(error) => collection.errors.push(error.to_string()),
    }
    let zfs_args = [
        "list",
        "-Hp",
        "-t",
        "filesystem,volume",
        "-o",
        ZFS_LIST_COLUMNS,
    ];
    match run(config, &config.zfs_path, &zfs_args).await {
        Ok(output) => {
            let text = output.stdout_lossy();
            if !text.trim().is_empty() {
                match parse_zfs_list(&text) {
                    Ok((datasets, warnings)) => {
                        collection.datasets = datasets;
                        collection.warnings.extend(warnings);
                    }
                    Err(error) => collection.errors.push(format!("zfs list: {error}")),
                }
            }
        }
        Err(error) => collection.errors.push(error.to_string()),
    }
    collection
}

async fn run(config: &ZfsConfig, program: &PathBuf, args: &[&str]) -> Result<Output, ExecError> {
    exec::run(&CommandSpec::new(program, args), config.timeout).await
}

fn failed(mut collection: ZfsCollection, config: &ZfsConfig, error: &ExecError) -> ZfsCollection {
    collection.outcome = if error.is_not_found() {
        CollectorOutcome::NotInstalled {
            tool: config.zpool_path.display().to_string(),
        }
    } else {
        CollectorOutcome::Failed {
            message: error.to_string(),
        }
    };
    collection
}
