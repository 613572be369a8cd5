//! Prepare and install against real files: the key stays here, the files land atomically, a
//! wrong certificate or a forbidden path changes nothing, a failed reload puts the previous
//! files back.

use super::*;
use crate::config::delivery::DeliveryConfig;
use rcgen::{CertificateParams, CertificateSigningRequestParams, IsCa, Issuer, KeyPair};
use std::path::{Path, PathBuf};
use std::time::Duration;
use unity_shared::model::certificate::{
    CertificateFiles, CertificateName, InstallCertificate, KeyType,
};

struct Lab {
    _dir: tempfile::TempDir,
    allowed: PathBuf,
    config: DeliveryConfig,
    issuer: Issuer<'static, KeyPair>,
}

fn lab() -> Lab {
    let dir = tempfile::tempdir().unwrap();
    let allowed = dir.path().join("tls");
    std::fs::create_dir_all(&allowed).unwrap();
    let config = DeliveryConfig {
        enabled: true,
        allowed_dirs: vec![allowed.clone()],
        reload_programs: vec!["true".into(), "false".into()],
        key_dir: dir.path().join("keys"),
        reload_timeout: Duration::from_secs(10),
    };
    let ca_key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::default();
    params.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let issuer = Issuer::new(params, ca_key);
    Lab {
        _dir: dir,
        allowed,
        config,
        issuer,
    }
}

fn name() -> CertificateName {
    CertificateName::new("web").unwrap()
}

async fn prepared(lab: &Lab, key_type: KeyType) -> Vec<u8> {
    prepare(
        &lab.config,
        PrepareCertificate {
            certificate: name(),
            key_type,
            dns_names: vec!["web.home.arpa".into()],
            ip_addresses: Vec::new(),
        },
    )
    .await
    .unwrap()
    .csr_der
}

fn sign(lab: &Lab, csr_der: &[u8]) -> String {
    let csr = CertificateSigningRequestParams::from_der(&csr_der.into()).unwrap();
    csr.signed_by(&lab.issuer).unwrap().pem()
}

fn request(lab: &Lab, chain_pem: String, reload: Option<&[&str]>) -> InstallCertificate {
    let path = |file: &str| Some(lab.allowed.join(file).display().to_string());
    InstallCertificate {
        certificate: name(),
        chain_pem,
        files: CertificateFiles {
            cert: path("web.crt"),
            fullchain: path("web.fullchain.pem"),
            key: path("web.key"),
            combined: path("web.combined.pem"),
            key_mode: 0o640,
            ..CertificateFiles::default()
        },
        reload: reload.map(|argv| argv.iter().map(|word| (*word).to_owned()).collect()),
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

#[tokio::test]
async fn issue_15_prepare_then_install_writes_the_files_with_the_host_key() {
    use std::os::unix::fs::PermissionsExt;
    let lab = lab();
    let csr = prepared(&lab, KeyType::EcdsaP256).await;
    let pending = keys::pending_path(&lab.config.key_dir, &name());
    assert!(pending.exists());
    let chain = sign(&lab, &csr);
    let installed = install(&lab.config, request(&lab, chain.clone(), Some(&["true"])))
        .await
        .unwrap();
    assert!(installed.reloaded);
    assert!(!installed.serial_hex.is_empty());
    assert_eq!(read(&lab.allowed.join("web.crt")).trim(), chain.trim());
    let key_pem = read(&lab.allowed.join("web.key"));
    assert!(key_pem.contains("PRIVATE KEY"));
    assert!(read(&lab.allowed.join("web.combined.pem")).ends_with(&key_pem));
    let mode = |file: &str| {
        std::fs::metadata(lab.allowed.join(file))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("web.key"), 0o640);
    assert_eq!(mode("web.crt"), 0o644);
    assert!(
        !pending.exists(),
        "the pending key is forgotten once installed"
    );
    // The written key is the one the CSR was made over.
    let key = KeyPair::from_pem(&key_pem).unwrap();
    let parsed = CertificateSigningRequestParams::from_der(&csr.as_slice().into()).unwrap();
    use rcgen::PublicKeyData as _;
    assert_eq!(parsed.public_key.der_bytes(), key.public_key_raw());
    // No temporary files left behind.
    let names: Vec<String> = std::fs::read_dir(&lab.allowed)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 3 + 1, "{names:?}");
}

#[tokio::test]
async fn issue_15_a_certificate_for_another_key_or_a_forbidden_path_changes_nothing() {
    let lab = lab();
    prepared(&lab, KeyType::Ed25519).await;
    // A certificate over some other key.
    let other = KeyPair::generate().unwrap();
    let foreign_csr = CertificateParams::default()
        .serialize_request(&other)
        .unwrap();
    let chain = sign(&lab, foreign_csr.der());
    let error = install(&lab.config, request(&lab, chain, None))
        .await
        .unwrap_err();
    assert!(error.contains("not for the pending key"), "{error}");
    assert_eq!(std::fs::read_dir(&lab.allowed).unwrap().count(), 0);

    let csr = prepared(&lab, KeyType::Ed25519).await;
    let chain = sign(&lab, &csr);
    let mut escape = request(&lab, chain.clone(), None);
    escape.files.key = Some(format!("{}/../web.key", lab.allowed.display()));
    let error = install(&lab.config, escape).await.unwrap_err();
    assert!(error.contains(".."), "{error}");
    let mut elsewhere = request(&lab, chain.clone(), None);
    elsewhere.files.cert = Some("/etc/passwd".into());
    let error = install(&lab.config, elsewhere).await.unwrap_err();
    assert!(error.contains("allowed"), "{error}");
    let shell = request(&lab, chain.clone(), Some(&["sh", "-c", "id"]));
    let error = install(&lab.config, shell).await.unwrap_err();
    assert!(error.contains("not allowed"), "{error}");
    assert_eq!(std::fs::read_dir(&lab.allowed).unwrap().count(), 0);
    // The pending key survived the refusals: the right request still installs.
    install(&lab.config, request(&lab, chain, None))
        .await
        .unwrap();
}

#[tokio::test]
async fn issue_15_a_failed_reload_restores_the_previous_files() {
    let lab = lab();
    let csr = prepared(&lab, KeyType::EcdsaP256).await;
    let first = sign(&lab, &csr);
    install(&lab.config, request(&lab, first.clone(), Some(&["true"])))
        .await
        .unwrap();
    let first_key = read(&lab.allowed.join("web.key"));

    let csr = prepared(&lab, KeyType::EcdsaP256).await;
    let second = sign(&lab, &csr);
    let error = install(&lab.config, request(&lab, second, Some(&["false"])))
        .await
        .unwrap_err();
    assert!(
        error.starts_with("reload failed:") && error.contains("previous certificate restored"),
        "{error}"
    );
    assert_eq!(read(&lab.allowed.join("web.crt")).trim(), first.trim());
    assert_eq!(read(&lab.allowed.join("web.key")), first_key);
}
