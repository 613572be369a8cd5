//! Protocol tests: reply parsers over real captured replies (`../testdata/`) and over bytes
//! built as the protocol documentation specifies them (MongoDB and MinIO transcripts are in
//! `transcripts.rs`); every prefix and arbitrary bytes never panic; fake servers that answer
//! the wrong protocol, garbage, or nothing are reported as such within the timeout.

#![allow(clippy::indexing_slicing)]

use std::path::PathBuf;
use std::time::Duration;

use proptest::prelude::*;
use tokio::time::Instant;
use unity_shared::model::database::{DatabaseEngine, ReplicationRole};

use super::mongodb;
use super::mysql::{self, Greeting};
use super::postgres::{self, BackendMessage};
use super::redis::{self, Resp};
use super::transcripts::{mongo_databases, mongo_hello, op_msg_reply, MINIO_LIVE};
use super::{describe_bytes, minio, probe, ProbeError};
use crate::collect::databases::servers::{start_fake, Fake};

fn testdata(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("src/collect/databases/testdata")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// Every proper prefix of a complete reply is "incomplete" (or an error), never a panic and
/// never a value.
#[track_caller]
pub(super) fn check_prefixes<T: std::fmt::Debug>(
    bytes: &[u8],
    parse: impl Fn(&[u8]) -> Result<Option<(T, usize)>, ProbeError>,
) {
    for cut in 0..bytes.len() {
        if let Ok(Some((value, _))) = parse(&bytes[..cut]) {
            // A shorter complete message is fine only if the reply holds several messages.
            assert!(cut > 0, "empty input parsed as {value:?}");
        }
    }
    assert!(
        matches!(parse(bytes), Ok(Some(_))),
        "complete reply not parsed"
    );
}

// ---------------------------------------------------------------- PostgreSQL

fn pg_messages(mut bytes: &[u8]) -> Vec<BackendMessage> {
    let mut messages = Vec::new();
    let mut first = true;
    while let Some((message, used)) = postgres::parse_message(bytes, first).unwrap() {
        messages.push(message);
        bytes = &bytes[used..];
        first = false;
    }
    assert!(bytes.is_empty());
    messages
}

#[test]
fn postgres_ssl_answers() {
    assert!(matches!(postgres::parse_ssl_response(b""), Ok(None)));
    assert!(matches!(
        postgres::parse_ssl_response(b"S"),
        Ok(Some((true, 1)))
    ));
    assert!(matches!(
        postgres::parse_ssl_response(b"N"),
        Ok(Some((false, 1)))
    ));
    let http = postgres::parse_ssl_response(b"HTTP/1.1 400 Bad Request\r\n").unwrap_err();
    assert_eq!(
        http.to_string(),
        "expected PostgreSQL, but the server answered with HTTP (HTTP/1.1 400 Bad Request)"
    );
    assert!(matches!(
        postgres::parse_ssl_response(&[0x16, 0x03, 0x01]),
        Err(ProbeError::WrongProtocol { .. })
    ));
}

#[test]
fn postgres_startup_message_bytes() {
    let message = postgres::startup_message("postgres", "postgres");
    let mut expected = vec![0, 0, 0, 70, 0, 3, 0, 0];
    expected.extend_from_slice(
        b"user\0postgres\0database\0postgres\0application_name\0unity-agent\0\0",
    );
    assert_eq!(message, expected);
    assert_eq!(
        postgres::query_message("SELECT 1"),
        b"Q\0\0\0\x0dSELECT 1\0"
    );
}

#[test]
fn postgres_trust_startup_transcript() {
    // Captured from PostgreSQL 15.18 (Debian) with trust authentication.
    let bytes = testdata("postgres-15-trust-startup.bin");
    let messages = pg_messages(&bytes);
    assert_eq!(messages[0].tag, b'R');
    assert_eq!(postgres::parse_auth_code(&messages[0].body), Some(0));
    let version = messages
        .iter()
        .filter(|m| m.tag == b'S')
        .filter_map(|m| postgres::parse_parameter_status(&m.body))
        .find(|(name, _)| name == "server_version")
        .map(|(_, value)| value);
    assert_eq!(version.as_deref(), Some("15.18 (Debian 15.18-0+deb12u1)"));
    assert_eq!(messages.last().unwrap().tag, b'Z');
    check_prefixes(&bytes, |b| postgres::parse_message(b, true));
}

#[test]
fn postgres_error_transcript() {
    // Captured: trust lets the login through, then the role is missing.
    let bytes = testdata("postgres-15-error-no-role.bin");
    let messages = pg_messages(&bytes);
    assert_eq!(messages[1].tag, b'E');
    let error = postgres::parse_error_fields(&messages[1].body);
    assert_eq!(error.severity, "FATAL");
    assert_eq!(error.code, "28000");
    assert_eq!(error.message, "role \"nobody_here\" does not exist");
}

#[test]
fn postgres_first_message_must_be_postgres() {
    for garbage in [
        &b"HTTP/1.1 200 OK\r\n"[..],
        b"+PONG\r\n",
        b"R\xff\xff\xff\xff",
    ] {
        assert!(
            matches!(
                postgres::parse_message(garbage, true),
                Err(ProbeError::WrongProtocol { .. })
            ),
            "{garbage:?}"
        );
    }
    // Later messages may be anything PostgreSQL sends, but lengths are checked.
    assert!(matches!(
        postgres::parse_message(b"Z\0\0\0\x02", false),
        Err(ProbeError::Malformed { .. })
    ));
}

#[test]
fn postgres_health_rows() {
    let row = |values: &[Option<&str>]| -> Vec<Option<String>> {
        values.iter().map(|v| v.map(str::to_owned)).collect()
    };
    let results = vec![
        vec![row(&[
            Some("3"),
            Some("100"),
            Some("t"),
            Some("1.5"),
            Some("0"),
            Some("3600"),
            Some("1"),
            Some("2"),
        ])],
        vec![
            row(&[Some("app"), Some("8000000")]),
            row(&[Some("postgres"), None]),
        ],
    ];
    let health = postgres::health_from_results(&results);
    assert_eq!(health.connections, Some(3));
    assert_eq!(health.max_connections, Some(100));
    let replication = health.replication.unwrap();
    assert_eq!(replication.role, ReplicationRole::Replica);
    assert_eq!(replication.lag_seconds, Some(1.5));
    assert_eq!(health.uptime_seconds, Some(3600));
    assert_eq!(health.blocked_clients, Some(1));
    assert_eq!(health.slow_queries, Some(2));
    assert_eq!(health.databases.len(), 2);
    assert_eq!(health.databases[1].size_bytes, None);
    assert_eq!(
        postgres::health_from_results(&Vec::new()),
        Default::default()
    );

    let mut data_row = vec![0, 2, 0, 0, 0, 1, b'7', 0xff, 0xff, 0xff, 0xff];
    assert_eq!(
        postgres::parse_data_row(&data_row).unwrap(),
        vec![Some("7".to_owned()), None]
    );
    data_row.truncate(8);
    assert!(postgres::parse_data_row(&data_row).is_err());
}

// ---------------------------------------------------------------- MySQL / MariaDB

#[test]
fn mariadb_greeting_transcript() {
    // Captured from MariaDB 10.11.19 (Debian).
    let bytes = testdata("mariadb-10.11-greeting.bin");
    let (greeting, used) = mysql::parse_greeting(&bytes, DatabaseEngine::Mysql)
        .unwrap()
        .unwrap();
    assert_eq!(used, bytes.len());
    let Greeting::Handshake(handshake) = greeting else {
        panic!("{greeting:?}");
    };
    assert_eq!(handshake.server_version, "5.5.5-10.11.19-MariaDB-0+deb12u1");
    assert!(handshake.is_mariadb());
    assert_eq!(handshake.version(), "10.11.19-MariaDB-0+deb12u1");
    assert_eq!(
        handshake.auth_plugin.as_deref(),
        Some("mysql_native_password")
    );
    assert!(!handshake.tls_offered());
    check_prefixes(&bytes, |b| mysql::parse_greeting(b, DatabaseEngine::Mysql));
}

/// A MySQL 8.0 greeting built field by field as the MySQL client/server protocol documents
/// `Protocol::HandshakeV10`, with `CLIENT_SSL` set.
fn mysql8_greeting() -> Vec<u8> {
    let mut payload = vec![10];
    payload.extend_from_slice(b"8.0.36\0");
    payload.extend_from_slice(&42u32.to_le_bytes());
    payload.extend_from_slice(b"abcdefgh\0");
    payload.extend_from_slice(&0xffffu16.to_le_bytes()); // caps low, incl. CLIENT_SSL 0x0800
    payload.push(0xff); // charset
    payload.extend_from_slice(&2u16.to_le_bytes()); // status
    payload.extend_from_slice(&0xdfffu16.to_le_bytes()); // caps high
    payload.push(21); // auth data length
    payload.extend_from_slice(&[0; 10]);
    payload.extend_from_slice(b"ijklmnopqrst\0");
    payload.extend_from_slice(b"caching_sha2_password\0");
    let mut packet = (payload.len() as u32).to_le_bytes()[..3].to_vec();
    packet.push(0);
    packet.extend_from_slice(&payload);
    packet
}

#[test]
fn mysql8_greeting_from_spec() {
    let bytes = mysql8_greeting();
    let Some((Greeting::Handshake(handshake), _)) =
        mysql::parse_greeting(&bytes, DatabaseEngine::Mysql).unwrap()
    else {
        panic!()
    };
    assert_eq!(handshake.version(), "8.0.36");
    assert!(!handshake.is_mariadb());
    assert!(handshake.tls_offered());
    assert_eq!(handshake.connection_id, 42);
    assert_eq!(
        handshake.auth_plugin.as_deref(),
        Some("caching_sha2_password")
    );
}

#[test]
fn mysql_error_packet() {
    // ERR_Packet: 0xff, error code 1130, message (no SQL state before authentication).
    let mut payload = vec![0xff];
    payload.extend_from_slice(&1130u16.to_le_bytes());
    payload.extend_from_slice(b"Host '10.0.0.9' is not allowed to connect to this MariaDB server");
    let mut bytes = vec![payload.len() as u8, 0, 0, 0];
    bytes.extend_from_slice(&payload);
    let (greeting, _) = mysql::parse_greeting(&bytes, DatabaseEngine::Mysql)
        .unwrap()
        .unwrap();
    assert_eq!(
        greeting,
        Greeting::Error {
            code: 1130,
            message: "Host '10.0.0.9' is not allowed to connect to this MariaDB server".to_owned()
        }
    );
}

#[test]
fn mysql_rejects_other_protocols() {
    for garbage in [
        &b"HTTP/1.1 400 Bad Request\r\n"[..],
        b"SSH-2.0-OpenSSH_9.2p1\r\n",
        b"\x05\0\0\0hello",
        b"\x05\0\0\x07\x0a",
        b"\0\0\0\0",
    ] {
        assert!(
            matches!(
                mysql::parse_greeting(garbage, DatabaseEngine::Mysql),
                Err(ProbeError::WrongProtocol { .. })
            ),
            "{garbage:?}"
        );
    }
}

// ---------------------------------------------------------------- Redis

#[test]
fn resp_values() {
    let check = |bytes: &[u8], expected: Resp| {
        let (value, used) = redis::parse_resp(bytes).unwrap().unwrap();
        assert_eq!(value, expected);
        assert_eq!(used, bytes.len());
        check_prefixes(bytes, redis::parse_resp);
    };
    check(b"+PONG\r\n", Resp::Simple("PONG".to_owned()));
    check(
        b"-NOAUTH Authentication required.\r\n",
        Resp::Error("NOAUTH Authentication required.".to_owned()),
    );
    check(b":12\r\n", Resp::Integer(12));
    check(b"$-1\r\n", Resp::Bulk(None));
    check(b"$5\r\nhe\r\no\r\n", Resp::Bulk(Some(b"he\r\no".to_vec())));
    check(
        b"*2\r\n:1\r\n*1\r\n+x\r\n",
        Resp::Array(Some(vec![
            Resp::Integer(1),
            Resp::Array(Some(vec![Resp::Simple("x".to_owned())])),
        ])),
    );
    assert_eq!(redis::command(&[b"PING"]), b"*1\r\n$4\r\nPING\r\n");
    assert!(matches!(
        redis::parse_resp(b"HTTP/1.1 400 Bad Request\r\n"),
        Err(ProbeError::WrongProtocol { .. })
    ));
    assert!(matches!(
        redis::parse_resp(b"$3\r\nabcd\r\n"),
        Err(ProbeError::Malformed { .. })
    ));
    assert!(matches!(
        redis::parse_resp(b":x\r\n"),
        Err(ProbeError::Malformed { .. })
    ));
    assert!(redis::parse_resp(b"*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n").is_err());
}

#[test]
fn redis_info_transcript() {
    // Captured `INFO` reply from Redis 7.0.15 (Debian).
    let bytes = testdata("redis-7.0-info.resp");
    let (Resp::Bulk(Some(text)), used) = redis::parse_resp(&bytes).unwrap().unwrap() else {
        panic!()
    };
    assert_eq!(used, bytes.len());
    let info = redis::parse_info(&String::from_utf8_lossy(&text));
    assert_eq!(info["redis_version"], "7.0.15");
    let health = redis::health_from_info(&info);
    assert_eq!(health.connections, Some(1));
    assert_eq!(health.max_connections, Some(10000));
    assert!(health.used_memory_bytes.is_some());
    assert_eq!(health.max_memory_bytes, None, "maxmemory 0 means no limit");
    assert_eq!(health.blocked_clients, Some(0));
    let replication = health.replication.unwrap();
    assert_eq!(replication.role, ReplicationRole::Primary);
    assert_eq!(replication.n_replicas, Some(0));
    check_prefixes(&bytes, redis::parse_resp);
}

#[test]
fn redis_replica_info() {
    let info = redis::parse_info(
        "# Replication\r\nrole:slave\r\nmaster_host:10.0.0.1\r\nmaster_link_status:down\r\nmaster_last_io_seconds_ago:-1\r\nconnected_slaves:0\r\n",
    );
    let replication = redis::health_from_info(&info).replication.unwrap();
    assert_eq!(replication.role, ReplicationRole::Replica);
    assert_eq!(replication.primary_link_up, Some(false));
    assert_eq!(replication.lag_seconds, None);
}

// ---------------------------------------------------------------- wrong protocol, garbage, silence

const ENGINES: [DatabaseEngine; 5] = [
    DatabaseEngine::Postgres,
    DatabaseEngine::Mysql,
    DatabaseEngine::Redis,
    DatabaseEngine::Mongodb,
    DatabaseEngine::Minio,
];

const HTTP_400: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n400 Bad Request";

#[tokio::test]
async fn http_server_is_unknown_for_every_engine() {
    for engine in ENGINES {
        // MySQL servers speak first, so an HTTP server is met with its own greeting-less
        // silence there; a server that greets with HTTP-looking bytes stands in.
        let fake = if engine == DatabaseEngine::Mysql {
            start_fake(Fake::Greet(HTTP_400.to_vec())).await
        } else {
            start_fake(Fake::Reply(HTTP_400.to_vec())).await
        };
        let started = Instant::now();
        let outcome = probe(engine, &fake.endpoint(), None, Duration::from_secs(3)).await;
        assert_eq!(
            outcome.engine,
            DatabaseEngine::Unknown,
            "{engine:?}: {outcome:?}"
        );
        assert!(!outcome.reachable);
        let error = outcome.error.unwrap();
        assert!(error.contains("HTTP"), "{engine:?}: {error}");
        assert!(started.elapsed() < Duration::from_secs(3), "{engine:?}");
    }
}

#[tokio::test]
async fn garbage_is_unknown_for_every_engine() {
    let garbage: Vec<u8> = (0u32..512)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for engine in ENGINES {
        let fake = if engine == DatabaseEngine::Mysql {
            start_fake(Fake::Greet(garbage.clone())).await
        } else {
            start_fake(Fake::Reply(garbage.clone())).await
        };
        let outcome = probe(engine, &fake.endpoint(), None, Duration::from_secs(3)).await;
        assert_eq!(
            outcome.engine,
            DatabaseEngine::Unknown,
            "{engine:?}: {outcome:?}"
        );
        assert!(!outcome.reachable);
        assert!(
            outcome.error.unwrap().contains("bytes starting 0x"),
            "{engine:?}"
        );
    }
}

#[tokio::test]
async fn silent_server_times_out_for_every_engine() {
    let timeout = Duration::from_millis(400);
    for engine in ENGINES.into_iter().chain([DatabaseEngine::Unknown]) {
        let fake = start_fake(Fake::Silent).await;
        let started = Instant::now();
        let outcome = probe(engine, &fake.endpoint(), None, timeout).await;
        let elapsed = started.elapsed();
        assert!(
            elapsed >= timeout && elapsed < timeout + Duration::from_millis(500),
            "{engine:?}: {elapsed:?}"
        );
        assert!(!outcome.reachable);
        assert_eq!(
            outcome.engine, engine,
            "nothing answered: the expected engine stays"
        );
        assert_eq!(
            outcome.error.as_deref(),
            Some("no complete answer within 400ms")
        );
    }
}

#[tokio::test]
async fn closed_port_is_down_at_once() {
    let port = crate::collect::databases::servers::free_port();
    for engine in ENGINES {
        let outcome = probe(
            engine,
            &crate::collect::databases::servers::loopback(port),
            None,
            Duration::from_secs(3),
        )
        .await;
        assert_eq!(outcome.engine, engine);
        assert!(!outcome.reachable);
        assert!(
            outcome.error.unwrap().starts_with("cannot connect"),
            "{engine:?}"
        );
    }
    let missing_socket = unity_shared::model::database::DatabaseEndpoint::Unix {
        path: "/nonexistent/unity/.s.PGSQL.5432".to_owned(),
    };
    let outcome = probe(
        DatabaseEngine::Postgres,
        &missing_socket,
        None,
        Duration::from_secs(1),
    )
    .await;
    assert!(outcome.error.unwrap().starts_with("cannot connect"));
}

#[tokio::test]
async fn unknown_engine_sniffs_a_mysql_greeting() {
    let fake = start_fake(Fake::Greet(mysql8_greeting())).await;
    let outcome = probe(
        DatabaseEngine::Unknown,
        &fake.endpoint(),
        None,
        Duration::from_secs(3),
    )
    .await;
    assert_eq!(outcome.engine, DatabaseEngine::Mysql);
    assert_eq!(outcome.version.as_deref(), Some("8.0.36"));
    assert_eq!(outcome.tls_offered, Some(true));
}

#[test]
fn byte_descriptions() {
    assert_eq!(describe_bytes(b""), "nothing");
    assert_eq!(
        describe_bytes(b"SSH-2.0-OpenSSH_9.2p1 Debian\r\n"),
        "with 30 bytes of text starting \"SSH-2.0-OpenSSH_\""
    );
    assert_eq!(
        describe_bytes(&[0x16, 0x03, 0x01]),
        "with 3 bytes starting 0x160301"
    );
}

// ---------------------------------------------------------------- never panic

proptest! {
    #[test]
    fn reply_parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = postgres::parse_ssl_response(&bytes);
        let _ = postgres::parse_message(&bytes, true);
        let _ = postgres::parse_message(&bytes, false);
        let _ = postgres::parse_error_fields(&bytes);
        let _ = postgres::parse_parameter_status(&bytes);
        let _ = postgres::parse_data_row(&bytes);
        let _ = mysql::parse_greeting(&bytes, DatabaseEngine::Mysql);
        let _ = mysql::parse_handshake(&bytes);
        let _ = redis::parse_resp(&bytes);
        let _ = redis::parse_info(&String::from_utf8_lossy(&bytes));
        let _ = mongodb::decode_document(&bytes);
        let _ = mongodb::parse_op_msg(&bytes, 1);
        let _ = minio::parse_response_head(&bytes);
    }

    #[test]
    fn mutated_replies_never_panic(index in 0usize..4096, byte in any::<u8>(), cut in 0usize..4096) {
        let fixtures = [
            testdata("postgres-15-trust-startup.bin"),
            testdata("mariadb-10.11-greeting.bin"),
            op_msg_reply(1, mongo_hello(true)),
            op_msg_reply(3, mongo_databases()),
            mysql8_greeting(),
            MINIO_LIVE.to_vec(),
            b"*2\r\n$3\r\nabc\r\n:5\r\n".to_vec(),
        ];
        for mut fixture in fixtures {
            if !fixture.is_empty() {
                let at = index % fixture.len();
                fixture[at] = byte;
                fixture.truncate(cut.max(1));
            }
            let _ = postgres::parse_message(&fixture, true);
            let _ = mysql::parse_greeting(&fixture, DatabaseEngine::Mariadb);
            let _ = redis::parse_resp(&fixture);
            let _ = mongodb::parse_op_msg(&fixture, 1);
            let _ = mongodb::parse_op_msg(&fixture, 3);
            let _ = minio::parse_response_head(&fixture);
            if fixture.len() > 21 {
                let _ = mongodb::decode_document(&fixture[21..]);
            }
        }
    }
}
