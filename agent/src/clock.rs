//! The agent's one wall clock: milliseconds since the Unix epoch, as the wire carries them
//! (`i64`, like every `*_ms` in `shared::proto`). A leaf: every layer may read the time here.

use std::time::SystemTime;

/// Milliseconds since the Unix epoch; 0 for a clock set before 1970 (never negative).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Whole seconds since the Unix epoch (see [`now_ms`]).
pub fn now_seconds() -> i64 {
    now_ms() / 1000
}
