//! DNS checks against a real BIND (`named -g`, TESTBED-2 §3) on a loopback port: an address
//! and an alias that resolve, a record changed by a dynamic update (RFC 2136, `nsupdate`)
//! while the check runs, a name that does not exist (NXDOMAIN), a zone the server cannot
//! serve (SERVFAIL), a name it is not authoritative for (REFUSED), an answer too big for a
//! datagram (truncated, then asked again over TCP), a server that never answers and one that
//! is gone.
#![allow(clippy::disallowed_methods)] // named, nsupdate and their files are real.

use super::*;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Stops named when the test ends, passing or not.
struct Named(Child);

impl Drop for Named {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port free for both TCP and UDP on 127.0.0.1.
fn free_port() -> u16 {
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

const ZONE: &str = "$TTL 60
@     IN SOA ns.home.test. admin.home.test. ( 1 60 60 600 60 )
      IN NS  ns.home.test.
ns    IN A   127.0.0.1
nas   IN A   192.0.2.10
www   IN CNAME nas
";

fn start_named(dir: &Path, port: u16) -> Named {
    let d = dir.display();
    let mut zone = ZONE.to_owned();
    // 60 addresses do not fit in 512 bytes: the UDP answer is truncated.
    for i in 1..=60 {
        zone.push_str(&format!("big   IN A   198.51.100.{i}\n"));
    }
    std::fs::write(dir.join("home.test.zone"), zone).unwrap();
    std::fs::write(
        dir.join("named.conf"),
        format!(
            r#"controls {{ }};
options {{
  directory "{d}";
  pid-file "{d}/named.pid";
  session-keyfile "{d}/session.key";
  managed-keys-directory "{d}";
  listen-on port {port} {{ 127.0.0.1; }};
  listen-on-v6 {{ none; }};
  recursion no;
  dnssec-validation no;
}};
zone "home.test" {{ type primary; file "{d}/home.test.zone"; allow-update {{ 127.0.0.1; }}; }};
zone "broken.test" {{ type secondary; primaries {{ 127.0.0.1 port 9; }}; file "{d}/broken.test.zone"; }};
"#
        ),
    )
    .unwrap();
    let child = Command::new("named")
        .args(["-g", "-c"])
        .arg(dir.join("named.conf"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("named.log")).unwrap())
        .spawn()
        .expect("named (bind9)");
    Named(child)
}

fn dns(name: &str, expected: Option<&str>, server: &str) -> ServiceCheck {
    ServiceCheck {
        name: "dns".into(),
        kind: ServiceCheckKind::Dns {
            name: name.into(),
            expected_address: expected.map(str::to_owned),
            server: Some(server.to_owned()),
        },
        interval_secs: 30,
        timeout_ms: 2000,
    }
}

async fn check(name: &str, expected: Option<&str>, server: &str) -> ServiceCheckResult {
    let runner = Runner {
        roots: tls::Roots::system(),
    };
    run_one(&runner, &dns(name, expected, server), 0).await
}

fn reason(result: &ServiceCheckResult) -> String {
    assert!(!result.up, "{result:?}");
    result.reason.clone().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_18_dns_checks_ask_a_real_bind_server() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = format!("127.0.0.1:{port}");
    let named = start_named(dir.path(), port);
    let mut ready = false;
    for _ in 0..100 {
        if check("nas.home.test", None, &server).await.up {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = || std::fs::read_to_string(dir.path().join("named.log")).unwrap_or_default();
    assert!(ready, "named did not answer: {}", log());

    let up = check("nas.home.test", Some("192.0.2.10"), &server).await;
    assert!(up.up && up.latency_ms.is_some(), "{up:?}");
    // Through the alias, with a trailing dot.
    assert!(
        check("www.home.test.", Some("192.0.2.10"), &server)
            .await
            .up
    );
    let wrong = check("nas.home.test", Some("192.0.2.99"), &server).await;
    assert!(
        reason(&wrong).contains("resolved to 192.0.2.10")
            && reason(&wrong).contains("not 192.0.2.99"),
        "{wrong:?}"
    );

    // The record changes on the server: the next run sees it.
    let update = format!(
        "server 127.0.0.1 {port}\nzone home.test\nupdate delete nas.home.test. A\n\
         update add nas.home.test. 60 A 192.0.2.20\nsend\n"
    );
    let mut nsupdate = Command::new("nsupdate")
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(nsupdate.stdin.as_mut().unwrap(), update.as_bytes()).unwrap();
    drop(nsupdate.stdin.take());
    assert!(nsupdate.wait().unwrap().success(), "{}", log());
    let changed = check("nas.home.test", Some("192.0.2.10"), &server).await;
    assert!(
        reason(&changed).contains("resolved to 192.0.2.20"),
        "{changed:?}"
    );
    assert!(check("nas.home.test", Some("192.0.2.20"), &server).await.up);

    // Truncated over UDP (seen here first-hand), whole over TCP.
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    udp.send_to(&dns::query(77, "big.home.test", false).unwrap(), &server)
        .unwrap();
    let mut buffer = [0u8; 4096];
    let n = udp.recv(&mut buffer).unwrap();
    assert!(dns::read(77, &buffer[..n]).unwrap().truncated);
    let big = check("big.home.test", Some("198.51.100.60"), &server).await;
    assert!(big.up, "{big:?}");

    let missing = check("gone.home.test", None, &server).await;
    assert!(
        reason(&missing).contains("does not exist (NXDOMAIN"),
        "{missing:?}"
    );
    let broken = check("x.broken.test", None, &server).await;
    assert!(reason(&broken).contains("SERVFAIL"), "{broken:?}");
    let elsewhere = check("example.org", None, &server).await;
    assert!(reason(&elsewhere).contains("REFUSED"), "{elsewhere:?}");

    // A server that takes the query and never answers: the check's timeout.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let silent_at: SocketAddr = silent.local_addr().unwrap();
    let quiet = check("nas.home.test", None, &silent_at.to_string()).await;
    assert!(
        reason(&quiet).contains("no answer within 2000 ms"),
        "{quiet:?}"
    );

    // The server is gone: the kernel says so at once.
    drop(named);
    let gone = check("nas.home.test", None, &server).await;
    assert!(reason(&gone).contains("did not answer"), "{gone:?}");
}
