//! Issue 16: a host that is offline when a certificate is revoked is marked, and refuses the
//! key once its agent is back (the SSH CA's loop configures it), audited as the loop.

use super::revocation::sign_serial;
use super::{cli, enable, lab_checking_every, login, serving, user_key};
use std::time::Duration;
use unity_controller::domain::ssh_ca::hosts::EnableHost;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_16_a_host_offline_at_revocation_refuses_the_key_once_it_is_back() {
    let mut lab = lab_checking_every("Include CONF_D/*.conf", Duration::from_secs(1)).await;
    let view = enable(
        &lab.controller,
        EnableHost {
            host: lab.agent_id.to_string(),
            host_certificates: false,
            trust_user_ca: true,
            extra_names: Vec::new(),
            users: vec!["root".into()],
        },
    )
    .await;
    assert_eq!(view.last_error, None);
    serving(&lab.sshd).await;
    let lost = user_key(&lab, "lost");
    let serial = sign_serial(&lab, &lost);
    login(&lab.sshd, &lost, None).unwrap();

    // The agent goes away; the revocation is recorded, the host marked, sshd still accepts the
    // certificate (nothing reached it yet).
    lab.agent.take().unwrap().stop().await;
    let context = lab.controller.context.clone();
    let agent_id = lab.agent_id.clone();
    unity_tests::eventually("the agent is gone", Duration::from_secs(20), || {
        let gone = !context.hub.is_connected(&agent_id);
        async move { gone.then_some(()) }
    })
    .await;
    let (ok, stdout, stderr) = cli(
        &lab.controller_dir,
        &["ssh", "revoke", "--serial", &serial.to_string()],
    );
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("pending") && stdout.contains("offline"),
        "{stdout}"
    );
    let (ok, stdout, _) = cli(
        &lab.controller_dir,
        &["ssh", "ca", "host", "status", lab.agent_id.as_str()],
    );
    assert!(!ok);
    assert!(stdout.contains("revocations not delivered yet"), "{stdout}");
    login(&lab.sshd, &lost, None).unwrap();

    // Back: the loop configures it and sshd refuses the key.
    lab.agent = Some(
        unity_agent::runtime::start(lab.agent_config.clone())
            .await
            .unwrap(),
    );
    let revoked_file = lab.unity_dir.join("revoked_keys");
    unity_tests::eventually(
        "the revoked key reaches the host",
        Duration::from_secs(30),
        || {
            let listed = std::fs::read_to_string(&revoked_file).unwrap_or_default();
            async move { (!listed.is_empty()).then_some(()) }
        },
    )
    .await;
    serving(&lab.sshd).await;
    let error = login(&lab.sshd, &lost, None).unwrap_err();
    assert!(error.contains("Permission denied"), "{error}");
    let (ok, stdout, stderr) = cli(
        &lab.controller_dir,
        &["ssh", "ca", "host", "status", lab.agent_id.as_str()],
    );
    assert!(ok, "{stdout} {stderr}");
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
