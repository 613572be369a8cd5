//! Issue 14: systemd readiness comes from the `sd-notify` crate. The real controller binary,
//! started as systemd starts a `Type=notify` unit with a watchdog, says READY=1 once it
//! serves, feeds the watchdog at half its timeout, and says STOPPING=1 on SIGTERM.

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};
use unity_tests::*;

const BINARY: &str = env!("CARGO_BIN_EXE_unity-e2e-controller");

/// The next notification, within `timeout`.
fn next_message(socket: &UnixDatagram, timeout: Duration) -> Option<String> {
    socket.set_read_timeout(Some(timeout)).ok()?;
    let mut buffer = [0u8; 4096];
    let n = socket.recv(&mut buffer).ok()?;
    Some(String::from_utf8_lossy(&buffer[..n]).into_owned())
}

#[test]
fn the_controller_notifies_ready_feeds_the_watchdog_and_says_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let notify_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&notify_path).unwrap();
    let address = free_udp_address();
    #[allow(clippy::disallowed_methods)]
    let mut child = std::process::Command::new(BINARY)
        .args(["--config", "/dev/null", "--data-dir"])
        .arg(dir.path().join("controller"))
        .args(["run", "--listen", &address.to_string()])
        .env("UNITY_LOG", "warn")
        .env("UNITY_CONTROLLER_API_LISTEN", "127.0.0.1:0")
        .env("NOTIFY_SOCKET", &notify_path)
        .env("WATCHDOG_USEC", "400000")
        .spawn()
        .unwrap();
    let outcome = (|| {
        let ready = next_message(&socket, Duration::from_secs(30));
        if ready.as_deref().map(str::trim) != Some("READY=1") {
            return Err(format!("expected READY=1, got {ready:?}"));
        }
        let started = Instant::now();
        let mut n_watchdog = 0;
        while n_watchdog < 3 {
            match next_message(&socket, Duration::from_secs(5)) {
                Some(message) if message.trim() == "WATCHDOG=1" => n_watchdog += 1,
                other => return Err(format!("expected WATCHDOG=1, got {other:?}")),
            }
        }
        // Three at 0.2 s intervals (half of 0.4 s); generous for a loaded machine.
        if started.elapsed() > Duration::from_secs(3) {
            return Err(format!("three watchdog pings took {:?}", started.elapsed()));
        }
        #[allow(clippy::disallowed_methods)]
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .map_err(|error| error.to_string())?;
        assert!(killed.success());
        loop {
            match next_message(&socket, Duration::from_secs(10)) {
                Some(message) if message.trim() == "STOPPING=1" => return Ok(()),
                Some(message) if message.trim() == "WATCHDOG=1" => continue,
                other => return Err(format!("expected STOPPING=1, got {other:?}")),
            }
        }
    })();
    let _ = child.kill();
    let _ = child.wait();
    outcome.unwrap();
}
