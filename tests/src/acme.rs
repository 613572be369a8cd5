//! A real ACME server and DNS server on loopback for the ACME tests (see
//! ../shared/TESTBED-2.md, items 3 and 4): BIND's `named -g` serving the zone `home.test`
//! with dynamic updates allowed for one TSIG key, and Debian's `pebble` using that BIND as
//! its resolver (`-dnsserver`), with its own HTTPS certificate made here (Debian ships none).
//! Both are killed when the lab is dropped.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The zone BIND serves.
pub const ZONE: &str = "home.test";
/// The TSIG key's name.
pub const KEY_NAME: &str = "acme-key";

/// A process killed (and reaped) on drop.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `named` and `pebble`, started for one test.
pub struct AcmeLab {
    pub dir: tempfile::TempDir,
    /// BIND's address (TCP and UDP).
    pub dns: SocketAddr,
    /// The ACME directory URL.
    pub directory: String,
    /// PEM of the CA that signed Pebble's HTTPS certificate (the provider's `ca_file`).
    pub ca_file: PathBuf,
    /// The file holding the TSIG key as `tsig-keygen` writes it.
    pub key_file: PathBuf,
    /// The port Pebble validates HTTP-01 challenges on.
    pub http_port: u16,
    management: SocketAddr,
    _named: Killed,
    _pebble: Killed,
}

#[allow(clippy::disallowed_methods)] // The lab's servers are real processes.
fn spawn(program: &str, args: &[&str], envs: &[(&str, &str)], log: &Path) -> Killed {
    let log = std::fs::File::create(log).unwrap();
    let child = std::process::Command::new(program)
        .args(args)
        .envs(envs.iter().copied())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|error| panic!("{program} runs (apt-get install pebble bind9): {error}"));
    Killed(child)
}

impl AcmeLab {
    /// Starts BIND with `home.test` holding `a_records` (names in the zone → 127.0.0.1, for
    /// HTTP-01) and Pebble; returns once both answer.
    pub async fn start(a_records: &[&str]) -> AcmeLab {
        AcmeLab::start_with(a_records, None).await
    }

    /// Like [`AcmeLab::start`]; with `eab` = (key id, base64url HMAC key), Pebble requires
    /// External Account Binding with that key.
    pub async fn start_with(a_records: &[&str], eab: Option<(&str, &str)>) -> AcmeLab {
        AcmeLab::start_options(a_records, eab, None, &[]).await
    }

    /// Like [`AcmeLab::start_with`]; `validity` sets Pebble's certificate lifetime
    /// (`certificateValidityPeriod`, seconds; its default is five years) and Pebble refuses
    /// to issue for the names in `blocklist` (`domainBlocklist`).
    pub async fn start_options(
        a_records: &[&str],
        eab: Option<(&str, &str)>,
        validity: Option<Duration>,
        blocklist: &[&str],
    ) -> AcmeLab {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let secret: [u8; 32] = rand::random();
        let secret = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, secret);
        let key_file = d.join("acme-key.conf");
        std::fs::write(
            &key_file,
            format!(
                "key \"{KEY_NAME}\" {{\n\talgorithm hmac-sha256;\n\tsecret \"{secret}\";\n}};\n"
            ),
        )
        .unwrap();
        let dns_port = crate::free_port();
        let dns = SocketAddr::from(([127, 0, 0, 1], dns_port));
        let p = d.display();
        std::fs::write(
            d.join("named.conf"),
            format!(
                r#"include "{p}/acme-key.conf";
controls {{ }};
options {{
  directory "{p}";
  pid-file "{p}/named.pid";
  session-keyfile "{p}/session.key";
  managed-keys-directory "{p}";
  listen-on port {dns_port} {{ 127.0.0.1; }};
  listen-on-v6 {{ none; }};
  recursion no;
  dnssec-validation no;
}};
zone "{ZONE}" {{ type primary; file "{p}/{ZONE}.zone"; allow-update {{ key "{KEY_NAME}"; }}; }};
"#
            ),
        )
        .unwrap();
        let mut zone = format!(
            "$TTL 60\n@ IN SOA ns.{ZONE}. admin.{ZONE}. ( 1 60 60 600 60 )\n  IN NS ns.{ZONE}.\nns IN A 127.0.0.1\n"
        );
        for name in a_records {
            let label = name.trim_end_matches(&format!(".{ZONE}"));
            zone.push_str(&format!("{label} IN A 127.0.0.1\n"));
        }
        std::fs::write(d.join(format!("{ZONE}.zone")), zone).unwrap();
        let conf = d.join("named.conf").display().to_string();
        let named = spawn("named", &["-g", "-c", &conf], &[], &d.join("named.log"));
        // Pebble's HTTPS: a CA and a leaf for 127.0.0.1 and localhost.
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "pebble-wfe-ca");
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf_params =
            rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
        let ca_file = d.join("ca.pem");
        std::fs::write(&ca_file, ca.pem()).unwrap();
        std::fs::write(d.join("cert.pem"), leaf.pem()).unwrap();
        std::fs::write(d.join("key.pem"), leaf_key.serialize_pem()).unwrap();
        let acme_port = crate::free_port();
        let management = SocketAddr::from(([127, 0, 0, 1], crate::free_port()));
        let http_port = crate::free_port();
        let tls_port = crate::free_port();
        let mut pebble_config = serde_json::json!({"pebble": {
            "listenAddress": format!("127.0.0.1:{acme_port}"),
            "managementListenAddress": management.to_string(),
            "certificate": d.join("cert.pem"),
            "privateKey": d.join("key.pem"),
            "httpPort": http_port,
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": eab.is_some(),
            "externalAccountMACKeys": eab
                .map(|(kid, key)| serde_json::json!({ kid: key }))
                .unwrap_or_else(|| serde_json::json!({})),
            "domainBlocklist": blocklist,
        }});
        if let Some(validity) = validity {
            pebble_config["pebble"]["certificateValidityPeriod"] = validity.as_secs().into();
        }
        std::fs::write(d.join("pebble.json"), pebble_config.to_string()).unwrap();
        let config = d.join("pebble.json").display().to_string();
        let dns_text = dns.to_string();
        let pebble = spawn(
            "pebble",
            &["-config", &config, "-dnsserver", &dns_text],
            &[("PEBBLE_VA_NOSLEEP", "1"), ("PEBBLE_WFE_NONCEREJECT", "0")],
            &d.join("pebble.log"),
        );
        let lab = AcmeLab {
            dns,
            directory: format!("https://127.0.0.1:{acme_port}/dir"),
            ca_file,
            key_file,
            http_port,
            management,
            _named: named,
            _pebble: pebble,
            dir,
        };
        let client = lab.client();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let named_up = tokio::net::TcpStream::connect(lab.dns).await.is_ok();
            let pebble_up = client
                .get(&lab.directory)
                .send()
                .await
                .is_ok_and(|answer| answer.status().is_success());
            if named_up && pebble_up {
                return lab;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "named or pebble did not start; logs in {}",
                lab.dir.path().display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A client trusting Pebble's HTTPS certificate.
    pub fn client(&self) -> reqwest::Client {
        unity_controller::acme::http::client(Some(&self.ca_file), Duration::from_secs(10)).unwrap()
    }

    /// A provider section (`[[acme.providers]]`, TOML) named `name` for this lab, answering
    /// with DNS-01 through BIND (`dns = true`) or HTTP-01 on the port Pebble checks.
    pub fn provider_toml(&self, name: &str, dns: bool) -> String {
        let challenge = if dns {
            format!(
                "{{ type = \"dns-rfc2136\", server = \"{}\", zone = \"{ZONE}\", key_name = \"{KEY_NAME}\", secret_file = \"{}\" }}",
                self.dns,
                self.key_file.display()
            )
        } else {
            format!("{{ type = \"http-01\", port = {} }}", self.http_port)
        };
        format!(
            "[[providers]]\nname = \"{name}\"\ndirectory = \"{}\"\nca_file = \"{}\"\nemail = \"admin@{ZONE}\"\nterms_agreed = true\nchallenge = {challenge}\n",
            self.directory,
            self.ca_file.display()
        )
    }

    /// The root that issued this run's certificates (PEM), from the management port.
    pub async fn issuing_root(&self) -> String {
        let url = format!("https://{}/roots/0", self.management);
        self.client()
            .get(&url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// A log file of the lab (`named.log`, `pebble.log`), for assertion messages.
    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }
}
