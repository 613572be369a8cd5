//! CA tests: the profile wins over whatever the CSR asks for.

use super::*;
use rcgen::{CertificateParams, KeyPair};
use x509_parser::prelude::*;

fn csr(params: CertificateParams) -> Vec<u8> {
    let key = KeyPair::generate().unwrap();
    params.serialize_request(&key).unwrap().der().to_vec()
}

#[test]
fn ca_is_created_once_with_private_key_mode_0600() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let first = CertificateAuthority::load_or_create(dir.path()).unwrap();
    let mode = std::fs::metadata(dir.path().join("ca.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let second = CertificateAuthority::load_or_create(dir.path()).unwrap();
    assert_eq!(first.ca_hash(), second.ca_hash());
    assert!(first.ca_hash().starts_with("sha256:"));
}

#[test]
fn hostile_csr_yields_plain_leaf_for_the_chosen_identity() {
    let dir = tempfile::tempdir().unwrap();
    let ca = CertificateAuthority::load_or_create(dir.path()).unwrap();
    let mut params = CertificateParams::new(vec!["controller.unity.internal".into()]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "some-other-agent");
    params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let agent_id = AgentId::new("chosen-id").unwrap();
    let lifetime = Duration::from_secs(3600);
    let issued = ca
        .sign_agent(&csr(params), &agent_id, lifetime, SystemTime::now())
        .unwrap();
    let (_, cert) = parse_x509_certificate(&issued.der).unwrap();
    assert_eq!(
        unity_shared::tls::agent_id_from_certificate(&issued.der).unwrap(),
        agent_id
    );
    let basic = cert.basic_constraints().unwrap().map(|ext| ext.value.ca);
    assert_ne!(basic, Some(true), "leaf must not be a CA");
    let eku = cert.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.client_auth && !eku.server_auth);
    let key_usage = cert.key_usage().unwrap().unwrap().value;
    assert!(!key_usage.key_cert_sign());
    let sans = cert.subject_alternative_name().unwrap().unwrap();
    assert!(sans
        .value
        .general_names
        .iter()
        .all(|name| !matches!(name, GeneralName::DNSName(_))));
    let validity = cert.validity();
    let span = validity.not_after.timestamp() - validity.not_before.timestamp();
    assert!(span <= 3600 + 300, "validity {span}s exceeds the profile");
}

#[test]
fn garbage_csr_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ca = CertificateAuthority::load_or_create(dir.path()).unwrap();
    let agent_id = AgentId::new("a").unwrap();
    let error = ca
        .sign_agent(
            b"garbage",
            &agent_id,
            Duration::from_secs(60),
            SystemTime::now(),
        )
        .unwrap_err();
    assert!(matches!(error, CaError::BadCsr(_)));
}
