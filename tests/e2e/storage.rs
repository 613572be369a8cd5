//! Issue 3, run side end to end: the real `unity-agent` CLI and daemon against fake
//! `smartctl`, `zpool`, `zfs` and `mdadm` executables that replay real outputs with their real
//! exit codes (this machine has no SMART disk, no ZFS and no md driver), and the typed state
//! arriving at the controller.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use unity_controller::storage::agents::StateKind;
use unity_shared::model::storage::VerdictStatus;
use unity_shared::proto::StorageState;
use unity_tests::*;

const AGENT: &str = env!("CARGO_BIN_EXE_unity-e2e-agent");

fn testdata(room: &str, name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../agent/src/collect")
        .join(room)
        .join("testdata")
        .join(name)
}

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Fake tools: one failing SATA drive (304 reallocated sectors), one healthy NVMe drive, a
/// degraded ZFS pool and a degraded md RAID5 that is recovering.
pub(crate) fn fake_host(dir: &Path) -> PathBuf {
    let sata = testdata(
        "smart",
        "smartctl-exporter-sat-seagate-st3500418as-realloc304.json",
    );
    let nvme = testdata("smart", "beszel-nvme-peladn-512gb-7.5.json");
    let smartctl = script(
        dir,
        "smartctl",
        &format!(
            r#"case "$*" in
  *--version*) echo "smartctl 7.3 2022-02-28 r5338 [x86_64-linux-6.1.0] (local build)"; exit 0;;
  *--scan-open*) echo "/dev/sda -d sat # /dev/sda [SAT], ATA device"; echo "/dev/nvme0 -d nvme # /dev/nvme0, NVMe device"; exit 0;;
  *nvme0*) cat "{nvme}"; exit 0;;
  *sda*) cat "{sata}"; exit 0;;
esac
exit 1
"#,
            nvme = nvme.display(),
            sata = sata.display()
        ),
    );
    let status = testdata("zfs", "status-degraded-device-removed.txt");
    let list = testdata("zfs", "list-Hp-four-pools-freenas.txt");
    let zfs_list = testdata("zfs", "zfs-list-Hp-datasets-numeric.txt");
    let zpool = script(
        dir,
        "zpool",
        &format!(
            r#"case "$1" in
  status) cat "{status}"; exit 0;;
  list) cat "{list}"; exit 0;;
esac
exit 2
"#,
            status = status.display(),
            list = list.display()
        ),
    );
    let zfs = script(dir, "zfs", &format!("cat \"{}\"\n", zfs_list.display()));
    let mdadm = script(
        dir,
        "mdadm",
        &format!(
            "cat \"{}\"\n",
            testdata("mdraid", "mdadm-detail-raid1-faulty-degraded.txt").display()
        ),
    );
    let mdstat = testdata("mdraid", "proc-mdstat-raid5-recovery-degraded.txt");
    let config = dir.join("agent.toml");
    std::fs::write(
        &config,
        format!(
            r#"data_dir = "{data}"

[storage]
interval = "200ms"
timeout = "5s"
smartctl = "{smartctl}"
zpool = "{zpool}"
zfs = "{zfs}"
mdadm = "{mdadm}"
mdstat = "{mdstat}"
"#,
            data = dir.join("data").display(),
            smartctl = smartctl.display(),
            zpool = zpool.display(),
            zfs = zfs.display(),
            mdadm = mdadm.display(),
            mdstat = mdstat.display()
        ),
    )
    .unwrap();
    config
}

fn agent_cli(config: &Path, args: &[&str]) -> (i32, String, String) {
    #[allow(clippy::disallowed_methods)]
    let output = std::process::Command::new(AGENT)
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn collect_commands_report_verdicts_with_meaningful_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let config = fake_host(dir.path());

    let (code, stdout, stderr) = agent_cli(&config, &["collect", "smart", "--json"]);
    assert_eq!(code, 2, "a failing drive exits 2\n{stdout}\n{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let devices = json["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 2, "{stdout}");
    let statuses: Vec<&str> = devices
        .iter()
        .map(|d| d["verdict"]["status"].as_str().unwrap())
        .collect();
    assert!(
        statuses.contains(&"failing") && statuses.contains(&"passed"),
        "{statuses:?}"
    );

    let (code, table, _) = agent_cli(&config, &["collect", "smart"]);
    assert_eq!(code, 2);
    assert!(
        table.contains("/dev/sda") && table.to_lowercase().contains("fail"),
        "{table}"
    );

    let (code, tree, stderr) = agent_cli(&config, &["collect", "storage"]);
    assert_eq!(code, 2, "the worst verdict decides\n{tree}\n{stderr}");
    assert!(
        tree.contains("/dev/sda") && tree.contains("/dev/nvme0"),
        "{tree}"
    );

    let (code, stdout, stderr) = agent_cli(&config, &["collect", "zfs", "--json"]);
    assert!(
        code == 1 || code == 2,
        "a degraded pool is not healthy ({code})\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("DEGRADED"), "{stdout}");

    let (code, stdout, stderr) = agent_cli(&config, &["collect", "raid", "--json"]);
    assert!(
        code == 1 || code == 2,
        "a degraded array is not healthy ({code})\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("recovery"), "{stdout}");

    // Missing tools are "not installed", not a crash and not a failure.
    let missing = dir.path().join("missing.toml");
    std::fs::write(
        &missing,
        "[storage]\nsmartctl = \"/nonexistent/smartctl\"\nzpool = \"/nonexistent/zpool\"\nmdstat = \"/nonexistent/mdstat\"\n",
    )
    .unwrap();
    for collector in ["smart", "zfs", "raid"] {
        let (code, stdout, stderr) = agent_cli(&missing, &["collect", collector, "--json"]);
        assert_eq!(code, 0, "{collector}: {stdout}{stderr}");
        assert!(stdout.contains("not_installed"), "{collector}: {stdout}");
    }

    // A tool that hangs is cut off at the timeout.
    let slow = script(dir.path(), "slow-smartctl", "sleep 30\n");
    let slow_config = dir.path().join("slow.toml");
    std::fs::write(
        &slow_config,
        format!(
            "[storage]\ntimeout = \"1s\"\nsmartctl = \"{}\"\n",
            slow.display()
        ),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let (code, stdout, _) = agent_cli(&slow_config, &["collect", "smart", "--json"]);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the timeout was not enforced"
    );
    assert_eq!(code, 3, "a collector that timed out exits 3: {stdout}");
}

#[test]
fn parse_command_prints_the_model_of_a_saved_output() {
    let fixture = testdata("smart", "linuxhw-ata-hp-mb1000gcehh-realloc-FAILED-7.1.txt");
    let (code, stdout, stderr) = agent_cli(
        Path::new("/dev/null"),
        &["parse", "smartctl", fixture.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["verdict"]["status"], "failing", "{stdout}");

    let garbage = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(garbage.path(), "this is not smartctl output\n").unwrap();
    let (code, _, stderr) = agent_cli(
        Path::new("/dev/null"),
        &["parse", "smartctl-json", garbage.path().to_str().unwrap()],
    );
    assert_ne!(code, 0);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_state_reaches_the_controller() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let config_path = fake_host(dir.path());
    let controller = start_controller(controller_config(&dir.path().join("controller"))).await;
    let agent_dir = dir.path().join("agent");
    let agent_id = enroll_agent(&controller, &agent_dir).await;
    let raw: unity_agent::config::RawConfig =
        toml::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    let mut config = unity_agent::config::Config::from_raw(raw).unwrap();
    config.data_dir = agent_dir.clone();
    config.controller = Some(controller.local_addr.to_string());
    config.interval = Duration::from_secs(3600);
    let agent = unity_agent::runtime::start(config).await.unwrap();

    let (_, state): (i64, StorageState) = eventually(
        "storage state at the controller",
        Duration::from_secs(20),
        || async {
            controller
                .context
                .store
                .agents
                .latest(&agent_id, StateKind::Storage)
                .unwrap()
        },
    )
    .await;
    let verdicts: Vec<VerdictStatus> = state
        .smart
        .devices
        .iter()
        .filter_map(|device| device.verdict.as_ref().map(|v| v.status))
        .collect();
    assert!(verdicts.contains(&VerdictStatus::Failing), "{verdicts:?}");
    assert!(!state.zfs.pools.is_empty());
    assert!(!state.raid.arrays.is_empty());
    assert!(state.stack.drives.len() >= 2, "{:?}", state.stack);

    // Per-device history arrives as series, labelled so a disk keeps it across /dev renames.
    let verdicts = eventually("smart_verdict series", Duration::from_secs(20), || async {
        let series = query(&controller, &agent_id, "smart_verdict").await;
        (series.len() >= 2).then_some(series)
    })
    .await;
    assert!(verdicts
        .iter()
        .all(|s| s.labels.iter().any(|(k, _)| k == "serial")));
    assert!(
        verdicts
            .iter()
            .any(|s| s.points.iter().any(|(_, v)| *v == 2.0)),
        "a failing drive: {verdicts:?}"
    );
    assert!(!query(&controller, &agent_id, "md_array_degraded")
        .await
        .is_empty());

    // The overview's roll-up counts disks, pools and arrays by verdict.
    let hosts = match admin_request(&controller, unity_controller::admin::AdminRequest::Hosts).await
    {
        unity_controller::admin::AdminResponse::Hosts(hosts) => hosts,
        other => panic!("{other:?}"),
    };
    let health = hosts[0].health;
    assert!(
        health.disks.reported && health.disks.failing >= 1 && health.disks.ok >= 1,
        "{health:?}"
    );
    assert!(
        health.pools.reported && health.pools.ok + health.pools.warning + health.pools.failing >= 1
    );
    assert!(
        health.arrays.reported && health.arrays.ok == 0,
        "degraded arrays are not ok: {health:?}"
    );
    assert!(!health.containers.reported);

    agent.stop().await;
    controller.shutdown().await.unwrap();
}
