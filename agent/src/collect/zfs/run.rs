//! Runs `zpool status -j` (falling back to the text of `zpool status -p`), `zpool list -Hp` and
//! `zfs list -Hp` through [`crate::exec::run`], parses them and gives each pool a verdict.

use std::path::PathBuf;
use std::time::Duration;

use unity_shared::model::storage::{
    CollectorOutcome, ParseWarning, PoolResult, ZfsCollection, ZpoolStatus,
};

use super::parse_list::{ZFS_LIST_COLUMNS, ZPOOL_LIST_COLUMNS};
use super::{
    parse_status, parse_status_json, parse_zfs_list, parse_zpool_list, verdict, ZfsThresholds,
};
use crate::exec::{CommandSpec, ExecError, Local, Output, Runner};

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
    collect_at(config, Some(crate::clock::now_seconds())).await
}

/// [`collect`] with the clock passed in (tests pin it).
pub async fn collect_at(config: &ZfsConfig, now_unix: Option<i64>) -> ZfsCollection {
    collect_with(&Local, config, now_unix).await
}

/// [`collect_at`] with the commands run by `runner` (here, or on an agentless host).
pub async fn collect_with(
    runner: &impl Runner,
    config: &ZfsConfig,
    now_unix: Option<i64>,
) -> ZfsCollection {
    let mut collection = ZfsCollection {
        outcome: CollectorOutcome::Ok,
        pools: Vec::new(),
        capacity: Vec::new(),
        datasets: Vec::new(),
        warnings: Vec::new(),
        errors: Vec::new(),
    };
    let (parsed, status_warnings) = match status(runner, config).await {
        Ok(Status::Parsed(parsed, warnings)) => (parsed, warnings),
        Ok(Status::Unparsed(message)) => {
            collection.outcome = CollectorOutcome::Failed { message };
            return collection;
        }
        Err(error) => return failed(collection, config, &error),
    };
    collection.warnings.extend(status_warnings);
    for pool in parsed.pools {
        let verdict = verdict(&pool, &config.thresholds, now_unix);
        collection.pools.push(PoolResult {
            status: pool,
            verdict,
        });
    }
    let list_args = ["list", "-Hp", "-o", ZPOOL_LIST_COLUMNS];
    match run(runner, config, &config.zpool_path, &list_args).await {
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
    match run(runner, config, &config.zfs_path, &zfs_args).await {
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

/// `zpool status -j` (OpenZFS 2.3 and later) with numbers as JSON integers and exact values.
pub const STATUS_JSON_ARGS: [&str; 4] = ["status", "-j", "--json-int", "-p"];

/// What the `zpool status` step produced.
enum Status {
    Parsed(ZpoolStatus, Vec<ParseWarning>),
    /// The tool ran but its output could not be parsed; the message keeps the evidence.
    Unparsed(String),
}

/// Runs `zpool status -j --json-int -p` and parses it. Where `zpool` rejects `-j` (a non-zero
/// exit: OpenZFS before 2.3) or prints JSON we cannot read, falls back to the text output of
/// `zpool status -p`, and to plain `zpool status` where `-p` is unknown too. A spawn failure or
/// timeout of the first attempt ends the step: the text commands would fail the same way.
async fn status(runner: &impl Runner, config: &ZfsConfig) -> Result<Status, ExecError> {
    let json = run(runner, config, &config.zpool_path, &STATUS_JSON_ARGS).await?;
    let mut warnings = Vec::new();
    if json.exit_code == Some(0) {
        let text = json.stdout_lossy();
        if no_pools(&text, &json) {
            return Ok(Status::Parsed(ZpoolStatus::default(), Vec::new()));
        }
        match parse_status_json(&text) {
            Ok((parsed, json_warnings)) => return Ok(Status::Parsed(parsed, json_warnings)),
            Err(error) => warnings.push(ParseWarning {
                line_number: None,
                line: String::new(),
                message: format!(
                    "`zpool {}` printed output that is not `zpool status -j` JSON ({error}); \
                     used the text output instead",
                    STATUS_JSON_ARGS.join(" ")
                ),
            }),
        }
    }
    // `zpool status -p` prints exact counters; old zpool versions reject `-p`.
    let output = match run(runner, config, &config.zpool_path, &["status", "-p"]).await? {
        output if output.exit_code == Some(0) => output,
        _ => run(runner, config, &config.zpool_path, &["status"]).await?,
    };
    let text = output.stdout_lossy();
    if no_pools(&text, &output) {
        // Nothing imported: a valid, empty result.
        return Ok(Status::Parsed(ZpoolStatus::default(), warnings));
    }
    match parse_status(&text) {
        Ok((parsed, text_warnings)) => {
            warnings.extend(text_warnings);
            Ok(Status::Parsed(parsed, warnings))
        }
        Err(error) => Ok(Status::Unparsed(format!(
            "parsing `zpool status` (exit {:?}, stderr {:?}): {error}",
            output.exit_code,
            String::from_utf8_lossy(&output.stderr).trim()
        ))),
    }
}

/// `zpool status` with no pool imported prints nothing on stdout and `no pools available` on
/// stderr.
fn no_pools(stdout: &str, output: &Output) -> bool {
    stdout.trim().is_empty()
        && String::from_utf8_lossy(&output.stderr).contains("no pools available")
}

async fn run(
    runner: &impl Runner,
    config: &ZfsConfig,
    program: &PathBuf,
    args: &[&str],
) -> Result<Output, ExecError> {
    runner
        .run(&CommandSpec::new(program, args), config.timeout)
        .await
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
