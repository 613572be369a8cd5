//! The controller's UDP socket, with receive and send buffers sized for many agents.
//!
//! Every agent's datagrams land in this one socket. At the kernel's default receive buffer
//! (`net.core.rmem_default`, 208 KiB on Debian) a burst of reports from a few hundred agents
//! overflows it: the kernel drops datagrams (`RcvbufErrors` in `/proc/net/snmp`), QUIC recovers
//! them by retransmission after a probe timeout, and acknowledgements stall for seconds (see
//! BENCHMARKS.md, "Ingest over QUIC"). The kernel caps what an unprivileged process may ask for
//! at `net.core.rmem_max` / `net.core.wmem_max`; the controller asks for [`BUFFER_BYTES`] and
//! warns, with the sysctl to run, when it got less.

use socket2::{Domain, Protocol, Socket, Type};
use std::net::SocketAddr;

/// Receive and send buffer the controller asks for: a second of reports from a thousand agents
/// sending one 15 KB report every two seconds, with room to spare.
pub const BUFFER_BYTES: usize = 8 << 20;

/// Binds the UDP socket the QUIC endpoint serves on.
pub fn bind(listen: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    let socket = Socket::new(
        Domain::for_address(listen),
        Type::DGRAM,
        Some(Protocol::UDP),
    )?;
    socket.bind(&listen.into())?;
    // Failing to grow a buffer leaves the default: slower under load, never wrong.
    let _ = socket.set_recv_buffer_size(BUFFER_BYTES);
    let _ = socket.set_send_buffer_size(BUFFER_BYTES);
    let received = socket.recv_buffer_size().unwrap_or(0);
    if let Some(advice) = buffer_advice(received) {
        tracing::warn!(
            receive_buffer_bytes = received / 2,
            wanted_bytes = BUFFER_BYTES,
            "{advice}"
        );
    }
    Ok(socket.into())
}

/// What to tell the operator when the kernel reports `granted` bytes of receive buffer, if
/// anything. Linux reports twice the size it accepted (the other half is its bookkeeping).
pub fn buffer_advice(granted: usize) -> Option<String> {
    (granted / 2 < BUFFER_BYTES).then(|| {
        format!(
            "The kernel capped the QUIC socket's receive buffer at {} KiB; with many agents it \
             drops datagrams and acknowledgements stall. Raise the cap: \
             sysctl -w net.core.rmem_max={BUFFER_BYTES} net.core.wmem_max={BUFFER_BYTES} \
             (to keep it across reboots, put both settings in /etc/sysctl.d/60-unity.conf).",
            granted / 2 / 1024
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_loopback_and_grows_the_buffers_up_to_the_kernel_cap() {
        let socket = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        assert!(socket.local_addr().unwrap().port() != 0);
        let granted = Socket::from(socket).recv_buffer_size().unwrap();
        let cap = std::fs::read_to_string("/proc/sys/net/core/rmem_max")
            .ok()
            .and_then(|text| text.trim().parse::<usize>().ok());
        if let Some(cap) = cap {
            // Linux doubles what it grants; the request is clamped to the cap first.
            assert_eq!(granted, 2 * cap.min(BUFFER_BYTES));
        }
    }

    #[test]
    fn advice_only_when_the_kernel_granted_less_than_asked() {
        assert!(buffer_advice(2 * BUFFER_BYTES).is_none());
        assert!(buffer_advice(BUFFER_BYTES).unwrap().contains("4096 KiB"));
        let advice = buffer_advice(425_984).unwrap();
        assert!(advice.contains("208 KiB"), "{advice}");
        assert!(advice.contains("net.core.rmem_max=8388608"), "{advice}");
    }
}
