//! Login tests without a server: the MySQL `mysql_native_password` scramble (checked the way
//! the server checks it), the login and query packets, text result sets built as the MySQL
//! client/server protocol documents them, SCRAM-SHA-256 against the RFC 7677 example, base64,
//! and proptest no-panic on every parser.

#![allow(clippy::indexing_slicing)]

use proptest::prelude::*;
use sha1::{Digest, Sha1};
use unity_shared::model::database::ReplicationRole;

use super::mysql_login::{
    self, com_query, handshake_response, health_from_results, lenenc_int, native_password_scramble,
    parse_auth_reply, parse_query_response, AuthReply, QueryResult,
};
use super::postgres;
use super::scram::{self, base64_decode, base64_encode, ScramClient, ScramError};
use super::tests::check_prefixes;

// ---------------------------------------------------------------- MySQL

/// The server keeps `SHA1(SHA1(password))` and accepts a scramble when
/// `SHA1(scramble XOR SHA1(salt + stored)) == stored`.
#[test]
fn native_scramble_is_what_the_server_checks() {
    let salt = b"abcdefghijklmnopqrst";
    let password = b"s3cret-pass";
    let scramble = native_password_scramble(password, salt);
    assert_eq!(scramble.len(), 20);
    let stored = Sha1::digest(Sha1::digest(password));
    let mut hasher = Sha1::new();
    hasher.update(salt);
    hasher.update(stored);
    let mask = hasher.finalize();
    let stage1: Vec<u8> = scramble
        .iter()
        .zip(mask.iter())
        .map(|(a, b)| a ^ b)
        .collect();
    assert_eq!(Sha1::digest(&stage1).as_slice(), stored.as_slice());
    assert_ne!(native_password_scramble(b"other", salt), scramble);
    assert!(native_password_scramble(b"", salt).is_empty());
}

#[test]
fn handshake_response_layout() {
    let packet = handshake_response("unity", &[7; 20], Some("mysql"));
    let payload = &packet[4..];
    assert_eq!(packet[3], 1, "sequence id 1");
    assert_eq!(
        usize::from(packet[0]) | usize::from(packet[1]) << 8,
        payload.len()
    );
    let capabilities = u32::from_le_bytes(payload[..4].try_into().unwrap());
    assert_ne!(capabilities & 0x0200, 0, "CLIENT_PROTOCOL_41");
    assert_ne!(capabilities & 0x8000, 0, "CLIENT_SECURE_CONNECTION");
    assert_ne!(capabilities & 0x0008_0000, 0, "CLIENT_PLUGIN_AUTH");
    assert_ne!(capabilities & 0x0008, 0, "CLIENT_CONNECT_WITH_DB");
    assert_eq!(capabilities & 0x0800, 0, "no CLIENT_SSL");
    assert_eq!(&payload[9..32], &[0; 23]);
    let rest = &payload[32..];
    assert_eq!(&rest[..6], b"unity\0");
    assert_eq!(rest[6], 20);
    assert_eq!(&rest[7..27], &[7; 20]);
    assert_eq!(&rest[27..], b"mysql\0mysql_native_password\0");
    assert_eq!(com_query("SELECT 1"), b"\x09\0\0\0\x03SELECT 1");
}

#[test]
fn auth_replies() {
    assert_eq!(
        parse_auth_reply(&[0, 0, 0, 2, 0, 0, 0]).unwrap(),
        AuthReply::Ok
    );
    let mut err = vec![0xff];
    err.extend_from_slice(&1045u16.to_le_bytes());
    err.extend_from_slice(
        b"#28000Access denied for user 'unity'@'localhost' (using password: YES)",
    );
    assert_eq!(
        parse_auth_reply(&err).unwrap(),
        AuthReply::Err {
            code: 1045,
            message: "Access denied for user 'unity'@'localhost' (using password: YES)".to_owned()
        }
    );
    let mut switch = vec![0xfe];
    switch.extend_from_slice(b"mysql_native_password\0");
    switch.extend_from_slice(b"ABCDEFGHIJKLMNOPQRST\0");
    assert_eq!(
        parse_auth_reply(&switch).unwrap(),
        AuthReply::Switch {
            plugin: "mysql_native_password".to_owned(),
            data: b"ABCDEFGHIJKLMNOPQRST".to_vec()
        }
    );
    assert_eq!(
        parse_auth_reply(&[1, 3]).unwrap(),
        AuthReply::MoreData(vec![3])
    );
    assert!(parse_auth_reply(b"").is_err());
    assert!(parse_auth_reply(b"\x42").is_err());
}

#[test]
fn length_encoded_integers() {
    assert_eq!(lenenc_int(&[0xfa]), Some((Some(250), 1)));
    assert_eq!(lenenc_int(&[0xfb]), Some((None, 1)));
    assert_eq!(lenenc_int(&[0xfc, 0x34, 0x12]), Some((Some(0x1234), 3)));
    assert_eq!(lenenc_int(&[0xfd, 1, 2, 3]), Some((Some(0x030201), 4)));
    assert_eq!(
        lenenc_int(&[0xfe, 1, 0, 0, 0, 0, 0, 0, 1]),
        Some((Some(0x0100_0000_0000_0001), 9))
    );
    assert_eq!(lenenc_int(&[0xfc, 0x34]), None);
    assert_eq!(lenenc_int(&[0xff]), None);
}

fn lenenc(text: &[u8]) -> Vec<u8> {
    let mut bytes = vec![text.len() as u8];
    bytes.extend_from_slice(text);
    bytes
}

/// A text result set as `Protocol::ColumnDefinition41` and `ResultsetRow` specify it, with
/// EOF packets (no `CLIENT_DEPRECATE_EOF`).
fn result_set(columns: &[&str], rows: &[Vec<Option<&str>>]) -> Vec<u8> {
    let mut sequence = 1u8;
    let mut bytes = mysql_login::packet(sequence, &[columns.len() as u8]);
    for column in columns {
        sequence += 1;
        let mut definition = Vec::new();
        for part in [
            &b"def"[..],
            b"",
            b"",
            b"",
            column.as_bytes(),
            column.as_bytes(),
        ] {
            definition.extend_from_slice(&lenenc(part));
        }
        definition.extend_from_slice(&[0x0c, 0x21, 0, 0, 1, 0, 0xfd, 0, 0, 0, 0, 0]);
        bytes.extend_from_slice(&mysql_login::packet(sequence, &definition));
    }
    sequence += 1;
    bytes.extend_from_slice(&mysql_login::packet(sequence, &[0xfe, 0, 0, 2, 0]));
    for row in rows {
        sequence += 1;
        let mut payload = Vec::new();
        for value in row {
            match value {
                Some(value) => payload.extend_from_slice(&lenenc(value.as_bytes())),
                None => payload.push(0xfb),
            }
        }
        bytes.extend_from_slice(&mysql_login::packet(sequence, &payload));
    }
    sequence += 1;
    bytes.extend_from_slice(&mysql_login::packet(sequence, &[0xfe, 0, 0, 2, 0]));
    bytes
}

fn parsed(bytes: &[u8]) -> QueryResult {
    let (result, used) = parse_query_response(bytes).unwrap().unwrap();
    assert_eq!(used, bytes.len());
    check_prefixes(bytes, parse_query_response);
    result
}

#[test]
fn text_result_sets_become_health() {
    let status = parsed(&result_set(
        &["Variable_name", "Value"],
        &[
            vec![Some("Slaves_connected"), Some("2")],
            vec![Some("Slow_queries"), Some("3")],
            vec![Some("Threads_connected"), Some("4")],
            vec![Some("Uptime"), Some("1234")],
        ],
    ));
    let variables = parsed(&result_set(
        &["Variable_name", "Value"],
        &[vec![Some("max_connections"), Some("151")]],
    ));
    let sizes = parsed(&result_set(
        &["table_schema", "SUM(data_length + index_length)"],
        &[
            vec![Some("information_schema"), None],
            vec![Some("mysql"), Some("2375680")],
        ],
    ));
    let primary = parsed(&result_set(
        &["Slave_IO_State", "Seconds_Behind_Master"],
        &[],
    ));
    let health = health_from_results(
        Some(&status),
        Some(&variables),
        Some(&sizes),
        Some(&primary),
    );
    assert_eq!(health.connections, Some(4));
    assert_eq!(health.max_connections, Some(151));
    assert_eq!(health.uptime_seconds, Some(1234));
    assert_eq!(health.slow_queries, Some(3));
    assert_eq!(health.databases.len(), 2);
    assert_eq!(health.databases[0].size_bytes, None);
    assert_eq!(health.databases[1].name, "mysql");
    assert_eq!(health.databases[1].size_bytes, Some(2_375_680));
    let replication = health.replication.unwrap();
    assert_eq!(replication.role, ReplicationRole::Primary);
    assert_eq!(replication.n_replicas, Some(2));

    let replica = parsed(&result_set(
        &[
            "Slave_IO_State",
            "Slave_IO_Running",
            "Seconds_Behind_Master",
        ],
        &[vec![Some("Waiting for master"), Some("Yes"), Some("7")]],
    ));
    let health = health_from_results(None, None, None, Some(&replica));
    let replication = health.replication.unwrap();
    assert_eq!(replication.role, ReplicationRole::Replica);
    assert_eq!(replication.lag_seconds, Some(7.0));
    assert_eq!(replication.primary_link_up, Some(true));
    assert_eq!(health.connections, None);
}

#[test]
fn query_errors_and_ok() {
    let mut err = vec![0xff];
    err.extend_from_slice(&1227u16.to_le_bytes());
    err.extend_from_slice(b"#42000Access denied; you need (at least one of) the SUPER privilege");
    let bytes = mysql_login::packet(1, &err);
    assert_eq!(
        parsed(&bytes),
        QueryResult::Err {
            code: 1227,
            message: "Access denied; you need (at least one of) the SUPER privilege".to_owned()
        }
    );
    let ok = mysql_login::packet(1, &[0, 0, 0, 2, 0, 0, 0]);
    assert_eq!(
        parsed(&ok),
        QueryResult::Rows {
            columns: Vec::new(),
            rows: Vec::new()
        }
    );
    // A column count of zero or an EOF where a column definition ends are malformed.
    assert!(parse_query_response(&result_set(&["a"], &[])[..9])
        .unwrap()
        .is_none());
    assert!(parse_query_response(&mysql_login::packet(1, &[0xfc])).is_err());
}

// ---------------------------------------------------------------- SCRAM-SHA-256

/// RFC 7677 section 3: user `user`, password `pencil`.
#[test]
fn scram_sha_256_rfc_7677_example() {
    let client = ScramClient::new("user", "rOprNGfwEbeRWgbNEkqO");
    assert_eq!(client.client_first(), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
    let server_first = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                        s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    let answer = client.client_final(b"pencil", server_first).unwrap();
    assert_eq!(
        answer.message,
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
         p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
    );
    answer
        .verify("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
        .unwrap();
    assert_eq!(
        answer.verify("v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="),
        Err(ScramError::ServerSignature)
    );
    assert_eq!(
        answer.verify("e=invalid-proof"),
        Err(ScramError::Rejected("invalid-proof".to_owned()))
    );
    // A server nonce that does not extend ours, or absurd iteration counts, are refused.
    assert_eq!(
        client
            .client_final(b"pencil", "r=other,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
            .err(),
        Some(ScramError::Nonce)
    );
    assert_eq!(
        client
            .client_final(b"pencil", "r=rOprNGfwEbeRWgbNEkqOx,s=AA==,i=4294967295")
            .err(),
        Some(ScramError::Iterations(u32::MAX))
    );
    assert_eq!(
        ScramClient::new("a=b,c", "n").client_first(),
        "n,,n=a=3Db=2Cc,r=n"
    );
}

#[test]
fn sasl_messages() {
    let mut body = 10u32.to_be_bytes().to_vec();
    body.extend_from_slice(b"SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0");
    assert_eq!(
        postgres::parse_sasl_mechanisms(&body[4..]),
        ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"]
    );
    let initial = postgres::sasl_initial_response("n,,n=,r=abc");
    assert_eq!(
        initial,
        b"p\0\0\0\x21SCRAM-SHA-256\0\0\0\0\x0bn,,n=,r=abc".to_vec()
    );
    assert_eq!(
        postgres::sasl_response("c=biws"),
        b"p\0\0\0\x0ac=biws".to_vec()
    );
    let nonce = scram::new_nonce();
    assert_eq!(nonce.len(), 24);
    assert!(!nonce.contains(','));
}

#[test]
fn base64_examples() {
    for (plain, encoded) in [
        (&b""[..], ""),
        (b"f", "Zg=="),
        (b"fo", "Zm8="),
        (b"foo", "Zm9v"),
        (b"foob", "Zm9vYg=="),
        (b"fooba", "Zm9vYmE="),
        (b"foobar", "Zm9vYmFy"),
    ] {
        assert_eq!(base64_encode(plain), encoded);
        assert_eq!(base64_decode(encoded).as_deref(), Some(plain));
    }
    assert_eq!(base64_decode("Zm9v!"), None);
    assert_eq!(base64_decode("Z"), None);
    assert_eq!(base64_decode("Zg==="), None);
}

proptest! {
    #[test]
    fn base64_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
        prop_assert_eq!(base64_decode(&base64_encode(&bytes)), Some(bytes));
    }

    #[test]
    fn login_parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = mysql_login::split_packet(&bytes);
        let _ = mysql_login::parse_auth_reply(&bytes);
        let _ = mysql_login::parse_err(&bytes);
        let _ = mysql_login::lenenc_int(&bytes);
        let _ = parse_query_response(&bytes);
        let _ = postgres::parse_sasl_mechanisms(&bytes);
        let text = String::from_utf8_lossy(&bytes);
        let _ = base64_decode(&text);
        let client = ScramClient::new("", "abc");
        let _ = client.client_final(b"pw", &text);
        let _ = client.client_final(b"pw", &format!("r=abcd,s=AA==,i=1,{text}"));
    }

    #[test]
    fn mutated_result_sets_never_panic(index in 0usize..4096, byte in any::<u8>(), cut in 0usize..4096) {
        let mut bytes = result_set(
            &["Variable_name", "Value"],
            &[vec![Some("Uptime"), Some("12")], vec![Some("x"), None]],
        );
        let at = index % bytes.len();
        bytes[at] = byte;
        bytes.truncate(cut.max(1));
        let _ = parse_query_response(&bytes);
    }
}
