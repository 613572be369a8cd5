//! Builds the agent refuses, sent over a real connection: one whose `--version` does not
//! say the version its manifest claims (the current binary stored as a newer version), and
//! one for another architecture (an aarch64 ELF stored as x86_64). Each operation reads
//! refused with the agent's reason, and the installed binary is unchanged byte for byte; the
//! agent keeps running (no restart).

use super::agent_update::{points_grow, same_bytes, wait_for_state, Lab};
use std::time::Duration;
use unity_controller::storage::agent_updates::{AgentUpdateResult, AgentUpdateState};

/// The 64-byte header of an aarch64 executable (`e_machine` 183) and nothing to run.
fn aarch64_elf() -> Vec<u8> {
    let mut elf = vec![0u8; 64];
    elf[..4].copy_from_slice(b"\x7fELF");
    elf[4] = 2; // 64-bit
    elf[5] = 1; // little-endian
    elf[6] = 1; // ELF version
    elf[16] = 2; // ET_EXEC
    elf[18] = 183; // EM_AARCH64
    elf[20] = 1; // e_version
    elf[52] = 64; // e_ehsize
    elf[54] = 56; // e_phentsize
    elf.extend_from_slice(&[0u8; 64]);
    elf
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builds_the_agent_refuses_leave_its_binary_unchanged() {
    let lab = Lab::start().await;
    let controller = &lab.controller;
    let pristine = lab.dir.path().join("pristine");
    std::fs::copy(&lab.exe, &pristine).unwrap();
    let arch = std::env::consts::ARCH;

    // The binary itself, claimed to be 60.0.0: its own --version says otherwise.
    lab.add_build(&pristine, "60.0.0", arch).await;
    let line = lab.update(30).await;
    assert_eq!(line.to_version, "60.0.0");
    let record = wait_for_state(
        controller,
        &line.id,
        AgentUpdateState::Finished,
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(
        record.result,
        Some(AgentUpdateResult::Refused),
        "{record:?}"
    );
    let reason = record.message.clone().unwrap_or_default();
    assert!(reason.starts_with("refused by the agent:"), "{reason}");
    assert!(
        reason.contains("60.0.0"),
        "the reason names the claim: {reason}"
    );
    assert!(same_bytes(&lab.exe, &pristine), "the binary is unchanged");

    // An aarch64 executable stored as a build for this host's architecture.
    let foreign = lab.dir.path().join("foreign");
    std::fs::write(&foreign, aarch64_elf()).unwrap();
    lab.add_build(&foreign, "70.0.0", arch).await;
    let line = lab.update(30).await;
    assert_eq!(line.to_version, "70.0.0");
    let record = wait_for_state(
        controller,
        &line.id,
        AgentUpdateState::Finished,
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(
        record.result,
        Some(AgentUpdateResult::Refused),
        "{record:?}"
    );
    assert!(
        record
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("--version"),
        "{record:?}"
    );
    assert!(same_bytes(&lab.exe, &pristine), "the binary is unchanged");
    assert!(!lab.exe.with_file_name("unity-agent.previous").exists());
    assert!(!lab.exe.with_file_name(".unity-agent.staged").exists());

    // Nothing restarted, and the agent still reports.
    assert!(lab.agent.exits().is_empty(), "{:?}", lab.agent.exits());
    let n = super::agent_update::n_points(controller, &lab.agent_id).await;
    points_grow(controller, &lab.agent_id, n).await;
}
