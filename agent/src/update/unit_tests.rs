//! Pure parts without an engine: the health gate's decisions, backups on disk and their diff,
//! the journal file.

use std::time::Duration;

use serde_json::json;
use unity_shared::model::update::OperationId;

use super::backup::{self, BackupFile};
use super::health::{judge, probe, Gate, Health, Observation, State, Verdict};
use super::journal::{Journal, Record, Step};

fn gate(has_healthcheck: bool) -> Gate {
    Gate {
        timeout: Duration::from_secs(30),
        start_grace: Duration::from_secs(5),
        stability: Duration::from_secs(3),
        has_healthcheck,
        runs_once: false,
        has_probe: false,
    }
}

fn at(secs: u64, state: State, health: Option<Health>) -> Observation {
    Observation {
        at: Duration::from_secs(secs),
        state,
        restart_count: 0,
        health,
        probe_ok: None,
    }
}

#[track_caller]
fn check(gate: &Gate, observations: &[Observation], expect: &str) {
    let verdict = match judge(gate, observations) {
        Verdict::Pending => "pending".to_owned(),
        Verdict::Healthy(why) => format!("healthy: {why}"),
        Verdict::Failed(why) => format!("failed: {why}"),
    };
    assert_eq!(verdict, expect);
}

#[test]
fn healthcheck_healthy_passes() {
    let seen = [
        at(0, State::Running, Some(Health::Starting)),
        at(1, State::Running, Some(Health::Healthy)),
    ];
    check(&gate(true), &seen, "healthy: reported healthy");
}

#[test]
fn unhealthy_is_tolerated_during_the_grace_period() {
    check(
        &gate(true),
        &[at(2, State::Running, Some(Health::Unhealthy))],
        "pending",
    );
    check(
        &gate(true),
        &[at(6, State::Running, Some(Health::Unhealthy))],
        "failed: reported unhealthy after the start grace period",
    );
}

#[test]
fn starting_forever_times_out() {
    check(
        &gate(true),
        &[at(31, State::Running, Some(Health::Starting))],
        "failed: not healthy within 30s",
    );
}

#[test]
fn without_healthcheck_it_must_stay_running_for_the_stability_period() {
    let gate = gate(false);
    check(
        &gate,
        &[at(0, State::Running, None), at(2, State::Running, None)],
        "pending",
    );
    check(
        &gate,
        &[at(0, State::Running, None), at(3, State::Running, None)],
        "healthy: ran for 3s without a restart",
    );
    let mut restarted = at(3, State::Running, None);
    restarted.restart_count = 1;
    check(
        &gate,
        &[at(0, State::Running, None), restarted],
        "failed: restarted 1 time(s)",
    );
    check(
        &gate,
        &[at(1, State::Restarting, None)],
        "failed: is restarting",
    );
}

#[test]
fn one_shot_containers_exit_zero() {
    let mut once = gate(false);
    once.runs_once = true;
    check(
        &once,
        &[at(1, State::Exited(0), None)],
        "healthy: exited with code 0, as a one-shot container does",
    );
    check(
        &once,
        &[at(1, State::Exited(2), None)],
        "failed: exited with code 2",
    );
    check(
        &gate(false),
        &[at(1, State::Exited(0), None)],
        "failed: exited with code 0",
    );
}

#[test]
fn the_probe_must_pass_too() {
    let mut probed = gate(true);
    probed.has_probe = true;
    let mut seen = at(1, State::Running, Some(Health::Healthy));
    check(&probed, &[seen.clone()], "pending");
    seen.probe_ok = Some(true);
    check(&probed, &[seen], "healthy: reported healthy");
    let failing = Observation {
        probe_ok: Some(false),
        ..at(31, State::Running, Some(Health::Healthy))
    };
    check(
        &probed,
        &[failing],
        "failed: the probe did not pass within 30s",
    );
}

fn sample(stamp: u64, env: &[&str]) -> BackupFile {
    BackupFile {
        container: "web".to_owned(),
        taken_at_ms: stamp,
        image_ref: "localhost/app:1".to_owned(),
        image_id: "sha256:1".to_owned(),
        inspect: json!({ "Config": { "Env": env }, "State": { "Running": stamp.is_multiple_of(2) } }),
        volume_archives: Vec::new(),
        dump: None,
        rdb_target: None,
    }
}

#[test]
fn backups_are_listed_newest_first_and_pruned() {
    let dir = tempfile::tempdir().unwrap();
    for stamp in [100, 300, 200] {
        backup::save(dir.path(), &sample(stamp, &["A=1"])).unwrap();
    }
    assert_eq!(
        backup::list(dir.path(), "web").unwrap(),
        ["300.json", "200.json", "100.json"]
    );
    let path = dir.path().join("backups/web/300.json");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(path).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(backup::prune(dir.path(), "web", 2, None).unwrap(), 1);
    assert_eq!(
        backup::newest(dir.path(), "web").unwrap().unwrap(),
        sample(300, &["A=1"])
    );
    assert_eq!(backup::list(dir.path(), "web").unwrap().len(), 2);
    assert!(backup::list(dir.path(), "../etc").is_err());
    assert!(backup::list(dir.path(), "none").unwrap().is_empty());
}

#[test]
fn issue_17_backups_with_their_dumps_are_capped_by_size_and_the_newest_stays() {
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().join("backups/web");
    for stamp in [100, 200, 300] {
        backup::save(dir.path(), &sample(stamp, &["A=1"])).unwrap();
        std::fs::write(
            backups.join(format!("{stamp}-dump.sql")),
            vec![b'x'; 10_000],
        )
        .unwrap();
    }
    let one = backup::size(dir.path(), "web", "300.json").unwrap();
    assert!(one > 10_000, "{one}");
    // Room for two: the oldest goes, with its dump.
    assert_eq!(
        backup::prune(dir.path(), "web", 10, Some(2 * one + 10)).unwrap(),
        1
    );
    assert_eq!(
        backup::list(dir.path(), "web").unwrap(),
        ["300.json", "200.json"]
    );
    assert!(!backups.join("100-dump.sql").exists());
    // A cap below one backup keeps the newest.
    assert_eq!(backup::prune(dir.path(), "web", 10, Some(1)).unwrap(), 1);
    assert_eq!(backup::list(dir.path(), "web").unwrap(), ["300.json"]);
    assert!(backups.join("300-dump.sql").exists());
}

#[test]
fn journal_round_trips_and_lists_unfinished_operations() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path()).unwrap();
    let mut record = Record::new(&OperationId("op-1".to_owned()), "web");
    assert_eq!(record.parked_name, "web-unity-old-op-1");
    journal.advance(&mut record, Step::OldRenamed).unwrap();
    let loaded = journal.load(&record.id).unwrap().unwrap();
    assert_eq!(loaded, record);
    assert_eq!(journal.unfinished().unwrap(), [record.clone()]);
    // A torn or garbled record is set aside; the others still recover.
    let journal_dir = dir.path().join("updates").join("journal");
    let torn: &[u8] = b"{\"id\": \"op-0\", \"step\":";
    std::fs::write(journal_dir.join("op-0.json"), torn).unwrap();
    assert_eq!(journal.unfinished().unwrap(), [record.clone()]);
    assert!(!journal_dir.join("op-0.json").exists());
    assert_eq!(
        std::fs::read(journal_dir.join("op-0.json.unreadable")).unwrap(),
        torn
    );
    assert!(journal.load(&OperationId("../x".to_owned())).is_err());
    assert!(journal.claim(&record.id));
    assert!(
        !journal.clone().claim(&record.id),
        "clones share the running set"
    );
    journal.release(&record.id);
    assert!(!journal.is_running(&record.id));
    assert_eq!(
        journal.load(&OperationId("other".to_owned())).unwrap(),
        None
    );
}

#[tokio::test]
async fn probes_connect_and_read_the_http_status() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use unity_shared::model::update::Probe;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        for status in ["200 OK", "503 Service Unavailable"] {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut request = [0; 256];
            let _ = stream.read(&mut request).await.unwrap();
            let answer = format!("HTTP/1.0 {status}\r\n\r\n");
            stream.write_all(answer.as_bytes()).await.unwrap();
        }
    });
    let host = "127.0.0.1".to_owned();
    let http = Probe::Http {
        host: host.clone(),
        port,
        path: "/health".to_owned(),
    };
    let timeout = Duration::from_secs(5);
    assert!(probe(&http, timeout).await);
    assert!(!probe(&http, timeout).await);
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    assert!(!probe(&Probe::Tcp { host, port: closed }, timeout).await);
}

#[test]
fn references_split_at_the_tag_not_the_registry_port() {
    use super::engine::split_tag;
    assert_eq!(split_tag("app:1"), ("app", Some("1")));
    assert_eq!(
        split_tag("127.0.0.1:5000/lab/app:1.1"),
        ("127.0.0.1:5000/lab/app", Some("1.1"))
    );
    assert_eq!(
        split_tag("127.0.0.1:5000/lab/app"),
        ("127.0.0.1:5000/lab/app", None)
    );
}

#[test]
fn the_compose_line_naming_an_image_is_found() {
    use super::compose_update::image_line;
    let text = "services:\n  db:\n    image: db:1\n  web:\n    image: 'app:1'\n";
    assert_eq!(image_line(text, "app:1"), Some(5));
    assert_eq!(image_line(text, "db:1"), Some(3));
    assert_eq!(image_line(text, "app:2"), None);
}

#[test]
fn issue_17_the_compose_override_names_only_the_digest_with_the_files_version() {
    let owner = "version: \"3.8\"\nservices:\n  web:\n    image: r/app:1\n";
    let text = super::compose_update::override_yaml(owner, "web", "r/app@sha256:ab");
    assert_eq!(
        text,
        "version: \"3.8\"\nservices:\n  \"web\":\n    image: \"r/app@sha256:ab\"\n"
    );
    let spec = super::compose_update::override_yaml("services: {}\n", "web", "r/app@sha256:ab");
    assert!(spec.starts_with("services:\n"), "{spec}");
}

#[test]
fn issue_17_a_restore_rewrites_the_override_for_the_restored_version() {
    use super::compose_files::override_after_restore;
    let pinned = "version: \"3.8\"\nservices:\n  \"web\":\n    image: \"r/app@sha256:cd\"\n";
    let back = override_after_restore(pinned, "web", Some("r/app@sha256:ab"));
    assert_eq!(
        back,
        "version: \"3.8\"\nservices:\n  \"web\":\n    image: \"r/app@sha256:ab\"\n"
    );
    // The version from before any override: no image, so compose runs the owner's tag.
    let emptied = override_after_restore(pinned, "web", None);
    assert_eq!(emptied, "version: \"3.8\"\nservices: {}\n");
    assert_eq!(override_after_restore(&emptied, "web", None), emptied);
    let unversioned = override_after_restore("services: {}\n", "web", None);
    assert_eq!(unversioned, "services: {}\n");
}

#[test]
fn issue_17_an_override_change_is_settled_by_how_the_restore_ended() {
    use super::compose::OverrideChange;
    use super::compose_files::settle;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("web.yml");
    std::fs::write(&file, "before").unwrap();
    let change = OverrideChange {
        file: file.clone(),
        before: "before".to_owned(),
        after: "after".to_owned(),
    };
    settle(&change, true).unwrap();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "after");
    settle(&change, true).unwrap();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "after");
    settle(&change, false).unwrap();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "before");
    assert!(!crate::fsutil::temporary_path(&file).exists());
    // A directory that is gone: an error, not a panic.
    let gone = OverrideChange {
        file: dir.path().join("gone").join("web.yml"),
        ..change
    };
    assert!(settle(&gone, true).is_err());
}

/// Issue 17: the override's text before an update is journaled whole or the update is refused
/// (never guessed: "there was none" would delete the file at rollback).
#[test]
fn issue_17_the_overrides_earlier_text_is_read_whole_or_refused() {
    use super::compose_files::{read_override_before, OVERRIDE_MAX_BYTES};
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("web.yml");
    assert_eq!(read_override_before(&file), Ok(None));
    // Byte for byte, a missing final newline and CRLF included.
    let text = "version: \"3.8\"\r\nservices:\n  \"web\":\n    image: \"r/app@sha256:ab\"";
    std::fs::write(&file, text).unwrap();
    assert_eq!(read_override_before(&file), Ok(Some(text.to_owned())));
    let at_cap = usize::try_from(OVERRIDE_MAX_BYTES).unwrap();
    std::fs::write(&file, "#".repeat(at_cap)).unwrap();
    assert_eq!(read_override_before(&file).unwrap().unwrap().len(), at_cap);
    std::fs::write(&file, "#".repeat(at_cap + 1)).unwrap();
    let too_big = read_override_before(&file).unwrap_err();
    assert!(
        too_big.contains("65537 bytes, more than the 65536"),
        "{too_big}"
    );
    std::fs::write(&file, b"services:\n  web:\n    image: \"\xff\"\n").unwrap();
    let binary = read_override_before(&file).unwrap_err();
    assert!(binary.contains("not UTF-8"), "{binary}");
    std::fs::remove_file(&file).unwrap();
    std::fs::create_dir(&file).unwrap();
    let directory = read_override_before(&file).unwrap_err();
    assert!(directory.contains("not a regular file"), "{directory}");
}
