//! Command-line output both binaries print the same way.

/// `println!` for CLI output that ignores a closed stdout (`unity-agent status | head`)
/// instead of panicking.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}
