//! The controller's wall clock: the one `now_ms`, Unix milliseconds as `i64` (what every
//! stored time and every API field uses). A leaf: it imports nothing of the crate, so the
//! lowest layers (the connection hub) can read the time without depending on the context.

use std::time::SystemTime;

/// Current time as Unix milliseconds (0 if the system clock is before 1970).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as i64)
        .unwrap_or(0)
}
