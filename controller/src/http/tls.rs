//! HTTPS for the dashboard: a rustls server configuration from the operator's PEM files or from
//! a certificate the controller's own CA issues at start, and a listener that completes TLS
//! handshakes in their own tasks (a slow client never holds up the others).

use crate::config::ApiTls;
use crate::context::Context;
use anyhow::Context as _;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// How long a client may take to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The acceptor for the configured mode, or `None` for plain HTTP.
pub async fn acceptor(
    ctx: &Arc<Context>,
    local_addr: SocketAddr,
) -> anyhow::Result<Option<TlsAcceptor>> {
    let (chain, key) = match &ctx.config.api_tls {
        ApiTls::Off => return Ok(None),
        ApiTls::SelfIssued => {
            let mut names = vec![crate::config::hostname(), "localhost".to_owned()];
            if !local_addr.ip().is_unspecified() {
                names.push(local_addr.ip().to_string());
            }
            if let Some((host, _)) = ctx.config.advertise.rsplit_once(':') {
                names.push(host.trim_matches(['[', ']']).to_owned());
            }
            names.sort();
            names.dedup();
            ctx.ca
                .issue_server_certificate(&names)
                .context("issuing the dashboard's certificate")?
        }
        ApiTls::Files { cert, key } => {
            let (cert, key) = (cert.clone(), key.clone());
            tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
                let chain = CertificateDer::pem_file_iter(&cert)
                    .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                    .with_context(|| format!("reading tls_cert {}", cert.display()))?;
                let key = PrivateKeyDer::from_pem_file(&key)
                    .with_context(|| format!("reading tls_key {}", key.display()))?;
                Ok((chain, key))
            })
            .await??
        }
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("the dashboard's certificate and key do not match")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(TlsAcceptor::from(Arc::new(config))))
}

/// Accepted, handshaken TLS connections for `axum::serve`.
pub struct TlsListener {
    incoming: tokio::sync::mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local_addr: SocketAddr,
    accept_task: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    pub fn new(listener: TcpListener, acceptor: TlsAcceptor) -> TlsListener {
        let local_addr = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let (sender, incoming) = tokio::sync::mpsc::channel(64);
        let accept_task = tokio::spawn(async move {
            loop {
                let (stream, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        tracing::warn!(%error, "Dashboard accept failed.");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let acceptor = acceptor.clone();
                let handshaken = sender.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = handshaken.send((tls, peer)).await;
                        }
                        Ok(Err(error)) => {
                            tracing::debug!(%peer, %error, "Dashboard TLS handshake failed.")
                        }
                        Err(_) => tracing::debug!(%peer, "Dashboard TLS handshake timed out."),
                    }
                });
                if sender.is_closed() {
                    return;
                }
            }
        });
        TlsListener {
            incoming,
            local_addr,
            accept_task,
        }
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.incoming.recv().await {
            Some(accepted) => accepted,
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}
