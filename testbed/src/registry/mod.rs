//! A real OCI registry (Debian's `docker-registry serve`, distribution 2.8) on a free
//! 127.0.0.1 port with its own config in a temporary directory: anonymous, with htpasswd
//! Basic auth, or with bearer-token auth served by an in-process token server
//! ([`token`]) that signs ES256 JWTs whose `x5c` certificate is the registry's
//! `rootcertbundle`. Dropping the [`Registry`] kills it.
//!
//! [`push`] builds real images (gzip tar layers, a config whose `rootfs.diff_ids` match, an
//! optional static busybox so dockerd can run them) and pushes them through the registry API.

pub mod push;
pub mod token;

pub use push::{Format, ImageSpec, Pushed, PushedIndex};

use anyhow::{bail, Context};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How clients must authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    Anonymous,
    /// htpasswd (bcrypt) Basic auth.
    Basic {
        user: String,
        pass: String,
    },
    /// Bearer tokens from a token server that checks these Basic credentials.
    Bearer {
        user: String,
        pass: String,
    },
}

/// A running registry.
pub struct Registry {
    addr: SocketAddr,
    auth: Auth,
    child: Child,
    token_server: Option<token::TokenServer>,
    dir: tempfile::TempDir,
    http: reqwest::Client,
}

impl Registry {
    /// Starts `docker-registry serve` and waits until it accepts connections.
    pub fn start(auth: Auth) -> Registry {
        Registry::try_start(auth).expect("starting docker-registry")
    }

    fn try_start(auth: Auth) -> anyhow::Result<Registry> {
        let program = "docker-registry";
        if Command::new(program).arg("--version").output().is_err() {
            bail!("{program} not found: apt-get install -y --no-install-recommends docker-registry apache2-utils");
        }
        let dir = tempfile::tempdir()?;
        let port = free_port()?;
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let mut token_server = None;
        let auth_config = match &auth {
            Auth::Anonymous => String::new(),
            Auth::Basic { user, pass } => {
                let htpasswd = dir.path().join("htpasswd");
                let output = Command::new("htpasswd")
                    .args(["-Bbn", user, pass])
                    .output()
                    .context("htpasswd not found: apt-get install -y apache2-utils")?;
                if !output.status.success() {
                    bail!(
                        "htpasswd failed: {}",
                        String::from_utf8_lossy(&output.stderr)
                    );
                }
                std::fs::write(&htpasswd, &output.stdout)?;
                format!(
                    "auth:\n  htpasswd:\n    realm: unity-testbed\n    path: {}\n",
                    htpasswd.display()
                )
            }
            Auth::Bearer { user, pass } => {
                let server = token::TokenServer::start(user, pass)?;
                let bundle = dir.path().join("token-root.pem");
                std::fs::write(&bundle, server.certificate_pem())?;
                let config = format!(
                    "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                    server.realm(),
                    token::SERVICE,
                    token::ISSUER,
                    bundle.display()
                );
                token_server = Some(server);
                config
            }
        };
        let config = format!(
            "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n{auth_config}",
            dir.path().join("data").display()
        );
        let config_path = dir.path().join("registry.yml");
        std::fs::write(&config_path, config)?;
        let log = std::fs::File::create(dir.path().join("registry.log"))?;
        let child = Command::new(program)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        let mut registry = Registry {
            addr,
            auth,
            child,
            token_server,
            dir,
            http: http_client()?,
        };
        registry.wait_ready()?;
        Ok(registry)
    }

    fn wait_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if TcpStream::connect(self.addr).is_ok() {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!("docker-registry exited ({status}): {}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!(
            "docker-registry did not listen on {}: {}",
            self.addr,
            self.log()
        )
    }

    /// `127.0.0.1:PORT`, the registry part of image references.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// The user and password, unless anonymous.
    pub fn credentials(&self) -> Option<(String, String)> {
        match &self.auth {
            Auth::Anonymous => None,
            Auth::Basic { user, pass } | Auth::Bearer { user, pass } => {
                Some((user.clone(), pass.clone()))
            }
        }
    }

    /// Tokens the token server issued so far (0 unless bearer auth).
    pub fn token_requests(&self) -> usize {
        self.token_server
            .as_ref()
            .map_or(0, |server| server.issued())
    }

    /// The registry's own log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The `Authorization` value for pushing to and pulling from `repository`.
    pub(crate) fn push_authorization(&self, repository: &str) -> Option<String> {
        use base64::Engine;
        match &self.auth {
            Auth::Anonymous => None,
            Auth::Basic { user, pass } => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
            )),
            Auth::Bearer { user, .. } => {
                let server = self.token_server.as_ref()?;
                let scope = format!("repository:{repository}:pull,push");
                Some(format!("Bearer {}", server.mint(user, &[scope]).ok()?))
            }
        }
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain-HTTP client (the workspace's reqwest has no default TLS provider; loopback
/// registries need none, so the ring config has no roots).
fn http_client() -> anyhow::Result<reqwest::Client> {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    Ok(reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .build()?)
}

/// A free loopback port (bound, read, released).
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
