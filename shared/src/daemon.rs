//! systemd service notifications for both daemons (feature `runtime`): `READY=1` once the
//! daemon serves, `WATCHDOG=1` at half the watchdog interval, `STOPPING=1` when shutdown
//! begins. The `sd-notify` crate speaks the protocol; without `NOTIFY_SOCKET` (not started by
//! systemd, or not `Type=notify`) every notification is a no-op.

use sd_notify::NotifyState;
use std::future::Future;
use std::time::Duration;

/// Tells systemd the daemon is ready, feeds its watchdog until `shutdown` resolves, then tells
/// it the daemon is stopping. Without `NOTIFY_SOCKET` this just awaits `shutdown`.
///
/// Call it where the daemon would otherwise await its shutdown signal, after start-up
/// succeeded: `daemon::ready_until(shutdown_signal()).await;`
pub async fn ready_until(shutdown: impl Future<Output = ()>) {
    notify(NotifyState::Ready);
    let interval = watchdog_interval(sd_notify::watchdog_enabled());
    tracing::debug!(watchdog = ?interval, "Notified the service manager: ready.");
    match interval {
        Some(interval) => {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tokio::pin!(shutdown);
            loop {
                tokio::select! {
                    () = &mut shutdown => break,
                    _ = ticks.tick() => notify(NotifyState::Watchdog),
                }
            }
        }
        None => shutdown.await,
    }
    notify(NotifyState::Stopping);
}

/// Half the watchdog timeout, as sd_notify(3) recommends; none for a zero timeout.
pub fn watchdog_interval(timeout: Option<Duration>) -> Option<Duration> {
    timeout
        .filter(|timeout| !timeout.is_zero())
        .map(|timeout| timeout / 2)
}

fn notify(state: NotifyState) {
    if let Err(error) = sd_notify::notify(std::slice::from_ref(&state)) {
        tracing::warn!(state = %state, %error, "Cannot notify the service manager.");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watchdog_is_fed_at_half_its_timeout() {
        assert_eq!(
            watchdog_interval(Some(Duration::from_secs(30))),
            Some(Duration::from_secs(15))
        );
        assert_eq!(watchdog_interval(Some(Duration::ZERO)), None);
        assert_eq!(watchdog_interval(None), None);
    }
}
