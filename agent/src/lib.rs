//! The Unity agent: collects host data, spools it on disk and pushes it to the controller over
//! mutually-authenticated QUIC.

pub mod backoff;
pub mod cli;
pub mod collect;
pub mod config;
pub mod diag;
pub mod exec;
pub mod fsutil;
pub mod identity;
pub mod instance;
pub mod notify;
pub mod runtime;
pub mod session;
pub mod spool;
pub mod transport;
pub mod update;
pub mod wire;

/// `println!` for CLI output that ignores a closed stdout (`unity-agent status | head`)
/// instead of panicking.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}
