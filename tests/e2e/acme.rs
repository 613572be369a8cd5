//! The controller as an ACME client against real Pebble and BIND on loopback (issue 15, user
//! story 3): DNS-01 through RFC 2136 + TSIG, a wildcard, HTTP-01 answered by a real agent,
//! finalisation with a CSR whose key only the test (the "host") holds, chains verified
//! against Pebble's issuing root, the server's errors as it said them, and a server that
//! never answers bounded in time.

use rustls::client::danger::ServerCertVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use std::sync::Arc;
use std::time::{Duration, Instant};
use unity_controller::acme::dns::rfc2136::Rfc2136Solver;
use unity_controller::acme::settings::ChallengeSettings;
use unity_controller::acme::{
    issue, AcmeAccounts, AcmeError, AcmeProvider, AgentHttp01, IssuedChain, NoHttp01,
};
use unity_controller::config::{Config, RawConfig};
use unity_tests::acme::AcmeLab;

/// The `[acme]` section with one provider named `pebble` answering with `challenge`.
fn provider(
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

const TIMEOUTS: &str =
    "request_timeout = \"10s\"\norder_timeout = \"60s\"\npropagation_timeout = \"20s\"";

fn rfc2136_provider(lab: &AcmeLab) -> AcmeProvider {
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
fn host_csr(names: &[&str]) -> (rcgen::KeyPair, Vec<u8>) {
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

#[tokio::test]
async fn issue_15_acme_server_errors_as_said_and_timeouts_bounded() {
    unity_tests::init_logging();
    let lab = AcmeLab::start(&[]).await;
    let provider = rfc2136_provider(&lab);
    let data = tempfile::tempdir().unwrap();
    let accounts = AcmeAccounts::new(data.path());

    // A name Pebble refuses: its problem document comes through as it said it.
    let (_, csr) = host_csr(&["bad_name.home.test"]);
    let error = issue(
        &provider,
        &accounts,
        &csr,
        &["bad_name.home.test".to_owned()],
        &NoHttp01,
    )
    .await
    .unwrap_err();
    let AcmeError::Server { kind, detail, .. } = &error else {
        panic!("{error:?}")
    };
    eprintln!("pebble said: {error}");
    assert!(kind.starts_with("urn:ietf:params:acme:error:"), "{error}");
    assert!(!detail.is_empty(), "{error}");
    assert!(error.to_string().contains(detail.as_str()), "{error}");

    // A directory URL the server does not have.
    let unknown = provider_with(&lab, &format!("{}-nope", lab.directory), TIMEOUTS);
    let error = unknown.check(&accounts).await.unwrap_err();
    eprintln!("unknown directory: {error}");
    assert!(error.to_string().contains("404"), "{error}");
    // The same through an order: the directory's 404, not a JSON error about its page.
    let (_, csr) = host_csr(&["x.home.test"]);
    std::fs::create_dir(data.path().join("fresh")).unwrap();
    let fresh = AcmeAccounts::new(&data.path().join("fresh"));
    let error = issue(
        &unknown,
        &fresh,
        &csr,
        &["x.home.test".to_owned()],
        &NoHttp01,
    )
    .await
    .unwrap_err();
    assert!(error.to_string().contains("HTTP 404"), "{error}");

    // A server that accepts connections and never answers: bounded by request_timeout.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut connections = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            connections.push(stream);
        }
    });
    let stuck = provider_with(
        &lab,
        &format!("https://{silent_addr}/dir"),
        "request_timeout = \"1s\"\norder_timeout = \"3s\"",
    );
    let started = Instant::now();
    let (_, csr) = host_csr(&["y.home.test"]);
    let error = issue(
        &stuck,
        &accounts,
        &csr,
        &["y.home.test".to_owned()],
        &NoHttp01,
    )
    .await
    .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    let shown = error.to_string();
    eprintln!("silent server: {shown}");
    assert!(
        shown.contains("timed out") || shown.contains("longer than"),
        "{shown}"
    );
    held.abort();
}

fn provider_with(lab: &AcmeLab, directory: &str, timeouts: &str) -> AcmeProvider {
    provider(
        directory,
        &lab.ca_file,
        &format!(
            "{{ type = \"dns-rfc2136\", server = \"{}\", zone = \"home.test\", key_name = \"acme-key\", secret_file = \"{}\" }}",
            lab.dns,
            lab.key_file.display()
        ),
        timeouts,
    )
}

/// `unity-controller acme check <provider>` as a process: the directory, then the account,
/// registered once and reused the second time; a wrong TSIG key is refused by BIND.
#[tokio::test]
async fn issue_15_acme_check_cli_and_a_wrong_tsig_key() {
    unity_tests::init_logging();
    let lab = AcmeLab::start(&[]).await;
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("controller.toml");
    std::fs::write(
        &config,
        format!(
            "[acme]\n[[acme.providers]]\nname = \"pebble\"\ndirectory = \"{}\"\nca_file = \"{}\"\nterms_agreed = true\nchallenge = {{ type = \"http-01\" }}\n",
            lab.directory,
            lab.ca_file.display()
        ),
    )
    .unwrap();
    let cli = |args: &[&str]| {
        #[allow(clippy::disallowed_methods)] // The real controller binary.
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_unity-e2e-controller"))
            .arg("--config")
            .arg(&config)
            .arg("--data-dir")
            .arg(data.path())
            .args(args)
            .env("UNITY_LOG", "warn")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        (output.status.success(), stdout, stderr)
    };
    let (ok, first, stderr) = cli(&["acme", "check", "pebble"]);
    assert!(ok, "{stderr}");
    assert!(first.contains("newAccount"), "{first}");
    assert!(first.contains("registered now"), "{first}");
    let (ok, second, stderr) = cli(&["acme", "check", "pebble"]);
    assert!(ok, "{stderr}");
    assert!(second.contains("reused"), "{second}");
    let (ok, _, stderr) = cli(&["acme", "check", "nope"]);
    assert!(
        !ok && stderr.contains("no [[acme.providers]] named \"nope\""),
        "{stderr}"
    );

    // A TSIG secret BIND does not know: the update is refused and the order says so.
    let wrong_key = data.path().join("wrong.key");
    std::fs::write(&wrong_key, "c29tZXRoaW5nIGVsc2UgZW50aXJlbHkgMTIzNDU2Nzg=\n").unwrap();
    let provider = provider(
        &lab.directory,
        &lab.ca_file,
        &format!(
            "{{ type = \"dns-rfc2136\", server = \"{}\", zone = \"home.test\", key_name = \"acme-key\", secret_file = \"{}\" }}",
            lab.dns,
            wrong_key.display()
        ),
        TIMEOUTS,
    );
    let (_, csr) = host_csr(&["z.home.test"]);
    let error = issue(
        &provider,
        &AcmeAccounts::new(data.path()),
        &csr,
        &["z.home.test".to_owned()],
        &NoHttp01,
    )
    .await
    .unwrap_err();
    eprintln!("wrong TSIG key: {error}");
    assert!(matches!(error, AcmeError::Dns(_)), "{error}");
    assert!(
        error.to_string().contains("NOTAUTH") || error.to_string().contains("refused"),
        "{error}"
    );
}

/// External Account Binding (as ZeroSSL requires): refused without it, in the server's words;
/// registered with it.
#[tokio::test]
async fn issue_15_acme_external_account_binding() {
    unity_tests::init_logging();
    let hmac_key = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";
    let lab = AcmeLab::start_with(&[], Some(("kid-1", hmac_key))).await;
    let data = tempfile::tempdir().unwrap();
    let accounts = AcmeAccounts::new(data.path());
    let without = provider(
        &lab.directory,
        &lab.ca_file,
        "{ type = \"http-01\" }",
        TIMEOUTS,
    );
    let error = without.check(&accounts).await.unwrap_err();
    eprintln!("without EAB: {error}");
    let AcmeError::Server { kind, .. } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(
        kind, "urn:ietf:params:acme:error:externalAccountRequired",
        "{error}"
    );

    let key_file = data.path().join("eab.key");
    std::fs::write(&key_file, format!("{hmac_key}\n")).unwrap();
    let text = format!(
        "[acme]\n[[acme.providers]]\nname = \"pebble\"\ndirectory = \"{}\"\nca_file = \"{}\"\nterms_agreed = true\neab_key_id = \"kid-1\"\neab_hmac_key_file = \"{}\"\nchallenge = {{ type = \"http-01\" }}\n",
        lab.directory,
        lab.ca_file.display(),
        key_file.display()
    );
    let config = Config::from_raw(toml::from_str::<RawConfig>(&text).unwrap()).unwrap();
    assert!(!format!("{config:?}").contains(hmac_key));
    let with = AcmeProvider::new(config.acme.provider("pebble").unwrap().clone()).unwrap();
    let check = with.check(&accounts).await.unwrap();
    assert!(check.created);
}
