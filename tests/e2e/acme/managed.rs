//! Issue 15, user story 3 end to end: a managed certificate with issuer `acme:<provider>` on a
//! real controller, ordered from real Pebble (HTTP-01 answered by the real agent of the host;
//! DNS-01 through real BIND with TSIG), finalised with the CSR of a key the agent made, and
//! delivered into the agent's `[delivery] allowed_dirs`. Pebble is started with a 45-second
//! certificate lifetime (`certificateValidityPeriod`), so the renewal loop's two-thirds due
//! time (from the certificate's own not-after) really comes round; "renew now" is tried too.
//! Revocation (through the CLI's request and through the REST API) reaches Pebble (asking
//! again gets Pebble's `alreadyRevoked`); a name Pebble
//! refuses (its `domainBlocklist`) leaves the server's words in `last_error` and nothing on
//! the host.

use rustls::client::danger::ServerCertVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use unity_controller::acme::{AcmeError, AcmeProvider, RevocationReason};
use unity_controller::admin::{AdminRequest, AdminResponse, CertificateRequest};
use unity_controller::domain::managed_certificates::{
    Declaration, FilesDeclaration, ManagedCertificateView,
};
use unity_controller::service::RunningController;
use unity_tests::acme::AcmeLab;
use unity_tests::*;

const NAME: &str = "web.home.test";
const BLOCKED: &str = "blocked.home.test";

async fn certificate(controller: &RunningController, request: CertificateRequest) -> AdminResponse {
    admin_request(controller, AdminRequest::ManagedCertificate(request)).await
}

async fn show(controller: &RunningController, name: &str) -> ManagedCertificateView {
    match certificate(controller, CertificateRequest::Show { name: name.into() }).await {
        AdminResponse::ManagedCertificate(view) => *view,
        other => panic!("unexpected answer {other:?}"),
    }
}

fn declaration(name: &str, host: &str, issuer: &str, dns: &str, tls: &Path) -> Declaration {
    Declaration {
        name: name.into(),
        host: host.into(),
        dns_names: vec![dns.into()],
        files: FilesDeclaration {
            fullchain: Some(
                tls.join(format!("{name}.fullchain.pem"))
                    .display()
                    .to_string(),
            ),
            key: Some(tls.join(format!("{name}.key")).display().to_string()),
            ..FilesDeclaration::default()
        },
        issuer: Some(issuer.into()),
        ..Declaration::default()
    }
}

/// The delivered chain verifies to Pebble's root for `NAME`, and the leaf holds the key that
/// lies beside it on the host. Returns the leaf's serial (hex).
async fn assert_delivered(lab: &AcmeLab, tls: &Path) -> String {
    let root_pem = lab.issuing_root().await;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(root_pem.as_bytes()).unwrap())
        .unwrap();
    let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        Arc::new(rustls::crypto::ring::default_provider()),
    )
    .build()
    .unwrap();
    let fullchain = std::fs::read(tls.join("web.fullchain.pem")).unwrap();
    let chain: Vec<CertificateDer> = CertificateDer::pem_slice_iter(&fullchain)
        .map(Result::unwrap)
        .collect();
    assert!(chain.len() >= 2, "leaf and intermediate expected");
    verifier
        .verify_server_cert(
            &chain[0],
            &chain[1..],
            &ServerName::try_from(NAME).unwrap(),
            &[],
            UnixTime::now(),
        )
        .unwrap();
    let key_pem = std::fs::read_to_string(tls.join("web.key")).unwrap();
    let key = rcgen::KeyPair::from_pem(&key_pem).unwrap();
    let (_, leaf) = x509_parser::parse_x509_certificate(&chain[0]).unwrap();
    assert_eq!(
        leaf.public_key().raw,
        rcgen::PublicKeyData::subject_public_key_info(&key).as_slice(),
        "the leaf holds the key the agent made"
    );
    leaf.raw_serial()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Every file under `dir`.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

/// The key (PEM text, and its DER) appears in no file of the controller's data directory.
fn assert_controller_never_had_the_key(controller_dir: &Path, tls: &Path) {
    let key_pem = std::fs::read_to_string(tls.join("web.key")).unwrap();
    let key_der = rustls_pki_types::PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
    let der = key_der.secret_der();
    let body: String = key_pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    let files = files_under(controller_dir);
    assert!(!files.is_empty());
    for file in files {
        let bytes = std::fs::read(&file).unwrap_or_default();
        assert!(
            !bytes.windows(der.len()).any(|window| window == der)
                && !bytes
                    .windows(body.len().min(64))
                    .any(|window| window == &body.as_bytes()[..body.len().min(64)]),
            "the host's key is in {}",
            file.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_15_acme_managed_certificate_is_delivered_renewed_revoked_and_errors_are_the_servers()
{
    init_logging();
    let validity = Duration::from_secs(45);
    let lab = AcmeLab::start_options(&[NAME], None, Some(validity), &[BLOCKED]).await;
    let dir = tempfile::tempdir().unwrap();
    let controller_dir = dir.path().join("controller");
    let mut config = controller_config(&controller_dir);
    let acme = format!(
        "{}{}",
        lab.provider_toml("pebble-http", false),
        lab.provider_toml("pebble-dns", true)
    );
    config.acme =
        unity_controller::acme::settings::AcmeConfig::from_raw(toml::from_str(&acme).unwrap())
            .unwrap();
    config.certificates.min_lifetime = Duration::from_secs(30);
    config.certificates.check_interval = Duration::from_secs(1);
    config.certificates.retry_min = Duration::from_secs(30);
    config.certificates.retry_max = Duration::from_secs(60);
    let controller = start_controller(config).await;
    let agent_dir = dir.path().join("agent");
    let agent_id = enroll_agent(&controller, &agent_dir).await;
    let tls = dir.path().join("tls");
    std::fs::create_dir_all(&tls).unwrap();
    let mut agent_config = agent_config(&agent_dir, controller.local_addr, Duration::from_secs(5));
    agent_config.delivery.allowed_dirs = vec![tls.clone()];
    let _agent = unity_agent::runtime::start(agent_config).await.unwrap();
    let host = agent_id.to_string();

    // Refused at declare time, in words that say why.
    for (refused, why) in [
        (
            declaration("web", &host, "acme:nope", NAME, &tls),
            "no ACME provider named \"nope\": [acme] configures pebble-http, pebble-dns",
        ),
        (
            Declaration {
                ip_addresses: vec!["127.0.0.1".into()],
                ..declaration("web", &host, "acme:pebble-http", NAME, &tls)
            },
            "DNS names only",
        ),
        (
            declaration("web", &host, "acme:pebble-http", "*.home.test", &tls),
            "wildcard names need a DNS-01 provider",
        ),
    ] {
        match certificate(&controller, CertificateRequest::Declare(Box::new(refused))).await {
            AdminResponse::Error(message) => assert!(message.contains(why), "{message}"),
            other => panic!("accepted: {other:?}"),
        }
    }

    // Issued through HTTP-01 answered by the agent, delivered with the key made on the host.
    let web = declaration("web", &host, "acme:pebble-http", NAME, &tls);
    match certificate(&controller, CertificateRequest::Declare(Box::new(web))).await {
        AdminResponse::ManagedCertificate(view) => assert_eq!(view.issuer, "acme:pebble-http"),
        other => panic!("unexpected answer {other:?}"),
    }
    let first = eventually_explained(
        "the ACME certificate issued",
        Duration::from_secs(60),
        || async {
            let view = show(&controller, "web").await;
            if view.status == "issued" {
                Ok(view)
            } else {
                Err(format!("{view:?}\n{}", lab.log("pebble.log")))
            }
        },
    )
    .await;
    let first_serial = assert_delivered(&lab, &tls).await;
    assert_eq!(first.serial_hex.as_deref(), Some(first_serial.as_str()));
    let not_after = first.not_after_unix.unwrap();
    let issued_at_s = first.issued_at_ms.unwrap() / 1000;
    assert!(
        not_after - issued_at_s <= validity.as_secs() as i64 + 5,
        "Pebble's short lifetime: {first:?}"
    );
    assert_controller_never_had_the_key(&controller_dir, &tls);

    // Renewed by the loop alone at two thirds of the certificate's lifetime (about 30 s).
    let renew_at_ms = first.renew_at_ms.unwrap();
    assert!(renew_at_ms < not_after * 1000, "{first:?}");
    let renewed = eventually("the automatic renewal", Duration::from_secs(60), || async {
        let view = show(&controller, "web").await;
        (view.serial_hex != first.serial_hex && view.status == "issued").then_some(view)
    })
    .await;
    assert!(renewed.issued_at_ms.unwrap() >= renew_at_ms, "{renewed:?}");
    assert_eq!(
        renewed.serial_hex.as_deref(),
        Some(assert_delivered(&lab, &tls).await.as_str())
    );

    // "Renew now" (the CLI's request) orders again at once.
    match certificate(
        &controller,
        CertificateRequest::Renew {
            name: "web".into(),
            wait_secs: 60,
        },
    )
    .await
    {
        AdminResponse::RenewalRequested {
            certificate,
            attempted,
        } => {
            assert!(attempted, "{certificate:?}");
            assert_eq!(certificate.status, "issued", "{certificate:?}");
            assert_ne!(certificate.serial_hex, renewed.serial_hex);
        }
        other => panic!("unexpected answer {other:?}"),
    }
    let current_serial = assert_delivered(&lab, &tls).await;
    assert_controller_never_had_the_key(&controller_dir, &tls);

    // Revoked at Pebble: asking Pebble again with the same account gets its alreadyRevoked.
    match certificate(
        &controller,
        CertificateRequest::Revoke { name: "web".into() },
    )
    .await
    {
        AdminResponse::ManagedCertificate(view) => {
            assert_eq!(view.status, "revoked");
            assert_eq!(view.serial_hex.as_deref(), Some(current_serial.as_str()));
        }
        other => panic!("unexpected answer {other:?}"),
    }
    let context = controller.context.clone();
    let provider = tokio::task::spawn_blocking(move || {
        AcmeProvider::named(&context.config.acme, "pebble-http").unwrap()
    })
    .await
    .unwrap();
    let fullchain = std::fs::read_to_string(tls.join("web.fullchain.pem")).unwrap();
    let again = unity_controller::acme::revoke(
        &provider,
        &controller.context.acme_accounts,
        &fullchain,
        RevocationReason::Unspecified,
    )
    .await
    .unwrap_err();
    let AcmeError::Server { kind, .. } = &again else {
        panic!("{again:?}")
    };
    assert_eq!(kind, "urn:ietf:params:acme:error:alreadyRevoked", "{again}");

    // Through DNS-01 (BIND, TSIG) as well, and revoked through the REST API: at Pebble too.
    let api = declaration("api", &host, "acme:pebble-dns", "api.home.test", &tls);
    match certificate(&controller, CertificateRequest::Declare(Box::new(api))).await {
        AdminResponse::ManagedCertificate(view) => assert_eq!(view.issuer, "acme:pebble-dns"),
        other => panic!("unexpected answer {other:?}"),
    }
    let issued = eventually_explained(
        "the DNS-01 certificate issued",
        Duration::from_secs(60),
        || async {
            let view = show(&controller, "api").await;
            if view.status == "issued" {
                Ok(view)
            } else {
                Err(format!("{view:?}\n{}", lab.log("pebble.log")))
            }
        },
    )
    .await;
    let password = add_user(&controller, "ada", "admin").await;
    let mut admin = logged_in_client(&controller, "ada", &password).await;
    let revoked = admin
        .post_json(
            "/api/v1/managed-certificates/api/revoke",
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.text());
    assert_eq!(revoked.json()["status"], "revoked");
    assert_eq!(
        revoked.json()["serial_hex"].as_str(),
        issued.serial_hex.as_deref()
    );
    let context = controller.context.clone();
    let provider = tokio::task::spawn_blocking(move || {
        AcmeProvider::named(&context.config.acme, "pebble-dns").unwrap()
    })
    .await
    .unwrap();
    let fullchain = std::fs::read_to_string(tls.join("api.fullchain.pem")).unwrap();
    let again = unity_controller::acme::revoke(
        &provider,
        &controller.context.acme_accounts,
        &fullchain,
        RevocationReason::Unspecified,
    )
    .await
    .unwrap_err();
    assert!(
        again
            .to_string()
            .contains("urn:ietf:params:acme:error:alreadyRevoked"),
        "{again}"
    );

    // A name Pebble refuses: its words in last_error, nothing written on the host.
    let blocked = declaration("blocked", &host, "acme:pebble-dns", BLOCKED, &tls);
    match certificate(&controller, CertificateRequest::Declare(Box::new(blocked))).await {
        AdminResponse::ManagedCertificate(view) => assert_eq!(view.status, "pending"),
        other => panic!("unexpected answer {other:?}"),
    }
    let failing = eventually(
        "the refused order recorded",
        Duration::from_secs(60),
        || async {
            let view = show(&controller, "blocked").await;
            (view.status == "failing").then_some(view)
        },
    )
    .await;
    let error = failing.last_error.clone().unwrap();
    eprintln!("refused by Pebble: {error}");
    assert!(error.starts_with("the ACME server said: "), "{error}");
    assert!(
        error.contains("urn:ietf:params:acme:error:rejectedIdentifier") && error.contains(BLOCKED),
        "{error}"
    );
    assert!(failing.serial_hex.is_none());
    let left: Vec<PathBuf> = files_under(&tls)
        .into_iter()
        .filter(|path| path.to_string_lossy().contains("blocked"))
        .collect();
    assert!(left.is_empty(), "half-written on the host: {left:?}");
}
