//! systemd service notifications (`sd_notify`) without libsystemd: `READY=1` once the daemon
//! serves, `WATCHDOG=1` at half the watchdog interval, `STOPPING=1` when shutdown begins.
//!
//! The protocol is one datagram per message to the Unix socket named by `NOTIFY_SOCKET`: a path,
//! or an abstract socket when the name starts with `@`. Without `NOTIFY_SOCKET` (not started by
//! systemd, or not `Type=notify`) every function here is a no-op. Both daemons use this module:
//! the controller as `unity_agent::notify`.

use std::ffi::OsString;
use std::future::Future;
use std::io;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// Where systemd listens for notifications, and how often it wants to hear from us.
#[derive(Debug)]
pub struct Notifier {
    socket: UnixDatagram,
    /// Half the watchdog timeout; `None` without `WATCHDOG_USEC` or when the watchdog is meant
    /// for another process (`WATCHDOG_PID`).
    watchdog_interval: Option<Duration>,
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` from the process environment.
    pub fn from_env() -> Option<Notifier> {
        Notifier::from_vars(|name| std::env::var_os(name), std::process::id())
    }

    /// Like [`Notifier::from_env`], with the environment given by `lookup` (tests pass a map).
    /// Returns `None` when `NOTIFY_SOCKET` is unset, empty or unusable (the last is logged).
    pub fn from_vars(lookup: impl Fn(&str) -> Option<OsString>, own_pid: u32) -> Option<Notifier> {
        let notify_socket = lookup("NOTIFY_SOCKET").filter(|value| !value.is_empty())?;
        let socket = match connect(&notify_socket) {
            Ok(socket) => socket,
            Err(error) => {
                tracing::warn!(
                    notify_socket = %notify_socket.to_string_lossy(),
                    %error,
                    "Cannot reach the service manager's notification socket."
                );
                return None;
            }
        };
        let watchdog_interval = watchdog_interval(
            lookup("WATCHDOG_USEC").as_deref(),
            lookup("WATCHDOG_PID").as_deref(),
            own_pid,
        );
        Some(Notifier {
            socket,
            watchdog_interval,
        })
    }

    /// Sends one notification, e.g. `"READY=1"`. Note that this is a non-blocking send of one
    /// datagram; it fails rather than waits when the manager's queue is full.
    pub fn notify(&self, state: &str) -> io::Result<()> {
        self.socket.send(state.as_bytes()).map(|_| ())
    }

    /// How often [`ready_until`] sends `WATCHDOG=1`: half of `WATCHDOG_USEC`.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog_interval
    }

    fn notify_or_log(&self, state: &str) {
        if let Err(error) = self.notify(state) {
            tracing::warn!(%state, %error, "Cannot notify the service manager.");
        }
    }
}

/// Tells systemd the daemon is ready, feeds its watchdog until `shutdown` resolves, then tells
/// it the daemon is stopping. Without `NOTIFY_SOCKET` this just awaits `shutdown`.
///
/// Call it where the daemon would otherwise await its shutdown signal, after start-up succeeded:
/// `notify::ready_until(shutdown_signal()).await;`
pub async fn ready_until(shutdown: impl Future<Output = ()>) {
    ready_until_with(Notifier::from_env(), shutdown).await;
}

/// [`ready_until`] with an explicit notifier (tests pass one built by [`Notifier::from_vars`]).
pub async fn ready_until_with(notifier: Option<Notifier>, shutdown: impl Future<Output = ()>) {
    let Some(notifier) = notifier else {
        shutdown.await;
        return;
    };
    notifier.notify_or_log("READY=1");
    tracing::debug!(watchdog = ?notifier.watchdog_interval(), "Notified systemd: ready.");
    match notifier.watchdog_interval() {
        Some(interval) => {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tokio::pin!(shutdown);
            loop {
                tokio::select! {
                    () = &mut shutdown => break,
                    _ = ticks.tick() => notifier.notify_or_log("WATCHDOG=1"),
                }
            }
        }
        None => shutdown.await,
    }
    notifier.notify_or_log("STOPPING=1");
}

/// Opens an unbound datagram socket connected to `NOTIFY_SOCKET`.
fn connect(notify_socket: &std::ffi::OsStr) -> io::Result<UnixDatagram> {
    let address = socket_address(notify_socket)?;
    let socket = UnixDatagram::unbound()?;
    socket.connect_addr(&address)?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// `/run/systemd/notify` is a path; `@name` is the abstract socket `name`.
fn socket_address(notify_socket: &std::ffi::OsStr) -> io::Result<SocketAddr> {
    use std::os::unix::ffi::OsStrExt as _;
    let bytes = notify_socket.as_bytes();
    match bytes.first() {
        Some(b'/') => SocketAddr::from_pathname(notify_socket),
        Some(b'@') => abstract_address(&bytes[1..]),
        _ => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "NOTIFY_SOCKET is neither an absolute path nor an abstract socket (@name)",
        )),
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn abstract_address(name: &[u8]) -> io::Result<SocketAddr> {
    #[cfg(target_os = "android")]
    use std::os::android::net::SocketAddrExt as _;
    #[cfg(target_os = "linux")]
    use std::os::linux::net::SocketAddrExt as _;
    SocketAddr::from_abstract_name(name)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn abstract_address(_name: &[u8]) -> io::Result<SocketAddr> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "abstract Unix sockets exist only on Linux",
    ))
}

/// Half of `WATCHDOG_USEC`, as sd_notify(3) recommends, unless `WATCHDOG_PID` names another
/// process. Zero or unparsable values disable the watchdog.
fn watchdog_interval(
    watchdog_usec: Option<&std::ffi::OsStr>,
    watchdog_pid: Option<&std::ffi::OsStr>,
    own_pid: u32,
) -> Option<Duration> {
    if let Some(pid) = watchdog_pid {
        if pid.to_str()?.trim().parse::<u32>().ok()? != own_pid {
            return None;
        }
    }
    let usec: u64 = watchdog_usec?.to_str()?.trim().parse().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec / 2).max(Duration::from_millis(1)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn notifier(vars: &[(&str, &str)]) -> Option<Notifier> {
        let vars: HashMap<String, OsString> = vars
            .iter()
            .map(|(name, value)| (name.to_string(), OsString::from(value)))
            .collect();
        Notifier::from_vars(|name| vars.get(name).cloned(), 42)
    }

    #[track_caller]
    fn check_interval(usec: Option<&str>, pid: Option<&str>, expect: Option<Duration>) {
        let usec = usec.map(OsString::from);
        let pid = pid.map(OsString::from);
        assert_eq!(
            watchdog_interval(usec.as_deref(), pid.as_deref(), 42),
            expect
        );
    }

    #[test]
    fn watchdog_interval_is_half_of_watchdog_usec() {
        check_interval(Some("30000000"), None, Some(Duration::from_secs(15)));
        check_interval(Some("30000000"), Some("42"), Some(Duration::from_secs(15)));
        check_interval(Some("30000000"), Some("7"), None);
        check_interval(Some("0"), None, None);
        check_interval(Some("soon"), None, None);
        check_interval(None, None, None);
        check_interval(Some("1"), None, Some(Duration::from_millis(1)));
    }

    #[test]
    fn no_notify_socket_means_no_notifier() {
        assert!(notifier(&[]).is_none());
        assert!(notifier(&[("NOTIFY_SOCKET", "")]).is_none());
        assert!(notifier(&[("NOTIFY_SOCKET", "vsock:2:1234")]).is_none());
        assert!(notifier(&[("NOTIFY_SOCKET", "/nonexistent/notify")]).is_none());
    }

    #[test]
    fn sends_to_a_path_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let manager = UnixDatagram::bind(&path).unwrap();
        let notifier = notifier(&[("NOTIFY_SOCKET", path.to_str().unwrap())]).unwrap();
        assert_eq!(notifier.watchdog_interval(), None);
        notifier.notify("READY=1").unwrap();
        let mut buf = [0u8; 64];
        let n = manager.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn sends_to_an_abstract_socket() {
        use std::os::linux::net::SocketAddrExt as _;
        let name = format!("unity-notify-test-{}", std::process::id());
        let address = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let manager = UnixDatagram::bind_addr(&address).unwrap();
        let notifier = notifier(&[("NOTIFY_SOCKET", &format!("@{name}"))]).unwrap();
        notifier.notify("STATUS=testing").unwrap();
        let mut buf = [0u8; 64];
        let n = manager.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"STATUS=testing");
    }

    /// The whole life cycle over a real socket: READY=1, watchdog pings, STOPPING=1 last.
    #[tokio::test]
    async fn ready_then_watchdog_then_stopping() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let manager = tokio::net::UnixDatagram::bind(&path).unwrap();
        // 20 ms watchdog: pings every 10 ms.
        let notifier = notifier(&[
            ("NOTIFY_SOCKET", path.to_str().unwrap()),
            ("WATCHDOG_USEC", "20000"),
            ("WATCHDOG_PID", "42"),
        ])
        .unwrap();
        assert_eq!(
            notifier.watchdog_interval(),
            Some(Duration::from_millis(10))
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let daemon = tokio::spawn(ready_until_with(Some(notifier), async move {
            let _ = stopped.await;
        }));

        let mut received = Vec::new();
        let mut buf = [0u8; 64];
        let mut stop = Some(stop);
        loop {
            let n = tokio::time::timeout(Duration::from_secs(10), manager.recv(&mut buf))
                .await
                .expect("a notification within 10 s")
                .unwrap();
            let message = String::from_utf8(buf[..n].to_vec()).unwrap();
            received.push(message.clone());
            let n_pings = received.iter().filter(|m| *m == "WATCHDOG=1").count();
            if n_pings >= 3 {
                if let Some(stop) = stop.take() {
                    stop.send(()).unwrap();
                }
            }
            if message == "STOPPING=1" {
                break;
            }
        }
        daemon.await.unwrap();
        assert_eq!(received.first().map(String::as_str), Some("READY=1"));
        assert_eq!(received.last().map(String::as_str), Some("STOPPING=1"));
        assert!(received[1..received.len() - 1]
            .iter()
            .all(|m| m == "WATCHDOG=1"));
    }

    #[tokio::test]
    async fn without_notify_socket_it_only_waits_for_shutdown() {
        ready_until_with(None, async {}).await;
    }
}
