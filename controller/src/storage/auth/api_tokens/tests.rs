//! API token records: both layouts decode, old ones are upgraded once with their user's role,
//! and the current layout is pinned by golden bytes.

use super::super::{Auth, Role, UserRecord};
use super::*;
use crate::storage::access::Right;

/// `ApiTokenRecord { token_id: "0a1b2c3d4e5f", owner: "ada", name: "grafana",
/// created_at_ms: 1_700_000_000_000 }` as written by the code before issue 13 (layout 1).
const LAYOUT_1: &[u8] = &[
    12, 48, 97, 49, 98, 50, 99, 51, 100, 52, 101, 53, 102, 3, 97, 100, 97, 7, 103, 114, 97, 102,
    97, 110, 97, 128, 160, 171, 254, 249, 98,
];

fn open(dir: &std::path::Path) -> (sled::Db, Auth) {
    let db = crate::storage::open_test_db(dir);
    let auth = Auth::open(&db).unwrap();
    (db, auth)
}

fn add_user(auth: &Auth, name: &str, role: Role) {
    let group = match role {
        Role::Admin => "admins",
        Role::Viewer => "viewers",
    };
    let user = UserRecord {
        name: name.into(),
        legacy_role: Role::Viewer,
        password_hash: "x".into(),
        created_at_ms: 1,
        groups: vec![group.into()],
        oidc: None,
    };
    assert!(auth.create_user(&user).unwrap());
}

/// Layout-1 bytes for a token of `owner`, built from the golden ones.
fn layout_1_of(owner: &str) -> Vec<u8> {
    let mut bytes = LAYOUT_1[..13].to_vec();
    bytes.push(owner.len() as u8);
    bytes.extend_from_slice(owner.as_bytes());
    bytes.extend_from_slice(&LAYOUT_1[17..]);
    bytes
}

/// The layout-2 tail (scope admin, an expiry, never used) as issue 13's code wrote it.
const LAYOUT_2_TAIL: &[u8] = &[1, 1, 128, 192, 161, 166, 141, 99, 0];

fn grafana(host_group: Option<&str>) -> ApiTokenRecord {
    ApiTokenRecord {
        token_id: "0a1b2c3d4e5f".into(),
        owner: "ada".into(),
        name: "grafana".into(),
        created_at_ms: 1_700_000_000_000,
        scope: TokenScope::Admin,
        expires_at_ms: Some(1_702_592_000_000),
        last_used_ms: None,
        host_group: host_group.map(str::to_owned),
    }
}

#[test]
fn issue_21_layout_3_is_pinned_by_golden_bytes() {
    let record = grafana(Some("media"));
    let mut expected = [LAYOUT_1, LAYOUT_2_TAIL].concat();
    expected.extend_from_slice(&[1, 5, 109, 101, 100, 105, 97]);
    assert_eq!(postcard::to_allocvec(&record).unwrap(), expected);
    assert!(matches!(decode_stored(&expected), Ok(Stored::Current(decoded)) if decoded == record));
    // The appended scope word keeps the earlier ones' positions.
    assert_eq!(postcard::to_allocvec(&TokenScope::Operate).unwrap(), [2]);
    assert_eq!(TokenScope::Operate.right(), Right::Operate);
}

#[test]
fn issue_21_layout_2_bytes_decode_with_every_host_of_their_user() {
    let dir = tempfile::tempdir().unwrap();
    let layout_2 = [LAYOUT_1, LAYOUT_2_TAIL].concat();
    {
        let (db, _auth) = open(dir.path());
        let tree = db.open_tree("auth_api_tokens").unwrap();
        tree.insert([1; 32], layout_2.clone()).unwrap();
        db.flush().unwrap();
    }
    assert!(matches!(decode_stored(&layout_2), Ok(Stored::V2(_))));
    let (db, auth) = open(dir.path());
    let bytes = db
        .open_tree("auth_api_tokens")
        .unwrap()
        .get([1; 32])
        .unwrap()
        .unwrap();
    let rewritten: ApiTokenRecord = exact(&bytes).expect("rewritten in layout 3");
    assert_eq!(rewritten, grafana(None));
    assert_eq!(auth.api_token([1; 32]).unwrap(), Some(grafana(None)));
}

#[test]
fn issue_13_layout_1_bytes_decode_with_their_users_role() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, auth) = open(dir.path());
    add_user(&auth, "ada", Role::Admin);
    assert!(matches!(decode_stored(LAYOUT_1), Ok(Stored::V1(_))));
    let record = auth.decode_api_token(LAYOUT_1).unwrap();
    assert_eq!(
        record,
        ApiTokenRecord {
            token_id: "0a1b2c3d4e5f".into(),
            owner: "ada".into(),
            name: "grafana".into(),
            created_at_ms: 1_700_000_000_000,
            scope: TokenScope::Admin,
            expires_at_ms: None,
            last_used_ms: None,
            host_group: None,
        }
    );
    for garbage in [&LAYOUT_1[..20], &[LAYOUT_1, &[7]].concat()[..], &[][..]] {
        assert!(auth.decode_api_token(garbage).is_err(), "{garbage:?}");
    }
}

#[test]
fn issue_13_opening_upgrades_old_tokens_once_keeping_their_rights() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (db, auth) = open(dir.path());
        add_user(&auth, "ada", Role::Admin);
        add_user(&auth, "vic", Role::Viewer);
        // What an older controller left behind: raw layout-1 records, and one corrupt record.
        let tree = db.open_tree("auth_api_tokens").unwrap();
        tree.insert([1; 32], layout_1_of("ada")).unwrap();
        tree.insert([2; 32], layout_1_of("vic")).unwrap();
        tree.insert([3; 32], &b"\xff\xff"[..]).unwrap();
        db.flush().unwrap();
    }
    let (db, auth) = open(dir.path());
    let tree = db.open_tree("auth_api_tokens").unwrap();
    for (key, owner, scope) in [
        ([1; 32], "ada", TokenScope::Admin),
        ([2; 32], "vic", TokenScope::Read),
    ] {
        let bytes = tree.get(key).unwrap().unwrap();
        let rewritten: ApiTokenRecord = exact(&bytes).expect("rewritten in layout 3");
        assert_eq!((rewritten.owner.as_str(), rewritten.scope), (owner, scope));
        assert_eq!(rewritten.expires_at_ms, None);
        assert_eq!(auth.api_token(key).unwrap(), Some(rewritten));
    }
    assert_eq!(
        tree.get([3; 32]).unwrap().as_deref(),
        Some(&b"\xff\xff"[..]),
        "a corrupt record is left alone and does not stop the store from opening"
    );
    assert!(auth.api_token([3; 32]).is_err());
    assert_eq!(auth.upgrade_api_tokens().unwrap(), 0, "once");
}

#[test]
fn touching_records_the_last_use_and_never_revives_a_revoked_token() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, auth) = open(dir.path());
    let record = ApiTokenRecord {
        token_id: "t".into(),
        owner: "ada".into(),
        name: "n".into(),
        created_at_ms: 1,
        scope: TokenScope::Read,
        expires_at_ms: Some(100),
        last_used_ms: None,
        host_group: None,
    };
    auth.put_api_token([1; 32], &record).unwrap();
    auth.touch_api_token([1; 32], 42).unwrap();
    let touched = auth.api_token([1; 32]).unwrap().unwrap();
    assert_eq!(touched.last_used_ms, Some(42));
    assert!(!touched.is_expired(99) && touched.is_expired(100));
    assert_eq!(auth.delete_api_token("t").unwrap(), Some(touched));
    auth.touch_api_token([1; 32], 43).unwrap();
    assert_eq!(auth.api_token([1; 32]).unwrap(), None);
}

#[test]
fn scope_words_round_trip() {
    assert_eq!(TokenScope::Read.right(), Right::View);
    assert_eq!(TokenScope::Admin.right(), Right::Administer);
    for scope in [TokenScope::Read, TokenScope::Operate, TokenScope::Admin] {
        assert_eq!(TokenScope::parse(scope.as_str()), Some(scope));
    }
    assert_eq!(TokenScope::parse("viewer"), None);
}
