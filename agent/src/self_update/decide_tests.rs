//! Tests of the pure self-update decisions on real Ed25519 signatures: forged, unknown and
//! expired keys, wrong bytes, architectures and versions, `--version` answers, and trial
//! records at start.

use super::decide::*;
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use unity_shared::model::agent_build::{
    signed_payload, AgentBuildManifest, BuildArch, BuildKind, ReleaseKey, SignedManifest,
};

fn key() -> Ed25519KeyPair {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()
}

fn public(key: &Ed25519KeyPair, id: &str, until: Option<i64>) -> ReleaseKey {
    ReleaseKey {
        key_id: id.into(),
        public_key: key.public_key().as_ref().to_vec(),
        valid_until_ms: until,
    }
}

fn manifest(version: &str, bytes: &[u8]) -> AgentBuildManifest {
    AgentBuildManifest {
        version: version.into(),
        arch: BuildArch::X86_64,
        kind: BuildKind::Binary,
        size: bytes.len() as u64,
        sha256: digest(bytes),
        added_at_ms: 1,
    }
}

fn sign(key: &Ed25519KeyPair, id: &str, manifest: &AgentBuildManifest) -> SignedManifest {
    let bytes = postcard::to_allocvec(manifest).unwrap();
    SignedManifest {
        signature: key.sign(&signed_payload(&bytes)).as_ref().to_vec(),
        manifest: bytes,
        key_id: id.into(),
    }
}

#[test]
fn a_manifest_verifies_only_with_its_key_untouched_and_in_time() {
    let (current, retired, stranger) = (key(), key(), key());
    let keys = vec![
        public(&current, "a", None),
        public(&retired, "b", Some(1_000)),
    ];
    let m = manifest("0.2.0", b"build");
    assert_eq!(
        verify_manifest(&sign(&current, "a", &m), &keys, 5_000),
        Ok(m.clone())
    );
    // A retired key verifies during its grace period, not after.
    assert_eq!(
        verify_manifest(&sign(&retired, "b", &m), &keys, 999),
        Ok(m.clone())
    );
    assert_eq!(
        verify_manifest(&sign(&retired, "b", &m), &keys, 1_000),
        Err(Refusal::UnknownKey("b".into()))
    );
    // A stranger's signature under a known key id, and an unknown key id.
    assert_eq!(
        verify_manifest(&sign(&stranger, "a", &m), &keys, 0),
        Err(Refusal::BadSignature)
    );
    assert!(matches!(
        verify_manifest(&sign(&stranger, "z", &m), &keys, 0),
        Err(Refusal::UnknownKey(_))
    ));
    // Any change of the signed bytes or the signature.
    let signed = sign(&current, "a", &m);
    for n in 0..signed.manifest.len() {
        let mut forged = signed.clone();
        forged.manifest[n] ^= 0x01;
        assert_eq!(
            verify_manifest(&forged, &keys, 0),
            Err(Refusal::BadSignature),
            "byte {n}"
        );
    }
    let mut forged = signed.clone();
    forged.signature[10] ^= 0x80;
    assert_eq!(
        verify_manifest(&forged, &keys, 0),
        Err(Refusal::BadSignature)
    );
    forged.signature.truncate(10);
    assert_eq!(
        verify_manifest(&forged, &keys, 0),
        Err(Refusal::BadSignature)
    );
    // No keys at all (the agent never received them).
    assert!(matches!(
        verify_manifest(&signed, &[], 0),
        Err(Refusal::UnknownKey(_))
    ));
    // Signed garbage is refused as a manifest, never decoded into one.
    let garbage = SignedManifest {
        manifest: vec![0xff; 3],
        key_id: "a".into(),
        signature: current.sign(&signed_payload(&[0xff; 3])).as_ref().to_vec(),
    };
    assert!(matches!(
        verify_manifest(&garbage, &keys, 0),
        Err(Refusal::BadManifest(_))
    ));
}

#[test]
fn bytes_arch_and_version_are_checked() {
    let m = manifest("0.2.0", b"build");
    assert_eq!(check_bytes(&m, digest(b"build"), 5), Ok(()));
    assert_eq!(
        check_bytes(&m, digest(b"buile"), 5),
        Err(Refusal::WrongDigest)
    );
    assert_eq!(
        check_bytes(&m, digest(b"build"), 6),
        Err(Refusal::WrongDigest)
    );

    assert_eq!(check_manifest(&m, "x86_64", "0.1.0", false), Ok(()));
    assert!(matches!(
        check_manifest(&m, "aarch64", "0.1.0", false),
        Err(Refusal::WrongArch { .. })
    ));
    assert!(matches!(
        check_manifest(&m, "riscv64", "0.1.0", false),
        Err(Refusal::WrongArch { .. })
    ));
    // Same version and older: refused, an older one only as an explicit rollback.
    assert!(matches!(
        check_manifest(&m, "x86_64", "0.2.0", false),
        Err(Refusal::NotNewer { .. })
    ));
    assert!(matches!(
        check_manifest(&m, "x86_64", "0.2.0", true),
        Err(Refusal::NotNewer { .. })
    ));
    assert!(matches!(
        check_manifest(&m, "x86_64", "0.10.0", false),
        Err(Refusal::NotNewer { .. })
    ));
    assert_eq!(check_manifest(&m, "x86_64", "0.10.0", true), Ok(()));
    // A pre-release is older than its release (semver, not text).
    assert_eq!(check_manifest(&m, "x86_64", "0.2.0-rc.1", false), Ok(()));
    let bad = manifest("latest", b"build");
    assert!(matches!(
        check_manifest(&bad, "x86_64", "0.1.0", false),
        Err(Refusal::BadVersion(_))
    ));
}

#[test]
fn the_builds_own_version_must_match_its_manifest() {
    assert_eq!(
        check_version_output(Some(0), "unity-agent 0.2.0\n", "0.2.0"),
        Ok(())
    );
    for (code, out) in [
        (Some(0), "unity-agent 0.1.0\n"),
        (Some(0), "unity-agent 0.2.0-evil\n"),
        (Some(0), "unity-agent 0.2.0 extra\n"),
        (Some(0), "something 0.2.0\n"),
        (Some(0), ""),
        (Some(126), "unity-agent 0.2.0\n"),
        (None, "unity-agent 0.2.0\n"),
    ] {
        assert!(
            matches!(
                check_version_output(code, out, "0.2.0"),
                Err(Refusal::VersionCheck(_))
            ),
            "{code:?} {out:?}"
        );
    }
}

fn trial(starts: u32) -> Trial {
    Trial {
        from_version: "0.1.0".into(),
        to_version: "0.2.0".into(),
        exe: "/opt/unity-agent/bin/unity-agent".into(),
        previous: "/opt/unity-agent/bin/unity-agent.previous".into(),
        deadline_ms: 10_000,
        starts,
        package: false,
    }
}

#[test]
fn a_trial_is_counted_at_each_start_and_ends_in_a_rollback_when_it_runs_out() {
    assert_eq!(at_start(None, "0.2.0", 0), AtStart::Normal);
    // First start of the new binary: counted, carries on.
    assert_eq!(
        at_start(Some(trial(0)), "0.2.0", 1),
        AtStart::Continue(trial(1))
    );
    assert_eq!(
        at_start(Some(trial(MAX_TRIAL_STARTS - 1)), "0.2.0", 1),
        AtStart::Continue(trial(MAX_TRIAL_STARTS))
    );
    // One start too many (a crash loop), or past the deadline: back to the previous binary.
    assert!(matches!(
        at_start(Some(trial(MAX_TRIAL_STARTS)), "0.2.0", 1),
        AtStart::RollBack { .. }
    ));
    assert!(matches!(
        at_start(Some(trial(0)), "0.2.0", 10_000),
        AtStart::RollBack { .. }
    ));
    // The previous binary runs again (after a rollback): the record is forgotten.
    assert_eq!(at_start(Some(trial(2)), "0.1.0", 1), AtStart::Forget);
    assert!(!overdue(&trial(0), 9_999));
    assert!(overdue(&trial(0), 10_000));
}
