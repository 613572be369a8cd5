//! Failures that anyone can cause (handshakes with garbage or foreign certificates, refused
//! enrollments) are logged as a count per minute, not a line each: a line per attempt would
//! let anyone who reaches the UDP port fill the disk through the journal. The first failure of
//! a quiet period is logged at once (an operator enrolling a host sees why it failed); the rest
//! of the minute is summed up in one line with the last address and error.
//!
//! [`Tally`] (tally.rs) is pure (time is passed in); [`FailureLog`] wraps it for the accept
//! loop with the clock and the log.

mod tally;

pub use tally::{Line, Tally, WINDOW};

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Instant;

/// One kind of failure, logged through a [`Tally`].
#[derive(Debug)]
pub struct FailureLog {
    /// What failed, for the log line: "Handshake", "Enrollment".
    what: &'static str,
    tally: Mutex<Tally>,
}

impl FailureLog {
    pub fn new(what: &'static str) -> FailureLog {
        FailureLog {
            what,
            tally: Mutex::new(Tally::default()),
        }
    }

    pub fn failed(&self, remote: SocketAddr, error: &dyn std::fmt::Display) {
        let lines = self
            .tally
            .lock()
            .map(|mut tally| tally.record(Instant::now(), remote, error.to_string()))
            .unwrap_or_default();
        self.emit(lines);
    }

    /// Logs the summary of a window that ended; call a few times a window.
    pub fn tick(&self) {
        let lines = self
            .tally
            .lock()
            .map(|mut tally| tally.flush(Instant::now()))
            .unwrap_or_default();
        self.emit(lines);
    }

    fn emit(&self, lines: Vec<Line>) {
        let what = self.what;
        for line in lines {
            match line {
                Line::First { remote, error } => {
                    tracing::info!(%remote, %error, "{what} failed (further failures this minute are counted, not logged).");
                }
                Line::Summary {
                    n_failed,
                    last_remote,
                    last_error,
                } => {
                    tracing::info!(n_failed, %last_remote, %last_error, "{what}: more failures in the last minute.");
                }
            }
        }
    }
}

/// The failure logs of the accept loop.
#[derive(Debug)]
pub struct PeerFailures {
    pub handshakes: FailureLog,
    pub enrollments: FailureLog,
}

impl Default for PeerFailures {
    fn default() -> PeerFailures {
        PeerFailures {
            handshakes: FailureLog::new("Handshake"),
            enrollments: FailureLog::new("Enrollment"),
        }
    }
}

impl PeerFailures {
    pub fn tick(&self) {
        self.handshakes.tick();
        self.enrollments.tick();
    }
}
