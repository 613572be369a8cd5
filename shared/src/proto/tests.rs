//! Wire tests: round trips, golden bytes that pin the current encoding, and hostile input.

use super::frame::{self, FrameError, DEFAULT_MAX_FRAME_LEN, HEADER_LEN};
use super::*;
use proptest::prelude::*;

fn sample_report() -> AgentMessage {
    AgentMessage::Report(Report {
        seq: 7,
        collected_at_ms: 1_700_000_000_000,
        samples: vec![Sample {
            metric: "cpu_usage_ratio".into(),
            labels: vec![("cpu".into(), "0".into())],
            timestamp_ms: 1_700_000_000_000,
            value: 0.25,
        }],
        dropped_reports: 0,
        storage: None,
        databases: None,
        containers: None,
        plugin_series: None,
        plugin_sources: None,
        checks: None,
        certificates: None,
        image_scans: None,
        service_checks: None,
    })
}

#[test]
fn golden_bytes_of_current_messages_do_not_change() {
    // If this fails, the wire format changed: bump PROTOCOL_VERSION and the ALPN token.
    let bytes = frame::encode(&sample_report(), DEFAULT_MAX_FRAME_LEN).unwrap();
    expect_test::expect!["0100000038010780a0abfef962010f6370755f75736167655f726174696f0103637075013080a0abfef962000000000000d03f00000000000000000000"].assert_eq(&hex::encode(&bytes));
    let ack = frame::encode(
        &ControllerMessage::Ack(Ack {
            seq: 300,
            duplicate: true,
        }),
        DEFAULT_MAX_FRAME_LEN,
    )
    .unwrap();
    assert_eq!(hex::encode(ack), "010000000401ac0201");
}

#[test]
fn golden_bytes_of_hello_and_welcome() {
    let hello = frame::encode(
        &AgentMessage::Hello(Hello {
            protocol_version: PROTOCOL_VERSION,
            agent_version: "0.1.0".into(),
            host: HostFacts {
                hostname: "nas".into(),
                ..HostFacts::default()
            },
            instance_id: InstanceId::from_bytes([0xab; 16]),
            install: InstallKind::Deb,
        }),
        DEFAULT_MAX_FRAME_LEN,
    )
    .unwrap();
    expect_test::expect![
        "0100000024000b05302e312e30036e617300000000000000abababababababababababababababab02"
    ]
    .assert_eq(&hex::encode(hello));
    let welcome = frame::encode(
        &ControllerMessage::Welcome(Welcome {
            protocol_version: PROTOCOL_VERSION,
            controller_version: "0.1.0".into(),
            agent_id: AgentId::new("nas").unwrap(),
            last_stored_seq: Some(41),
            server_time_ms: 1_700_000_000_000,
            new_instance: true,
        }),
        DEFAULT_MAX_FRAME_LEN,
    )
    .unwrap();
    expect_test::expect!["0100000015000b05302e312e30036e6173012980a0abfef96201"]
        .assert_eq(&hex::encode(welcome));
}

#[test]
fn instance_ids_print_and_parse_as_hex() {
    let id = InstanceId::from_bytes([0x0f; 16]);
    assert_eq!(id.to_string(), "0f".repeat(16));
    assert_eq!(id.to_string().parse::<InstanceId>().unwrap(), id);
    assert!("xyz".parse::<InstanceId>().is_err());
    assert!("0f".repeat(15).parse::<InstanceId>().is_err());
}

#[test]
fn frame_round_trip_and_incremental_decode() {
    let message = sample_report();
    let bytes = frame::encode(&message, DEFAULT_MAX_FRAME_LEN).unwrap();
    // Every strict prefix asks for more bytes, never errors or panics.
    for end in 0..bytes.len() {
        let partial = frame::decode::<AgentMessage>(&bytes[..end], DEFAULT_MAX_FRAME_LEN).unwrap();
        assert!(partial.is_none(), "prefix of {end} bytes decoded");
    }
    let (decoded, used) = frame::decode::<AgentMessage>(&bytes, DEFAULT_MAX_FRAME_LEN)
        .unwrap()
        .unwrap();
    assert_eq!(decoded, message);
    assert_eq!(used, bytes.len());
}

#[test]
fn oversized_frame_is_refused_from_the_header_alone() {
    let header = [frame::FRAME_VERSION, 0xff, 0xff, 0xff, 0xff];
    let error = frame::payload_len(header, 1024).unwrap_err();
    assert!(
        matches!(error, FrameError::TooLarge { max: 1024, .. }),
        "{error}"
    );
    let big = AgentMessage::Renew(RenewRequest {
        csr_der: vec![0; 2048],
    });
    assert!(matches!(
        frame::encode(&big, 1024),
        Err(FrameError::TooLarge { .. })
    ));
}

#[test]
fn unknown_frame_version_is_refused() {
    let error = frame::payload_len([9, 0, 0, 0, 1], 1024).unwrap_err();
    assert!(matches!(error, FrameError::UnsupportedVersion(9)));
}

#[test]
fn trailing_bytes_are_refused() {
    let mut bytes = frame::encode(
        &ControllerMessage::HeartbeatAck { server_time_ms: 1 },
        DEFAULT_MAX_FRAME_LEN,
    )
    .unwrap();
    bytes.push(0);
    bytes[4] += 1;
    let error = frame::decode::<ControllerMessage>(&bytes, DEFAULT_MAX_FRAME_LEN).unwrap_err();
    assert!(matches!(error, FrameError::TrailingBytes(1)), "{error}");
}

#[test]
fn agent_id_validation() {
    assert!(AgentId::new("a1-b2").is_ok());
    assert!(AgentId::new("").is_err());
    assert!(AgentId::new("Upper").is_err());
    assert!(AgentId::new("x".repeat(65)).is_err());
    assert!(AgentId::new("../etc").is_err());
}

fn arb_sample() -> impl Strategy<Value = Sample> {
    (
        "[a-z_]{1,20}",
        proptest::collection::vec(("[a-z]{1,8}", ".{0,12}"), 0..4),
        any::<i64>(),
        any::<f64>(),
    )
        .prop_map(|(metric, labels, timestamp_ms, value)| Sample {
            metric,
            labels,
            timestamp_ms,
            value,
        })
}

fn arb_agent_message() -> impl Strategy<Value = AgentMessage> {
    prop_oneof![
        (
            any::<u64>(),
            any::<i64>(),
            proptest::collection::vec(arb_sample(), 0..8),
            any::<u64>()
        )
            .prop_map(|(seq, collected_at_ms, samples, dropped_reports)| {
                AgentMessage::Report(Report {
                    seq,
                    collected_at_ms,
                    samples,
                    dropped_reports,
                    storage: None,
                    databases: None,
                    containers: None,
                    plugin_series: None,
                    plugin_sources: None,
                    checks: None,
                    certificates: None,
                    image_scans: None,
                    service_checks: None,
                })
            }),
        (any::<i64>(), any::<u64>()).prop_map(|(sent_at_ms, spool_depth)| {
            AgentMessage::Heartbeat(Heartbeat {
                sent_at_ms,
                spool_depth,
            })
        }),
        (".{0,20}", ".{0,20}", any::<u32>(), any::<[u8; 16]>()).prop_map(
            |(hostname, os, n_cpus, instance)| {
                AgentMessage::Hello(Hello {
                    protocol_version: PROTOCOL_VERSION,
                    agent_version: "0.1.0".into(),
                    host: HostFacts {
                        hostname,
                        os,
                        n_cpus,
                        ..HostFacts::default()
                    },
                    instance_id: InstanceId::from_bytes(instance),
                    install: InstallKind::File,
                })
            }
        ),
    ]
}

/// NaN != NaN, so compare encodings instead of values.
fn same_encoding(a: &AgentMessage, b: &AgentMessage) -> bool {
    postcard::to_allocvec(a).ok() == postcard::to_allocvec(b).ok()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_agent_message_round_trips(message in arb_agent_message()) {
        let bytes = frame::encode(&message, DEFAULT_MAX_FRAME_LEN).unwrap();
        let (decoded, used) = frame::decode::<AgentMessage>(&bytes, DEFAULT_MAX_FRAME_LEN).unwrap().unwrap();
        prop_assert_eq!(used, bytes.len());
        prop_assert!(same_encoding(&decoded, &message));
    }

    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = frame::decode::<AgentMessage>(&bytes, DEFAULT_MAX_FRAME_LEN);
        let _ = frame::decode::<ControllerMessage>(&bytes, DEFAULT_MAX_FRAME_LEN);
        let _ = frame::decode::<EnrollRequest>(&bytes, DEFAULT_MAX_FRAME_LEN);
        let _ = frame::decode_payload::<CommandEnvelope>(&bytes);
        if bytes.len() >= HEADER_LEN {
            let mut header = [0u8; HEADER_LEN];
            header.copy_from_slice(&bytes[..HEADER_LEN]);
            let _ = frame::payload_len(header, DEFAULT_MAX_FRAME_LEN);
        }
    }
}
