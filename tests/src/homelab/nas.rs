//! The homelab's NAS storage (issue 19): twelve recorded SATA drives (one failing with 304
//! reallocated sectors), a degraded ZFS pool and an md RAID5 recovering, replayed by fake
//! `smartctl`, `zpool`, `zfs` and `mdadm` scripts that the agent's storage collectors run; and
//! [`start_nas`], a whole real agent that reports them.

use crate::enroll_agent;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use unity_agent::runtime::RunningAgent;
use unity_controller::service::RunningController;
use unity_shared::proto::AgentId;

/// Twelve recorded SATA drives; the last one fails (304 reallocated sectors).
pub const NAS_DRIVES: [&str; 12] = [
    "beszel-sat-ssd-crucial-p3-2tb-7.5.json",
    "netdata-sat-hdd-wd181kryz-7.3.json",
    "pysmart-ata-hdd-wd-hc550-windows-7.3.json",
    "scrutiny-ata-ssd-850pro-type-ata-7.0.json",
    "scrutiny-sat-hdd-wd140edfz-7.0.json",
    "scrutiny-sat-megaraid-wd4000fyyx-7.1.json",
    "scrutiny-sat-ssd-samsung-860evo-7.0-x.json",
    "smartctl-exporter-sat-toshiba-mg09aca18te.json",
    "smartctl-exporter-sat-ssd-transcend-ts32gmts400-siliconmotion.json",
    "smartctl-exporter-sat-hgst-hus724020ale640-exit64.json",
    "telegraf-usb-sat-sandisk-pssd-7.4.json",
    "smartctl-exporter-sat-seagate-st3500418as-realloc304.json",
];

/// The failing drive's device name on the NAS (the last of [`NAS_DRIVES`]).
pub const FAILING_DEVICE: &str = "/dev/sdl";
/// The NAS's ZFS pool and md array (from the recorded outputs).
pub const NAS_POOL: &str = "dummy";
pub const NAS_ARRAY: &str = "md127";

/// A recorded tool output of the agent's collectors.
pub fn testdata(room: &str, name: &str) -> PathBuf {
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

/// The agent's `[storage]` configuration for a 12-disk NAS made of recorded tool outputs
/// (fake tools written to `dir`).
pub fn nas_storage_config(dir: &Path) -> String {
    let names: Vec<String> = (0..NAS_DRIVES.len())
        .map(|i| format!("sd{}", (b'a' + i as u8) as char))
        .collect();
    let mut scan = String::new();
    let mut cases = String::new();
    for (name, fixture) in names.iter().zip(NAS_DRIVES) {
        scan.push_str(&format!(
            "echo \"/dev/{name} -d sat # /dev/{name} [SAT], ATA device\"; "
        ));
        cases.push_str(&format!(
            "  *{name}*) cat \"{}\"; exit 0;;\n",
            testdata("smart", fixture).display()
        ));
    }
    let smartctl = script(
        dir,
        "smartctl",
        &format!(
            "case \"$*\" in\n  *--version*) echo \"smartctl 7.3 2022-02-28 r5338 [x86_64-linux-6.1.0] (local build)\"; exit 0;;\n  *--scan-open*) {scan}exit 0;;\n{cases}esac\nexit 1\n"
        ),
    );
    let zpool = script(
        dir,
        "zpool",
        &format!(
            "case \"$1\" in\n  status) cat \"{}\"; exit 0;;\n  list) cat \"{}\"; exit 0;;\nesac\nexit 2\n",
            testdata("zfs", "status-degraded-device-removed.txt").display(),
            testdata("zfs", "list-Hp-four-pools-freenas.txt").display()
        ),
    );
    let zfs = script(
        dir,
        "zfs",
        &format!(
            "cat \"{}\"\n",
            testdata("zfs", "zfs-list-Hp-datasets-numeric.txt").display()
        ),
    );
    let mdadm = script(
        dir,
        "mdadm",
        &format!(
            "cat \"{}\"\n",
            testdata("mdraid", "mdadm-detail-raid1-faulty-degraded.txt").display()
        ),
    );
    format!(
        "[storage]\ninterval = \"2s\"\ntimeout = \"5s\"\nsmartctl = \"{}\"\nzpool = \"{}\"\nzfs = \"{}\"\nmdadm = \"{}\"\nmdstat = \"{}\"\n",
        smartctl.display(),
        zpool.display(),
        zfs.display(),
        mdadm.display(),
        testdata("mdraid", "proc-mdstat-raid5-recovery-degraded.txt").display()
    )
}

/// The agent configuration of the NAS's storage (fake tools written to `dir`).
pub(super) fn nas_agent_config(dir: &Path) -> unity_agent::config::Config {
    let raw: unity_agent::config::RawConfig = toml::from_str(&nas_storage_config(dir)).unwrap();
    unity_agent::config::Config::from_raw(raw).unwrap()
}

/// Enrolls and starts a real agent in `agent_dir` that reports the NAS's storage (and this
/// machine's system metrics).
pub async fn start_nas(controller: &RunningController, dir: &Path) -> (AgentId, RunningAgent) {
    let agent_dir = dir.join("nas");
    let agent_id = enroll_agent(controller, &agent_dir).await;
    let mut config = nas_agent_config(dir);
    config.data_dir = agent_dir;
    config.controller = Some(controller.local_addr.to_string());
    config.interval = Duration::from_millis(500);
    config.heartbeat = Duration::from_millis(500);
    config.databases.enabled = false;
    config.containers.enabled = false;
    config.plugins.enabled = false;
    config.certificates.enabled = false;
    let agent = unity_agent::runtime::start(config).await.unwrap();
    (agent_id, agent)
}
