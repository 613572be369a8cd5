//! The thresholds of the container, disk-trend and update conditions (`[alerts]` keys of the
//! same names), with their defaults.

/// The thresholds of the container rules (`[alerts]` keys of the same names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContainerRuleConfig {
    /// Exits within the window that make a restart loop.
    pub restart_loop_count: usize,
    pub restart_loop_window_ms: i64,
    /// How long an `oom` or `destroy` event keeps its condition active.
    pub event_window_ms: i64,
    /// A container destroyed less than this after it was created is a one-off job (`docker
    /// run --rm`), not a watched container that went away.
    pub gone_min_age_ms: i64,
}

impl Default for ContainerRuleConfig {
    fn default() -> ContainerRuleConfig {
        ContainerRuleConfig {
            restart_loop_count: 3,
            restart_loop_window_ms: 10 * 60 * 1000,
            event_window_ms: 24 * 60 * 60 * 1000,
            gone_min_age_ms: 10 * 60 * 1000,
        }
    }
}

/// The thresholds of the trend rules (`[alerts]` keys of the same names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskTrendConfig {
    /// For drives that report no warning limit of their own.
    pub temperature_limit_celsius: i64,
    /// How long a drive must stay above its limit.
    pub temperature_for_ms: i64,
}

impl Default for DiskTrendConfig {
    fn default() -> DiskTrendConfig {
        DiskTrendConfig {
            temperature_limit_celsius: 60,
            temperature_for_ms: 5 * 60 * 1000,
        }
    }
}

/// The thresholds of the update rules (`[alerts]` keys of the same names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpdateRuleConfig {
    /// The period new updates are batched in (0: no "available" alerts).
    pub available_batch_ms: i64,
    /// How long a finished update keeps its condition.
    pub event_window_ms: i64,
}

impl Default for UpdateRuleConfig {
    fn default() -> UpdateRuleConfig {
        UpdateRuleConfig {
            available_batch_ms: 24 * 60 * 60 * 1000,
            event_window_ms: 30 * 60 * 1000,
        }
    }
}
