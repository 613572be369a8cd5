//! MongoDB and MinIO probes against protocol transcripts: no Debian package and no registry
//! available to CI provides these servers, so their replies are built byte by byte as the
//! documentation specifies them (BSON per bsonspec.org, `OP_MSG` per MongoDB's wire-protocol
//! docs, the `hello`, `buildInfo` and `listDatabases` command docs; MinIO's healthcheck docs)
//! and replayed by a fake TCP server, so the whole probe runs. See `docs/databases.md`.

#![allow(clippy::indexing_slicing)]

use std::time::Duration;

use unity_shared::model::database::{DatabaseEngine, ReplicationRole};

use super::mongodb::{self, Bson, Document};
use super::tests::check_prefixes;
use super::{minio, probe, ProbeError};
use crate::collect::databases::servers::{start_fake, Fake};

// ---------------------------------------------------------------- MongoDB (transcripts)

/// A test-only BSON writer, checked against the examples on bsonspec.org below, used to build
/// the server replies exactly as the BSON spec and MongoDB's command docs describe them.
#[derive(Default)]
struct BsonWriter(Vec<u8>);

impl BsonWriter {
    fn element(mut self, type_byte: u8, name: &str, value: &[u8]) -> BsonWriter {
        self.0.push(type_byte);
        self.0.extend_from_slice(name.as_bytes());
        self.0.push(0);
        self.0.extend_from_slice(value);
        self
    }
    fn double(self, name: &str, value: f64) -> BsonWriter {
        self.element(0x01, name, &value.to_le_bytes())
    }
    fn string(self, name: &str, value: &str) -> BsonWriter {
        let mut bytes = ((value.len() + 1) as i32).to_le_bytes().to_vec();
        bytes.extend_from_slice(value.as_bytes());
        bytes.push(0);
        self.element(0x02, name, &bytes)
    }
    fn document(self, name: &str, value: BsonWriter) -> BsonWriter {
        self.element(0x03, name, &value.finish())
    }
    fn array(self, name: &str, value: BsonWriter) -> BsonWriter {
        self.element(0x04, name, &value.finish())
    }
    fn object_id(self, name: &str) -> BsonWriter {
        self.element(
            0x07,
            name,
            &[0x65, 0x9f, 0x1a, 0x2b, 0, 0, 0, 0, 0, 0, 0, 1],
        )
    }
    fn boolean(self, name: &str, value: bool) -> BsonWriter {
        self.element(0x08, name, &[u8::from(value)])
    }
    fn datetime(self, name: &str, millis: i64) -> BsonWriter {
        self.element(0x09, name, &millis.to_le_bytes())
    }
    fn int32(self, name: &str, value: i32) -> BsonWriter {
        self.element(0x10, name, &value.to_le_bytes())
    }
    fn timestamp(self, name: &str) -> BsonWriter {
        self.element(0x11, name, &[1, 0, 0, 0, 0x2b, 0x1a, 0x9f, 0x65])
    }
    fn int64(self, name: &str, value: i64) -> BsonWriter {
        self.element(0x12, name, &value.to_le_bytes())
    }
    fn finish(self) -> Vec<u8> {
        let mut document = ((self.0.len() + 5) as i32).to_le_bytes().to_vec();
        document.extend_from_slice(&self.0);
        document.push(0);
        document
    }
}

/// An OP_MSG reply: header (length, requestID, responseTo, opCode 2013), flagBits 0, one kind-0
/// section.
pub(super) fn op_msg_reply(response_to: i32, body: Vec<u8>) -> Vec<u8> {
    let mut message = ((21 + body.len()) as i32).to_le_bytes().to_vec();
    message.extend_from_slice(&(1000 + response_to).to_le_bytes());
    message.extend_from_slice(&response_to.to_le_bytes());
    message.extend_from_slice(&2013i32.to_le_bytes());
    message.extend_from_slice(&0u32.to_le_bytes());
    message.push(0);
    message.extend_from_slice(&body);
    message
}

/// `hello` from a standalone MongoDB 7.0 (fields as in the `hello` command documentation).
pub(super) fn mongo_hello(replica_set: bool) -> Vec<u8> {
    let mut hello = BsonWriter::default()
        .boolean("isWritablePrimary", !replica_set)
        .document(
            "topologyVersion",
            BsonWriter::default()
                .object_id("processId")
                .int64("counter", 0),
        );
    if replica_set {
        hello = hello
            .array(
                "hosts",
                BsonWriter::default()
                    .string("0", "db1.lab:27017")
                    .string("1", "db2.lab:27017"),
            )
            .string("setName", "rs0")
            .int32("setVersion", 1)
            .boolean("secondary", true)
            .string("primary", "db1.lab:27017")
            .document(
                "lastWrite",
                BsonWriter::default()
                    .document(
                        "opTime",
                        BsonWriter::default().timestamp("ts").int64("t", 3),
                    )
                    .datetime("lastWriteDate", 1_704_067_200_000),
            );
    }
    hello
        .int32("maxBsonObjectSize", 16_777_216)
        .int32("maxMessageSizeBytes", 48_000_000)
        .int32("maxWriteBatchSize", 100_000)
        .datetime("localTime", 1_704_067_200_000)
        .int32("logicalSessionTimeoutMinutes", 30)
        .int32("connectionId", 12)
        .int32("minWireVersion", 0)
        .int32("maxWireVersion", 21)
        .boolean("readOnly", false)
        .double("ok", 1.0)
        .finish()
}

pub(super) fn mongo_build_info() -> Vec<u8> {
    BsonWriter::default()
        .string("version", "7.0.14")
        .string("gitVersion", "ce59cfc6a3c5e5c067dca0d30697edd68d4f5188")
        .array(
            "versionArray",
            BsonWriter::default()
                .int32("0", 7)
                .int32("1", 0)
                .int32("2", 14)
                .int32("3", 0),
        )
        .int32("bits", 64)
        .boolean("debug", false)
        .int32("maxBsonObjectSize", 16_777_216)
        .double("ok", 1.0)
        .finish()
}

pub(super) fn mongo_unauthorized() -> Vec<u8> {
    BsonWriter::default()
        .double("ok", 0.0)
        .string("errmsg", "command listDatabases requires authentication")
        .int32("code", 13)
        .string("codeName", "Unauthorized")
        .finish()
}

pub(super) fn mongo_databases() -> Vec<u8> {
    BsonWriter::default()
        .array(
            "databases",
            BsonWriter::default()
                .document(
                    "0",
                    BsonWriter::default()
                        .string("name", "admin")
                        .int64("sizeOnDisk", 40960)
                        .boolean("empty", false),
                )
                .document(
                    "1",
                    BsonWriter::default()
                        .string("name", "homelab")
                        .double("sizeOnDisk", 8_388_608.0)
                        .boolean("empty", false),
                ),
        )
        .int64("totalSize", 8_429_568)
        .int64("totalSizeMb", 8)
        .double("ok", 1.0)
        .finish()
}

#[test]
fn bson_spec_examples() {
    // bsonspec.org, "Examples": {"hello": "world"} and {"BSON": ["awesome", 5.05, 1986]}.
    let hello_world = b"\x16\x00\x00\x00\x02hello\x00\x06\x00\x00\x00world\x00\x00";
    assert_eq!(
        BsonWriter::default().string("hello", "world").finish(),
        hello_world
    );
    assert_eq!(
        mongodb::decode_document(hello_world).unwrap(),
        Document(vec![("hello".to_owned(), Bson::String("world".to_owned()))])
    );
    let awesome = b"\x31\x00\x00\x00\x04BSON\x00\x26\x00\x00\x00\x020\x00\x08\x00\x00\x00awesome\x00\x011\x00\x33\x33\x33\x33\x33\x33\x14\x40\x102\x00\xc2\x07\x00\x00\x00\x00";
    assert_eq!(
        BsonWriter::default()
            .array(
                "BSON",
                BsonWriter::default()
                    .string("0", "awesome")
                    .double("1", 5.05)
                    .int32("2", 1986)
            )
            .finish(),
        awesome
    );
    assert_eq!(
        mongodb::decode_document(awesome).unwrap().get("BSON"),
        Some(&Bson::Array(vec![
            Bson::String("awesome".to_owned()),
            Bson::Double(5.05),
            Bson::Int32(1986)
        ]))
    );
}

#[test]
pub(super) fn mongo_hello_request_bytes() {
    let document = mongodb::encode_document(&[
        ("hello", mongodb::BsonOut::Int32(1)),
        ("$db", mongodb::BsonOut::String("admin")),
    ]);
    let message = mongodb::op_msg(1, &document);
    let mut expected = vec![
        52, 0, 0, 0, // messageLength
        1, 0, 0, 0, // requestID
        0, 0, 0, 0, // responseTo
        0xdd, 0x07, 0, 0, // opCode 2013
        0, 0, 0, 0, // flagBits
        0, // section kind 0
        31, 0, 0, 0, // document length
        0x10,
    ];
    expected.extend_from_slice(b"hello\0");
    expected.extend_from_slice(&[1, 0, 0, 0, 0x02]);
    expected.extend_from_slice(b"$db\0");
    expected.extend_from_slice(&[6, 0, 0, 0]);
    expected.extend_from_slice(b"admin\0\0");
    assert_eq!(message, expected);
}

#[test]
fn mongo_reply_parsing() {
    let reply = op_msg_reply(1, mongo_hello(true));
    let (hello, used) = mongodb::parse_op_msg(&reply, 1).unwrap().unwrap();
    assert_eq!(used, reply.len());
    assert!(hello.is_ok());
    let replication = mongodb::replication_from_hello(&hello).unwrap();
    assert_eq!(replication.role, ReplicationRole::Replica);
    check_prefixes(&reply, |b| mongodb::parse_op_msg(b, 1));

    let standalone = op_msg_reply(1, mongo_hello(false));
    let (hello, _) = mongodb::parse_op_msg(&standalone, 1).unwrap().unwrap();
    assert_eq!(mongodb::replication_from_hello(&hello), None);

    let list = op_msg_reply(3, mongo_databases());
    let (list, _) = mongodb::parse_op_msg(&list, 3).unwrap().unwrap();
    let databases = mongodb::databases_from_list(&list);
    assert_eq!(databases.len(), 2);
    assert_eq!(databases[0].size_bytes, Some(40960));
    assert_eq!(databases[1].size_bytes, Some(8_388_608));

    // With a checksum (flag bit 0): the four trailing bytes are not a section.
    let mut checked = op_msg_reply(2, mongo_build_info());
    checked[16] = 1;
    checked.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    let new_length = (checked.len() as i32).to_le_bytes();
    checked[..4].copy_from_slice(&new_length);
    let (build_info, _) = mongodb::parse_op_msg(&checked, 2).unwrap().unwrap();
    assert_eq!(build_info.get_str("version"), Some("7.0.14"));

    assert!(matches!(
        mongodb::parse_op_msg(&op_msg_reply(1, mongo_hello(false)), 2),
        Err(ProbeError::Malformed { .. })
    ));
    assert!(matches!(
        mongodb::parse_op_msg(b"HTTP/1.1 400 Bad Request\r\n\r\n", 1),
        Err(ProbeError::WrongProtocol { .. })
    ));
}

#[tokio::test]
async fn mongo_probe_against_transcript_without_auth() {
    let fake = start_fake(Fake::Script(vec![
        op_msg_reply(1, mongo_hello(false)),
        op_msg_reply(2, mongo_build_info()),
        op_msg_reply(3, mongo_databases()),
    ]))
    .await;
    let outcome = probe(
        DatabaseEngine::Mongodb,
        &fake.endpoint(),
        None,
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(outcome.engine, DatabaseEngine::Mongodb, "{outcome:?}");
    assert!(outcome.reachable);
    assert_eq!(outcome.version.as_deref(), Some("7.0.14"));
    assert_eq!(outcome.auth_required, Some(false));
    assert_eq!(outcome.health.unwrap().databases.len(), 2);
    // The probe sent exactly hello, buildInfo, listDatabases.
    let requests = fake.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 3);
    assert_eq!(
        requests[0],
        mongodb::op_msg(
            1,
            &mongodb::encode_document(&[
                ("hello", mongodb::BsonOut::Int32(1)),
                ("$db", mongodb::BsonOut::String("admin")),
            ])
        )
    );
}

#[tokio::test]
async fn mongo_probe_against_transcript_with_auth() {
    let fake = start_fake(Fake::Script(vec![
        op_msg_reply(1, mongo_hello(true)),
        op_msg_reply(2, mongo_build_info()),
        op_msg_reply(3, mongo_unauthorized()),
    ]))
    .await;
    let outcome = probe(
        DatabaseEngine::Mongodb,
        &fake.endpoint(),
        None,
        Duration::from_secs(5),
    )
    .await;
    assert!(outcome.reachable, "{outcome:?}");
    assert_eq!(outcome.version.as_deref(), Some("7.0.14"));
    assert_eq!(outcome.auth_required, Some(true));
    let health = outcome.health.unwrap();
    assert_eq!(health.replication.unwrap().role, ReplicationRole::Replica);
    assert!(health.databases.is_empty());
}

// ---------------------------------------------------------------- MinIO (transcripts)

/// `GET /minio/health/live` answered by MinIO (headers as MinIO sets them on every response).
pub(super) const MINIO_LIVE: &[u8] = b"HTTP/1.1 200 OK\r\n\
Accept-Ranges: bytes\r\n\
Content-Length: 0\r\n\
Content-Security-Policy: block-all-mixed-content\r\n\
Server: MinIO\r\n\
Strict-Transport-Security: max-age=31536000; includeSubDomains\r\n\
Vary: Origin\r\n\
X-Amz-Id-2: dd9025bab4ad464b049177c95eb6ebf374d3b3fd1af9251148b658df7ac2e3e8\r\n\
X-Amz-Request-Id: 17A6A2B4F1C2D3E4\r\n\
X-Content-Type-Options: nosniff\r\n\
X-Xss-Protection: 1; mode=block\r\n\
Date: Mon, 01 Jan 2024 00:00:00 GMT\r\n\r\n";

/// `GET /minio/health/cluster` with write quorum (MinIO healthcheck docs: 200 and
/// `X-Minio-Write-Quorum`).
const MINIO_CLUSTER_OK: &[u8] = b"HTTP/1.1 200 OK\r\n\
Content-Length: 0\r\n\
Server: MinIO\r\n\
X-Minio-Write-Quorum: 3\r\n\
Date: Mon, 01 Jan 2024 00:00:00 GMT\r\n\r\n";

/// Without write quorum: 503.
const MINIO_CLUSTER_DOWN: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
Content-Length: 0\r\n\
Server: MinIO\r\n\
X-Minio-Write-Quorum: 3\r\n\
Date: Mon, 01 Jan 2024 00:00:00 GMT\r\n\r\n";

#[test]
fn http_heads() {
    let (head, used) = minio::parse_response_head(MINIO_LIVE).unwrap().unwrap();
    assert_eq!(used, MINIO_LIVE.len());
    assert_eq!(head.status, 200);
    assert!(head.is_minio());
    assert_eq!(head.header("x-content-type-options"), Some("nosniff"));
    check_prefixes(MINIO_LIVE, minio::parse_response_head);
    let (head, _) = minio::parse_response_head(MINIO_CLUSTER_DOWN)
        .unwrap()
        .unwrap();
    assert_eq!(head.status, 503);
    let (nginx, _) =
        minio::parse_response_head(b"HTTP/1.1 404 Not Found\r\nServer: nginx/1.22.1\r\n\r\n<html>")
            .unwrap()
            .unwrap();
    assert!(!nginx.is_minio());
    assert!(matches!(
        minio::parse_response_head(b"+PONG\r\n"),
        Err(ProbeError::WrongProtocol { .. })
    ));
    assert!(matches!(
        minio::parse_response_head(b"HTTP/1.1 abc\r\n\r\n"),
        Err(ProbeError::Malformed { .. })
    ));
    assert_eq!(
        minio::request("/minio/health/live", "127.0.0.1:9000"),
        b"GET /minio/health/live HTTP/1.1\r\nHost: 127.0.0.1:9000\r\nUser-Agent: unity-agent\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    );
}

#[tokio::test]
async fn minio_probe_against_transcripts() {
    for (cluster, healthy) in [(MINIO_CLUSTER_OK, true), (MINIO_CLUSTER_DOWN, false)] {
        let fake = start_fake(Fake::Http(vec![
            ("/minio/health/live".to_owned(), MINIO_LIVE.to_vec()),
            ("/minio/health/cluster".to_owned(), cluster.to_vec()),
        ]))
        .await;
        let outcome = probe(
            DatabaseEngine::Minio,
            &fake.endpoint(),
            None,
            Duration::from_secs(5),
        )
        .await;
        assert_eq!(outcome.engine, DatabaseEngine::Minio, "{outcome:?}");
        assert!(outcome.reachable);
        assert_eq!(outcome.error, None);
        assert_eq!(outcome.version, None);
        assert_eq!(outcome.health.unwrap().cluster_healthy, Some(healthy));
    }
}

#[tokio::test]
async fn minio_port_with_another_http_server_is_unknown() {
    let fake = start_fake(Fake::Reply(
        b"HTTP/1.1 404 Not Found\r\nServer: nginx/1.22.1\r\nContent-Length: 0\r\n\r\n".to_vec(),
    ))
    .await;
    let outcome = probe(
        DatabaseEngine::Minio,
        &fake.endpoint(),
        None,
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(outcome.engine, DatabaseEngine::Unknown);
    assert!(!outcome.reachable);
    assert!(outcome.error.unwrap().contains("nginx"));
}
