//! Service checks on the wire (issue 18 §1): checks defined on the controller and run *by
//! agents*, so they see what that host sees. The controller sends each agent every check
//! assigned to it, whole ([`AssignServiceChecks`]); the agent runs them on their intervals and
//! reports each result ([`ServiceCheckResult`]) in its reports, spooled like every other sample.
//! See `docs/services.md`.
//!
//! postcard encodes by position: append fields at the end of a struct and variants at the end
//! of an enum, never reorder (see [`crate::proto`]).

use serde::{Deserialize, Serialize};

/// Controller -> agent: every service check this agent runs, whole. A check the agent ran
/// before and that is missing here is stopped. Answered with [`ServiceChecksAssigned`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignServiceChecks {
    pub checks: Vec<ServiceCheck>,
}

/// One service check as an agent runs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceCheck {
    /// The check's name, unique on the controller; the `check` label of its series.
    pub name: String,
    pub kind: ServiceCheckKind,
    /// Seconds between two runs.
    pub interval_secs: u32,
    /// One run is abandoned (and the check down) after this many milliseconds.
    pub timeout_ms: u32,
}

/// What a check does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServiceCheckKind {
    /// An HTTP/1.1 GET of `url` (`http://` or `https://`); up when the status is within
    /// `status_min..=status_max` and, when given, `keyword` is in the first bytes of the body.
    Http {
        url: String,
        status_min: u16,
        status_max: u16,
        keyword: Option<String>,
        /// Verify the server's certificate against the host's trust store (`https://` only).
        /// The certificate's expiry is read either way.
        tls_verify: bool,
    },
    /// A TCP connection to `host:port`.
    Tcp { host: String, port: u16 },
    /// One ICMP echo to `host` through an unprivileged datagram socket.
    Icmp { host: String },
    /// Resolution of `name`; up when it resolves (to `expected_address` when given). `server`
    /// (an IP address, optional port) asks that server instead of the system resolver.
    Dns {
        name: String,
        expected_address: Option<String>,
        server: Option<String>,
    },
}

/// Agent -> controller: the assignment is in effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceChecksAssigned {
    pub checks: u32,
}

/// One run of one check, in a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceCheckResult {
    /// The check's name ([`ServiceCheck::name`]).
    pub name: String,
    /// When the run started (Unix milliseconds).
    pub checked_at_ms: i64,
    pub up: bool,
    /// How long the run took to its answer (connect, response, echo, resolution).
    pub latency_ms: Option<u32>,
    /// Why the check is down (or a remark when it is up), short and for people.
    pub reason: Option<String>,
    /// Days until the served TLS certificate expires (negative once expired); `https://` only.
    pub tls_days_left: Option<f64>,
}
