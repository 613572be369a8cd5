//! Putting a container's data back as it was before an update, when a rollback follows a new
//! version that ran (and so may have migrated the data): from the volume archives taken with
//! the backup (each volume emptied, then the archive unpacked into it, before the old container
//! starts), or from the database dump (Redis: the RDB file copied into the stopped old
//! container; the others: the dump fed to `psql` / `mariadb` / `mongorestore` once the old
//! server answers). Which one follows the `[containers] data_restore` policy ([`choose`]).

use std::path::Path;
use std::time::Duration;

use unity_shared::model::update::DataSource;

use unity_shared::model::data_restore::DATA_RESTORE_LABEL;

use super::backup::BackupFile;
use super::dump;
use super::dump_plan;
use super::engine::Engine;
use crate::exec::{self, CommandSpec};

/// Where the data comes back from (the agent's `[containers] data_restore`, or a container's
/// `unity.update.data_restore` label: [`policy_for`]).
pub use unity_shared::model::data_restore::DataRestorePolicy as Policy;

/// The policy for the container `inspect` describes (a backup's copy of it, or the live
/// container): its `unity.update.data_restore` label over `agent`'s setting. Pure.
pub fn policy_for(agent: Policy, inspect: &serde_json::Value) -> Result<Policy, String> {
    let label = inspect
        .pointer("/Config/Labels")
        .and_then(|labels| labels.get(DATA_RESTORE_LABEL))
        .and_then(|value| value.as_str());
    Policy::for_container(agent, label)
        .map_err(|error| format!("label {DATA_RESTORE_LABEL}: {error}"))
}

/// What `policy` takes for `backup`, when it has what it needs. Pure.
pub fn choose(policy: Policy, backup: &BackupFile) -> Option<DataSource> {
    let archives = !backup.volume_archives.is_empty();
    let dump = backup.dump.is_some();
    match policy {
        Policy::Auto if archives => Some(DataSource::VolumeArchive),
        Policy::Auto | Policy::Dump if dump => Some(DataSource::Dump),
        Policy::Volume if archives => Some(DataSource::VolumeArchive),
        _ => None,
    }
}

/// The longest one `tar -x` may take.
const TAR_TIMEOUT: Duration = Duration::from_secs(1800);
/// How long the old server may take to answer before its dump is fed to it.
const READY_WITHIN: Duration = Duration::from_secs(120);

/// The restore steps before the old container starts: the volume archives, or a Redis RDB file
/// copied into `stopped` (the old container, parked and stopped).
pub async fn before_start<E: Engine>(
    engine: &E,
    stopped: &str,
    backup: &BackupFile,
    dir: &Path,
    source: DataSource,
) -> Result<(), String> {
    match source {
        DataSource::VolumeArchive => {
            for archive in &backup.volume_archives {
                let prefix = format!("{}-", backup.taken_at_ms);
                let volume = archive
                    .strip_prefix(&prefix)
                    .and_then(|rest| rest.strip_suffix(".tar.gz"))
                    .ok_or_else(|| format!("{archive} names no volume"))?;
                unpack(engine, volume, &dir.join(archive)).await?;
            }
            Ok(())
        }
        DataSource::Dump => {
            let (Some(dump), Some((rdb_dir, rdb_name))) = (&backup.dump, &backup.rdb_target) else {
                return Ok(());
            };
            engine
                .upload_file(stopped, rdb_dir, rdb_name, &dir.join(&dump.file))
                .await
                .map_err(|error| format!("copying the RDB file back: {error}"))
        }
    }
}

/// Empties the volume's directory and unpacks `archive` into it.
async fn unpack<E: Engine>(engine: &E, volume: &str, archive: &Path) -> Result<(), String> {
    let mountpoint = engine
        .volume_mountpoint(volume)
        .await
        .map_err(|error| error.to_string())?
        .ok_or_else(|| format!("volume {volume} is gone"))?;
    let emptied = mountpoint.clone();
    let cleared = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        for entry in std::fs::read_dir(&emptied)? {
            let path = entry?.path();
            if std::fs::symlink_metadata(&path)?.is_dir() {
                std::fs::remove_dir_all(&path)?;
            } else {
                std::fs::remove_file(&path)?;
            }
        }
        Ok(())
    })
    .await;
    match cleared {
        Ok(Ok(())) => {}
        Ok(Err(error)) => return Err(format!("emptying volume {volume}: {error}")),
        Err(error) => return Err(format!("emptying volume {volume}: {error}")),
    }
    let spec = CommandSpec::new(
        "tar",
        &[
            "-C",
            &mountpoint.to_string_lossy(),
            "--numeric-owner",
            "-xzpf",
            &archive.to_string_lossy(),
        ],
    );
    let output = exec::run(&spec, TAR_TIMEOUT)
        .await
        .map_err(|error| format!("unpacking into volume {volume}: {error}"))?;
    if output.exit_code != Some(0) {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!("unpacking into volume {volume}: {}", stderr.trim()));
    }
    Ok(())
}

/// The restore steps once the old container runs again: its dump fed to the server (not for
/// Redis, whose file went back before the start). Returns a line for the log.
pub async fn after_start<E: Engine>(
    engine: &E,
    running: &str,
    backup: &BackupFile,
    dir: &Path,
    source: DataSource,
) -> Result<Option<String>, String> {
    let (DataSource::Dump, Some(dump)) = (source, &backup.dump) else {
        return Ok(None);
    };
    let env = backup
        .inspect
        .pointer("/Config/Env")
        .and_then(|env| env.as_array())
        .map(|env| {
            env.iter()
                .filter_map(|entry| entry.as_str().map(str::to_owned))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let commands = dump_plan::restore_commands(dump.kind, &env);
    if commands.is_empty() {
        return Ok(None);
    }
    dump::wait_ready(engine, running, dump.kind, &env, READY_WITHIN).await?;
    let input = dir.join(&dump.file);
    let mut last = String::new();
    for command in &commands {
        let program = command.cmd.first().cloned().unwrap_or_default();
        let end = dump::feed(engine, running, command, &input).await?;
        if end.succeeded() {
            let errors = end.stderr.matches("ERROR").count();
            return Ok(Some(match errors {
                0 => format!("{program} read the dump back"),
                n => format!(
                    "{program} read the dump back; {n} statements failed (objects that exist already)"
                ),
            }));
        }
        last = format!(
            "{program} exited with {:?}: {}",
            end.exit_code,
            end.stderr.lines().last().unwrap_or_default()
        );
        if !end.not_found() {
            break;
        }
    }
    Err(last)
}

/// Puts `backup`'s data into `container` (a manual restore, after the container was recreated
/// from that backup): stopped, the files back, started, the dump fed. Returns a line for the
/// log.
pub async fn restore_into<E: Engine>(
    engine: &E,
    container: &str,
    backup: &BackupFile,
    dir: &Path,
    source: DataSource,
    grace: Duration,
) -> Result<Option<String>, String> {
    engine
        .stop(container, grace)
        .await
        .map_err(|error| error.to_string())?;
    before_start(engine, container, backup, dir, source).await?;
    engine
        .start(container)
        .await
        .map_err(|error| error.to_string())?;
    after_start(engine, container, backup, dir, source).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use unity_shared::model::database_image::DatabaseKind;
    use unity_shared::model::update::DatabaseDump;

    fn backup(archives: bool, dump: bool) -> BackupFile {
        BackupFile {
            container: "db".into(),
            taken_at_ms: 1,
            image_ref: "postgres:15".into(),
            image_id: "sha256:1".into(),
            inspect: serde_json::json!({}),
            volume_archives: if archives {
                vec!["1-data.tar.gz".into()]
            } else {
                Vec::new()
            },
            dump: dump.then(|| DatabaseDump {
                kind: DatabaseKind::Postgres,
                file: "1-dump.sql".into(),
                size_bytes: 1,
                duration_ms: 1,
            }),
            rdb_target: None,
        }
    }

    #[test]
    fn issue_17_the_policy_chooses_where_the_data_comes_from() {
        use DataSource::*;
        assert_eq!(
            choose(Policy::Auto, &backup(true, true)),
            Some(VolumeArchive)
        );
        assert_eq!(choose(Policy::Auto, &backup(false, true)), Some(Dump));
        assert_eq!(choose(Policy::Auto, &backup(false, false)), None);
        assert_eq!(choose(Policy::Dump, &backup(true, true)), Some(Dump));
        assert_eq!(choose(Policy::Dump, &backup(true, false)), None);
        assert_eq!(choose(Policy::Volume, &backup(false, true)), None);
        assert_eq!(
            choose(Policy::Volume, &backup(true, true)),
            Some(VolumeArchive)
        );
        assert_eq!(choose(Policy::Off, &backup(true, true)), None);
        assert_eq!(Policy::parse("dump"), Ok(Policy::Dump));
        assert!(Policy::parse("tape").is_err());
    }

    #[test]
    fn issue_17_a_containers_label_overrides_the_agents_data_restore() {
        let labelled = |value: &str| serde_json::json!({ "Config": { "Labels": { DATA_RESTORE_LABEL: value } } });
        assert_eq!(policy_for(Policy::Auto, &labelled("off")), Ok(Policy::Off));
        assert_eq!(policy_for(Policy::Off, &labelled("dump")), Ok(Policy::Dump));
        assert_eq!(
            policy_for(
                Policy::Volume,
                &serde_json::json!({ "Config": { "Labels": null } })
            ),
            Ok(Policy::Volume)
        );
        assert_eq!(
            policy_for(Policy::Dump, &serde_json::json!({})),
            Ok(Policy::Dump)
        );
        let error = policy_for(Policy::Auto, &labelled("tape")).unwrap_err();
        assert_eq!(
            error,
            "label unity.update.data_restore: unknown data restore policy \"tape\" (expected \
             auto, volume, dump or off)"
        );
    }
}
