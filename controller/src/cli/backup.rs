//! `unity-controller backup FILE` and `unity-controller restore FILE` (issue 20,
//! docs/backup.md). A backup is made by the running daemon over its admin socket (so the
//! snapshot is taken inside the process that writes the store), or straight from the
//! database when no daemon runs. A restore needs the controller stopped: it refuses while a
//! daemon answers on the target's admin socket.

use super::{admin_call, unexpected};
use crate::admin::{self, AdminRequest, AdminResponse, BackupRequest};
use crate::backup::crypt::Passphrase;
use crate::config::Config;
use crate::domain::controller_backup;
use anyhow::Context as _;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use unity_shared::outln;

/// Where the passphrase comes from (never the command line: it would show in `ps`).
#[derive(Debug, clap::Args)]
pub struct PassphraseArgs {
    /// Read the passphrase from this file (its first line; at least 8 characters).
    #[arg(long, value_name = "PATH", conflicts_with = "passphrase_stdin")]
    pub passphrase_file: Option<PathBuf>,
    /// Read the passphrase from the first line of standard input.
    #[arg(long)]
    pub passphrase_stdin: bool,
}

/// `unity-controller backup FILE`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  unity-controller backup /var/backups/unity/controller.ubak
  unity-controller backup /mnt/usb/controller.ubak --passphrase-file /root/backup.pass

The archive holds the agent CA, the controller's keys, the sealing key, the database and the
history: everything to bring the controller back on another machine with `restore`, without
re-enrolling agents. Not in it: the configuration file (keep your own copy). Without a
passphrase the archive holds the CA and sealing keys in the clear: store it like them.
While the daemon runs, it writes FILE itself (as its user), and ingest pauses briefly while
the database is copied. See docs/backup.md.")]
pub struct BackupArgs {
    /// The archive to write; it must not exist.
    pub file: PathBuf,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

/// `unity-controller restore FILE`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  unity-controller restore controller.ubak --data-dir /var/lib/unity-controller
  unity-controller restore controller.ubak --passphrase-file backup.pass --verify-only

Stop the controller first. The whole archive is checked (checksums, passphrase) before
anything is written; it is restored into a temporary directory that then replaces the data
directory. Afterwards start the controller: agents reconnect with the certificates they have.
If you restore as root, give the data directory to the controller's user
(`chown -R unity-controller: /var/lib/unity-controller`). See docs/backup.md.")]
pub struct RestoreArgs {
    /// The archive made by `unity-controller backup` or the schedule.
    pub file: PathBuf,
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
    /// Restore into a data directory that holds something: its contents are moved aside to
    /// `<data dir>.before-restore-<time>`, never deleted.
    #[arg(long)]
    pub force: bool,
    /// Only check the archive and say what it holds; write nothing.
    #[arg(long)]
    pub verify_only: bool,
}

fn read_passphrase(args: &PassphraseArgs) -> anyhow::Result<Option<Passphrase>> {
    if let Some(path) = &args.passphrase_file {
        return Ok(Some(controller_backup::read_passphrase_file(path)?));
    }
    if args.passphrase_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the passphrase from standard input")?;
        let line = line.trim_end_matches(['\r', '\n']);
        return Ok(Some(controller_backup::passphrase(line)?));
    }
    Ok(None)
}

fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    let cwd = std::env::current_dir().context("reading the working directory")?;
    Ok(controller_backup::absolute(path, &cwd))
}

pub async fn run_backup(args: BackupArgs, config: &Config) -> anyhow::Result<()> {
    let path = absolute(&args.file)?;
    let passphrase = read_passphrase(&args.passphrase)?;
    let request = AdminRequest::Backup(BackupRequest {
        path: path.display().to_string(),
        passphrase: passphrase.map(|passphrase| passphrase.expose().to_owned()),
    });
    match admin_call(config, request).await? {
        AdminResponse::Backup(done) => {
            outln!(
                "Backup written: {} ({} bytes, {} files, {} database records, {}).",
                done.path,
                done.bytes,
                done.n_files,
                done.n_records,
                if done.encrypted {
                    "encrypted"
                } else {
                    "NOT encrypted: it holds the CA and sealing keys, store it safely"
                }
            );
            Ok(())
        }
        other => unexpected(other),
    }
}

pub async fn run_restore(args: RestoreArgs, config: &Config) -> anyhow::Result<()> {
    let archive = absolute(&args.file)?;
    let passphrase = read_passphrase(&args.passphrase)?;
    let encrypted = {
        let archive = archive.clone();
        tokio::task::spawn_blocking(move || controller_backup::is_encrypted(&archive)).await??
    };
    if encrypted && passphrase.is_none() {
        anyhow::bail!("this backup is encrypted: give its passphrase with --passphrase-file or --passphrase-stdin");
    }
    if args.verify_only {
        let manifest = tokio::task::spawn_blocking(move || {
            controller_backup::verify(&archive, passphrase.as_ref())
        })
        .await??;
        let bytes: u64 = manifest.files.iter().map(|file| file.size).sum();
        outln!(
            "The backup is intact: {} files, {bytes} bytes, made {} by unity-controller {}{}.",
            manifest.files.len(),
            manifest.created_at,
            manifest.controller_version,
            if manifest.encrypted {
                ", encrypted"
            } else {
                ""
            }
        );
        return Ok(());
    }
    if admin::call_daemon(&config.admin_socket(), &AdminRequest::ListTokens)
        .await
        .ok()
        .flatten()
        .is_some()
    {
        anyhow::bail!(
            "a controller is running on {}; stop it first (systemctl stop unity-controller)",
            config.data_dir.display()
        );
    }
    let task_config = config.clone();
    let report = tokio::task::spawn_blocking(move || {
        controller_backup::restore(&task_config, &archive, passphrase, args.force)
    })
    .await??;
    outln!(
        "Restored {} files and {} database records into {} (backup made {} by unity-controller {}).",
        report.manifest.files.len(),
        report.n_records,
        config.data_dir.display(),
        report.manifest.created_at,
        report.manifest.controller_version
    );
    if let Some(aside) = report.moved_aside {
        outln!(
            "The directory's previous contents are in {}.",
            aside.display()
        );
    }
    outln!("Start the controller; agents reconnect with the certificates they have.");
    Ok(())
}
