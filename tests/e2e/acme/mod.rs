//! The controller as an ACME client against real Pebble and BIND on loopback (issue 15, user
//! story 3): DNS-01 through RFC 2136 + TSIG, a wildcard, HTTP-01 answered by a real agent,
//! finalisation with a CSR whose key only the test (the "host") holds, chains verified
//! against Pebble's issuing root; the bad input is in `errors.rs`.

use rustls::client::danger::ServerCertVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use std::sync::Arc;
use std::time::{Duration, Instant};
use unity_controller::acme::dns::rfc2136::Rfc2136Solver;
use unity_controller::acme::settings::ChallengeSettings;
use unity_controller::acme::{
    issue, revoke, AcmeAccounts, AcmeError, AcmeProvider, AgentHttp01, IssuedChain, NoHttp01,
    RevocationReason,
};
use unity_controller::config::{Config, RawConfig};
use unity_tests::acme::AcmeLab;

mod errors;
mod managed;

/// The `[acme]` section with one provider named `pebble` answering with `challenge`.
pub(super) fn provider(
    directory: &str,
    ca_file: &std::path::Path,
    challenge: &str,
    timeouts: &str,
) -> AcmeProvider {
    let text = format!(
        r#"[acme]
{timeouts}
[[acme.providers]]
name = "pebble"
directory = "{directory}"
ca_file = "{}"
email = "admin@home.test"
terms_agreed = true
challenge = {challenge}
"#,
        ca_file.display()
    );
    let raw: RawConfig = toml::from_str(&text).unwrap();
    let config = Config::from_raw(raw).unwrap();
    AcmeProvider::new(config.acme.provider("pebble").unwrap().clone()).unwrap()
}

pub(super) const TIMEOUTS: &str =
    "request_timeout = \"10s\"\norder_timeout = \"60s\"\npropagation_timeout = \"20s\"";

pub(super) fn rfc2136_provider(lab: &AcmeLab) -> AcmeProvider {
    provider(
        &lab.directory,
        &lab.ca_file,
        &format!(
            "{{ type = \"dns-rfc2136\", server = \"{}\", zone = \"home.test\", key_name = \"acme-key\", secret_file = \"{}\" }}",
            lab.dns,
            lab.key_file.display()
        ),
        TIMEOUTS,
    )
}

/// A CSR for `names` over a key only the caller holds (as the agent does on its host).
pub(super) fn host_csr(names: &[&str]) -> (rcgen::KeyPair, Vec<u8>) {
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap();
    let csr = params.serialize_request(&key).unwrap();
    (key, csr.der().to_vec())
}

/// The chain verifies to Pebble's root for every name, and the leaf holds the host's key.
async fn assert_issued(lab: &AcmeLab, issued: &IssuedChain, key: &rcgen::KeyPair, names: &[&str]) {
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
    let chain: Vec<CertificateDer> = CertificateDer::pem_slice_iter(issued.chain_pem.as_bytes())
        .map(Result::unwrap)
        .collect();
    assert!(chain.len() >= 2, "leaf and intermediate expected");
    for name in names {
        let server_name = ServerName::try_from(name.replace("*.", "any.")).unwrap();
        verifier
            .verify_server_cert(&chain[0], &chain[1..], &server_name, &[], UnixTime::now())
            .unwrap_or_else(|error| panic!("{name}: {error}"));
    }
    let (_, leaf) = x509_parser::parse_x509_certificate(&chain[0]).unwrap();
    assert_eq!(
        leaf.public_key().raw,
        rcgen::PublicKeyData::subject_public_key_info(key).as_slice()
    );
    assert_eq!(issued.serial_hex, hex_of(leaf.raw_serial()));
    assert_eq!(issued.not_after_unix, leaf.validity().not_after.timestamp());
    assert_eq!(
        issued.not_before_unix,
        leaf.validity().not_before.timestamp()
    );
    assert!(issued.not_before_unix < issued.not_after_unix);
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn issue_15_acme_dns01_rfc2136_with_the_hosts_csr_and_a_wildcard() {
    unity_tests::init_logging();
    let lab = AcmeLab::start(&[]).await;
    let provider = rfc2136_provider(&lab);
    let data = tempfile::tempdir().unwrap();
    let accounts = AcmeAccounts::new(data.path());

    let (key, csr) = host_csr(&["x.home.test"]);
    let names = vec!["x.home.test".to_owned()];
    let issued = issue(&provider, &accounts, &csr, &names, &NoHttp01)
        .await
        .unwrap_or_else(|error| panic!("{error}\n{}", lab.log("pebble.log")));
    assert_issued(&lab, &issued, &key, &["x.home.test"]).await;
    // The challenge record is gone again.
    let ChallengeSettings::Rfc2136(settings) = &provider.settings.challenge else {
        panic!()
    };
    let solver =
        Rfc2136Solver::new(settings, Duration::from_secs(5), Duration::from_secs(5)).unwrap();
    assert_eq!(
        solver
            .txt_values("_acme-challenge.x.home.test")
            .await
            .unwrap(),
        Vec::<String>::new()
    );
    let named_log = lab.log("named.log");
    assert!(
        named_log.contains("_acme-challenge.x.home.test"),
        "{named_log}"
    );

    // A wildcard and its base name in one order (two TXT values at one name), same account.
    let (key, csr) = host_csr(&["*.home.test", "home.test"]);
    let names = vec!["*.home.test".to_owned(), "home.test".to_owned()];
    let issued = issue(&provider, &accounts, &csr, &names, &NoHttp01)
        .await
        .unwrap_or_else(|error| panic!("{error}\n{}", lab.log("pebble.log")));
    assert_issued(&lab, &issued, &key, &["*.home.test", "home.test"]).await;

    // Revoked with the same account; a second revocation is refused in Pebble's words.
    revoke(
        &provider,
        &accounts,
        &issued.chain_pem,
        RevocationReason::Superseded,
    )
    .await
    .unwrap();
    let error = revoke(
        &provider,
        &accounts,
        &issued.chain_pem,
        RevocationReason::Superseded,
    )
    .await
    .unwrap_err();
    eprintln!("revoked twice: {error}");
    let AcmeError::Server { kind, .. } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(kind, "urn:ietf:params:acme:error:alreadyRevoked", "{error}");

    // One account, created once and kept sealed: the file holds no readable key.
    let files: Vec<_> = std::fs::read_dir(data.path().join("acme"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let sealed = std::fs::read(&files[0]).unwrap();
    let text = String::from_utf8_lossy(&sealed);
    assert!(
        !text.contains("key_pkcs8") && !text.contains("https://"),
        "{text}"
    );
    let check = provider.check(&accounts).await.unwrap();
    assert!(!check.created, "the stored account is reused");
    assert!(check.directory.contains("newOrder"), "{}", check.directory);
}

#[tokio::test]
async fn issue_15_acme_http01_answered_by_a_real_agent() {
    unity_tests::init_logging();
    let lab = AcmeLab::start(&["web.home.test"]).await;
    let provider = provider(
        &lab.directory,
        &lab.ca_file,
        &format!("{{ type = \"http-01\", port = {} }}", lab.http_port),
        TIMEOUTS,
    );
    let controller_dir = tempfile::tempdir().unwrap();
    let agent_dir = tempfile::tempdir().unwrap();
    let controller =
        unity_tests::start_controller(unity_tests::controller_config(controller_dir.path())).await;
    let (agent_id, _agent) =
        unity_tests::enrolled_agent(&controller, agent_dir.path(), Duration::from_secs(5)).await;
    unity_tests::eventually("the agent connects", Duration::from_secs(20), || async {
        controller.context.hub.is_connected(&agent_id).then_some(())
    })
    .await;
    let accounts = AcmeAccounts::new(controller_dir.path());
    let responder = AgentHttp01 {
        hub: &controller.context.hub,
        agent_id: agent_id.clone(),
        timeout: Duration::from_secs(10),
    };

    let (key, csr) = host_csr(&["web.home.test"]);
    let issued = issue(
        &provider,
        &accounts,
        &csr,
        &["web.home.test".to_owned()],
        &responder,
    )
    .await
    .unwrap_or_else(|error| panic!("{error}\n{}", lab.log("pebble.log")));
    assert_issued(&lab, &issued, &key, &["web.home.test"]).await;

    // Wildcards are refused before anything is ordered.
    let (_, csr) = host_csr(&["*.home.test"]);
    let error = issue(
        &provider,
        &accounts,
        &csr,
        &["*.home.test".to_owned()],
        &responder,
    )
    .await
    .unwrap_err();
    assert!(matches!(error, AcmeError::WildcardNeedsDns(_)), "{error}");
    assert!(error.to_string().contains("DNS-01"), "{error}");
}
