//! Issue 16: revoking user certificates against a real sshd (a certificate logs in; once
//! revoked through the CLI, the API or the page it is refused while another user's still logs
//! in; the key cannot be signed again while revoked), hosts enabled and disabled through the
//! API and the page, and a revocation list the agent cannot use never activated.

use super::{cli, enable, lab, login, serving, user_key, Lab};
use std::path::Path;
use std::time::Duration;
use unity_controller::domain::ssh_ca::hosts::EnableHost;
use unity_shared::model::ssh::{ConfigureSshd, SshLine};

/// Signs `key` for root through the real CLI; its serial.
pub(super) fn sign_serial(lab: &Lab, key: &Path) -> u64 {
    let public = format!("{}.pub", key.display());
    let args = ["ssh", "sign", "--user", "ops", "--principal", "root"];
    let (ok, stdout, stderr) = cli(
        &lab.controller_dir,
        &[&args[..], &[public.as_str()]].concat(),
    );
    assert!(ok, "ssh sign failed: {stderr}");
    stdout
        .split_whitespace()
        .nth(2)
        .and_then(|word| word.parse().ok())
        .unwrap_or_else(|| panic!("no serial in {stdout:?}"))
}

fn public(key: &Path) -> String {
    std::fs::read_to_string(format!("{}.pub", key.display())).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_16_revoked_user_certificates_are_refused_by_a_real_sshd_and_others_still_log_in() {
    let lab = lab("Include CONF_D/*.conf").await;
    let admin_password = unity_tests::add_user(&lab.controller, "ada", "admin").await;
    let viewer_password = unity_tests::add_user(&lab.controller, "vic", "viewer").await;
    let mut admin = unity_tests::logged_in_client(&lab.controller, "ada", &admin_password).await;
    let mut viewer = unity_tests::logged_in_client(&lab.controller, "vic", &viewer_password).await;

    // Enabled through the API (a viewer may not); the drop-in names an empty revoked keys file.
    let body = serde_json::json!({
        "host": lab.agent_id.as_str(), "host_certificates": false, "users": ["root"],
    });
    let refused = viewer.post_json("/api/v1/ssh/ca/hosts", &body).await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    let enabled = admin.post_json("/api/v1/ssh/ca/hosts", &body).await;
    assert_eq!(enabled.status, 200, "{}", enabled.text());
    assert_eq!(enabled.json()["last_error"], serde_json::Value::Null);
    assert!(enabled.json()["configured_at_ms"].is_i64());
    let listed = viewer.get("/api/v1/ssh/ca/hosts").await;
    assert_eq!(listed.status, 200, "{}", listed.text());
    assert_eq!(listed.json()[0]["agent_id"], lab.agent_id.as_str());
    let drop_in = std::fs::read_to_string(&lab.drop_in).unwrap();
    let revoked_file = lab.unity_dir.join("revoked_keys");
    assert!(
        drop_in.contains(&format!("RevokedKeys {}", revoked_file.display())),
        "{drop_in}"
    );
    assert_eq!(std::fs::read_to_string(&revoked_file).unwrap(), "");
    serving(&lab.sshd).await;

    // Two people's certificates log in.
    let lost = user_key(&lab, "lost-laptop");
    let other = user_key(&lab, "other");
    let lost_serial = sign_serial(&lab, &lost);
    let other_serial = sign_serial(&lab, &other);
    login(&lab.sshd, &lost, None).unwrap();
    login(&lab.sshd, &other, None).unwrap();

    // The lost laptop's certificate is revoked with the real CLI: sshd refuses it at once (the
    // certified key is in RevokedKeys), the other still logs in.
    let (ok, stdout, stderr) = cli(
        &lab.controller_dir,
        &["ssh", "revoke", "--serial", &lost_serial.to_string()],
    );
    assert!(ok, "{stderr}");
    assert!(stdout.contains("sshd refuses the key now"), "{stdout}");
    serving(&lab.sshd).await;
    let lost_key = public(&lost);
    let listed = std::fs::read_to_string(&revoked_file).unwrap();
    assert!(
        listed.starts_with(
            lost_key
                .split(' ')
                .take(2)
                .collect::<Vec<_>>()
                .join(" ")
                .as_str()
        ),
        "{listed}"
    );
    let error = login(&lab.sshd, &lost, None).unwrap_err();
    assert!(error.contains("Permission denied"), "{error}");
    assert!(lab.sshd.log().contains("revoked"), "{}", lab.sshd.log());
    login(&lab.sshd, &other, None).unwrap();

    // The CLI's list says so.
    let (ok, stdout, stderr) = cli(&lab.controller_dir, &["ssh", "certificates"]);
    assert!(ok, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines[1].trim_start().starts_with(&lost_serial.to_string()),
        "{stdout}"
    );
    assert!(
        lines[1].contains("revoked") && lines[1].ends_with("by cli"),
        "{stdout}"
    );
    assert!(lines[0].ends_with("valid"), "{stdout}");

    // The key cannot be signed again while revoked.
    let public_path = format!("{}.pub", lost.display());
    let (ok, _, stderr) = cli(
        &lab.controller_dir,
        &[
            "ssh",
            "sign",
            "--user",
            "ops",
            "--principal",
            "root",
            &public_path,
        ],
    );
    assert!(!ok);
    assert!(stderr.contains("revoked"), "{stderr}");

    // Through the API, by public key: a viewer may list, not revoke.
    let body = serde_json::json!({ "public_key": public(&other) });
    let refused = viewer.post_json("/api/v1/ssh/revocations", &body).await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    let revoked = admin.post_json("/api/v1/ssh/revocations", &body).await;
    assert_eq!(revoked.status, 200, "{}", revoked.text());
    assert_eq!(revoked.json()["revoked"], serde_json::json!([other_serial]));
    serving(&lab.sshd).await;
    let error = login(&lab.sshd, &other, None).unwrap_err();
    assert!(error.contains("Permission denied"), "{error}");
    let list = viewer.get("/api/v1/ssh/revocations").await;
    assert_eq!(list.status, 200, "{}", list.text());
    let serials: Vec<u64> = list
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["serial"].as_u64().unwrap())
        .collect();
    assert_eq!(serials, vec![other_serial, lost_serial]);

    // Through the page: the certificate list has a Revoke button; pressing it refuses the key.
    let third = user_key(&lab, "third");
    let third_serial = sign_serial(&lab, &third);
    login(&lab.sshd, &third, None).unwrap();
    let page = admin.get("/ssh/ca").await;
    let action = format!("/ssh/ca/certificates/{third_serial}/revoke");
    assert!(page.text().contains(&action), "{}", page.text());
    assert!(!page
        .text()
        .contains(&format!("/ssh/ca/certificates/{lost_serial}/revoke")));
    let csrf = admin.csrf.clone().unwrap();
    let page = admin.post_form(&action, &[("csrf", csrf.as_str())]).await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(
        page.text()
            .contains(&format!("Revoked serial(s) {third_serial}.")),
        "{}",
        page.text()
    );
    serving(&lab.sshd).await;
    let error = login(&lab.sshd, &third, None).unwrap_err();
    assert!(error.contains("Permission denied"), "{error}");
    let refused = viewer.post_form(&action, &[("csrf", "x")]).await;
    assert_ne!(refused.status, 200);

    // Disabled and enabled again through the page, then disabled through the API.
    let page = admin
        .post_form(
            &format!("/ssh/ca/hosts/{}/disable", lab.agent_id),
            &[("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.text().contains("removed"), "{}", page.text());
    assert!(!lab.drop_in.exists());
    assert!(!revoked_file.exists());
    let page = admin
        .post_form(
            "/ssh/ca/hosts",
            &[
                ("csrf", csrf.as_str()),
                ("host", lab.agent_id.as_str()),
                ("trust_user_ca", "on"),
                ("users", "root"),
            ],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(
        page.text().contains("SSH CA enabled for"),
        "{}",
        page.text()
    );
    assert!(lab.drop_in.exists());
    assert_eq!(
        std::fs::read_to_string(&revoked_file)
            .unwrap()
            .lines()
            .count(),
        3
    );
    let gone = admin
        .delete(&format!("/api/v1/ssh/ca/hosts/{}", lab.agent_id))
        .await;
    assert_eq!(gone.status, 200, "{}", gone.text());
    assert!(!lab.drop_in.exists());

    // Audited: who revoked which serials, and the hosts enabled and disabled.
    let context = lab.controller.context.clone();
    let audit = tokio::task::spawn_blocking(move || {
        unity_controller::domain::audit::recent(&context, 100).unwrap()
    })
    .await
    .unwrap();
    let revocations: Vec<(&str, &str)> = audit
        .iter()
        .filter(|entry| entry.action == "ssh_ca.revoke_user")
        .map(|entry| (entry.actor.as_str(), entry.target.as_str()))
        .collect();
    assert_eq!(revocations.len(), 3, "{revocations:?}");
    let by_cli = format!("serials {lost_serial} key SHA256:");
    assert!(
        revocations
            .iter()
            .any(|(actor, target)| *actor == "cli" && target.starts_with(&by_cli)),
        "{revocations:?}"
    );
    let by_api = format!("serials {other_serial} key SHA256:");
    assert!(
        revocations
            .iter()
            .any(|(actor, target)| *actor == "ada" && target.starts_with(&by_api)),
        "{revocations:?}"
    );
    let actions: Vec<(&str, &str)> = audit
        .iter()
        .map(|e| (e.actor.as_str(), e.action.as_str()))
        .collect();
    assert!(
        actions.contains(&("ada", "ssh_ca.host_enable")),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("ada", "ssh_ca.host_disable")),
        "{actions:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_16_a_revocation_list_the_agent_cannot_use_is_never_activated() {
    let lab = lab("Include CONF_D/*.conf").await;
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
    let ops = user_key(&lab, "ops");
    let _ = sign_serial(&lab, &ops);
    login(&lab.sshd, &ops, None).unwrap();
    let revoked_file = lab.unity_dir.join("revoked_keys");
    let drop_in_before = std::fs::read(&lab.drop_in).unwrap();
    let revoked_before = std::fs::read(&revoked_file).unwrap();

    // A list whose line is no public key (and one naming a certificate instead of a key) is
    // refused before anything is written: the files stay, sshd keeps the old list.
    let trusted = std::fs::read_to_string(lab.unity_dir.join("trusted_user_ca_keys")).unwrap();
    let cert = std::fs::read_to_string(format!("{}-cert.pub", ops.display())).unwrap();
    for bad in ["ssh-ed25519 AAAAnotakey lost", cert.trim()] {
        let request = ConfigureSshd {
            host_certificates: Vec::new(),
            trusted_user_ca_keys: vec![SshLine::new(trusted.trim()).unwrap()],
            principals: Vec::new(),
            revoked_keys: vec![SshLine::new(bad).unwrap()],
        };
        let refused = lab
            .controller
            .context
            .hub
            .request(&lab.agent_id, request, Duration::from_secs(30))
            .await
            .unwrap_err()
            .to_string();
        assert!(refused.contains("revoked key 1"), "{refused}");
        assert_eq!(std::fs::read(&lab.drop_in).unwrap(), drop_in_before);
        assert_eq!(std::fs::read(&revoked_file).unwrap(), revoked_before);
    }
    login(&lab.sshd, &ops, None).unwrap();
}
