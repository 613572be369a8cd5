//! User records: layout-1 bytes (written before groups) decode and are upgraded once into the
//! group of their role, and layout 2 is pinned by golden bytes.

use super::super::Auth;
use super::*;

/// `UserRecord { name: "ada", role: Admin, password_hash: "x", created_at_ms:
/// 1_700_000_000_000 }` as the code before issue 21 wrote it (layout 1).
const ADMIN_LAYOUT_1: &[u8] = &[3, 97, 100, 97, 0, 1, 120, 128, 160, 171, 254, 249, 98];
/// The same for `vic`, a viewer.
const VIEWER_LAYOUT_1: &[u8] = &[3, 118, 105, 99, 1, 1, 120, 128, 160, 171, 254, 249, 98];

#[test]
fn issue_21_layout_2_is_pinned_by_golden_bytes() {
    let record = UserRecord {
        name: "ada".into(),
        legacy_role: Role::Admin,
        password_hash: "x".into(),
        created_at_ms: 1_700_000_000_000,
        groups: vec!["admins".into()],
        oidc: Some(OidcLink {
            issuer: "i".into(),
            subject: "s".into(),
        }),
    };
    let mut expected = ADMIN_LAYOUT_1.to_vec();
    expected.extend_from_slice(&[1, 6, 97, 100, 109, 105, 110, 115, 1, 1, 105, 1, 115]);
    assert_eq!(postcard::to_allocvec(&record).unwrap(), expected);
    assert_eq!(decode_user(&expected).unwrap(), record);
}

#[test]
fn issue_21_layout_1_users_decode_into_the_group_of_their_role() {
    let ada = decode_user(ADMIN_LAYOUT_1).unwrap();
    assert_eq!(
        (ada.name.as_str(), ada.groups.as_slice()),
        ("ada", &["admins".to_owned()][..])
    );
    assert_eq!(ada.password_hash, "x");
    let vic = decode_user(VIEWER_LAYOUT_1).unwrap();
    assert_eq!(vic.groups, vec!["viewers".to_owned()]);
    for garbage in [
        &ADMIN_LAYOUT_1[..5],
        &[ADMIN_LAYOUT_1, &[9]].concat()[..],
        &[][..],
    ] {
        assert!(decode_user(garbage).is_err(), "{garbage:?}");
    }
}

#[test]
fn issue_21_opening_upgrades_old_users_once_keeping_their_rights() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = crate::storage::open_test_db(dir.path());
        let tree = db.open_tree("auth_users").unwrap();
        tree.insert("ada", ADMIN_LAYOUT_1).unwrap();
        tree.insert("vic", VIEWER_LAYOUT_1).unwrap();
        tree.insert("bad", &b"\xff"[..]).unwrap();
        db.flush().unwrap();
    }
    let db = crate::storage::open_test_db(dir.path());
    let auth = Auth::open(&db).unwrap();
    let tree = db.open_tree("auth_users").unwrap();
    for (name, group) in [("ada", "admins"), ("vic", "viewers")] {
        let bytes = tree.get(name).unwrap().unwrap();
        let rewritten: UserRecord = decode_exact(&bytes).expect("rewritten in layout 2");
        assert_eq!(rewritten.groups, vec![group.to_owned()]);
        assert_eq!(auth.user(name).unwrap(), Some(rewritten));
    }
    assert!(auth.user("bad").is_err(), "a corrupt record stays corrupt");
    assert_eq!(auth.upgrade_users().unwrap(), 0, "once");
}
