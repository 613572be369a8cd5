//! Services CA tests: its leaves and the agent CA's certificates are never interchangeable,
//! the profile wins over the CSR, and name constraints hold.

use super::pem_to_der;
use super::services::*;
use super::verifier::{agent_verifier, Revocations};
use super::CertificateAuthority;
use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use rustls::client::danger::ServerCertVerifier;
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::{ServerName, UnixTime};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use unity_shared::model::certificate::KeyType;
use unity_shared::proto::AgentId;

fn csr_for(key: &KeyPair, params: CertificateParams) -> Vec<u8> {
    params.serialize_request(key).unwrap().der().to_vec()
}

fn p256_csr() -> Vec<u8> {
    let key = KeyPair::generate().unwrap();
    csr_for(&key, CertificateParams::default())
}

fn profile<'a>(dns: &'a [String], ips: &'a [IpAddr]) -> ServiceProfile<'a> {
    ServiceProfile {
        dns_names: dns,
        ip_addresses: ips,
        key_type: KeyType::EcdsaP256,
        lifetime: Duration::from_secs(3600),
    }
}

fn leaf_der(issued: &IssuedService) -> CertificateDer<'static> {
    pem_to_der(&issued.chain_pem).unwrap()
}

fn server_verifier(root: &CertificateDer<'static>) -> Arc<WebPkiServerVerifier> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root.clone()).unwrap();
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), unity_shared::tls::provider())
        .build()
        .unwrap()
}

fn verify_server(
    root: &CertificateDer<'static>,
    leaf: &CertificateDer<'static>,
    name: &str,
) -> Result<(), rustls::Error> {
    server_verifier(root)
        .verify_server_cert(
            leaf,
            &[],
            &ServerName::try_from(name.to_owned()).unwrap(),
            &[],
            UnixTime::now(),
        )
        .map(|_| ())
}

#[test]
fn issue_15_service_leaf_is_refused_by_the_agent_verifier() {
    let dir = tempfile::tempdir().unwrap();
    let agent_ca = CertificateAuthority::load_or_create(&dir.path().join("ca")).unwrap();
    let services =
        ServicesCa::load_or_create(&dir.path().join("services"), &NameScope::default()).unwrap();
    let verifier = agent_verifier(&agent_ca, Revocations::default()).unwrap();
    let now = UnixTime::now();

    // A service leaf from the services CA: unknown issuer to the QUIC endpoint.
    let dns = ["nas.home.arpa".to_owned()];
    let leaf = services
        .sign_service(&p256_csr(), &profile(&dns, &[]), SystemTime::now())
        .unwrap();
    let refused = verifier.verify_client_cert(&leaf_der(&leaf), &[], now);
    assert!(refused.is_err(), "{refused:?}");
    // The services root itself is no client certificate either.
    assert!(verifier
        .verify_client_cert(services.root_der(), &[], now)
        .is_err());

    // A serverAuth-only certificate even from the agent CA is refused: clientAuth is required.
    let (chain, _) = agent_ca
        .issue_server_certificate(&["nas.home.arpa".to_owned()])
        .unwrap();
    let refused = verifier.verify_client_cert(&chain[0], &[], now);
    assert!(refused.is_err(), "{refused:?}");

    // The control: a real agent certificate passes.
    let agent = AgentId::new("nas-1").unwrap();
    let issued = agent_ca
        .sign_agent(
            &p256_csr(),
            &agent,
            Duration::from_secs(3600),
            SystemTime::now(),
        )
        .unwrap();
    verifier.verify_client_cert(&issued.der, &[], now).unwrap();
}

#[test]
fn issue_15_agent_certificate_is_no_server_certificate_under_the_services_root() {
    let dir = tempfile::tempdir().unwrap();
    let agent_ca = CertificateAuthority::load_or_create(&dir.path().join("ca")).unwrap();
    let services =
        ServicesCa::load_or_create(&dir.path().join("services"), &NameScope::default()).unwrap();
    let agent = AgentId::new("nas-1").unwrap();
    let issued = agent_ca
        .sign_agent(
            &p256_csr(),
            &agent,
            Duration::from_secs(3600),
            SystemTime::now(),
        )
        .unwrap();
    for name in ["nas-1", "nas.home.arpa", "unity-controller", "localhost"] {
        let refused = verify_server(services.root_der(), &issued.der, name);
        assert!(refused.is_err(), "{name}: {refused:?}");
        // Not even under its own root: agent certificates carry clientAuth only.
        let refused = verify_server(agent_ca.ca_der(), &issued.der, name);
        assert!(refused.is_err(), "{name}: {refused:?}");
    }
    // The control: a service leaf is a server certificate for its name, and only its name.
    let dns = ["nas.home.arpa".to_owned()];
    let ips = ["192.168.1.10".parse().unwrap()];
    let leaf = services
        .sign_service(&p256_csr(), &profile(&dns, &ips), SystemTime::now())
        .unwrap();
    verify_server(services.root_der(), &leaf_der(&leaf), "nas.home.arpa").unwrap();
    verify_server(services.root_der(), &leaf_der(&leaf), "192.168.1.10").unwrap();
    assert!(verify_server(services.root_der(), &leaf_der(&leaf), "other.home.arpa").is_err());
    assert!(verify_server(agent_ca.ca_der(), &leaf_der(&leaf), "nas.home.arpa").is_err());
}

#[test]
fn issue_15_the_declaration_wins_over_a_hostile_csr() {
    let dir = tempfile::tempdir().unwrap();
    let services = ServicesCa::load_or_create(dir.path(), &NameScope::default()).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut hostile = CertificateParams::new(vec!["bank.example".to_owned()]).unwrap();
    hostile.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    hostile.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let dns = ["nas.home.arpa".to_owned()];
    let leaf = services
        .sign_service(
            &csr_for(&key, hostile),
            &profile(&dns, &[]),
            SystemTime::now(),
        )
        .unwrap();
    let der = leaf_der(&leaf);
    let (_, parsed) = x509_parser::parse_x509_certificate(&der).unwrap();
    let names: Vec<String> = parsed
        .subject_alternative_name()
        .unwrap()
        .unwrap()
        .value
        .general_names
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(names, ["DNSName(nas.home.arpa)"]);
    assert!(!parsed.is_ca());
    let eku = parsed.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.server_auth && !eku.client_auth && !eku.any);
    assert_eq!(
        parsed.public_key().subject_public_key.data.as_ref(),
        key.public_key_raw()
    );
    assert_eq!(hex::encode(parsed.raw_serial()), leaf.serial_hex);

    // A key of another type than declared is refused.
    let ed = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let error = services
        .sign_service(
            &csr_for(&ed, CertificateParams::default()),
            &profile(&dns, &[]),
            SystemTime::now(),
        )
        .unwrap_err();
    assert!(error.to_string().contains("EcdsaP256"), "{error}");
    let mut ed_profile = profile(&dns, &[]);
    ed_profile.key_type = KeyType::Ed25519;
    services
        .sign_service(
            &csr_for(&ed, CertificateParams::default()),
            &ed_profile,
            SystemTime::now(),
        )
        .unwrap();
    assert!(services
        .sign_service(b"garbage", &profile(&dns, &[]), SystemTime::now())
        .is_err());
}

#[test]
fn issue_15_name_constraints_bound_the_root_and_a_change_reissues_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let scope = NameScope {
        dns: vec!["home.arpa".into()],
        ip_ranges: vec!["192.168.0.0/16".into()],
    };
    let services = ServicesCa::load_or_create(dir.path(), &scope).unwrap();
    let mode = std::fs::metadata(dir.path().join("ca.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let (_, root) = x509_parser::parse_x509_certificate(services.root_der()).unwrap();
    let constraints = root.name_constraints().unwrap().unwrap().value;
    assert_eq!(constraints.permitted_subtrees.as_ref().unwrap().len(), 2);

    let outside = ["nas.lan".to_owned()];
    let error = services
        .sign_service(&p256_csr(), &profile(&outside, &[]), SystemTime::now())
        .unwrap_err();
    assert!(error.to_string().contains("outside"), "{error}");
    let outside_ip = ["10.0.0.1".parse().unwrap()];
    let inside = ["nas.home.arpa".to_owned()];
    assert!(services
        .sign_service(
            &p256_csr(),
            &profile(&inside, &outside_ip),
            SystemTime::now()
        )
        .is_err());
    let leaf = services
        .sign_service(&p256_csr(), &profile(&inside, &[]), SystemTime::now())
        .unwrap();
    verify_server(services.root_der(), &leaf_der(&leaf), "nas.home.arpa").unwrap();

    // Loading again with the same scope keeps the root.
    let again = ServicesCa::load_or_create(dir.path(), &scope).unwrap();
    assert_eq!(again.root_der(), services.root_der());

    assert!(constraints.excluded_subtrees.is_none());

    // A new scope re-issues the root over the same key: the old leaf still chains to it.
    let wider = NameScope {
        dns: vec!["home.arpa".into(), "lan".into()],
        ip_ranges: Vec::new(),
    };
    let reissued = ServicesCa::load_or_create(dir.path(), &wider).unwrap();
    assert_ne!(reissued.root_der(), services.root_der());
    assert!(dir.path().join("ca-previous.crt").exists());
    verify_server(reissued.root_der(), &leaf_der(&leaf), "nas.home.arpa").unwrap();
    let lan = reissued
        .sign_service(&p256_csr(), &profile(&outside, &[]), SystemTime::now())
        .unwrap();
    verify_server(reissued.root_der(), &leaf_der(&lan), "nas.lan").unwrap();
    // Domains without IP ranges: every IP address is excluded in the root itself.
    let (_, root) = x509_parser::parse_x509_certificate(reissued.root_der()).unwrap();
    let constraints = root.name_constraints().unwrap().unwrap().value;
    assert_eq!(constraints.excluded_subtrees.as_ref().unwrap().len(), 2);
    // The old root's constraints refuse the new name: trust stores need the new root.
    assert!(verify_server(services.root_der(), &leaf_der(&lan), "nas.lan").is_err());
}

#[test]
fn crl_lists_revoked_serials() {
    let dir = tempfile::tempdir().unwrap();
    let services = ServicesCa::load_or_create(dir.path(), &NameScope::default()).unwrap();
    let der = services
        .crl_der(
            &[RevokedSerial {
                serial_hex: "4abc".into(),
                revoked_at_unix: 1_700_000_000,
            }],
            SystemTime::now(),
        )
        .unwrap();
    use x509_parser::prelude::FromDer;
    let (_, crl) = x509_parser::revocation_list::CertificateRevocationList::from_der(&der).unwrap();
    let serials: Vec<String> = crl
        .iter_revoked_certificates()
        .map(|revoked| hex::encode(revoked.raw_serial()))
        .collect();
    assert_eq!(serials, ["4abc"]);
}
