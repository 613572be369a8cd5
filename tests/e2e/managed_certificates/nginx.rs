//! A real nginx for the managed-certificate test: Debian's `nginx-light` run as a plain
//! process (foreground master, its pid, logs and temp paths in the test's directory, a loopback
//! port), with the reload argv the agent runs, and a rustls handshake that reads the serial it
//! serves.

use rcgen::{CertificateParams, KeyPair};
use rustls::pki_types::{CertificateDer, ServerName};
use std::io::Write as _;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use unity_tests::free_port;

pub const NGINX: &str = "/usr/sbin/nginx";
pub const NAME: &str = "web.home.arpa";

pub struct Nginx {
    child: std::process::Child,
    conf: PathBuf,
    error_log: PathBuf,
    pub port: u16,
}

impl Nginx {
    /// Starts nginx in the foreground with its files under `dir`, serving `tls/web.crt`.
    pub fn start(dir: &Path) -> Nginx {
        let port = free_port();
        let conf = dir.join("nginx.conf");
        let error_log = dir.join("error.log");
        let tls = dir.join("tls");
        std::fs::write(
            &conf,
            format!(
                "daemon off;\nworker_processes 1;\npid {dir}/nginx.pid;\nerror_log {dir}/error.log;\n\
                 events {{ worker_connections 16; }}\n\
                 http {{\n  access_log off;\n  client_body_temp_path {dir}/body;\n  proxy_temp_path {dir}/proxy;\n\
                 fastcgi_temp_path {dir}/fastcgi;\n  uwsgi_temp_path {dir}/uwsgi;\n  scgi_temp_path {dir}/scgi;\n\
                 server {{\n    listen 127.0.0.1:{port} ssl;\n    server_name {NAME};\n\
                 ssl_certificate {tls}/web.fullchain.pem;\n    ssl_certificate_key {tls}/web.key;\n\
                 location / {{ return 200 \"ok\\n\"; }}\n  }}\n}}\n",
                dir = dir.display(),
                tls = tls.display(),
            ),
        )
        .unwrap();
        #[allow(clippy::disallowed_methods)]
        let child = std::process::Command::new(NGINX)
            .arg("-e")
            .arg(&error_log)
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&conf)
            .spawn()
            .expect("nginx runs (Debian package nginx-light; scripts/test installs it)");
        Nginx {
            child,
            conf,
            error_log,
            port,
        }
    }

    /// The reload the agent runs: `nginx -c CONF -s reload`.
    pub fn reload_argv(&self) -> Vec<String> {
        [
            NGINX,
            "-e",
            &self.error_log.display().to_string(),
            "-c",
            &self.conf.display().to_string(),
            "-s",
            "reload",
        ]
        .iter()
        .map(|word| (*word).to_owned())
        .collect()
    }
}

impl Drop for Nginx {
    /// Stops nginx with its workers (a killed master would leave them running).
    fn drop(&mut self) {
        #[allow(clippy::disallowed_methods)]
        let stopped = std::process::Command::new(NGINX)
            .arg("-e")
            .arg(&self.error_log)
            .arg("-c")
            .arg(&self.conf)
            .args(["-s", "stop"])
            .status();
        if !stopped.is_ok_and(|status| status.success()) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// A throwaway self-signed certificate so nginx can start before the first delivery.
pub fn bootstrap_certificate(tls: &Path) {
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec![NAME.to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    std::fs::write(tls.join("web.fullchain.pem"), cert.pem()).unwrap();
    std::fs::write(tls.join("web.key"), key.serialize_pem()).unwrap();
}

/// Handshakes with nginx trusting only `root`; the serial (hex) of the certificate served.
fn served_serial(port: u16, root: &CertificateDer<'static>) -> Result<String, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root.clone()).map_err(|error| error.to_string())?;
    let config = rustls::ClientConfig::builder_with_provider(unity_shared::tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|error| error.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let server_name = ServerName::try_from(NAME).map_err(|error| error.to_string())?;
    let mut connection = rustls::ClientConnection::new(Arc::new(config), server_name)
        .map_err(|error| error.to_string())?;
    let mut socket = TcpStream::connect(("127.0.0.1", port)).map_err(|error| error.to_string())?;
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|error| error.to_string())?;
    while connection.is_handshaking() {
        connection
            .complete_io(&mut socket)
            .map_err(|error| error.to_string())?;
    }
    let _ = connection.writer().flush();
    let leaf = connection
        .peer_certificates()
        .and_then(|chain| chain.first().cloned())
        .ok_or("no certificate served")?;
    let (_, parsed) =
        x509_parser::parse_x509_certificate(&leaf).map_err(|error| error.to_string())?;
    Ok(parsed
        .raw_serial()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect())
}

pub async fn serial_served(port: u16, root: &CertificateDer<'static>) -> Result<String, String> {
    let root = root.clone();
    tokio::task::spawn_blocking(move || served_serial(port, &root))
        .await
        .unwrap()
}
