//! Tests of the sealing key: binding to associated data, wrong keys, damaged and truncated
//! records, the key file's mode, fingerprints, and a rotation interrupted at each step.

use super::*;

fn write_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn issue_16_seal_and_open_bound_to_place_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = SealingKey::open_or_create(dir.path()).unwrap();
    let sealed = key.seal(b"secret pg", b"hunter2-plain").unwrap();
    assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
    assert_eq!(key.open(b"secret pg", &sealed).unwrap(), b"hunter2-plain");
    assert!(key.is_current(&sealed));
    // Wrong associated data, wrong key, damaged, truncated, empty, unknown version.
    assert!(key.open(b"secret other", &sealed).is_err());
    let other = SealingKey::from_bytes(&[9; 32]).unwrap();
    assert!(other.open(b"secret pg", &sealed).is_err());
    let mut damaged = sealed.clone();
    let last = damaged.len() - 1;
    damaged[last] ^= 1;
    assert!(key.open(b"secret pg", &damaged).is_err());
    for cut in [0, 1, 5, 9, 20, sealed.len() - 1] {
        assert!(key.open(b"secret pg", &sealed[..cut]).is_err(), "cut {cut}");
    }
    let mut version = sealed.clone();
    version[0] = 3;
    assert!(key.open(b"secret pg", &version).is_err());
    // The same key file opens it again.
    let again = SealingKey::open_or_create(dir.path()).unwrap();
    assert_eq!(again.open(b"secret pg", &sealed).unwrap(), b"hunter2-plain");
    assert_eq!(format!("{again:?}"), "SealingKey(<redacted>)");
}

#[test]
fn issue_16_key_file_is_private_and_exposed_keys_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    SealingKey::open_or_create(dir.path()).unwrap();
    let path = dir.path().join(KEY_FILE);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    write_mode(&path, 0o640);
    let error = SealingKey::open_or_create(dir.path()).unwrap_err();
    assert!(matches!(error, SealingError::Exposed { .. }), "{error}");
    assert!(error.to_string().contains("chmod 600"), "{error}");
    write_mode(&path, 0o600);
    std::fs::write(&path, b"short").unwrap();
    assert!(matches!(
        SealingKey::open_or_create(dir.path()),
        Err(SealingError::BadKey(_))
    ));
}

#[test]
fn issue_16_fingerprints_are_keyed() {
    let key = SealingKey::from_bytes(&[1; 32]).unwrap();
    let other = SealingKey::from_bytes(&[2; 32]).unwrap();
    let print = key.fingerprint(b"pg", b"hunter2");
    assert_eq!(print.len(), 24);
    assert_eq!(print, key.fingerprint(b"pg", b"hunter2"));
    assert_ne!(print, key.fingerprint(b"pg", b"hunter3"));
    assert_ne!(print, key.fingerprint(b"pg2", b"hunter2"));
    // Not a plain hash of the value: another key gives another fingerprint.
    assert_ne!(print, other.fingerprint(b"pg", b"hunter2"));
    let plain = hex::encode(&Sha256::digest(b"hunter2")[..12]);
    assert_ne!(print, plain);
    // The name and value are not confused across their boundary.
    assert_ne!(key.fingerprint(b"ab", b"c"), key.fingerprint(b"a", b"bc"));
}

#[test]
fn issue_16_rotation_keeps_records_openable_at_every_step() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let first = SealingKey::open_or_create(data).unwrap();
    let a = first.seal(b"a", b"value a").unwrap();
    let b = first.seal(b"b", b"value b").unwrap();

    // A crash after the new key was written, before the old one was kept: ignored, removed.
    std::fs::write(data.join(NEW_KEY_FILE), [5u8; 32]).unwrap();
    write_mode(&data.join(NEW_KEY_FILE), 0o600);
    let loaded = SealingKey::open_or_create(data).unwrap();
    assert_eq!(loaded.open(b"a", &a).unwrap(), b"value a");
    assert!(!loaded.rotation_pending());

    assert!(begin_rotation(data).unwrap());
    assert!(!data.join(NEW_KEY_FILE).exists());
    let rotating = SealingKey::open_or_create(data).unwrap();
    assert!(rotating.rotation_pending());
    assert!(!rotating.is_current(&a));
    // Re-seal one record, then "crash": both old and new records open after a restart.
    let a2 = rotating
        .seal(b"a", &rotating.open(b"a", &a).unwrap())
        .unwrap();
    // "Crash": the process ends here; a new one loads the keys from disk.
    let restarted = SealingKey::open_or_create(data).unwrap();
    assert_eq!(restarted.open(b"a", &a2).unwrap(), b"value a");
    assert_eq!(restarted.open(b"b", &b).unwrap(), b"value b");
    // Running it again resumes: no second new key, the old one stays until finished.
    assert!(!begin_rotation(data).unwrap());
    let resumed = SealingKey::open_or_create(data).unwrap();
    assert!(resumed.is_current(&a2));
    let b2 = resumed
        .seal(b"b", &resumed.open(b"b", &b).unwrap())
        .unwrap();
    finish_rotation(data).unwrap();
    let done = SealingKey::open_or_create(data).unwrap();
    assert!(!done.rotation_pending());
    assert_eq!(done.open(b"a", &a2).unwrap(), b"value a");
    assert_eq!(done.open(b"b", &b2).unwrap(), b"value b");
    // The old key is gone: records it sealed no longer open.
    assert!(done.open(b"a", &a).is_err());
}

#[test]
fn issue_16_rotation_crash_between_keeping_the_old_key_and_the_swap() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let first = SealingKey::open_or_create(data).unwrap();
    let a = first.seal(b"a", b"value a").unwrap();
    // The state right before the rename: `.key` and `.key.old` both the old key, `.key.new`
    // the new one.
    let old = std::fs::read(data.join(KEY_FILE)).unwrap();
    create_private(&data.join(OLD_KEY_FILE), &old).unwrap();
    create_private(&data.join(NEW_KEY_FILE), &[6u8; 32]).unwrap();
    let loaded = SealingKey::open_or_create(data).unwrap();
    assert_eq!(loaded.open(b"a", &a).unwrap(), b"value a");
    // Resuming finishes the swap to the new key.
    assert!(!begin_rotation(data).unwrap());
    assert_eq!(std::fs::read(data.join(KEY_FILE)).unwrap(), [6u8; 32]);
    let swapped = SealingKey::open_or_create(data).unwrap();
    assert_eq!(swapped.open(b"a", &a).unwrap(), b"value a");
    assert!(!swapped.is_current(&a));
}
