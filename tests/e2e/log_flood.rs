//! Issue 13, §6: nobody can fill the controller's disk through its UDP port. Garbage
//! datagrams, handshakes with a foreign certificate and enrollments with made-up tokens are
//! counted per minute in the log, not written a line each; and the controller keeps serving.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use unity_tests::*;

const BINARY: &str = env!("CARGO_BIN_EXE_unity-e2e-controller");

/// A client configuration with a certificate from a CA the controller never heard of.
fn foreign_client(controller_ca: rustls_pki_types::CertificateDer<'static>) -> quinn::ClientConfig {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::default();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let mut leaf_params = rcgen::CertificateParams::default();
    leaf_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "intruder");
    leaf_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
    let tls = unity_shared::tls::agent_client_config(
        controller_ca,
        leaf.der().clone(),
        rustls_pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
    )
    .unwrap();
    let quic = quinn::crypto::rustls::QuicClientConfig::try_from(tls).unwrap();
    quinn::ClientConfig::new(Arc::new(quic))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_foreign_certificates_and_bad_tokens_make_a_few_log_lines_not_thousands() {
    init_logging();
    let dir = tempfile::tempdir().unwrap();
    let controller_dir = dir.path().join("controller");
    let log = dir.path().join("controller.log");
    let address = free_udp_address();
    let process =
        ControllerProcess::start_logging(Path::new(BINARY), &controller_dir, address, Some(&log))
            .await;
    let ca_hash = ca_hash_of(&controller_dir);

    // 10,000 garbage datagrams, a tenth of them shaped like QUIC Initial packets.
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for i in 0..10_000 {
        let len = 1 + (next() % 1300) as usize;
        let mut datagram: Vec<u8> = (0..len.max(1200)).map(|_| next() as u8).collect();
        if i % 10 == 0 {
            // Long header, Initial, QUIC version 1, 8-byte connection ids.
            datagram[0] = 0xc0 | (datagram[0] & 0x0f);
            datagram[1..5].copy_from_slice(&[0, 0, 0, 1]);
            datagram[5] = 8;
            datagram[14] = 8;
        } else {
            datagram.truncate(len);
        }
        let _ = socket.send_to(&datagram, address).await;
        if i % 500 == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    // 30 handshakes with a foreign client certificate.
    let ca_der = rustls_pki_types::CertificateDer::from(
        std::fs::read(controller_dir.join("ca").join("ca.crt"))
            .map(|pem| {
                use rustls_pki_types::pem::PemObject;
                rustls_pki_types::CertificateDer::from_pem_slice(&pem)
                    .unwrap()
                    .to_vec()
            })
            .unwrap(),
    );
    let endpoint = unity_agent::transport::client_endpoint(address).unwrap();
    for _ in 0..30 {
        let config = foreign_client(ca_der.clone());
        if let Ok(connection) = unity_agent::transport::connect(&endpoint, config, address).await {
            // TLS 1.3 client auth fails after the client's side finished; a stream shows it.
            let _ = connection.open_bi().await;
            let _ = tokio::time::timeout(Duration::from_secs(2), connection.closed()).await;
        }
    }

    // 30 enrollments with made-up tokens.
    for n in 0..30 {
        let refused = unity_agent::transport::enroll(
            &address.to_string(),
            &format!("not-a-token-{n}"),
            &ca_hash,
            unity_shared::proto::HostFacts::default(),
        )
        .await;
        assert!(refused.is_err());
    }

    // The controller still enrolls and serves a real agent.
    let agent_dir = dir.path().join("agent");
    let agent_id = process.enroll(&agent_dir).await;
    let agent = unity_agent::runtime::start(agent_config(
        &agent_dir,
        address,
        Duration::from_millis(200),
    ))
    .await
    .unwrap();
    eventually("a report stored", Duration::from_secs(20), || async {
        let stored = process
            .call(query_request(&agent_id, "memory_total_bytes"))
            .await;
        match stored {
            unity_controller::admin::AdminResponse::Series(series) => {
                (!series.is_empty()).then_some(())
            }
            _ => None,
        }
    })
    .await;
    agent.stop().await;

    let text = std::fs::read_to_string(&log).unwrap();
    // Issue 17 review: the log is a file here, not a terminal, so it carries no colour codes.
    assert!(
        !text.contains('\u{1b}'),
        "escape codes in a log file: {:?}",
        text.lines().find(|line| line.contains('\u{1b}'))
    );
    let failure_lines: Vec<&str> = text
        .lines()
        .filter(|line| {
            ["Handshake", "Enrollment", "enrollment"]
                .iter()
                .any(|word| line.contains(word))
                && line.contains("fail")
        })
        .collect();
    eprintln!(
        "{} log lines in all, {} about failures:\n{}",
        text.lines().count(),
        failure_lines.len(),
        failure_lines.join("\n")
    );
    // At most the first failure of each kind at once; the counts follow a minute later.
    assert!(
        failure_lines.len() <= 4,
        "{} failure lines for 10,060 hostile attempts",
        failure_lines.len()
    );
    assert!(
        text.lines().count() < 40,
        "the log grew to {} lines",
        text.lines().count()
    );
}
