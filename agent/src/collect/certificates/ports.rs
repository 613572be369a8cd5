//! The port half of the inventory (I/O): find the host's listening TCP ports (the shared
//! `/proc` reader of database discovery), name their processes, and shake hands with each
//! through rustls, recording the chain the server sends. The verifier accepts everything and
//! only records: nothing but the ClientHello is ever sent. A port whose answer is not TLS (an
//! HTTP or SSH server, silence until the timeout) is simply not a TLS port and not reported; a
//! port that speaks TLS and refuses the handshake is reported as a problem.

use super::chain::{self, Checks};
use super::parse;
use super::{Caps, Found};
use crate::collect::databases::proc_net::{self, ProcSnapshot};
use futures_util::stream::{self, StreamExt};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use unity_shared::model::certificate::CertificateLocation;

/// One listening port to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The address the listener is bound to, as reported.
    pub bound: IpAddr,
    pub port: u16,
    pub process: Option<String>,
}

impl Target {
    /// Where to connect: the loopback address of the family for a wildcard listener.
    pub fn connect_address(&self) -> SocketAddr {
        let ip = match self.bound {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        SocketAddr::new(ip, self.port)
    }
}

/// The listening TCP ports of the host, one per port (a port bound on both `0.0.0.0` and `::`
/// is tried once), without those of this process.
///
/// Note that this does blocking I/O: call it from `spawn_blocking`.
pub fn listening_targets(proc_root: &Path) -> Vec<Target> {
    targets_from(&proc_net::read_snapshot(proc_root), std::process::id())
}

/// Pure: one target per port from a `/proc` snapshot, leaving out `own_pid`'s sockets.
pub fn targets_from(snapshot: &ProcSnapshot, own_pid: u32) -> Vec<Target> {
    let mut by_port: BTreeMap<u16, Target> = BTreeMap::new();
    for listener in &snapshot.tcp {
        let owner = snapshot
            .processes
            .iter()
            .find(|process| process.socket_inodes.contains(&listener.inode));
        if owner.is_some_and(|process| process.pid == own_pid) {
            continue;
        }
        by_port.entry(listener.port).or_insert_with(|| Target {
            bound: listener.address,
            port: listener.port,
            process: owner.map(|process| process.comm.clone()),
        });
    }
    by_port.into_values().collect()
}

/// What one handshake gave.
#[derive(Debug)]
pub enum Outcome {
    /// The DER certificates the server sent, leaf first.
    Chain(Vec<Vec<u8>>),
    /// The port does not speak TLS (or said nothing in time).
    NotTls,
    /// It speaks TLS and the handshake failed.
    Failed(String),
}

/// Tries every target, `concurrency` at once, and adds what they serve to `found`.
pub async fn probe_all(
    targets: Vec<Target>,
    server_name: Option<String>,
    caps: &Caps,
    now_unix: i64,
    trusted: &HashSet<Vec<u8>>,
    found: &mut Found,
) {
    let timeout = caps.probe_timeout;
    // One provider for the round, shared by every handshake.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let targets: Vec<Target> = targets.into_iter().take(caps.max_ports).collect();
    let outcomes: Vec<(Target, Outcome)> = stream::iter(targets)
        .map(|target| {
            let server_name = server_name.clone();
            let provider = provider.clone();
            async move {
                let outcome = probe_with(
                    provider,
                    target.connect_address(),
                    server_name.as_deref(),
                    timeout,
                )
                .await;
                (target, outcome)
            }
        })
        .buffer_unordered(caps.probe_concurrency.max(1))
        .collect()
        .await;
    let mut outcomes = outcomes;
    outcomes.sort_by_key(|(target, _)| target.port);
    for (target, outcome) in outcomes {
        found.inventory.ports_probed += 1;
        let address = target.bound.to_string();
        match outcome {
            Outcome::NotTls => {}
            Outcome::Failed(message) => found.problem(
                format!("{}", SocketAddr::new(target.bound, target.port)),
                message,
            ),
            Outcome::Chain(ders) => {
                let mut chain = Vec::new();
                for der in &ders {
                    match parse::parse_der(der) {
                        Ok(certificate) => chain.push(certificate),
                        Err(error) => found.problem(
                            format!("{}", SocketAddr::new(target.bound, target.port)),
                            format!("served certificate: {error}"),
                        ),
                    }
                }
                let checks = Checks {
                    now_unix,
                    served: true,
                    served_name: server_name.as_deref(),
                    trusted_subjects: trusted,
                };
                let problems = chain::problems(&chain, &checks);
                let location = CertificateLocation::Port {
                    address,
                    port: target.port,
                    process: target.process.clone(),
                    server_name: server_name.clone(),
                };
                for (position, (certificate, problems)) in
                    chain.into_iter().zip(problems).enumerate()
                {
                    found.add(certificate, &location, position, problems, caps);
                }
            }
        }
    }
}

/// One handshake with `address`, sending `server_name` as SNI when given.
pub async fn probe(address: SocketAddr, server_name: Option<&str>, timeout: Duration) -> Outcome {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    probe_with(provider, address, server_name, timeout).await
}

async fn probe_with(
    provider: Arc<CryptoProvider>,
    address: SocketAddr,
    server_name: Option<&str>,
    timeout: Duration,
) -> Outcome {
    let recorder = Arc::new(Recorder {
        chain: Mutex::new(Vec::new()),
        provider: provider.clone(),
    });
    let config = match client_config(provider, recorder.clone()) {
        Ok(config) => config,
        Err(error) => return Outcome::Failed(format!("TLS client setup: {error}")),
    };
    let name = match server_name.map(|name| ServerName::try_from(name.to_owned())) {
        Some(Ok(name)) => name,
        _ => ServerName::IpAddress(address.ip().into()),
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let attempt = async {
        let stream = tokio::net::TcpStream::connect(address).await?;
        connector.connect(name, stream).await.map(drop)
    };
    let result = tokio::time::timeout(timeout, attempt).await;
    let recorded = recorder.take();
    if !recorded.is_empty() {
        // The server sent its chain; what it did after (asking for a client certificate,
        // closing) does not matter.
        return Outcome::Chain(recorded);
    }
    match result {
        Err(_elapsed) => Outcome::NotTls,
        Ok(Ok(())) => Outcome::NotTls,
        Ok(Err(error)) => classify(&error),
    }
}

fn classify(error: &std::io::Error) -> Outcome {
    let tls = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match tls {
        Some(rustls::Error::AlertReceived(alert)) => Outcome::Failed(format!(
            "TLS handshake refused by the server: {alert:?} alert"
        )),
        Some(rustls::Error::PeerIncompatible(why)) => Outcome::Failed(format!(
            "TLS handshake failed: incompatible server ({why:?})"
        )),
        // Bytes that are not TLS, a reset, a close: another protocol.
        _ => Outcome::NotTls,
    }
}

fn client_config(
    provider: Arc<CryptoProvider>,
    recorder: Arc<Recorder>,
) -> Result<rustls::ClientConfig, rustls::Error> {
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(rustls::ALL_VERSIONS)?
        .dangerous()
        .with_custom_certificate_verifier(recorder)
        .with_no_client_auth();
    Ok(config)
}

/// A verifier that trusts everything and keeps the chain it was shown.
#[derive(Debug)]
struct Recorder {
    chain: Mutex<Vec<Vec<u8>>>,
    provider: Arc<CryptoProvider>,
}

impl Recorder {
    fn take(&self) -> Vec<Vec<u8>> {
        self.chain
            .lock()
            .map(|mut chain| std::mem::take(&mut *chain))
            .unwrap_or_default()
    }
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut chain) = self.chain.lock() {
            chain.clear();
            chain.push(end_entity.to_vec());
            chain.extend(intermediates.iter().map(|der| der.to_vec()));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
