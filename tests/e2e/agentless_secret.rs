//! Issue 16, stories 5 and 6 together: an agentless host whose login key is a secret of the
//! store, not a key Unity generated. The proxy gets the key only while the secret's scope
//! includes the proxy host; narrowing the scope takes the host out of the proxy's assignment
//! (the key leaves the proxy's memory with it), and every delivery is audited by the store.

use crate::agentless::{add_nas_request, agentless, fingerprint_of, lab, show, Lab};
use std::time::Duration;
use unity_controller::admin::{AdminRequest, AdminResponse, AgentlessRequest, SecretAdminRequest};
use unity_controller::storage::agents::StateKind;
use unity_shared::proto::{AgentId, StorageState};
use unity_tests::sshd::keygen;
use unity_tests::*;

async fn secret(
    controller: &unity_controller::service::RunningController,
    request: SecretAdminRequest,
) {
    let response = admin_request(controller, AdminRequest::Secret(request)).await;
    assert!(!matches!(response, AdminResponse::Error(_)), "{response:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_16_an_agentless_host_logs_in_with_a_key_from_the_store_while_in_scope() {
    let dir = tempfile::tempdir().unwrap();
    let Lab {
        sshd,
        controller,
        proxy,
        agent: _agent,
    } = lab(dir.path(), Duration::from_millis(500)).await;
    // The owner's own key: the public half on the host, the private half in the store only.
    let key = dir.path().join("nas_key");
    keygen(&key, "owner@laptop");
    std::fs::copy(
        key.with_extension("pub"),
        dir.path().join("authorized_keys"),
    )
    .unwrap();
    let private = std::fs::read(&key).unwrap();
    secret(
        &controller,
        SecretAdminRequest::Set {
            name: "nas-ssh".into(),
            kind: Some("ssh-key".into()),
            value_hex: hex::encode(&private),
        },
    )
    .await;

    // A secret that does not exist is refused at once, with the command that adds it.
    let refused = admin_request(
        &controller,
        AdminRequest::Agentless(add_nas_request(
            sshd.port,
            &proxy,
            "system",
            Some("no-such-secret"),
        )),
    )
    .await;
    assert!(
        format!("{refused:?}").contains("unity-controller secret set"),
        "{refused:?}"
    );
    let view = agentless(
        &controller,
        add_nas_request(sshd.port, &proxy, "system", Some("nas-ssh")),
    )
    .await;
    assert_eq!(view.public_key, None);
    assert_eq!(view.key_secret.as_deref(), Some("nas-ssh"));
    let nas = AgentId::new("nas").unwrap();

    // Out of scope: the proxy is not given the host (nor the key); nothing logs in.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(show(&controller).await.state, None);
    assert!(!sshd.log().contains("Accepted publickey"), "{}", sshd.log());

    // Scoped to the proxy: the host is assigned, its key confirmed, and it is collected.
    secret(
        &controller,
        SecretAdminRequest::Scope {
            name: "nas-ssh".into(),
            hosts: vec![proxy.to_string()],
            groups: vec![],
        },
    )
    .await;
    eventually(
        "the host key to confirm",
        Duration::from_secs(30),
        || async {
            (show(&controller).await.state.as_deref() == Some("host_key_to_confirm")).then_some(())
        },
    )
    .await;
    agentless(
        &controller,
        AgentlessRequest::Confirm {
            name: "nas".into(),
            fingerprint: Some(fingerprint_of(&sshd.host_key.with_extension("pub"))),
        },
    )
    .await;
    eventually("load average of nas", Duration::from_secs(30), || async {
        let points = query(&controller, &nas, "load_average").await;
        (!points.is_empty()).then_some(())
    })
    .await;
    assert!(sshd.log().contains("Accepted publickey"), "{}", sshd.log());
    let ctx = controller.context.clone();
    let audit = tokio::task::spawn_blocking(move || {
        unity_controller::domain::audit::recent(&ctx, 500).unwrap()
    })
    .await
    .unwrap();
    assert!(
        audit.iter().any(|entry| entry.action == "secret.deliver"
            && entry.actor == format!("agent:{proxy}")
            && entry.target.contains("nas-ssh")),
        "the delivery to the proxy is audited: {audit:?}"
    );

    // Scope cleared: the proxy stops collecting the host (its assignment no longer has it).
    secret(
        &controller,
        SecretAdminRequest::Scope {
            name: "nas-ssh".into(),
            hosts: vec![],
            groups: vec![],
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let logins = sshd.log().matches("Accepted publickey").count();
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        sshd.log().matches("Accepted publickey").count(),
        logins,
        "the proxy kept logging in after the scope was cleared"
    );
    let state: Option<(i64, StorageState)> = controller
        .context
        .store
        .agents
        .latest(&nas, StateKind::Storage)
        .unwrap();
    assert!(state.is_none(), "only system was collected");
}
