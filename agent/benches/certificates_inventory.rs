//! Issue 15's performance target: the certificate inventory of a host with 1,000 certificate
//! files and 50 listening TLS ports finishes in under 2 s, and the agent's memory does not grow
//! between rounds. Prints figures; no harness.
//!
//! `cargo bench -p unity-agent --bench certificates_inventory`
//!
//! The files are generated (rcgen): 1,000 PEM files in 20 directories, each a leaf (ECDSA
//! P-256, two DNS names) followed by its issuing CA, plus a private key in every tenth (a
//! combined file). The 50 TLS ports are rustls listeners in this process on loopback, each
//! serving its own leaf and CA. One round is what the agent's loop does: walk and decode the
//! files ([`files::scan`]), then shake hands with every port ([`ports::probe_all`], the
//! agent's concurrency and timeout). The ports are given as targets directly: the `/proc`
//! reader leaves the agent's own ports out, and these are the bench's own. Memory is the
//! process' RSS (`/proc/self/status`) after the first round and at each quarter of the rounds
//! after it (40, or `BENCH_ROUNDS`); it includes the in-process servers' side unless
//! `BENCH_SERVERS=openssl` runs them as `openssl s_server` processes. `BENCH_ONLY=files` or
//! `ports` times one half.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use unity_agent::collect::certificates::ports::{self, Target};
use unity_agent::collect::certificates::{files, Caps, Found};

const N_FILES: usize = 1_000;
const N_PORTS: usize = 50;
const N_ROUNDS: usize = 40;

struct Issued {
    ca_pem: String,
    leaf_pem: String,
    leaf_der: Vec<u8>,
    leaf_key: KeyPair,
}

fn issue(n: usize) -> Issued {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("Bench CA {n}"));
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec![
        format!("service-{n}.home.arpa"),
        format!("alias-{n}.home.arpa"),
    ])
    .unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("service-{n}.home.arpa"));
    let leaf = params.signed_by(&leaf_key, &issuer).unwrap();
    Issued {
        ca_pem: ca.pem(),
        leaf_pem: leaf.pem(),
        leaf_der: leaf.der().to_vec(),
        leaf_key,
    }
}

fn write_files(dir: &std::path::Path) {
    for n in 0..N_FILES {
        let issued = issue(n);
        let sub = dir.join(format!("site-{:02}", n % 20));
        std::fs::create_dir_all(&sub).unwrap();
        let mut text = format!("{}{}", issued.leaf_pem, issued.ca_pem);
        if n % 10 == 0 {
            text.push_str(&issued.leaf_key.serialize_pem());
        }
        std::fs::write(sub.join(format!("service-{n}.pem")), text).unwrap();
    }
}

/// A rustls listener on loopback serving `issued`'s leaf; returns its port.
async fn tls_listener(issued: Issued) -> u16 {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = rustls::pki_types::PrivateKeyDer::try_from(issued.leaf_key.serialize_der()).unwrap();
    let chain = vec![rustls::pki_types::CertificateDer::from(issued.leaf_der)];
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _ = acceptor.accept(stream).await;
            });
        }
    });
    port
}

/// An `openssl s_server` serving the test fixture's leaf on a free loopback port.
async fn openssl_server() -> (u16, KillOnDrop) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let data =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/collect/certificates/testdata");
    #[allow(clippy::disallowed_methods)] // The bench's TLS servers.
    let child = std::process::Command::new("openssl")
        .args(["s_server", "-quiet", "-www", "-accept"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("-cert")
        .arg(data.join("leaf.pem"))
        .arg("-key")
        .arg(data.join("leaf.key"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("openssl installed");
    let child = KillOnDrop(child);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (port, child)
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap()
}

async fn round(dir: std::path::PathBuf, ports: &[u16], caps: &Caps) -> (Found, Duration) {
    let started = Instant::now();
    let now = unity_agent::clock::now_seconds();
    let scan_caps = caps.clone();
    let mut found = tokio::task::spawn_blocking(move || {
        let mut found = Found::default();
        files::scan(&[dir], &scan_caps, now, &HashSet::new(), &mut found);
        found
    })
    .await
    .unwrap();
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    if only == "files" {
        return (found, started.elapsed());
    }
    if only == "ports" {
        found = Found::default();
    }
    let targets = ports
        .iter()
        .map(|port| Target {
            bound: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: *port,
            process: Some("bench".into()),
        })
        .collect();
    ports::probe_all(
        targets,
        Some("service-0.home.arpa".into()),
        caps,
        now,
        &HashSet::new(),
        &mut found,
    )
    .await;
    (found, started.elapsed())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let generating = Instant::now();
    write_files(dir.path());
    let mut ports = Vec::new();
    // BENCH_SERVERS=openssl: the 50 servers are `openssl s_server` processes, so the RSS
    // measured is the inventory's alone.
    let external = std::env::var("BENCH_SERVERS").is_ok_and(|servers| servers == "openssl");
    let mut servers = Vec::new();
    for n in 0..N_PORTS {
        if external {
            let (port, child) = openssl_server().await;
            ports.push(port);
            servers.push(child);
        } else {
            ports.push(tls_listener(issue(N_FILES + n)).await);
        }
    }
    println!(
        "generated {N_FILES} files and {N_PORTS} TLS listeners in {:.1} s",
        generating.elapsed().as_secs_f64()
    );
    let caps = Caps::default();
    let (found, first) = round(dir.path().to_owned(), &ports, &caps).await;
    let inventory = found.inventory;
    if !std::env::var("BENCH_ONLY").unwrap_or_default().is_empty() {
        println!("BENCH_ONLY: only one half is timed and measured");
    } else {
        assert_eq!(inventory.files_scanned as usize, N_FILES);
        assert_eq!(inventory.ports_probed as usize, N_PORTS);
        // Each file's leaf and CA (all distinct), and each port's leaf.
        assert_eq!(inventory.certificates.len(), 2 * N_FILES + N_PORTS);
        assert!(inventory.problems.is_empty(), "{:?}", inventory.problems);
    }
    drop(inventory);
    let rss_first = status_kib("VmRSS:");
    let mut times = vec![first];
    let mut rss_at = Vec::new();
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(N_ROUNDS);
    for n in 1..=rounds {
        let (found, elapsed) = round(dir.path().to_owned(), &ports, &caps).await;
        drop(found);
        times.push(elapsed);
        if n % (rounds / 4).max(1) == 0 {
            rss_at.push((n + 1, status_kib("VmRSS:")));
        }
    }
    let rss_last = status_kib("VmRSS:");
    let mut sorted = times.clone();
    sorted.sort();
    let ms = |duration: Duration| duration.as_secs_f64() * 1000.0;
    println!(
        "round (1,000 files + 50 ports): first {:.0} ms, median {:.0} ms, max {:.0} ms of {} (target < 2000 ms)",
        ms(first),
        ms(sorted[sorted.len() / 2]),
        ms(sorted[sorted.len() - 1]),
        times.len()
    );
    println!(
        "RSS: {rss_first} KiB after the first round, {rss_last} KiB after {rounds} more ({:+} KiB)",
        rss_last as i64 - rss_first as i64
    );
    let steps: Vec<String> = rss_at
        .iter()
        .map(|(rounds, kib)| format!("{kib} KiB after {rounds} rounds"))
        .collect();
    println!("RSS by rounds: {}", steps.join(", "));
}
