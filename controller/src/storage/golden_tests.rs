//! Records written while ids and words were `String`s still decode now that they are
//! `AgentId`s and enums (`words.rs`), and encode to the very same bytes. The bytes below were
//! written by the controller before the change (positional postcard; operations with their
//! layout tag).

use super::alerts::{AlertRecord, Severity};
use super::containers::{CheckOutcome, PolicyScope, UpdateCheckRecord, UpdateKind, UpdateMode};
use super::operations::{OperationKind, OperationState, Operations};
use unity_shared::proto::AgentId;

/// A queued `restart` of `web` on `nas-1` (layout 2, `action` and `agent_id` as strings).
const OPERATION: &str = "ff0216303030303030303030303030312d3030303030303032056e61732d3103776562\
    07726573746172740216303030303030303030303030312d303030303030303203776562036164\
    61d00fa01f010a6e67696e783a312e3237000000000000000000";
/// A `minor` update offered under mode `auto` (`agent_id`, `kind` and `mode` as strings).
const UPDATE_CHECK: &str = "056e61732d31037765620a6e67696e783a312e3237904e01056d696e6f720104\
    312e323701097368613235363a616104312e3238097368613235363a626201c03ea846046175746f0100";
/// An open critical alert (`agent_id` as a string).
const ALERT: &str =
    "12686f73742f6e61732d312f6f66666c696e65056e61732d31010c486f7374206f66666c696e65010161020400";
/// A container's policy-override scope (`agent_id` as a string).
const POLICY_SCOPE: &str = "01056e61732d3103776562";

fn nas() -> AgentId {
    AgentId::new("nas-1").unwrap()
}

#[test]
fn an_operation_stored_with_string_words_decodes_and_encodes_the_same() {
    let bytes = hex::decode(OPERATION).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = crate::storage::open_test_db(dir.path());
    let id = "0000000000001-00000002";
    db.open_tree("operations")
        .unwrap()
        .insert(id, bytes.clone())
        .unwrap();
    let operations = Operations::open(&db).unwrap();
    let record = operations.get(id).unwrap().unwrap();
    assert_eq!(
        (&record.agent_id, record.action, record.state),
        (&nas(), OperationKind::Restart, OperationState::Queued)
    );
    operations.put(&record).unwrap();
    let stored = db
        .open_tree("operations")
        .unwrap()
        .get(id)
        .unwrap()
        .unwrap();
    // Written back under layout 3 (issue 17); without a result the rest is the same bytes.
    assert_eq!(stored.get(..2), Some(&[0xFF_u8, 3][..]));
    assert_eq!(stored.get(2..), bytes.get(2..));
}

#[test]
fn an_update_check_stored_with_string_words_decodes_and_encodes_the_same() {
    let bytes = hex::decode(UPDATE_CHECK).unwrap();
    let record: UpdateCheckRecord = postcard::from_bytes(&bytes).unwrap();
    let CheckOutcome::Update(update) = &record.outcome else {
        panic!("{record:?}")
    };
    assert_eq!(
        (&record.agent_id, update.kind, update.mode),
        (&nas(), UpdateKind::Minor, UpdateMode::Auto)
    );
    assert_eq!(postcard::to_allocvec(&record).unwrap(), bytes);
}

#[test]
fn an_alert_and_a_policy_scope_stored_with_string_ids_decode_and_encode_the_same() {
    let bytes = hex::decode(ALERT).unwrap();
    let alert: AlertRecord = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(
        (&alert.agent_id, alert.severity),
        (&nas(), Severity::Critical)
    );
    assert_eq!(postcard::to_allocvec(&alert).unwrap(), bytes);
    let bytes = hex::decode(POLICY_SCOPE).unwrap();
    let scope: PolicyScope = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(
        scope,
        PolicyScope::Container {
            agent_id: nas(),
            container: "web".into()
        }
    );
    assert_eq!(postcard::to_allocvec(&scope).unwrap(), bytes);
}

#[test]
fn an_unknown_word_is_a_corrupt_record_not_text() {
    let mut bytes = hex::decode(UPDATE_CHECK).unwrap();
    // "minor" -> "mayor": same length, a word no `UpdateKind` has.
    let at = bytes.windows(5).position(|w| w == b"minor").unwrap();
    bytes[at + 1] = b'a';
    bytes[at + 2] = b'y';
    assert!(postcard::from_bytes::<UpdateCheckRecord>(&bytes).is_err());
    assert_eq!(UpdateKind::parse("major"), Some(UpdateKind::Major));
    assert_eq!(
        serde_json::to_string(&OperationKind::Rollback).unwrap(),
        "\"rollback\""
    );
}
