//! Mail and MQTT against real servers on loopback (TESTBED-2 sections 1 and 2): aiosmtpd
//! (PyPI) in plain, STARTTLS and implicit-TLS modes with AUTH, its certificate from a test CA
//! trusted through `ca_file`; Debian's mosquitto with a password file, read back with
//! `mosquitto_sub`. `scripts/test` installs both.
#![allow(clippy::disallowed_methods)] // The servers and the subscriber are real processes.

use super::tests::event;
use super::*;
use crate::alerts::config::{AlertsConfig, RawAlerts};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Kills the server when the test ends, passing or not.
pub(super) struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_for_port(port: u16) {
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("nothing listens on {port}");
}

fn receiver(url: &str) -> ReceiverConfig {
    let raw: RawAlerts = toml::from_str(&format!("[[receiver]]\nurl = \"{url}\"\n")).unwrap();
    let mut config = AlertsConfig::from_raw(raw, Duration::from_secs(60)).unwrap();
    config.receivers.remove(0)
}

const SMTP_SERVER: &str = r#"
import os, ssl, sys, threading
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
mode, port, d = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def auth(server, session, envelope, mechanism, data):
    ok = isinstance(data, LoginPassword) and data.login == b"alice" and data.password == b"s3cret"
    return AuthResult(success=ok, handled=False, auth_data=data.login if ok else None)
class Save:
    async def handle_DATA(self, server, session, envelope):
        n = len(os.listdir(f"{d}/mail"))
        tls = session.ssl is not None or server.transport.get_extra_info("sslcontext") is not None
        head = f"X-Test-Auth: {session.auth_data!r}\r\nX-Test-Tls: {tls}\r\nX-Test-To: {','.join(envelope.rcpt_tos)}\r\n"
        with open(f"{d}/mail/{n}.eml", "wb") as f:
            f.write(head.encode() + envelope.content)
        return "250 OK"
tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
tls.load_cert_chain(f"{d}/cert.pem", f"{d}/key.pem")
kw = dict(hostname="127.0.0.1", port=port, authenticator=auth, auth_require_tls=False)
if mode == "starttls":
    kw.update(tls_context=tls, require_starttls=True)
if mode == "implicit":
    kw.update(ssl_context=tls)
Controller(Save(), **kw).start()
threading.Event().wait()
"#;

fn openssl(args: &[&str], dir: &Path) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "openssl {args:?}");
}

/// A test CA (`ca.pem`) and a server certificate for 127.0.0.1 it signed (`cert.pem`, `key.pem`).
fn certificates(dir: &Path) {
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=unity test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
        dir,
    );
    openssl(
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "key.pem",
            "-out",
            "leaf.csr",
        ],
        dir,
    );
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "leaf.ext",
            "-out",
            "cert.pem",
        ],
        dir,
    );
}

async fn smtp_server(dir: &Path, mode: &str) -> (Server, u16) {
    let port = free_port();
    let child = Command::new("python3")
        .args(["-c", SMTP_SERVER, mode, &port.to_string()])
        .arg(dir)
        .spawn()
        .expect("python3 with aiosmtpd (pip install aiosmtpd)");
    let server = Server(child);
    wait_for_port(port).await;
    (server, port)
}

fn mails(dir: &Path) -> Vec<String> {
    let mut names: Vec<_> = std::fs::read_dir(dir.join("mail"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    names
        .iter()
        .map(|path| std::fs::read_to_string(path).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_18_mail_reaches_a_real_smtp_server_plain_starttls_and_implicit_tls() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("mail")).unwrap();
    certificates(dir.path());
    let ca = dir.path().join("ca.pem");
    let ca = ca.display();
    let sender = Sender::new(Some("https://unity.lan".into())).unwrap();
    let event = event("tank: DEGRADED");

    let (_plain, port) = smtp_server(dir.path(), "plain").await;
    let plain = receiver(&format!(
        "smtp://127.0.0.1:{port}/?from=unity@home.test&to=me@home.test,you@home.test&starttls=no"
    ));
    sender.send(&plain, &event, 1).await.unwrap();
    // smtp:// insists on STARTTLS: a server without it is refused, and that is not retried.
    let insisting = receiver(&format!(
        "smtp://127.0.0.1:{port}/?from=unity@home.test&to=me@home.test"
    ));
    let error = sender.send(&insisting, &event, 2).await.unwrap_err();
    assert!(!error.is_retryable(), "{error}");

    let (_starttls, port) = smtp_server(dir.path(), "starttls").await;
    let starttls = receiver(&format!(
        "smtp://alice:s3cret@127.0.0.1:{port}/?from=unity@home.test&to=me@home.test&ca_file={ca}"
    ));
    sender.send(&starttls, &event, 3).await.unwrap();
    // Without the CA the self-signed certificate is refused, and that is not retried either.
    let untrusting = receiver(&format!(
        "smtp://alice:s3cret@127.0.0.1:{port}/?from=unity@home.test&to=me@home.test"
    ));
    let error = sender.send(&untrusting, &event, 4).await.unwrap_err();
    assert!(
        !error.is_retryable() && !error.to_string().contains("s3cret"),
        "{error}"
    );
    let wrong = receiver(&format!(
        "smtp://alice:wrong@127.0.0.1:{port}/?from=unity@home.test&to=me@home.test&ca_file={ca}"
    ));
    let error = sender.send(&wrong, &event, 5).await.unwrap_err();
    assert!(!error.is_retryable(), "{error}");

    let (_implicit, port) = smtp_server(dir.path(), "implicit").await;
    let implicit = receiver(&format!(
        "smtps://alice:s3cret@127.0.0.1:{port}/?from=unity@home.test&to=me@home.test&ca_file={ca}"
    ));
    sender.send(&implicit, &event, 6).await.unwrap();

    let mails = mails(dir.path());
    assert_eq!(mails.len(), 3, "{mails:#?}");
    assert!(
        mails[0].contains("X-Test-Auth: None") && mails[0].contains("X-Test-Tls: False"),
        "{}",
        mails[0]
    );
    assert!(
        mails[0].contains("X-Test-To: me@home.test,you@home.test"),
        "{}",
        mails[0]
    );
    for mail in &mails[1..] {
        assert!(
            mail.contains("X-Test-Auth: b'alice'") && mail.contains("X-Test-Tls: True"),
            "{mail}"
        );
    }
    for mail in &mails {
        assert!(mail.contains("Subject: nas01: tank: DEGRADED"), "{mail}");
        assert!(mail.contains("From: unity@home.test"), "{mail}");
        assert!(
            mail.contains("Critical since") && mail.contains("https://unity.lan/hosts/nas"),
            "{mail}"
        );
    }
}

pub(super) async fn mosquitto(dir: &Path) -> (Server, u16) {
    let port = free_port();
    let status = Command::new("mosquitto_passwd")
        .args(["-c", "-b"])
        .arg(dir.join("passwd"))
        .args(["ha", "s3cret"])
        .status()
        .unwrap();
    assert!(status.success());
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\npersistence false\nlog_dest stderr\nuser root\n",
            dir.join("passwd").display()
        ),
    )
    .unwrap();
    let child = Command::new("mosquitto")
        .arg("-c")
        .arg(&conf)
        .stderr(Stdio::null())
        .spawn()
        .expect("mosquitto");
    let server = Server(child);
    wait_for_port(port).await;
    (server, port)
}

/// What a fresh subscriber gets (the retained messages), as `topic payload` lines.
pub(super) fn subscribe(port: u16, topic: &str, count: usize) -> Vec<String> {
    let output = Command::new("mosquitto_sub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-u",
            "ha",
            "-P",
            "s3cret",
            "-v",
            "-W",
            "5",
        ])
        .args(["-t", topic, "-C", &count.to_string()])
        .output()
        .unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines.sort();
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_18_mqtt_publishes_home_assistant_discovery_and_state_to_a_real_broker() {
    let dir = tempfile::tempdir().unwrap();
    let (_broker, port) = mosquitto(dir.path()).await;
    let sender = Sender::new(Some("https://unity.lan".into())).unwrap();
    let mqtt = receiver(&format!("mqtt://ha:s3cret@127.0.0.1:{port}/"));
    let mut event = event("tank: DEGRADED");
    sender.send(&mqtt, &event, 7).await.unwrap();

    let config = subscribe(port, "homeassistant/#", 2);
    assert_eq!(config.len(), 2, "{config:#?}");
    let (topic, payload) = config[0].split_once(' ').unwrap();
    assert_eq!(
        topic,
        "homeassistant/binary_sensor/unity_nas/pool_nas_tank/config"
    );
    let discovery: serde_json::Value = serde_json::from_str(payload).unwrap();
    assert_eq!(discovery["device_class"], "problem");
    assert_eq!(discovery["name"], "pool tank");
    assert_eq!(discovery["state_topic"], "unity/nas/pool_nas_tank/state");
    assert_eq!(discovery["device"]["identifiers"][0], "unity_nas");
    assert_eq!(discovery["device"]["name"], "nas01");
    assert!(
        config[1].starts_with("homeassistant/sensor/unity_nas/last_alert/config "),
        "{config:#?}"
    );
    let state = subscribe(port, "unity/#", 3);
    assert_eq!(
        state
            .iter()
            .filter(|line| !line.starts_with("unity/nas/pool_nas_tank/attributes "))
            .collect::<Vec<_>>(),
        [
            "unity/nas/last_alert nas01: tank: DEGRADED",
            "unity/nas/pool_nas_tank/state ON"
        ]
    );

    event.kind = EventKind::Resolved;
    event.alert.resolved_at_ms = Some(5000);
    sender.send(&mqtt, &event, 8).await.unwrap();
    assert_eq!(
        subscribe(port, "unity/nas/pool_nas_tank/state", 1),
        ["unity/nas/pool_nas_tank/state OFF"]
    );

    let wrong = receiver(&format!("mqtt://ha:wrong@127.0.0.1:{port}/"));
    let error = sender.send(&wrong, &event, 9).await.unwrap_err();
    assert!(
        !error.is_retryable() && !error.to_string().contains("wrong"),
        "{error}"
    );
}
