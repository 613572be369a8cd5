//! The pure core of the failure log: failures in, lines to log out, time passed in.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The window failures are summed over.
pub const WINDOW: Duration = Duration::from_secs(60);

/// What to log, if anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// The first failure after a quiet window.
    First { remote: SocketAddr, error: String },
    /// The failures after the first one in a window that has ended.
    Summary {
        n_failed: u64,
        last_remote: SocketAddr,
        last_error: String,
    },
}

#[derive(Debug, Default)]
pub struct Tally {
    /// When the current window opened (with its first failure); `None` while quiet.
    window_start: Option<Instant>,
    /// Failures in the window after the first.
    n_suppressed: u64,
    last: Option<(SocketAddr, String)>,
}

impl Tally {
    /// Records one failure; returns what to log now (in order).
    pub fn record(&mut self, now: Instant, remote: SocketAddr, error: String) -> Vec<Line> {
        let mut lines = self.flush(now);
        match self.window_start {
            Some(_) => {
                self.n_suppressed += 1;
                self.last = Some((remote, error));
            }
            None => {
                self.window_start = Some(now);
                lines.push(Line::First { remote, error });
            }
        }
        lines
    }

    /// Ends the window if it is over; returns its summary when failures were held back.
    pub fn flush(&mut self, now: Instant) -> Vec<Line> {
        let Some(start) = self.window_start else {
            return Vec::new();
        };
        if now.duration_since(start) < WINDOW {
            return Vec::new();
        }
        self.window_start = None;
        let n_failed = std::mem::take(&mut self.n_suppressed);
        match self.last.take() {
            Some((last_remote, last_error)) if n_failed > 0 => vec![Line::Summary {
                n_failed,
                last_remote,
                last_error,
            }],
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(port: u16) -> SocketAddr {
        SocketAddr::from(([192, 0, 2, 1], port))
    }

    #[test]
    fn ten_thousand_failures_make_two_lines_a_minute() {
        let start = Instant::now();
        let mut tally = Tally::default();
        let mut lines = Vec::new();
        for i in 0..10_000u64 {
            let at = start + Duration::from_millis(i * 5);
            lines.extend(tally.record(at, address(i as u16), format!("error {i}")));
        }
        lines.extend(tally.flush(start + Duration::from_secs(120)));
        assert_eq!(
            lines,
            vec![
                Line::First {
                    remote: address(0),
                    error: "error 0".into()
                },
                Line::Summary {
                    n_failed: 9_999,
                    last_remote: address(9_999),
                    last_error: "error 9999".into()
                },
            ]
        );
    }

    #[test]
    fn a_lone_failure_is_one_line_and_the_next_window_starts_fresh() {
        let start = Instant::now();
        let mut tally = Tally::default();
        assert_eq!(tally.record(start, address(1), "a".into()).len(), 1);
        assert!(tally.flush(start + WINDOW).is_empty(), "nothing held back");
        let later = tally.record(start + WINDOW * 3, address(2), "b".into());
        assert_eq!(
            later,
            vec![Line::First {
                remote: address(2),
                error: "b".into()
            }]
        );
        // Failures spread over windows: each window's first is logged, a summary only when
        // something was held back.
        let next = tally.record(
            start + WINDOW * 3 + Duration::from_secs(1),
            address(3),
            "c".into(),
        );
        assert!(next.is_empty());
        let rolled = tally.record(
            start + WINDOW * 4 + Duration::from_secs(1),
            address(4),
            "d".into(),
        );
        assert_eq!(rolled.len(), 2, "{rolled:?}");
    }
}
