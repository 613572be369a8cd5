//! Tests of [`super::run`] and [`super::run_limited`] against real programs: exit codes,
//! timeouts, output caps, process groups (a script that forks forever), another user.

use super::*;
use std::path::Path;

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

fn limits(timeout_ms: u64, max_output: usize) -> Limits {
    Limits {
        timeout: Duration::from_millis(timeout_ms),
        max_stdout: max_output,
        max_stderr: max_output,
    }
}

/// Processes still alive (not zombies) in process group `pgid`.
fn live_members(pgid: i32) -> Vec<i32> {
    let mut live = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid pgrp ...": comm may hold anything, so split after its ')'.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.len() > 2 && fields[0] != "Z" && fields[2] == pgid.to_string() {
            live.push(pid);
        }
    }
    live
}

/// The members of `pgid` still alive once a SIGKILL has had time to land: it is sent at once,
/// but on a loaded machine a killed process may take a moment to end, so this polls for up to
/// 5 s. A member that was never killed (a `sleep 30`) is still there at the end.
async fn still_running(pgid: i32) -> Vec<i32> {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let live = live_members(pgid);
        if live.is_empty() || std::time::Instant::now() > deadline {
            return live;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Becomes the reaper of the orphans this test makes, so killed grandchildren do not stay
/// zombies (in a container whose init does not reap, they would for good).
fn adopt_orphans() {
    rustix::process::set_child_subreaper(Some(rustix::process::getpid())).unwrap();
}

/// Reaps the zombies of process group `pgid` that were reparented to this process.
async fn reap(pgid: i32) {
    let pgid = rustix::process::Pid::from_raw(pgid).unwrap();
    for _ in 0..200 {
        match rustix::process::waitpgid(pgid, rustix::process::WaitOptions::NOHANG) {
            Ok(Some(_)) => continue,
            Ok(None) => tokio::time::sleep(Duration::from_millis(10)).await,
            Err(_) => return,
        }
    }
}

fn read_pid(path: &Path) -> i32 {
    std::fs::read_to_string(path)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn issue_22_a_script_that_forks_forever_is_killed_with_its_whole_group() {
    adopt_orphans();
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let script = format!(
        "echo $$ > {}; while :; do sleep 30 & done",
        pid_file.display()
    );
    let spec = CommandSpec::new("sh", &["-c", &script]);
    let started = std::time::Instant::now();
    let error = run_limited(&spec, &limits(300, 4096)).await.unwrap_err();
    assert!(matches!(error, ExecError::Timeout { .. }), "{error}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let pgid = read_pid(&pid_file);
    let live = still_running(pgid).await;
    reap(pgid).await;
    assert!(live.is_empty(), "still running in group {pgid}: {live:?}");
}

#[tokio::test]
async fn issue_22_what_a_script_leaves_running_is_killed_when_it_exits() {
    adopt_orphans();
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    // The background sleep does not hold stdout, so the read ends when the script exits.
    let script = format!(
        "sleep 30 >/dev/null 2>&1 & echo $$ > {}; exit 2",
        pid_file.display()
    );
    let spec = CommandSpec::new("sh", &["-c", &script]);
    let output = run_limited(&spec, &limits(5000, 4096)).await.unwrap();
    assert_eq!(output.exit_code, Some(2));
    let pgid = read_pid(&pid_file);
    let live = still_running(pgid).await;
    reap(pgid).await;
    assert!(live.is_empty(), "left running in group {pgid}: {live:?}");
}

#[tokio::test]
async fn output_past_the_cap_is_cut_and_the_writer_stops() {
    let spec = CommandSpec::new("yes", &[]);
    let output = run_limited(&spec, &limits(10_000, 1000)).await.unwrap();
    assert_eq!(output.stdout.len(), 1000);
    assert!(output.stdout_truncated);
    assert!(!output.stderr_truncated);
    // `yes` dies of SIGPIPE once the pipe is closed, long before the timeout.
    assert_eq!(output.signal, Some(13), "{output:?}");
    let spec = CommandSpec::new("sh", &["-c", "printf 12345; exit 1"]);
    let output = run_limited(&spec, &limits(10_000, 5)).await.unwrap();
    assert_eq!(
        (output.stdout.as_slice(), output.stdout_truncated),
        (&b"12345"[..], false)
    );
    assert_eq!(output.exit_code, Some(1));
}

#[tokio::test]
async fn a_clean_environment_keeps_nothing_of_the_agents() {
    let spec = CommandSpec::new("sh", &["-c", "env | sort"])
        .env("UNITY_CHECK", "1")
        .clear_env();
    let output = run_limited(&spec, &limits(5000, 4096)).await.unwrap();
    let env = output.stdout_lossy();
    assert!(env.contains("UNITY_CHECK=1"), "{env}");
    assert!(env.contains(&format!("PATH={CLEAN_PATH}")), "{env}");
    assert!(
        !env.contains("CARGO"),
        "the test's environment leaked: {env}"
    );
}

#[tokio::test]
async fn runs_as_another_user_when_root() {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    let nobody = lookup_user("nobody", &passwd).unwrap();
    let spec = CommandSpec::new("id", &["-u"]).run_as(nobody.clone());
    let result = run_limited(&spec, &limits(5000, 4096)).await;
    if rustix::process::getuid().is_root() {
        let output = result.unwrap();
        assert_eq!(output.stdout_lossy().trim(), nobody.uid.to_string());
        let groups = run_limited(
            &CommandSpec::new("id", &["-G"]).run_as(nobody.clone()),
            &limits(5000, 4096),
        )
        .await
        .unwrap();
        assert_eq!(
            groups.stdout_lossy().trim(),
            nobody.gid.to_string(),
            "no supplementary group of root is kept"
        );
    } else {
        let error = result.unwrap_err().to_string();
        assert!(error.contains("as user nobody"), "{error}");
    }
}
