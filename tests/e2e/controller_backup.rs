//! Issue 20 §5: the controller's backup and restore with the real binary. An agent pushes
//! every 200 ms while `unity-controller backup FILE --passphrase-file` runs against the
//! daemon; the controller is then killed, the archive restored into a fresh data directory
//! with `unity-controller restore`, and a controller started there on the same address: the
//! same agent (same certificate, no new enrollment) reconnects and keeps reporting, and every
//! series holds exactly the points that were stored before the backup began. Also: the wrong
//! passphrase, a restore onto a running controller or a non-empty directory are refused, and
//! scheduled backups rotate (keeping the newest, never touching other files) and, when they
//! fail, keep every old archive and show the failure in `/metrics`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;
use unity_controller::admin::{AdminResponse, SeriesView};
use unity_controller::backup::rotation::archive_name;
use unity_controller::clock::now_ms;
use unity_shared::proto::AgentId;
use unity_tests::*;

const BINARY: &str = env!("CARGO_BIN_EXE_unity-e2e-controller");

/// Runs the controller binary with `args` on `data_dir`.
fn cli(data_dir: &Path, args: &[&str]) -> Output {
    #[allow(clippy::disallowed_methods)]
    let output = std::process::Command::new(BINARY)
        .arg("--config")
        .arg("/dev/null")
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("UNITY_LOG", "warn")
        .output()
        .expect("the controller binary runs");
    output
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Every series of a metric: labels -> points.
type History = BTreeMap<Vec<(String, String)>, Vec<(i64, f64)>>;

/// Every series of the metric as `labels -> points`.
async fn history(process: &ControllerProcess, agent_id: &AgentId) -> History {
    match process
        .call(query_request(agent_id, "cpu_usage_ratio"))
        .await
    {
        AdminResponse::Series(series) => series
            .into_iter()
            .map(|SeriesView { labels, points, .. }| (labels, points))
            .collect(),
        other => panic!("query failed: {other:?}"),
    }
}

fn n_points(history: &History) -> usize {
    history.values().map(Vec::len).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_ingest_restores_elsewhere_and_the_same_agent_reconnects() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let old_dir = dir.path().join("old-machine");
    let new_dir = dir.path().join("new-machine");
    let agent_dir = dir.path().join("agent");
    let archive = dir.path().join("controller.ubak");
    let passphrase = dir.path().join("backup.pass");
    std::fs::write(&passphrase, "correct horse battery staple\n").unwrap();
    let address = free_udp_address();
    let mut old = ControllerProcess::start(Path::new(BINARY), &old_dir, address).await;
    let agent_id = old.enroll(&agent_dir).await;
    let certificate = std::fs::read(agent_dir.join("identity.pem")).unwrap();
    let agent = unity_agent::runtime::start(agent_config(
        &agent_dir,
        address,
        Duration::from_millis(200),
    ))
    .await
    .unwrap();
    eventually("some history stored", Duration::from_secs(20), || async {
        (n_points(&history(&old, &agent_id).await) >= 3).then_some(())
    })
    .await;

    // Everything visible now is stored (or in the fsync the snapshot waits for).
    let before = history(&old, &agent_id).await;
    let pass = passphrase.to_str().unwrap();
    let output = cli(
        &old_dir,
        &[
            "backup",
            archive.to_str().unwrap(),
            "--passphrase-file",
            pass,
        ],
    );
    assert!(output.status.success(), "backup: {}", text(&output));
    assert!(text(&output).contains("encrypted"), "{}", text(&output));
    // The agent kept pushing: the old controller stored more after the backup.
    eventually("ingest went on", Duration::from_secs(20), || async {
        (n_points(&history(&old, &agent_id).await) > n_points(&before)).then_some(())
    })
    .await;
    let output = cli(&old_dir, &["backup", archive.to_str().unwrap()]);
    assert!(
        !output.status.success(),
        "an existing archive is never overwritten"
    );
    old.kill();

    // The wrong passphrase is refused before anything is written.
    let wrong = dir.path().join("wrong.pass");
    std::fs::write(&wrong, "not the passphrase\n").unwrap();
    let archive_arg = archive.to_str().unwrap();
    let output = cli(
        &new_dir,
        &[
            "restore",
            archive_arg,
            "--passphrase-file",
            wrong.to_str().unwrap(),
        ],
    );
    assert!(!output.status.success());
    assert!(
        text(&output).contains("wrong passphrase"),
        "{}",
        text(&output)
    );
    assert!(!new_dir.exists(), "nothing restored");
    let output = cli(&new_dir, &["restore", archive_arg]);
    assert!(text(&output).contains("encrypted"), "{}", text(&output));
    let output = cli(
        &new_dir,
        &[
            "restore",
            archive_arg,
            "--passphrase-file",
            pass,
            "--verify-only",
        ],
    );
    assert!(output.status.success(), "verify: {}", text(&output));
    assert!(!new_dir.exists(), "--verify-only writes nothing");

    let output = cli(
        &new_dir,
        &["restore", archive_arg, "--passphrase-file", pass],
    );
    assert!(output.status.success(), "restore: {}", text(&output));
    assert_eq!(ca_hash_of(&new_dir), ca_hash_of(&old_dir));
    let new = ControllerProcess::start(Path::new(BINARY), &new_dir, address).await;

    // A restore onto the running controller, or again onto its directory, is refused.
    let output = cli(
        &new_dir,
        &["restore", archive_arg, "--passphrase-file", pass, "--force"],
    );
    assert!(!output.status.success());
    assert!(text(&output).contains("is running"), "{}", text(&output));

    // The same agent reconnects with its certificate and reports again.
    let restored_at = now_ms();
    eventually_explained(
        "the agent reports to the restored controller",
        // The agent's reconnect backoff grew while no controller answered (up to 60 s).
        Duration::from_secs(75),
        || async {
            let newest = history(&new, &agent_id)
                .await
                .values()
                .filter_map(|points| points.last().map(|point| point.0))
                .max()
                .unwrap_or(0);
            (newest > restored_at).then_some(()).ok_or(format!(
                "newest point at {newest}, restored at {restored_at}"
            ))
        },
    )
    .await;
    assert_eq!(
        std::fs::read(agent_dir.join("identity.pem")).unwrap(),
        certificate,
        "the agent did not enroll again"
    );

    // Every point stored before the backup is there, and nothing else up to then.
    let after = history(&new, &agent_id).await;
    assert!(!before.is_empty());
    for (labels, points) in &before {
        let Some(&(last, _)) = points.last() else {
            continue;
        };
        let restored: Vec<(i64, f64)> = after
            .get(labels)
            .map(|points| points.iter().copied().filter(|p| p.0 <= last).collect())
            .unwrap_or_default();
        assert_eq!(&restored, points, "series {labels:?}");
    }
    agent.stop().await;

    // A non-empty directory needs --force, which moves it aside.
    drop(new);
    let output = cli(
        &new_dir,
        &["restore", archive_arg, "--passphrase-file", pass],
    );
    assert!(text(&output).contains("not empty"), "{}", text(&output));
    let output = cli(
        &new_dir,
        &["restore", archive_arg, "--passphrase-file", pass, "--force"],
    );
    assert!(output.status.success(), "forced restore: {}", text(&output));
    assert!(
        text(&output).contains("before-restore"),
        "{}",
        text(&output)
    );
}

/// The schedule makes a backup at start when the newest is older than the interval, then
/// keeps the newest `keep`; other files in the directory are never touched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_backups_run_when_due_and_rotate() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().join("backups");
    std::fs::create_dir_all(&backups).unwrap();
    let day = 86_400_000;
    let old_names: Vec<String> = (1..=3)
        .map(|days| archive_name(now_ms() - days * 10 * day))
        .collect();
    for name in &old_names {
        std::fs::write(backups.join(name), b"an old archive").unwrap();
    }
    std::fs::write(backups.join("notes.txt"), b"mine").unwrap();
    let config = dir.path().join("controller.toml");
    std::fs::write(
        &config,
        format!("[backup]\ndir = \"{}\"\nkeep = 2\n", backups.display()),
    )
    .unwrap();
    let data_dir = dir.path().join("data");
    let _process = ControllerProcess::start_configured(
        Path::new(BINARY),
        &config,
        &data_dir,
        free_udp_address(),
        None,
    )
    .await;
    let listing = |dir: PathBuf| {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let names = eventually(
        "a scheduled backup and its rotation",
        Duration::from_secs(30),
        || {
            let names = listing(backups.clone());
            let rotated = !names.contains(&old_names[1]);
            async move { rotated.then_some(names) }
        },
    )
    .await;
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(names.contains(&"notes.txt".to_owned()), "{names:?}");
    assert!(
        names.contains(&old_names[0]),
        "the newest old one is kept: {names:?}"
    );
    let new = names
        .iter()
        .find(|name| !old_names.contains(name) && name.ends_with(".ubak"))
        .expect("a new archive");
    let output = cli(
        &dir.path().join("elsewhere"),
        &[
            "restore",
            backups.join(new).to_str().unwrap(),
            "--verify-only",
        ],
    );
    assert!(output.status.success(), "{}", text(&output));
}

/// A scheduled backup that fails (here: its passphrase file is missing) deletes nothing and is
/// counted in `/metrics`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_scheduled_backup_deletes_nothing_and_shows_in_metrics() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().join("backups");
    std::fs::create_dir_all(&backups).unwrap();
    let old = archive_name(now_ms() - 30 * 86_400_000);
    std::fs::write(backups.join(&old), b"an old archive").unwrap();
    let mut config = controller_config(&dir.path().join("data"));
    config.backup.dir = Some(backups.clone());
    config.backup.keep = 1;
    config.backup.passphrase_file = Some(dir.path().join("missing.pass"));
    let controller = start_controller(config).await;
    let context = controller.context.clone();
    eventually(
        "the failure is counted",
        Duration::from_secs(20),
        || async { (context.backup.view().failures >= 1).then_some(()) },
    )
    .await;
    let names: Vec<_> = std::fs::read_dir(&backups)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        names,
        vec![std::ffi::OsString::from(&old)],
        "the old archive is kept, nothing else written"
    );
    let metrics = {
        let context = context.clone();
        tokio::task::spawn_blocking(move || unity_controller::api::metrics::render(&context))
            .await
            .unwrap()
            .unwrap()
    };
    assert!(
        metrics.contains("unity_backup_failures_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("unity_backup_last_failure_timestamp_seconds 1"),
        "{metrics}"
    );
    let audit = {
        let context = context.clone();
        tokio::task::spawn_blocking(move || unity_controller::domain::audit::recent(&context, 10))
            .await
            .unwrap()
            .unwrap()
    };
    assert!(
        audit
            .iter()
            .any(|entry| entry.action == "controller.backup_failed" && entry.actor == "backup"),
        "{audit:?}"
    );
    controller.shutdown().await.unwrap();
}
