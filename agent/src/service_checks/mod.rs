//! Service checks run by this agent for the controller (issue 18 §1; docs/services.md): the
//! assignment the controller sends (kept in `<data_dir>/service-checks.postcard` so the checks
//! run on after a restart while the controller is away), one run of a check bounded by its
//! timeout ([`run_one`]) and the series its results become ([`samples`]). The kinds live in
//! `http.rs` (with `response.rs`, pure, and `tls.rs`), `net.rs` (TCP, ICMP, DNS, with `dns.rs`, pure, for an explicit server); which
//! checks are due is `schedule.rs` (pure). The loop is `runtime/service_checks.rs`.

pub mod dns;
pub mod http;
pub mod net;
pub mod response;
pub mod schedule;
pub mod tls;

use crate::collect::series::Sink;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use unity_shared::model::service::{ServiceCheck, ServiceCheckKind, ServiceCheckResult};

/// The file the assignment is kept in, under the data directory.
pub const ASSIGNMENT_FILE: &str = "service-checks.postcard";

/// The checks this agent runs: the controller's newest assignment, kept on disk.
pub struct Assignment {
    path: PathBuf,
    checks: watch::Sender<Vec<ServiceCheck>>,
}

impl Assignment {
    /// The assignment kept in `data_dir`; none when there is no file or it is unreadable
    /// (the controller sends it again at the next connection).
    ///
    /// Note that this uses blocking I/O.
    pub fn load(data_dir: &Path) -> Assignment {
        let path = data_dir.join(ASSIGNMENT_FILE);
        let checks = match std::fs::read(&path) {
            Ok(bytes) => postcard::from_bytes::<Vec<ServiceCheck>>(&bytes).unwrap_or_else(|error| {
                tracing::warn!(%error, path = %path.display(), "Kept service checks unreadable; waiting for the controller's.");
                Vec::new()
            }),
            Err(_) => Vec::new(),
        };
        Assignment {
            path,
            checks: watch::Sender::new(checks),
        }
    }

    /// Takes the controller's assignment: kept on disk (atomically), then in effect. Returns
    /// how many checks run.
    pub async fn assign(&self, checks: Vec<ServiceCheck>) -> anyhow::Result<u32> {
        let bytes = postcard::to_allocvec(&checks)?;
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || crate::fsutil::replace_file(&path, &bytes, 0o600))
            .await??;
        let n_checks = u32::try_from(checks.len()).unwrap_or(u32::MAX);
        self.checks.send_replace(checks);
        Ok(n_checks)
    }

    /// Follows the assignment.
    pub fn subscribe(&self) -> watch::Receiver<Vec<ServiceCheck>> {
        self.checks.subscribe()
    }
}

/// What one kind of check found: up, or down with a reason; TLS days when a certificate was
/// served.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub up: bool,
    pub reason: Option<String>,
    pub tls_days_left: Option<f64>,
}

impl Finding {
    pub fn up() -> Finding {
        Finding {
            up: true,
            reason: None,
            tls_days_left: None,
        }
    }

    pub fn down(reason: impl Into<String>) -> Finding {
        Finding {
            up: false,
            reason: Some(reason.into()),
            tls_days_left: None,
        }
    }
}

/// What a run needs besides the check: the trust store for `https://` checks.
pub struct Runner {
    pub roots: tls::Roots,
}

/// Runs `check` once, never longer than its timeout. `now_ms` is when it started.
pub async fn run_one(runner: &Runner, check: &ServiceCheck, now_ms: i64) -> ServiceCheckResult {
    let timeout = Duration::from_millis(u64::from(check.timeout_ms.max(1)));
    let started = Instant::now();
    let finding = match tokio::time::timeout(timeout, run_kind(runner, &check.kind, timeout)).await
    {
        Ok(finding) => finding,
        Err(_elapsed) => Finding::down(format!("no answer within {} ms", check.timeout_ms)),
    };
    let elapsed_ms = u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX);
    ServiceCheckResult {
        name: check.name.clone(),
        checked_at_ms: now_ms,
        up: finding.up,
        latency_ms: finding.up.then_some(elapsed_ms),
        reason: finding.reason,
        tls_days_left: finding.tls_days_left,
    }
}

async fn run_kind(runner: &Runner, kind: &ServiceCheckKind, timeout: Duration) -> Finding {
    match kind {
        ServiceCheckKind::Http {
            url,
            status_min,
            status_max,
            keyword,
            tls_verify,
        } => {
            let expect = http::Expect {
                status_min: *status_min,
                status_max: *status_max,
                keyword: keyword.as_deref(),
                tls_verify: *tls_verify,
            };
            http::check(&runner.roots, url, &expect).await
        }
        ServiceCheckKind::Tcp { host, port } => net::tcp(host, *port).await,
        ServiceCheckKind::Icmp { host } => net::icmp(host, timeout).await,
        ServiceCheckKind::Dns {
            name,
            expected_address,
            server,
        } => net::dns(name, expected_address.as_deref(), server.as_deref()).await,
    }
}

/// The series of a round's results (pure): `service_up` (1 or 0), `service_latency_seconds`
/// when up, `service_tls_expiry_days` when a certificate was served; each with its `check`
/// label (the controller adds the host).
pub fn samples(sink: &mut Sink, results: &[ServiceCheckResult]) {
    for result in results {
        let labels = [("check", result.name.as_str())];
        sink.timestamp_ms = result.checked_at_ms;
        sink.push("service_up", &labels, if result.up { 1.0 } else { 0.0 });
        if let Some(latency_ms) = result.latency_ms {
            sink.push(
                "service_latency_seconds",
                &labels,
                f64::from(latency_ms) / 1000.0,
            );
        }
        if let Some(days) = result.tls_days_left {
            sink.push("service_tls_expiry_days", &labels, days);
        }
    }
}

#[cfg(test)]
mod dns_live_tests;
#[cfg(test)]
mod icmp_live_tests;
#[cfg(test)]
mod tests;
