//! Issue 16: the SSH CA's loop configures a connected host whose configuration is missing (as
//! after the agent was offline when the host was enabled), on its own, audited as the loop.

use super::{lab_checking_every, serving};
use std::time::Duration;
use unity_controller::storage::ssh_ca::{SshCaHostRecord, SshHostState};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_16_the_loop_configures_a_host_missing_its_configuration() {
    let lab = lab_checking_every("Include CONF_D/*.conf", Duration::from_secs(1)).await;
    // Enabled while nothing was sent yet: a record that was never configured.
    let context = lab.controller.context.clone();
    let record = SshCaHostRecord {
        agent_id: lab.agent_id.clone(),
        host_certificates: true,
        trust_user_ca: true,
        extra_names: vec!["127.0.0.1".into()],
        users: vec!["root".into()],
        enabled_by: "test".into(),
        enabled_at_ms: 0,
        state: SshHostState::default(),
    };
    tokio::task::spawn_blocking(move || context.store.ssh_ca.put_host(&record).unwrap())
        .await
        .unwrap();
    let context = lab.controller.context.clone();
    let agent_id = lab.agent_id.clone();
    let configured = unity_tests::eventually(
        "the loop configures the host",
        Duration::from_secs(30),
        || {
            let context = context.clone();
            let agent_id = agent_id.clone();
            async move {
                let record = tokio::task::spawn_blocking(move || {
                    context.store.ssh_ca.host(&agent_id).unwrap()
                })
                .await
                .unwrap()?;
                record.state.configured_at_ms.map(|_| record.state)
            }
        },
    )
    .await;
    assert_eq!(configured.serials.len(), 1);
    assert!(configured.valid_before.unwrap() > configured.valid_after.unwrap() + 29 * 86400);
    assert!(std::fs::read_to_string(&lab.drop_in)
        .unwrap()
        .contains("HostCertificate "));
    serving(&lab.sshd).await;

    let context = lab.controller.context.clone();
    let audit = tokio::task::spawn_blocking(move || {
        unity_controller::domain::audit::recent(&context, 50).unwrap()
    })
    .await
    .unwrap();
    assert!(audit
        .iter()
        .any(|entry| entry.action == "ssh_ca.host_configure" && entry.actor == "ssh-ca-renewal"));
}
