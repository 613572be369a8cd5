//! Tests of the certificate inventory over the files in `testdata/` (made once with OpenSSL,
//! see `testdata/SOURCES.md`) and real TLS servers (`openssl s_server` on loopback).

use super::chain::{self, Checks};
use super::parse::{self, parse_file};
use super::ports::{self, Target};
use super::{files, Caps, Found};
use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;
use unity_shared::model::certificate::{
    CertificateLocation, ChainProblem, FileFormat, PublicKeyKind, SubjectName,
};

/// 2027-06-01: the fixtures' long-lived certificates are valid, the expired one is not.
const NOW: i64 = 1_811_808_000;

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/collect/certificates/testdata")
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(testdata().join(name)).unwrap()
}

#[test]
fn issue_15_pem_chain_der_and_combined_files_decode() {
    let chain = parse_file(&read("fullchain.pem"));
    assert_eq!(chain.format, Some(FileFormat::Pem));
    assert_eq!(chain.certificates.len(), 2);
    let leaf = &chain.certificates[0];
    assert_eq!(leaf.subject, "CN=leaf.home.arpa,O=Home");
    assert_eq!(leaf.issuer, "CN=Unity Test Intermediate,O=Unity Test");
    assert_eq!(leaf.key, PublicKeyKind::Rsa { bits: 2048 });
    assert!(!leaf.is_ca);
    assert_eq!(
        leaf.names,
        vec![
            SubjectName::Dns("leaf.home.arpa".into()),
            SubjectName::Dns("*.apps.home.arpa".into()),
            SubjectName::Ip(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10))),
            SubjectName::Email("admin@home.arpa".into()),
        ]
    );
    assert_eq!(leaf.sha256_hex.len(), 64);
    assert!(leaf
        .serial_hex
        .chars()
        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    let intermediate = &chain.certificates[1];
    assert!(intermediate.is_ca);
    assert_eq!(intermediate.key, PublicKeyKind::Rsa { bits: 3072 });

    let der = parse_file(&read("leaf.der"));
    assert_eq!(der.format, Some(FileFormat::Der));
    assert_eq!(der.certificates, vec![leaf.clone()]);

    let combined = parse_file(&read("combined.pem"));
    assert_eq!(combined.certificates.len(), 1);
    assert_eq!(combined.private_keys, 1);
    assert_eq!(
        combined.certificates[0].key,
        PublicKeyKind::Ecdsa {
            curve: "P-384".into()
        }
    );
    let root = parse_file(&read("root-ca.pem"));
    assert_eq!(
        root.certificates[0].key,
        PublicKeyKind::Ecdsa {
            curve: "P-256".into()
        }
    );
    let self_signed = parse_file(&read("selfsigned.crt"));
    assert_eq!(self_signed.certificates[0].key, PublicKeyKind::Ed25519);
}

#[test]
fn issue_15_broken_files_are_errors_not_panics() {
    let truncated = parse_file(&read("truncated.pem"));
    assert!(truncated.certificates.is_empty());
    assert_eq!(truncated.errors.len(), 1, "{:?}", truncated.errors);
    let garbage = parse_file(&read("garbage.der"));
    assert!(garbage.certificates.is_empty());
    assert!(
        garbage.errors[0].contains("not a valid X.509"),
        "{:?}",
        garbage.errors
    );
    // Every prefix of every fixture decodes to something or an error, never a panic.
    for name in ["fullchain.pem", "leaf.der", "combined.pem"] {
        let bytes = read(name);
        for end in (0..bytes.len()).step_by(7) {
            let _ = parse_file(&bytes[..end]);
        }
    }
}

fn file_problems(name: &str) -> Vec<Vec<ChainProblem>> {
    let parsed = parse_file(&read(name));
    let trusted = HashSet::new();
    let checks = Checks {
        now_unix: NOW,
        served: false,
        served_name: None,
        trusted_subjects: &trusted,
    };
    chain::problems(&parsed.certificates, &checks)
}

#[test]
fn issue_15_chain_problems_of_files() {
    assert_eq!(file_problems("fullchain.pem"), vec![vec![], vec![]]);
    assert_eq!(
        file_problems("expired.pem"),
        vec![vec![ChainProblem::Expired]]
    );
    assert_eq!(
        file_problems("selfsigned.crt"),
        vec![vec![ChainProblem::SelfSigned]]
    );
    assert_eq!(
        file_problems("wrong-order.pem"),
        vec![vec![ChainProblem::WrongOrder], vec![]]
    );
    // A root CA alone is not a self-signed leaf.
    assert_eq!(file_problems("root-ca.pem"), vec![vec![]]);
}

#[test]
fn issue_15_names_match_like_clients_do() {
    let leaf = parse_file(&read("leaf.pem")).certificates.remove(0);
    assert!(chain::valid_for(&leaf, "leaf.home.arpa"));
    assert!(chain::valid_for(&leaf, "LEAF.home.arpa."));
    assert!(chain::valid_for(&leaf, "grafana.apps.home.arpa"));
    assert!(!chain::valid_for(&leaf, "a.b.apps.home.arpa"));
    assert!(chain::valid_for(&leaf, "192.0.2.10"));
    assert!(!chain::valid_for(&leaf, "192.0.2.11"));
    // The short host name matches its full name.
    assert!(chain::valid_for(&leaf, "leaf"));
    assert!(!chain::valid_for(&leaf, "nas.home.arpa"));
}

#[test]
fn issue_15_scan_keeps_service_certificates_and_leaves_out_bundles() {
    let mut found = Found::default();
    files::scan(
        &[testdata()],
        &Caps::default(),
        NOW,
        &HashSet::new(),
        &mut found,
    );
    let inventory = found.inventory;
    let subjects: Vec<(&str, &str, u32)> = inventory
        .certificates
        .iter()
        .map(|certificate| match &certificate.location {
            CertificateLocation::File { path, .. } => (
                Path::new(path).file_name().unwrap().to_str().unwrap(),
                certificate.subject.as_str(),
                certificate.position,
            ),
            CertificateLocation::Port { .. } => panic!("a port in a file scan"),
        })
        .collect();
    // Each certificate once, where it was first found (sorted walk); the bundle's roots are
    // not there (root-ca.pem alone is).
    assert_eq!(
        subjects,
        vec![
            ("combined.pem", "CN=proxy.home.arpa", 0),
            ("expired.pem", "CN=old.home.arpa", 0),
            ("fullchain.pem", "CN=leaf.home.arpa,O=Home", 0),
            (
                "fullchain.pem",
                "CN=Unity Test Intermediate,O=Unity Test",
                1
            ),
            ("root-ca.pem", "CN=Unity Test Root,O=Unity Test", 0),
            ("selfsigned.crt", "CN=printer.home.arpa", 0),
        ]
    );
    assert!(!inventory
        .certificates
        .iter()
        .any(|certificate| certificate.subject.contains("Bundle Root")));
    let problems: Vec<(String, &str)> = inventory
        .problems
        .iter()
        .map(|problem| {
            (
                Path::new(&problem.location)
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
                problem.message.as_str(),
            )
        })
        .collect();
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert_eq!(problems[0].0, "garbage.der");
    assert_eq!(problems[1].0, "leaf.p12");
    assert!(problems[1].1.contains("PKCS#12 is not supported"));
    assert_eq!(problems[2].0, "truncated.pem");
    assert!(!inventory.truncated);
    assert_eq!(
        inventory.files_scanned, 14,
        "every candidate but make.sh and SOURCES.md"
    );
}

#[test]
fn issue_15_scan_follows_symlinks_once_and_honours_caps() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live/nas");
    let archive = dir.path().join("archive/nas");
    std::fs::create_dir_all(&live).unwrap();
    std::fs::create_dir_all(&archive).unwrap();
    std::fs::copy(
        testdata().join("fullchain.pem"),
        archive.join("fullchain1.pem"),
    )
    .unwrap();
    std::os::unix::fs::symlink(
        "../../archive/nas/fullchain1.pem",
        live.join("fullchain.pem"),
    )
    .unwrap();
    // A loop back to the top.
    std::os::unix::fs::symlink("../..", live.join("loop")).unwrap();
    let mut found = Found::default();
    files::scan(
        &[dir.path().join("live")],
        &Caps::default(),
        NOW,
        &HashSet::new(),
        &mut found,
    );
    let paths: Vec<String> = found
        .inventory
        .certificates
        .iter()
        .filter_map(|certificate| match &certificate.location {
            CertificateLocation::File { path, .. } => Some(path.clone()),
            CertificateLocation::Port { .. } => None,
        })
        .collect();
    // Found through the loop too, but kept once, at the live/ path walked first.
    assert_eq!(paths.len(), 2, "{paths:?}");
    assert!(paths[0].ends_with("live/nas/fullchain.pem"), "{paths:?}");

    let caps = Caps {
        max_files: 2,
        ..Caps::default()
    };
    let mut found = Found::default();
    files::scan(&[testdata()], &caps, NOW, &HashSet::new(), &mut found);
    assert!(found.inventory.truncated);
    assert_eq!(found.inventory.files_scanned, 2);
}

#[test]
fn issue_15_trust_stores_are_not_walked() {
    assert!(super::select::is_trust_store(Path::new("/etc/ssl/certs")));
    assert!(super::select::is_trust_store(Path::new(
        "/usr/share/ca-certificates/mozilla"
    )));
    assert!(!super::select::is_trust_store(Path::new(
        "/etc/ssl/private"
    )));
    assert!(!super::select::is_trust_store(Path::new("/etc/ssl/certsx")));
}

/// An `openssl s_server` on loopback, killed when dropped.
struct TlsServer {
    child: std::process::Child,
    address: SocketAddr,
}

impl TlsServer {
    fn start(extra: &[&str]) -> TlsServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        let data = testdata();
        #[allow(clippy::disallowed_methods)] // A real TLS server for the test.
        let child = std::process::Command::new("openssl")
            .arg("s_server")
            .arg("-accept")
            .arg(address.to_string())
            .arg("-cert")
            .arg(data.join("leaf.pem"))
            .arg("-key")
            .arg(data.join("leaf.key"))
            .args(extra)
            .args(["-quiet", "-www"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("openssl installed (scripts/test PACKAGES)");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(address).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "s_server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        TlsServer { child, address }
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn probe_one(address: SocketAddr, name: &str) -> Found {
    let mut found = Found::default();
    let target = Target {
        bound: address.ip(),
        port: address.port(),
        process: Some("openssl".into()),
    };
    let caps = Caps::default();
    let now = crate::clock::now_seconds();
    ports::probe_all(
        vec![target],
        Some(name.into()),
        &caps,
        now,
        &HashSet::new(),
        &mut found,
    )
    .await;
    found
}

#[tokio::test]
async fn issue_15_served_chains_are_recorded_with_their_problems() {
    let alone = TlsServer::start(&[]);
    let found = probe_one(alone.address, "leaf.home.arpa").await;
    let inventory = found.inventory;
    assert_eq!(inventory.ports_probed, 1);
    assert_eq!(inventory.certificates.len(), 1, "{inventory:?}");
    let leaf = &inventory.certificates[0];
    assert_eq!(leaf.subject, "CN=leaf.home.arpa,O=Home");
    assert_eq!(
        leaf.problems,
        vec![ChainProblem::MissingIntermediate {
            issuer: "CN=Unity Test Intermediate,O=Unity Test".into()
        }]
    );
    assert_eq!(
        leaf.location,
        CertificateLocation::Port {
            address: "127.0.0.1".into(),
            port: alone.address.port(),
            process: Some("openssl".into()),
            server_name: Some("leaf.home.arpa".into()),
        }
    );

    let full = TlsServer::start(&[
        "-cert_chain",
        testdata().join("intermediate.pem").to_str().unwrap(),
    ]);
    let inventory = probe_one(full.address, "leaf.home.arpa").await.inventory;
    assert_eq!(inventory.certificates.len(), 2, "{inventory:?}");
    assert!(
        inventory.certificates.iter().all(|c| c.problems.is_empty()),
        "{inventory:?}"
    );
    assert!(inventory.certificates[1].is_ca);

    let inventory = probe_one(full.address, "nas.home.arpa").await.inventory;
    assert_eq!(
        inventory.certificates[0].problems,
        vec![ChainProblem::NameMismatch {
            name: "nas.home.arpa".into()
        }]
    );
}

#[tokio::test]
async fn issue_15_ports_that_speak_something_else_are_not_tls_ports() {
    for greeting in [
        &b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"[..],
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
    ] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut buffer = [0u8; 512];
            if greeting.starts_with(b"HTTP") {
                let _ = stream.read(&mut buffer).await;
            }
            let _ = stream.write_all(greeting).await;
            let _ = stream.read(&mut buffer).await;
        });
        let inventory = probe_one(address, "leaf.home.arpa").await.inventory;
        assert_eq!(inventory.ports_probed, 1);
        assert!(inventory.certificates.is_empty(), "{inventory:?}");
        assert!(inventory.problems.is_empty(), "{inventory:?}");
        server.abort();
    }
    // Silence until the timeout: not TLS either, and no longer than the timeout.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let started = std::time::Instant::now();
    let outcome = ports::probe(
        listener.local_addr().unwrap(),
        None,
        Duration::from_millis(300),
    )
    .await;
    assert!(matches!(outcome, ports::Outcome::NotTls), "{outcome:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn issue_15_the_agents_own_ports_are_not_probed() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let targets = tokio::task::spawn_blocking(|| ports::listening_targets(Path::new("/proc")))
        .await
        .unwrap();
    assert!(!targets.iter().any(|target| target.port == port));
    // Another process' port is there, with its name.
    let server = TlsServer::start(&[]);
    let targets = tokio::task::spawn_blocking(|| ports::listening_targets(Path::new("/proc")))
        .await
        .unwrap();
    let target = targets
        .iter()
        .find(|target| target.port == server.address.port())
        .expect("the s_server port is listed");
    assert_eq!(target.process.as_deref(), Some("openssl"));
}

#[test]
fn issue_15_der_of_a_served_certificate_parses_alone() {
    let leaf = parse::parse_der(&read("leaf.der")).unwrap();
    assert_eq!(leaf.subject, "CN=leaf.home.arpa,O=Home");
    assert!(parse::parse_der(b"").is_err());
}
