//! Issue 16: host certificates verified through the CA alone, user certificates from the CLI,
//! the API and the dashboard logging in, refused after expiry and for another principal,
//! host-scoped principals, hostile configurations refused, everything audited.

use super::{cli, enable, lab, login, reloads, serving, sign, user_key};
use std::time::Duration;
use unity_controller::domain::ssh_ca::hosts::EnableHost;
use unity_shared::model::ssh::{ConfigureSshd, SshHostCertificate, SshLine};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_16_host_and_user_certificates_log_in_through_a_real_sshd() {
    let lab = lab("Include CONF_D/*.conf").await;

    // The CA through the real command line: its known_hosts line.
    let (ok, known_line, stderr) = cli(&lab.controller_dir, &["ssh", "ca", "known-hosts"]);
    assert!(ok, "{stderr}");
    assert!(
        known_line.starts_with("@cert-authority * ssh-ed25519 "),
        "{known_line}"
    );
    let known_hosts = lab.root.join("known_hosts");
    std::fs::write(&known_hosts, &known_line).unwrap();

    // Hostile configurations over the real protocol: a certificate for a path the agent has
    // no host key at, or for another key, is refused and nothing is written.
    let hostile = ConfigureSshd {
        host_certificates: vec![SshHostCertificate {
            host_key_path: "/etc/passwd".into(),
            certificate: SshLine::new("ssh-ed25519-cert-v01@openssh.com AAAA x").unwrap(),
        }],
        trusted_user_ca_keys: Vec::new(),
        principals: Vec::new(),
        revoked_keys: Vec::new(),
    };
    let refused = lab
        .controller
        .context
        .hub
        .request(&lab.agent_id, hostile, Duration::from_secs(30))
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("no host key /etc/passwd"), "{refused}");
    assert!(!lab.drop_in.exists());

    // Enabled for the host: host certificates for its keys (principals include 127.0.0.1, the
    // name ssh checks here), the user CA trusted, a principals file for root.
    let before = reloads(&lab.sshd);
    let view = enable(
        &lab.controller,
        EnableHost {
            host: lab.agent_id.to_string(),
            host_certificates: true,
            trust_user_ca: true,
            extra_names: vec!["127.0.0.1".into()],
            users: vec!["root".into()],
        },
    )
    .await;
    assert_eq!(view.last_error, None);
    assert!(view.configured_at_ms.is_some());
    assert_eq!(view.serials.len(), 1);
    let drop_in = std::fs::read_to_string(&lab.drop_in).unwrap();
    assert!(drop_in.contains("HostCertificate "), "{drop_in}");
    assert!(drop_in.contains("TrustedUserCAKeys "), "{drop_in}");
    assert!(drop_in.contains("AuthorizedPrincipalsFile "), "{drop_in}");
    let principals = std::fs::read_to_string(lab.unity_dir.join("principals/root")).unwrap();
    assert_eq!(principals, format!("root\nroot@{}\n", lab.agent_id));
    serving(&lab.sshd).await;
    assert_eq!(reloads(&lab.sshd), before + 1);

    // A user certificate for root from the real `ssh sign` logs in, and the host is verified
    // through the CA alone (StrictHostKeyChecking=yes, no host key in known_hosts).
    let ops = user_key(&lab, "ops");
    sign(&lab, &ops, &["--principal", "root", "--ttl", "1h"]);
    login(&lab.sshd, &ops, Some(&known_hosts)).unwrap();

    // Under another CA the host is not verified.
    let other_ca = user_key(&lab, "other-ca");
    let other_known = lab.root.join("known_hosts_other");
    let other_public = std::fs::read_to_string(format!("{}.pub", other_ca.display())).unwrap();
    std::fs::write(&other_known, format!("@cert-authority * {other_public}")).unwrap();
    let error = login(&lab.sshd, &ops, Some(&other_known)).unwrap_err();
    assert!(error.contains("Host key verification failed"), "{error}");

    // A plain key the CA never signed does not log in.
    let plain = user_key(&lab, "plain");
    let error = login(&lab.sshd, &plain, None).unwrap_err();
    assert!(error.contains("Permission denied"), "{error}");

    // A certificate for another principal is refused for root.
    let alice = user_key(&lab, "alice");
    sign(&lab, &alice, &["--principal", "alice"]);
    let error = login(&lab.sshd, &alice, None).unwrap_err();
    assert!(error.contains("Permission denied"), "{error}");

    // A host-scoped certificate (root@<this host>) logs in here.
    let scoped = user_key(&lab, "scoped");
    sign(
        &lab,
        &scoped,
        &["--principal", "root", "--host", lab.agent_id.as_str()],
    );
    login(&lab.sshd, &scoped, Some(&known_hosts)).unwrap();

    // The same through the REST API and the dashboard: any user reads the CA, an admin signs
    // (a viewer may not), and the certificate logs in.
    let admin_password = unity_tests::add_user(&lab.controller, "ada", "admin").await;
    let viewer_password = unity_tests::add_user(&lab.controller, "vic", "viewer").await;
    let mut admin = unity_tests::logged_in_client(&lab.controller, "ada", &admin_password).await;
    let mut viewer = unity_tests::logged_in_client(&lab.controller, "vic", &viewer_password).await;
    let ca = viewer.get("/api/v1/ssh/ca").await;
    assert_eq!(ca.status, 200, "{}", ca.text());
    assert_eq!(ca.json()["known_hosts_line"], known_line.trim());
    let page = viewer.get("/ssh/ca").await;
    assert!(page.text().contains(known_line.trim()), "{}", page.text());
    let api_key = user_key(&lab, "api");
    let public = std::fs::read_to_string(format!("{}.pub", api_key.display())).unwrap();
    let body = serde_json::json!({ "public_key": public, "principals": ["root"], "ttl": "10m" });
    let refused = viewer.post_json("/api/v1/ssh/sign", &body).await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    let signed = admin.post_json("/api/v1/ssh/sign", &body).await;
    assert_eq!(signed.status, 200, "{}", signed.text());
    let signed = signed.json();
    assert_eq!(signed["principals"], serde_json::json!(["root"]));
    std::fs::write(
        format!("{}-cert.pub", api_key.display()),
        format!("{}\n", signed["certificate"].as_str().unwrap()),
    )
    .unwrap();
    login(&lab.sshd, &api_key, Some(&known_hosts)).unwrap();
    let csrf = admin.csrf.clone().unwrap();
    let page = admin
        .post_form(
            "/ssh/ca/sign",
            &[
                ("csrf", csrf.as_str()),
                ("public_key", public.trim()),
                ("principals", "root"),
                ("ttl", "1h"),
            ],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(
        page.text().contains("ssh-ed25519-cert-v01@openssh.com"),
        "{}",
        page.text()
    );

    // Longer than [ssh_ca] max_user_ttl is refused.
    let (ok, _, stderr) = cli(
        &lab.controller_dir,
        &[
            "ssh",
            "sign",
            "--user",
            "ops",
            "--principal",
            "root",
            "--ttl",
            "48h",
            &format!("{}.pub", plain.display()),
        ],
    );
    assert!(!ok);
    assert!(stderr.contains("max_user_ttl"), "{stderr}");

    // A five-second certificate logs in, then is refused once it expired.
    let brief = user_key(&lab, "brief");
    sign(&lab, &brief, &["--principal", "root", "--ttl", "5s"]);
    login(&lab.sshd, &brief, None).unwrap();
    tokio::time::sleep(Duration::from_secs(7)).await;
    let error = login(&lab.sshd, &brief, None).unwrap_err();
    assert!(error.contains("Permission denied"), "{error}");
    assert!(lab.sshd.log().contains("expired"), "{}", lab.sshd.log());

    // Everything is audited: the CA, each signature (for whom, principals, serial), the host.
    let context = lab.controller.context.clone();
    let audit = tokio::task::spawn_blocking(move || {
        unity_controller::domain::audit::recent(&context, 100).unwrap()
    })
    .await
    .unwrap();
    let actions: Vec<&str> = audit.iter().map(|entry| entry.action.as_str()).collect();
    assert!(actions.contains(&"ssh_ca.create"), "{actions:?}");
    assert!(actions.contains(&"ssh_ca.host_enable"), "{actions:?}");
    assert!(actions.contains(&"ssh_ca.host_configure"), "{actions:?}");
    let signed: Vec<&str> = audit
        .iter()
        .filter(|entry| entry.action == "ssh_ca.sign_user")
        .map(|entry| entry.target.as_str())
        .collect();
    assert_eq!(signed.len(), 6, "{signed:?}");
    assert!(
        signed
            .iter()
            .any(|target| target.contains("for ops principals root serial")
                && target.contains("key SHA256:")),
        "{signed:?}"
    );

    let (ok, stdout, stderr) = cli(
        &lab.controller_dir,
        &["ssh", "ca", "host", "status", lab.agent_id.as_str()],
    );
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("host certificates yes, user CA yes (users root)"),
        "{stdout}"
    );

    // Disabled: the agent removes the drop-in and Unity's files.
    let (ok, stdout, stderr) = cli(
        &lab.controller_dir,
        &["ssh", "ca", "host", "disable", lab.agent_id.as_str()],
    );
    assert!(ok, "{stderr}");
    assert!(stdout.contains("removed"), "{stdout}");
    assert!(!lab.drop_in.exists());
    assert!(!lab.unity_dir.join("principals/root").exists());
}
