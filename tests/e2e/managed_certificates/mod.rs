//! Issue 15, user stories 2 and 4: a certificate from the services CA, declared through the
//! CLI's admin requests and the API, made on a real agent (key on the host), delivered to a
//! real nginx (Debian `nginx-light`, run as a plain process on a loopback port with its own
//! config) that the agent reloads; a TLS handshake sees the new serial, trusted by the services
//! root and within its name constraints; the renewal at two thirds of a one-minute lifetime
//! really happens; a failing reload keeps the previous certificate served and the failure
//! shows in the API and the CLI.

mod nginx;

use nginx::{bootstrap_certificate, serial_served, Nginx, NAME, NGINX};
use rustls::pki_types::CertificateDer;
use serde_json::json;
use std::path::Path;
use std::time::Duration;
use unity_controller::admin::{AdminRequest, AdminResponse, CertificateRequest};
use unity_controller::domain::managed_certificates::{
    Declaration, FilesDeclaration, ManagedCertificateView,
};
use unity_tests::http::HttpClient;
use unity_tests::*;
use x509_parser::prelude::FromDer as _;

async fn show(controller: &unity_controller::service::RunningController) -> ManagedCertificateView {
    let request = AdminRequest::ManagedCertificate(CertificateRequest::Show { name: "web".into() });
    match admin_request(controller, request).await {
        AdminResponse::ManagedCertificate(view) => *view,
        other => panic!("unexpected answer {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_15_services_ca_certificate_is_delivered_to_nginx_renewed_and_a_failed_reload_keeps_the_old_one(
) {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let mut config = controller_config(&dir.path().join("controller"));
    config.certificates.domains = vec!["home.arpa".into()];
    config.certificates.ip_ranges = vec!["127.0.0.0/8".into()];
    config.certificates.min_lifetime = Duration::from_secs(30);
    config.certificates.check_interval = Duration::from_secs(1);
    config.certificates.retry_min = Duration::from_secs(2);
    config.certificates.retry_max = Duration::from_secs(5);
    let (controller, password) = crate::api::controller_with_admin_config(config).await;

    let agent_dir = dir.path().join("agent");
    let agent_id = enroll_agent(&controller, &agent_dir).await;
    let nginx_dir = dir.path().join("nginx");
    let tls = nginx_dir.join("tls");
    std::fs::create_dir_all(&tls).unwrap();
    bootstrap_certificate(&tls);
    let nginx = Nginx::start(&nginx_dir);
    let mut agent_config = agent_config(&agent_dir, controller.local_addr, Duration::from_secs(5));
    agent_config.delivery.allowed_dirs = vec![tls.clone()];
    agent_config.delivery.reload_programs = vec![NGINX.into()];
    let agent = unity_agent::runtime::start(agent_config).await.unwrap();

    // A compromised controller cannot make the agent write outside [delivery] allowed_dirs or
    // run a program it does not allow: the real agent refuses over the real protocol.
    hostile_commands_are_refused(&controller, &agent_id, &tls).await;

    // Declared through the CLI's admin request: one-minute lifetime, renewed at two thirds.
    let files = |tls: &Path| FilesDeclaration {
        fullchain: Some(tls.join("web.fullchain.pem").display().to_string()),
        key: Some(tls.join("web.key").display().to_string()),
        key_mode: Some("0600".into()),
        ..FilesDeclaration::default()
    };
    let declaration = Declaration {
        name: "web".into(),
        host: agent_id.to_string(),
        dns_names: vec![NAME.into()],
        ip_addresses: vec!["127.0.0.1".into()],
        lifetime: Some("60s".into()),
        files: files(&tls),
        reload: Some(nginx.reload_argv()),
        ..Declaration::default()
    };
    let outside = Declaration {
        name: "outside".into(),
        dns_names: vec!["web.example.com".into()],
        ..declaration.clone()
    };
    match admin_request(
        &controller,
        AdminRequest::ManagedCertificate(CertificateRequest::Declare(Box::new(outside))),
    )
    .await
    {
        AdminResponse::Error(message) => assert!(message.contains("outside"), "{message}"),
        other => panic!("a name outside the domains was accepted: {other:?}"),
    }
    match admin_request(
        &controller,
        AdminRequest::ManagedCertificate(CertificateRequest::Declare(Box::new(declaration))),
    )
    .await
    {
        AdminResponse::ManagedCertificate(view) => assert_eq!(view.status, "pending"),
        other => panic!("unexpected answer {other:?}"),
    }

    let root = match admin_request(
        &controller,
        AdminRequest::ManagedCertificate(CertificateRequest::Root),
    )
    .await
    {
        AdminResponse::ServicesRoot { der_hex, root } => {
            assert!(root.pem.contains("BEGIN CERTIFICATE"));
            CertificateDer::from(
                (0..der_hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&der_hex[i..i + 2], 16).unwrap())
                    .collect::<Vec<u8>>(),
            )
        }
        other => panic!("unexpected answer {other:?}"),
    };

    // Delivered: the key was made on the host, nginx reloaded and serves the new serial.
    let first = eventually(
        "the first certificate issued",
        Duration::from_secs(60),
        || async {
            let view = show(&controller).await;
            (view.status == "issued").then_some(view)
        },
    )
    .await;
    assert_eq!(first.reloaded, Some(true));
    let first_serial = first.serial_hex.clone().unwrap();
    eventually(
        "nginx serving the first serial",
        Duration::from_secs(20),
        || async { (serial_served(nginx.port, &root).await.ok()? == first_serial).then_some(()) },
    )
    .await;
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(tls.join("web.key"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);

    // Renewed without anyone asking, at two thirds of the lifetime.
    let renew_at = first.renew_at_ms.unwrap();
    let issued_at = first.issued_at_ms.unwrap();
    let not_after_ms = first.not_after_unix.unwrap() * 1000;
    assert!(renew_at > issued_at && renew_at < not_after_ms);
    let renewed = eventually("an automatic renewal", Duration::from_secs(90), || async {
        let view = show(&controller).await;
        (view.serial_hex.as_deref() != Some(first_serial.as_str()) && view.status == "issued")
            .then_some(view)
    })
    .await;
    assert!(
        renewed.issued_at_ms.unwrap() >= renew_at - 1000,
        "renewed too early"
    );
    let second_serial = renewed.serial_hex.clone().unwrap();
    eventually(
        "nginx serving the renewed serial",
        Duration::from_secs(20),
        || async { (serial_served(nginx.port, &root).await.ok()? == second_serial).then_some(()) },
    )
    .await;

    // Viewers read the list and the page and download the root; they change nothing.
    let viewer_password = add_user(&controller, "vic", "viewer").await;
    let mut viewer = logged_in_client(&controller, "vic", &viewer_password).await;
    let listed = viewer.get("/api/v1/managed-certificates").await;
    assert_eq!(listed.status, 200, "{}", listed.text());
    assert!(listed.text().contains(&second_serial));
    let pem = viewer.get("/api/v1/services-ca/root.pem").await;
    assert_eq!(pem.status, 200);
    assert!(pem.text().contains("BEGIN CERTIFICATE"));
    let der = viewer.get("/api/v1/services-ca/root.der").await;
    assert_eq!(der.body, root.to_vec());
    let page = viewer.get("/certificates/managed").await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains(&second_serial) && !page.text().contains("declare-certificate"));
    let refused = viewer
        .post_json("/api/v1/managed-certificates/web/revoke", &json!({}))
        .await;
    assert_eq!(refused.status, 403, "{}", refused.text());

    // The admin revokes it: never renewed again, and listed in the services CA's CRL.
    let mut admin = logged_in_client(&controller, "ada", &password).await;
    let revoked = admin
        .post_json("/api/v1/managed-certificates/web/revoke", &json!({}))
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.text());
    assert_eq!(revoked.json()["status"], "revoked");
    let crl = HttpClient::new(controller.api_addr)
        .get("/api/v1/services-ca/crl")
        .await;
    assert_eq!(crl.status, 200);
    let (_, parsed) = x509_parser::revocation_list::CertificateRevocationList::from_der(&crl.body)
        .expect("a DER CRL");
    let listed: Vec<String> = parsed
        .iter_revoked_certificates()
        .map(|entry| {
            entry
                .raw_serial()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        })
        .collect();
    assert_eq!(listed, std::slice::from_ref(&second_serial));

    // Declared again through the API with a reload that fails: the old certificate stays.
    let deleted = admin.delete("/api/v1/managed-certificates/web").await;
    assert_eq!(deleted.status, 204, "{}", deleted.text());
    let mut failing_reload = nginx.reload_argv();
    let conf_index = failing_reload.iter().position(|word| word == "-c").unwrap() + 1;
    failing_reload[conf_index] = nginx_dir.join("missing.conf").display().to_string();
    let body = json!({
        "name": "web",
        "host": agent_id.to_string(),
        "dns_names": [NAME],
        "lifetime": "10m",
        "files": {
            "fullchain": tls.join("web.fullchain.pem").display().to_string(),
            "key": tls.join("web.key").display().to_string(),
        },
        "reload": failing_reload,
    });
    let declared = admin.post_json("/api/v1/managed-certificates", &body).await;
    assert_eq!(declared.status, 201, "{}", declared.text());
    let served_key = std::fs::read(tls.join("web.key")).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let failing = loop {
        let view = admin.get("/api/v1/managed-certificates/web").await.json();
        if view["status"] == "failing" {
            break view;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the failed reload was not recorded: {view}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let error = failing["last_error"].as_str().unwrap().to_owned();
    assert!(
        error.contains("reload failed") && error.contains("previous certificate restored"),
        "{error}"
    );
    assert_eq!(std::fs::read(tls.join("web.key")).unwrap(), served_key);
    assert_eq!(
        serial_served(nginx.port, &root).await.unwrap(),
        second_serial
    );
    // A certificate for an ACME provider that [acme] does not configure is refused at once.
    let acme = json!({
        "name": "acme-web",
        "host": agent_id.to_string(),
        "dns_names": ["acme.home.arpa"],
        "issuer": "acme:letsencrypt",
        "files": { "key": tls.join("acme.key").display().to_string() },
    });
    let declared = admin.post_json("/api/v1/managed-certificates", &acme).await;
    assert_eq!(declared.status, 400, "{}", declared.text());
    assert!(
        declared
            .text()
            .contains("no ACME provider named \\\"letsencrypt\\\": [acme] configures none"),
        "{}",
        declared.text()
    );
    let missing = admin.get("/api/v1/managed-certificates/acme-web").await;
    assert_eq!(missing.status, 404, "{}", missing.text());
    assert!(!tls.join("acme.key").exists());

    // The dashboard's form declares one too (CSRF checked), and the page shows it issued.
    // Without the token (neither header nor field) the form is refused.
    let csrf = admin.csrf.take().unwrap();
    let dash_key = tls.join("dash.key").display().to_string();
    let dash_chain = tls.join("dash.pem").display().to_string();
    let mut fields = vec![
        ("name", "dash-web"),
        ("host", agent_id.as_str()),
        ("dns_names", "dash.home.arpa"),
        ("lifetime", "10m"),
        ("fullchain", dash_chain.as_str()),
        ("key", dash_key.as_str()),
    ];
    let forged = admin.post_form("/certificates/managed", &fields).await;
    assert_eq!(forged.status, 403, "{}", forged.text());
    fields.push(("csrf", csrf.as_str()));
    admin.csrf = Some(csrf.clone());
    let posted = admin.post_form("/certificates/managed", &fields).await;
    assert!(
        posted.status == 303 || posted.status == 200,
        "{}",
        posted.status
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let view = admin
            .get("/api/v1/managed-certificates/dash-web")
            .await
            .json();
        if view["status"] == "issued" {
            assert_eq!(view["reloaded"], false);
            let page = admin.get("/certificates/managed").await.text();
            assert!(page.contains(view["serial_hex"].as_str().unwrap()));
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "not issued: {view}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(std::fs::read_to_string(&dash_key)
        .unwrap()
        .contains("PRIVATE KEY"));

    // The CLI shows it too.
    let view = show(&controller).await;
    assert_eq!(view.status, "failing");
    assert!(view.last_error.unwrap().contains("reload failed"));
    // And the audit log has every step.
    let audit = admin.get("/api/v1/audit").await.text();
    for action in [
        "managed_certificate.declare",
        "managed_certificate.issue",
        "managed_certificate.issue_failed",
        "managed_certificate.revoke",
        "managed_certificate.delete",
    ] {
        assert!(audit.contains(action), "{action} missing from {audit}");
    }

    agent.stop().await;
    controller.shutdown().await.unwrap();
}

async fn hostile_commands_are_refused(
    controller: &unity_controller::service::RunningController,
    agent_id: &unity_shared::proto::AgentId,
    tls: &Path,
) {
    use unity_shared::model::certificate::{
        CertificateFiles, CertificateName, InstallCertificate, KeyType, PrepareCertificate,
    };
    let hub = &controller.context.hub;
    let name = CertificateName::new("hostile").unwrap();
    let connected = eventually("the agent connected", Duration::from_secs(20), || async {
        hub.is_connected(agent_id).then_some(())
    });
    connected.await;
    let csr = hub
        .request(
            agent_id,
            PrepareCertificate {
                certificate: name.clone(),
                key_type: KeyType::EcdsaP256,
                dns_names: vec![NAME.into()],
                ip_addresses: Vec::new(),
            },
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    assert!(!csr.csr_der.is_empty());
    let outside = std::env::temp_dir().join(format!("unity-hostile-{}", std::process::id()));
    let attempts = [
        (
            CertificateFiles {
                key: Some(outside.display().to_string()),
                ..CertificateFiles::default()
            },
            None,
            "not under an allowed directory",
        ),
        (
            CertificateFiles {
                key: Some(format!("{}/../escape.key", tls.display())),
                ..CertificateFiles::default()
            },
            None,
            "'..'",
        ),
        (
            CertificateFiles {
                key: Some(tls.join("hostile.key").display().to_string()),
                ..CertificateFiles::default()
            },
            Some(vec!["sh".to_owned(), "-c".to_owned(), "id".to_owned()]),
            "not allowed",
        ),
    ];
    for (files, reload, why) in attempts {
        let refused = hub
            .request(
                agent_id,
                InstallCertificate {
                    certificate: name.clone(),
                    chain_pem: String::new(),
                    files,
                    reload,
                },
                Duration::from_secs(30),
            )
            .await
            .unwrap_err()
            .to_string();
        assert!(refused.contains(why), "{why}: {refused}");
    }
    assert!(!outside.exists());
    assert!(!tls.join("hostile.key").exists());
}
