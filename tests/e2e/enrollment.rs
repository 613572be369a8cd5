//! Issue 2, test 2: what enrollment refuses, and what the CA signs.

use std::sync::Arc;
use std::time::Duration;
use unity_agent::transport::EnrollError;
use unity_shared::proto::{
    EnrollRefusal, EnrollRequest, EnrollResponse, HostFacts, PROTOCOL_VERSION,
};
use unity_tests::*;
use x509_parser::prelude::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reused_expired_and_unknown_tokens_and_a_wrong_ca_hash_are_refused() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let controller = start_controller(controller_config(&dir.path().join("controller"))).await;
    let address = controller.local_addr;
    let ca_hash = controller.context.ca.ca_hash();

    let token = create_token(&controller, Duration::from_secs(60)).await;
    enroll(&dir.path().join("a1"), address, &token, &ca_hash)
        .await
        .unwrap();
    let reused = enroll(&dir.path().join("a2"), address, &token, &ca_hash)
        .await
        .unwrap_err();
    assert!(
        matches!(
            reused.downcast_ref::<EnrollError>(),
            Some(EnrollError::Refused(EnrollRefusal::TokenAlreadyUsed))
        ),
        "{reused:#}"
    );
    assert!(format!("{reused:#}").contains("already used"));

    let short = create_token(&controller, Duration::from_secs(1)).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let expired = enroll(&dir.path().join("a3"), address, &short, &ca_hash)
        .await
        .unwrap_err();
    assert!(
        matches!(
            expired.downcast_ref::<EnrollError>(),
            Some(EnrollError::Refused(EnrollRefusal::ExpiredToken))
        ),
        "{expired:#}"
    );

    let unknown = enroll(
        &dir.path().join("a4"),
        address,
        "deadbeef.000000000000000000000000",
        &ca_hash,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            unknown.downcast_ref::<EnrollError>(),
            Some(EnrollError::Refused(EnrollRefusal::UnknownToken))
        ),
        "{unknown:#}"
    );

    // A wrong pin never reaches the token check: the TLS handshake fails, and the token
    // stays unused.
    let fresh = create_token(&controller, Duration::from_secs(60)).await;
    let wrong_pin = format!("sha256:{}", "00".repeat(32));
    let error = enroll(&dir.path().join("a5"), address, &fresh, &wrong_pin)
        .await
        .unwrap_err();
    assert!(format!("{error:#}").contains("ca-hash"), "{error:#}");
    enroll(&dir.path().join("a6"), address, &fresh, &ca_hash)
        .await
        .unwrap();

    controller.shutdown().await.unwrap();
}

/// Sends an enrollment request with a hand-made CSR over real QUIC.
async fn enroll_with_csr(
    address: std::net::SocketAddr,
    ca_hash: &str,
    token: &str,
    csr_der: Vec<u8>,
) -> EnrollResponse {
    let tls = unity_shared::tls::enrollment_client_config(ca_hash).unwrap();
    let quic = quinn::crypto::rustls::QuicClientConfig::try_from(tls).unwrap();
    let config = quinn::ClientConfig::new(Arc::new(quic));
    let endpoint = unity_agent::transport::client_endpoint(address).unwrap();
    let connection = unity_agent::transport::connect(&endpoint, config, address)
        .await
        .unwrap();
    let (mut send, mut recv) = connection.open_bi().await.unwrap();
    let request = EnrollRequest {
        protocol_version: PROTOCOL_VERSION,
        token: token.to_owned(),
        csr_der,
        host: HostFacts {
            hostname: "evil".into(),
            ..HostFacts::default()
        },
    };
    unity_shared::wire::write(&mut send, &request, 1 << 16)
        .await
        .unwrap();
    send.finish().unwrap();
    unity_shared::wire::read(&mut recv, 1 << 16)
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csr_asking_for_ca_rights_or_another_identity_gets_a_plain_leaf() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let controller = start_controller(controller_config(&dir.path().join("controller"))).await;
    let (existing_id, agent) =
        enrolled_agent(&controller, &dir.path().join("a1"), Duration::from_secs(5)).await;

    let key = rcgen::KeyPair::generate().unwrap();
    let mut params =
        rcgen::CertificateParams::new(vec!["controller.unity.internal".into()]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, existing_id.as_str());
    params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
    let csr = params.serialize_request(&key).unwrap().der().to_vec();
    let token = create_token(&controller, Duration::from_secs(60)).await;
    let response = enroll_with_csr(
        controller.local_addr,
        &controller.context.ca.ca_hash(),
        &token,
        csr,
    )
    .await;
    let EnrollResponse::Enrolled(enrolled) = response else {
        panic!("expected a certificate, got {response:?}");
    };
    assert_ne!(
        enrolled.agent_id, existing_id,
        "the controller chose the identity"
    );
    let (_, certificate) = parse_x509_certificate(&enrolled.certificate_der).unwrap();
    assert_eq!(
        unity_shared::tls::agent_id_from_certificate(&enrolled.certificate_der).unwrap(),
        enrolled.agent_id
    );
    assert_ne!(
        certificate.basic_constraints().unwrap().map(|c| c.value.ca),
        Some(true)
    );
    assert!(!certificate
        .key_usage()
        .unwrap()
        .unwrap()
        .value
        .key_cert_sign());
    let eku = certificate.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.client_auth && !eku.server_auth);
    let dns_names = certificate
        .subject_alternative_name()
        .unwrap()
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter(|name| matches!(name, GeneralName::DNSName(_)))
                .count()
        })
        .unwrap_or(0);
    assert_eq!(dns_names, 0, "no server name copied from the CSR");

    // Garbage instead of a CSR is refused with a reason, and the controller keeps serving.
    let token = create_token(&controller, Duration::from_secs(60)).await;
    let response = enroll_with_csr(
        controller.local_addr,
        &controller.context.ca.ca_hash(),
        &token,
        b"junk".to_vec(),
    )
    .await;
    assert!(
        matches!(response, EnrollResponse::Refused(EnrollRefusal::BadCsr(_))),
        "{response:?}"
    );

    agent.stop().await;
    controller.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_from_a_foreign_ca_is_refused() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let controller = start_controller(controller_config(&dir.path().join("controller"))).await;
    let (agent_id, agent) =
        enrolled_agent(&controller, &dir.path().join("a1"), Duration::from_secs(5)).await;

    // A foreign CA issues a certificate claiming the enrolled agent's id.
    let foreign_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::default();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Unity controller CA");
    ca_params.self_signed(&foreign_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, foreign_key);
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let mut leaf_params = rcgen::CertificateParams::default();
    leaf_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, agent_id.as_str());
    leaf_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();

    let tls = unity_shared::tls::agent_client_config(
        controller.context.ca.ca_der().clone(),
        leaf.der().clone(),
        rustls_pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
    )
    .unwrap();
    let quic = quinn::crypto::rustls::QuicClientConfig::try_from(tls).unwrap();
    let config = quinn::ClientConfig::new(Arc::new(quic));
    let endpoint = unity_agent::transport::client_endpoint(controller.local_addr).unwrap();
    let outcome = async {
        let connection =
            unity_agent::transport::connect(&endpoint, config, controller.local_addr).await?;
        // TLS 1.3 client auth fails after the client's handshake finished; the stream shows it.
        let (mut send, mut recv) = connection.open_bi().await?;
        unity_shared::wire::write(
            &mut send,
            &unity_shared::proto::AgentMessage::Heartbeat(unity_shared::proto::Heartbeat {
                sent_at_ms: 0,
                spool_depth: 0,
            }),
            1024,
        )
        .await?;
        let reply: Option<unity_shared::proto::ControllerMessage> =
            unity_shared::wire::read(&mut recv, 1024).await?;
        anyhow::Ok(reply)
    }
    .await;
    assert!(
        outcome.is_err(),
        "foreign certificate accepted: {outcome:?}"
    );

    agent.stop().await;
    controller.shutdown().await.unwrap();
}
