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
    // Written back under layout 3 (JSON, issue 17): the same record.
    assert_eq!(stored.get(..2), Some(&[0xFF_u8, 3][..]));
    assert_eq!(operations.get(id).unwrap().unwrap(), record);
}

/// A finished update that was rolled back, with its result, log and typed backup, as the
/// controller of protocol 8 wrote it (layout 2, before issue 17 appended fields to the update
/// request, the result and the backup).
const FINISHED_UPDATE_LAYOUT_2: &str = include_str!("operations/testdata/layout2-update.hex");

#[test]
fn issue_17_a_finished_update_stored_by_protocol_8_still_reads() {
    use unity_shared::model::update::{ContainerCommand, Outcome};
    let bytes = hex::decode(FINISHED_UPDATE_LAYOUT_2.trim()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = crate::storage::open_test_db(dir.path());
    let id = "0000000000001-00000003";
    db.open_tree("operations")
        .unwrap()
        .insert(id, bytes)
        .unwrap();
    let operations = Operations::open(&db).unwrap();
    let record = operations.get(id).unwrap().unwrap();
    let ContainerCommand::Update(request) = &record.command else {
        panic!("{record:?}")
    };
    assert_eq!(request.image, "nginx:1.28@sha256:bb");
    assert_eq!(request.volume_archive_limit_bytes, Some(1 << 30));
    assert_eq!(request.vulnerability_gate, None);
    let result = record.result.clone().unwrap();
    assert_eq!(result.outcome, Outcome::RolledBack);
    assert_eq!(result.log[0].message, "unhealthy");
    assert_eq!((result.evidence, result.data_restored), (None, None));
    let backup = result.backup_taken.unwrap();
    assert_eq!(backup.volume_archives, ["web-data.tar"]);
    assert_eq!(backup.inspect_json, r#"{"Id":"c1"}"#);
    assert_eq!((backup.dump, backup.excluded_env.len()), (None, 0));
    assert_eq!(record.attempts, 1);
    // Rewritten as layout 3, it reads back the same.
    operations.put(&record).unwrap();
    assert_eq!(operations.get(id).unwrap().unwrap(), record);
}

/// Layout 3 is JSON so that a field appended to a wire type later (with `#[serde(default)]`)
/// reads from the records written before it: here a record without the fields issue 17
/// appended.
#[test]
fn issue_17_layout_3_reads_records_written_before_a_field_was_appended() {
    let bytes = hex::decode(FINISHED_UPDATE_LAYOUT_2.trim()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = crate::storage::open_test_db(dir.path());
    let id = "0000000000001-00000003";
    let tree = db.open_tree("operations").unwrap();
    tree.insert(id, bytes).unwrap();
    let operations = Operations::open(&db).unwrap();
    let record = operations.get(id).unwrap().unwrap();
    operations.put(&record).unwrap();
    let stored = tree.get(id).unwrap().unwrap();
    let mut json: serde_json::Value = serde_json::from_slice(&stored[2..]).unwrap();
    let result = &mut json["result"];
    for appended in ["evidence", "data_restored"] {
        assert!(result.as_object_mut().unwrap().remove(appended).is_some());
    }
    for appended in ["dump", "excluded_env"] {
        let backup = result["backup_taken"].as_object_mut().unwrap();
        assert!(backup.remove(appended).is_some());
    }
    let mut older = vec![0xFF, 3];
    older.extend(serde_json::to_vec(&json).unwrap());
    tree.insert(id, older).unwrap();
    assert_eq!(operations.get(id).unwrap().unwrap(), record);
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
