//! Service checks against real servers on loopback, started here: HTTP servers that answer,
//! fail, go away and come back, a slow one, an endless body, a garbage status line, a TLS
//! server whose certificate expires in three days; TCP; ICMP to 127.0.0.1 (or the clear
//! refusal where `net.ipv4.ping_group_range` forbids it); DNS of localhost. An explicit DNS
//! server (BIND) is `dns_live_tests.rs`.

use super::*;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

fn http(url: &str, keyword: Option<&str>, timeout_ms: u32) -> ServiceCheck {
    ServiceCheck {
        name: "web".into(),
        kind: ServiceCheckKind::Http {
            url: url.into(),
            status_min: 200,
            status_max: 299,
            keyword: keyword.map(str::to_owned),
            tls_verify: false,
        },
        interval_secs: 30,
        timeout_ms,
    }
}

fn runner() -> Runner {
    Runner {
        roots: tls::Roots::system(),
    }
}

/// A server on `listener` answering every connection with `answer` (after reading the
/// request's first bytes), then closing.
fn serve(listener: TcpListener, answer: &'static [u8]) -> JoinHandle<()> {
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 1024];
                let _ = stream.read(&mut request).await;
                let _ = stream.write_all(answer).await;
            });
        }
    })
}

async fn listen(address: &str) -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind(address).await.unwrap();
    let address = listener.local_addr().unwrap();
    (listener, address)
}

#[tokio::test]
async fn issue_18_http_check_up_then_down_then_back() {
    let (listener, address) = listen("127.0.0.1:0").await;
    let server = serve(
        listener,
        b"HTTP/1.1 200 OK\r\nContent-Length: 21\r\n\r\n<h1>Welcome home</h1>",
    );
    let url = format!("http://{address}/");
    let result = run_one(&runner(), &http(&url, Some("Welcome"), 2000), 1).await;
    assert!(result.up, "{result:?}");
    assert!(result.latency_ms.is_some() && result.tls_days_left.is_none());
    assert_eq!(result.checked_at_ms, 1);
    let missing = run_one(&runner(), &http(&url, Some("Goodbye"), 2000), 1).await;
    assert!(!missing.up && missing.reason.unwrap().contains("\"Goodbye\" not in"));

    // The server goes away: refused, down.
    server.abort();
    let _ = server.await;
    let down = run_one(&runner(), &http(&url, None, 2000), 2).await;
    assert!(!down.up && down.latency_ms.is_none());
    assert!(
        down.reason
            .as_deref()
            .unwrap()
            .contains("connect to 127.0.0.1"),
        "{down:?}"
    );

    // It comes back on the same port, answering 503 first, then 200.
    let listener = TcpListener::bind(address).await.unwrap();
    let server = serve(listener, b"HTTP/1.1 503 Service Unavailable\r\n\r\n");
    let failing = run_one(&runner(), &http(&url, None, 2000), 3).await;
    assert_eq!(
        failing.reason.as_deref(),
        Some("HTTP status 503, expected 200-299")
    );
    server.abort();
    let _ = server.await;
    let listener = TcpListener::bind(address).await.unwrap();
    let _server = serve(listener, b"HTTP/1.0 204 No Content\r\n\r\n");
    assert!(run_one(&runner(), &http(&url, None, 2000), 4).await.up);
}

#[tokio::test]
async fn issue_18_a_slow_server_is_down_after_the_timeout() {
    let (listener, address) = listen("127.0.0.1:0").await;
    // Accepts and never answers.
    let _server = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let started = std::time::Instant::now();
    let result = run_one(
        &runner(),
        &http(&format!("http://{address}/"), None, 300),
        0,
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(result.reason.as_deref(), Some("no answer within 300 ms"));
    assert!(!result.up);
}

#[tokio::test]
async fn issue_18_an_endless_body_or_a_garbage_status_line_cannot_hold_the_agent() {
    let (listener, address) = listen("127.0.0.1:0").await;
    // Headers, then a body that never ends.
    let _server = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 1024];
                let _ = stream.read(&mut request).await;
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await;
                let chunk = [b'x'; 8192];
                while stream.write_all(&chunk).await.is_ok() {}
            });
        }
    });
    let started = std::time::Instant::now();
    let result = run_one(
        &runner(),
        &http(&format!("http://{address}/"), Some("never"), 5000),
        0,
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "stopped at the body cap"
    );
    assert!(!result.up && result.reason.unwrap().contains("not in the first 64 KiB"));

    let (listener, address) = listen("127.0.0.1:0").await;
    let _garbage = serve(listener, b"SSH-2.0-OpenSSH_9.2p1 Debian\r\n\r\n");
    let result = run_one(
        &runner(),
        &http(&format!("http://{address}/"), None, 2000),
        0,
    )
    .await;
    assert!(result.reason.unwrap().starts_with("not an HTTP response"));

    let bad = run_one(&runner(), &http("gopher://x/", None, 2000), 0).await;
    assert!(bad.reason.unwrap().contains("not http or https"));
}

struct TlsLab {
    address: SocketAddr,
    ca_file: tempfile::NamedTempFile,
    _server: JoinHandle<()>,
}

/// A TLS server for `localhost` whose certificate (signed by a CA made here) expires in three
/// days.
async fn tls_server() -> TlsLab {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "issue 18 test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf_params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    leaf_params.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(3);
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
    let mut ca_file = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut ca_file, ca_cert.pem().as_bytes()).unwrap();

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let (listener, address) = listen("127.0.0.1:0").await;
    let server = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut stream) = acceptor.accept(stream).await else {
                    return;
                };
                let mut request = [0u8; 1024];
                let _ = stream.read(&mut request).await;
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    .await;
                let _ = stream.shutdown().await;
            });
        }
    });
    TlsLab {
        address,
        ca_file,
        _server: server,
    }
}

fn https(lab: &TlsLab, verify: bool) -> ServiceCheck {
    let mut check = http(
        &format!("https://localhost:{}/", lab.address.port()),
        Some("ok"),
        3000,
    );
    if let ServiceCheckKind::Http { tls_verify, .. } = &mut check.kind {
        *tls_verify = verify;
    }
    check
}

#[tokio::test]
async fn issue_18_tls_expiry_is_read_from_the_handshake() {
    let lab = tls_server().await;
    let unverified = run_one(&runner(), &https(&lab, false), 0).await;
    assert!(unverified.up, "{unverified:?}");
    let days = unverified.tls_days_left.unwrap();
    assert!((2.9..=3.01).contains(&days), "{days}");

    // Verified against the CA that signed it: up, same expiry.
    let trusting = Runner {
        roots: tls::Roots::from_files(vec![lab.ca_file.path().to_owned()]),
    };
    let verified = run_one(&trusting, &https(&lab, true), 0).await;
    assert!(verified.up, "{verified:?}");
    assert!(verified.tls_days_left.is_some());

    // Verified against a trust store without that CA: down, and the expiry still known.
    let other_lab = tls_server().await;
    let stranger = Runner {
        roots: tls::Roots::from_files(vec![other_lab.ca_file.path().to_owned()]),
    };
    let untrusted = run_one(&stranger, &https(&lab, true), 0).await;
    assert!(!untrusted.up);
    assert!(
        untrusted
            .reason
            .as_deref()
            .unwrap()
            .contains("invalid peer certificate"),
        "{untrusted:?}"
    );
    assert!(untrusted.tls_days_left.is_some_and(|days| days > 2.9));
    let no_store = Runner {
        roots: tls::Roots::from_files(vec![other_lab.ca_file.path().with_extension("missing")]),
    };
    let result = run_one(&no_store, &https(&lab, true), 0).await;
    assert!(result.reason.unwrap().contains("no system trust store"));
}

#[tokio::test]
async fn issue_18_tcp_checks_follow_the_listener() {
    let (listener, address) = listen("127.0.0.1:0").await;
    let tcp = ServiceCheck {
        name: "ssh".into(),
        kind: ServiceCheckKind::Tcp {
            host: "127.0.0.1".into(),
            port: address.port(),
        },
        interval_secs: 30,
        timeout_ms: 2000,
    };
    assert!(run_one(&runner(), &tcp, 0).await.up);
    drop(listener);
    let down = run_one(&runner(), &tcp, 0).await;
    assert!(!down.up && down.reason.unwrap().contains("refused"));
}

#[tokio::test]
async fn issue_18_icmp_to_loopback_or_a_clear_refusal() {
    let ping = ServiceCheck {
        name: "loopback".into(),
        kind: ServiceCheckKind::Icmp {
            host: "127.0.0.1".into(),
        },
        interval_secs: 30,
        timeout_ms: 2000,
    };
    let result = run_one(&runner(), &ping, 0).await;
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range").unwrap();
    let allowed = socket2::Socket::new(
        socket2::Domain::IPV4,
        socket2::Type::DGRAM,
        Some(socket2::Protocol::ICMPV4),
    )
    .is_ok();
    if allowed {
        assert!(result.up, "{result:?}");
    } else {
        // This container's ping_group_range ("1 0" here) allows no group.
        let reason = result.reason.unwrap();
        assert!(!result.up);
        assert!(reason.contains("net.ipv4.ping_group_range is"), "{reason}");
        assert!(reason.contains(&range.split_whitespace().collect::<Vec<_>>().join(" ")));
    }
}

#[tokio::test]
async fn issue_18_dns_of_localhost() {
    let dns = |name: &str, expected: Option<&str>, server: Option<&str>| ServiceCheck {
        name: "dns".into(),
        kind: ServiceCheckKind::Dns {
            name: name.into(),
            expected_address: expected.map(str::to_owned),
            server: server.map(str::to_owned),
        },
        interval_secs: 30,
        timeout_ms: 3000,
    };
    assert!(
        run_one(&runner(), &dns("localhost", None, None), 0)
            .await
            .up
    );
    assert!(
        run_one(&runner(), &dns("localhost", Some("127.0.0.1"), None), 0)
            .await
            .up
    );
    let wrong = run_one(&runner(), &dns("localhost", Some("10.9.9.9"), None), 0).await;
    assert!(wrong.reason.unwrap().contains("not 10.9.9.9"));
    let unknown = run_one(&runner(), &dns("no-such-host.invalid", None, None), 0).await;
    assert!(
        !unknown.up
            && unknown
                .reason
                .unwrap()
                .contains("resolving no-such-host.invalid")
    );
    let server = run_one(&runner(), &dns("localhost", None, Some("dns.example")), 0).await;
    assert!(server.reason.unwrap().contains("not a server address"));
}

#[test]
fn issue_18_results_become_series() {
    let mut sink = Sink {
        timestamp_ms: 0,
        samples: Vec::new(),
    };
    let up = ServiceCheckResult {
        name: "web".into(),
        checked_at_ms: 5,
        up: true,
        latency_ms: Some(250),
        reason: None,
        tls_days_left: Some(3.0),
    };
    let down = ServiceCheckResult {
        name: "ssh".into(),
        up: false,
        latency_ms: None,
        tls_days_left: None,
        ..up.clone()
    };
    samples(&mut sink, &[up, down]);
    let got: Vec<(String, String, f64)> = sink
        .samples
        .iter()
        .map(|s| (s.metric.clone(), s.labels[0].1.clone(), s.value))
        .collect();
    assert_eq!(
        got,
        vec![
            ("service_up".into(), "web".into(), 1.0),
            ("service_latency_seconds".into(), "web".into(), 0.25),
            ("service_tls_expiry_days".into(), "web".into(), 3.0),
            ("service_up".into(), "ssh".into(), 0.0),
        ]
    );
    assert!(sink.samples.iter().all(|s| s.timestamp_ms == 5));
}

#[tokio::test]
async fn issue_18_the_assignment_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let assignment = Assignment::load(dir.path());
    assert!(assignment.subscribe().borrow().is_empty());
    let checks = vec![http("http://127.0.0.1:1/", None, 1000)];
    assert_eq!(assignment.assign(checks.clone()).await.unwrap(), 1);
    assert_eq!(*Assignment::load(dir.path()).subscribe().borrow(), checks);
    std::fs::write(dir.path().join(ASSIGNMENT_FILE), b"\xff\xff garbage").unwrap();
    assert!(Assignment::load(dir.path()).subscribe().borrow().is_empty());
}
