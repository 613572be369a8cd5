//! Tests of [`super::compat`]: ALPN tokens, the negotiated dialect and the operator's messages.

use super::compat::*;
use super::*;

#[test]
fn alpn_tokens_round_trip_and_garbage_is_not_unity() {
    assert_eq!(alpn(PROTOCOL_VERSION), ALPN);
    assert_eq!(parse_alpn(b"unity/9"), Some(9));
    assert_eq!(parse_alpn(b"unity/11"), Some(11));
    for garbage in [
        &b"h3"[..],
        b"unity/",
        b"unity/-1",
        b"unity/+1",
        b"unity/99999999",
        b"unity/1x",
        b"\xff\xfe",
    ] {
        assert_eq!(parse_alpn(garbage), None, "{garbage:?}");
    }
}

#[test]
fn the_controller_prefers_its_newest_served_version() {
    let offered = controller_alpns();
    assert_eq!(offered[0], alpn(PROTOCOL_VERSION));
    assert_eq!(offered[1], alpn(OLDEST_SERVED_PROTOCOL));
    // Every version it answers appears once.
    let mut versions: Vec<u16> = offered.iter().filter_map(|t| parse_alpn(t)).collect();
    assert_eq!(versions.len(), offered.len());
    versions.sort_unstable();
    versions.dedup();
    assert_eq!(versions.len(), offered.len());
    assert!(versions.contains(&1) && versions.contains(&(PROTOCOL_VERSION + 1)));
}

/// rustls picks the server's first token the client also offers: model that choice.
fn chosen(server: &[Vec<u8>], client: &[Vec<u8>]) -> Option<u16> {
    server
        .iter()
        .find(|token| client.contains(token))
        .and_then(|token| parse_alpn(token))
}

#[test]
fn negotiation_between_versions_lands_where_the_rules_say() {
    let controller = controller_alpns();
    // This agent with this controller: the current version.
    assert_eq!(chosen(&controller, &agent_alpns()), Some(PROTOCOL_VERSION));
    // A version-10 agent offers only its token: served as version 10.
    assert_eq!(chosen(&controller, &[alpn(10)]), Some(10));
    assert_eq!(Dialect::of_version(10), Ok(Dialect::V10));
    // A version-9 agent is answered, then told to update.
    assert_eq!(chosen(&controller, &[alpn(9)]), Some(9));
    // This agent with a version-10 controller (which offers only its own token): 10, which
    // the agent recognises as older than itself.
    assert_eq!(chosen(&[alpn(10)], &agent_alpns()), Some(10));
    // A future agent that offers 12 and everything older gets this controller's newest.
    let future: Vec<Vec<u8>> = (1..=PROTOCOL_VERSION + 1).rev().map(alpn).collect();
    assert_eq!(chosen(&controller, &future), Some(PROTOCOL_VERSION));
}

#[test]
fn unserved_versions_say_which_side_to_update() {
    let old = Dialect::negotiated(Some(b"unity/9")).unwrap_err();
    assert_eq!(
        old.to_string(),
        "agent protocol 9 is too old for this controller (serves 10–11): update the agent package"
    );
    let new = Dialect::negotiated(Some(b"unity/12")).unwrap_err();
    assert!(
        new.to_string().contains("update the controller first"),
        "{new}"
    );
    assert_eq!(Dialect::negotiated(None), Err(Unserved::NotUnity));
    assert_eq!(Dialect::negotiated(Some(b"h3")), Err(Unserved::NotUnity));
    let too_old = ControllerTooOld { controller: 10 }.to_string();
    assert!(too_old.contains("update the controller first"), "{too_old}");
}

#[test]
fn dialects_decode_what_their_agents_send() {
    let hello = Hello {
        protocol_version: PROTOCOL_VERSION,
        agent_version: "0.2.0".into(),
        host: HostFacts::default(),
        instance_id: InstanceId::from_bytes([1; 16]),
        install: InstallKind::Deb,
    };
    let current = postcard::to_allocvec(&AgentMessage::Hello(hello.clone())).unwrap();
    assert_eq!(
        Dialect::Current.decode_agent_message(&current).unwrap(),
        AgentMessage::Hello(hello.clone())
    );
    // The current bytes are not a version-10 message (a trailing install byte).
    assert!(Dialect::V10.decode_agent_message(&current).is_err());
    let old = v10::Hello {
        protocol_version: 10,
        agent_version: "0.1.0".into(),
        host: HostFacts::default(),
        instance_id: InstanceId::from_bytes([1; 16]),
    };
    let old_bytes = postcard::to_allocvec(&v10::AgentMessage::Hello(old)).unwrap();
    match Dialect::V10.decode_agent_message(&old_bytes).unwrap() {
        AgentMessage::Hello(decoded) => assert_eq!(decoded.install, InstallKind::Unknown),
        other => panic!("not a hello: {other:?}"),
    }
    // Other messages are the same bytes in both versions.
    let beat = AgentMessage::Heartbeat(Heartbeat {
        sent_at_ms: 5,
        spool_depth: 2,
    });
    let beat_bytes = postcard::to_allocvec(&beat).unwrap();
    assert_eq!(
        Dialect::V10.decode_agent_message(&beat_bytes).unwrap(),
        beat
    );
}

#[test]
fn everything_sent_today_reaches_a_version_10_agent() {
    for dialect in [Dialect::V10, Dialect::Current] {
        assert_eq!(
            dialect.check_command(&Command::Ping(Ping { nonce: 1 })),
            Ok(())
        );
        let ack = ControllerMessage::HeartbeatAck { server_time_ms: 1 };
        assert_eq!(dialect.check_message(&ack), Ok(()));
    }
}
