//! The shell of managed SSH keys on real files in a temporary directory: blocks written with
//! owner and mode, everything outside them kept, hand edits reported or restored, users
//! dropped, the clear refusals (no home, a symlink, a system account), and users found through
//! NSS (root; an LDAP-like user served by nss_wrapper in a child process).

use super::*;
use std::os::unix::fs::symlink;
use std::path::PathBuf;
use unity_shared::model::ssh::SshLine;

struct Fixture {
    dir: tempfile::TempDir,
    config: SshKeysConfig,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::create_dir(root.join("home-ops")).unwrap();
    fs::write(
        root.join("passwd"),
        format!(
            "ops:x:0:0::{}:/bin/sh\nghost:x:1001:1001::{}:/bin/sh\ndaemon:x:1:1::{}:/bin/sh\n",
            root.join("home-ops").display(),
            root.join("no-such-home").display(),
            root.join("home-ops").display(),
        ),
    )
    .unwrap();
    let mut config = SshKeysConfig::defaults(&root.join("data"));
    config.passwd_file = Some(root.join("passwd"));
    config.managed_dir = root.join("managed");
    config.users = vec!["ops".into()];
    Fixture { dir, config }
}

fn command(
    mode: AuthorizedKeysMode,
    on_drift: DriftAction,
    users: &[(&str, &[&str])],
) -> ApplySshAccess {
    ApplySshAccess {
        generation: 1,
        mode,
        on_drift,
        users: users
            .iter()
            .map(|(user, lines)| UserKeys {
                user: UnixUser::new(*user).unwrap(),
                lines: lines
                    .iter()
                    .map(|line| SshLine::new(*line).unwrap())
                    .collect(),
            })
            .collect(),
    }
}

fn outcome(applied: &SshAccessApplied, user: &str) -> AccessOutcome {
    applied
        .users
        .iter()
        .find(|outcome| outcome.user.as_str() == user)
        .unwrap()
        .outcome
        .clone()
}

#[test]
fn issue_16_the_block_is_written_edited_restored_and_removed_around_the_users_lines() {
    let f = fixture();
    let file = f.dir.path().join("home-ops/.ssh/authorized_keys");
    let block = AuthorizedKeysMode::Block;
    let applied = apply_blocking(
        &f.config,
        &command(
            block,
            DriftAction::Report,
            &[("ops", &["ssh-ed25519 K1 a"])],
        ),
    )
    .unwrap();
    assert_eq!(outcome(&applied, "ops"), AccessOutcome::Written { keys: 1 });
    let ssh_dir = fs::metadata(file.parent().unwrap()).unwrap();
    assert_eq!(ssh_dir.permissions().mode() & 0o777, 0o700);
    assert_eq!(
        fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // The user's own lines around the block (CRLF, options, no final newline) stay.
    let own_before = b"# mine\r\nfrom=\"10.1.0.0/16\" ssh-rsa AAAA own@box\r\n";
    let own_after = b"ssh-ed25519 ZZZ tail";
    let written = fs::read(&file).unwrap();
    fs::write(&file, [&own_before[..], &written, own_after].concat()).unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o640)).unwrap();
    let applied = apply_blocking(
        &f.config,
        &command(
            block,
            DriftAction::Report,
            &[("ops", &["ssh-ed25519 K1 a", "ssh-ed25519 K2 b"])],
        ),
    )
    .unwrap();
    assert_eq!(outcome(&applied, "ops"), AccessOutcome::Written { keys: 2 });
    let now = fs::read(&file).unwrap();
    assert!(now.starts_with(own_before));
    assert!(now.ends_with(own_after));
    assert_eq!(
        fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o640,
        "the mode is kept"
    );

    // A hand edit inside the block is drift: reported and left, then restored.
    let edited = String::from_utf8(now)
        .unwrap()
        .replace("ssh-ed25519 K2 b\n", "ssh-ed25519 EVIL x\n");
    fs::write(&file, &edited).unwrap();
    let want: &[(&str, &[&str])] = &[("ops", &["ssh-ed25519 K1 a", "ssh-ed25519 K2 b"])];
    let managed = status(&f.config).unwrap();
    assert!(managed[0].drift, "{managed:?}");
    let applied = apply_blocking(&f.config, &command(block, DriftAction::Report, want)).unwrap();
    assert_eq!(
        outcome(&applied, "ops"),
        AccessOutcome::Drift {
            found: vec!["ssh-ed25519 K1 a".into(), "ssh-ed25519 EVIL x".into()]
        }
    );
    assert_eq!(
        fs::read_to_string(&file).unwrap(),
        edited,
        "drift is reported, not touched"
    );
    let applied = apply_blocking(&f.config, &command(block, DriftAction::Restore, want)).unwrap();
    assert!(matches!(
        outcome(&applied, "ops"),
        AccessOutcome::Restored { .. }
    ));
    let restored = fs::read_to_string(&file).unwrap();
    assert!(restored.contains("K2 b") && !restored.contains("EVIL"));
    let applied = apply_blocking(&f.config, &command(block, DriftAction::Report, want)).unwrap();
    assert_eq!(outcome(&applied, "ops"), AccessOutcome::Unchanged);

    // A user no longer named loses the block, and only the block.
    let applied = apply_blocking(&f.config, &command(block, DriftAction::Report, &[])).unwrap();
    assert_eq!(outcome(&applied, "ops"), AccessOutcome::Removed);
    assert_eq!(
        fs::read(&file).unwrap(),
        [&own_before[..], own_after].concat()
    );
}

#[test]
fn issue_16_missing_home_symlinks_system_accounts_and_broken_blocks_are_clear_refusals() {
    let f = fixture();
    let block = AuthorizedKeysMode::Block;
    let applied = apply_blocking(
        &f.config,
        &command(
            block,
            DriftAction::Report,
            &[
                ("ghost", &["ssh-ed25519 K1"]),
                ("daemon", &["ssh-ed25519 K1"]),
                ("nobody", &["ssh-ed25519 K1"]),
            ],
        ),
    )
    .unwrap();
    let AccessOutcome::Failed { message } = outcome(&applied, "ghost") else {
        panic!()
    };
    assert!(
        message.contains("home directory") && message.contains("does not exist"),
        "{message}"
    );
    let AccessOutcome::Failed { message } = outcome(&applied, "daemon") else {
        panic!()
    };
    assert!(message.contains("may not be managed"), "{message}");
    let AccessOutcome::Failed { message } = outcome(&applied, "nobody") else {
        panic!()
    };
    assert!(message.contains("no user"), "{message}");

    let ssh = f.dir.path().join("home-ops/.ssh");
    fs::create_dir(&ssh).unwrap();
    let elsewhere = f.dir.path().join("elsewhere");
    fs::write(&elsewhere, "x\n").unwrap();
    symlink(&elsewhere, ssh.join("authorized_keys")).unwrap();
    let applied = apply_blocking(
        &f.config,
        &command(block, DriftAction::Report, &[("ops", &["ssh-ed25519 K1"])]),
    )
    .unwrap();
    let AccessOutcome::Failed { message } = outcome(&applied, "ops") else {
        panic!()
    };
    assert!(message.contains("symlink"), "{message}");
    assert_eq!(fs::read_to_string(&elsewhere).unwrap(), "x\n");

    fs::remove_file(ssh.join("authorized_keys")).unwrap();
    let broken = format!("mine\n{}\nssh-ed25519 K0\n", block::BEGIN);
    fs::write(ssh.join("authorized_keys"), &broken).unwrap();
    let applied = apply_blocking(
        &f.config,
        &command(block, DriftAction::Restore, &[("ops", &["ssh-ed25519 K1"])]),
    )
    .unwrap();
    let AccessOutcome::Failed { message } = outcome(&applied, "ops") else {
        panic!()
    };
    assert!(message.contains("never closed"), "{message}");
    assert_eq!(
        fs::read_to_string(ssh.join("authorized_keys")).unwrap(),
        broken
    );
}

#[test]
fn issue_16_file_mode_owns_a_file_per_user_and_switching_back_removes_it() {
    let f = fixture();
    let want: &[(&str, &[&str])] = &[("ops", &["ssh-ed25519 K1 a"])];
    let applied = apply_blocking(
        &f.config,
        &command(AuthorizedKeysMode::File, DriftAction::Report, want),
    )
    .unwrap();
    assert_eq!(outcome(&applied, "ops"), AccessOutcome::Written { keys: 1 });
    let managed = f.config.managed_dir.join("ops");
    assert!(fs::read_to_string(&managed)
        .unwrap()
        .contains("ssh-ed25519 K1 a"));
    assert_eq!(
        fs::metadata(&managed).unwrap().permissions().mode() & 0o777,
        0o644
    );
    let applied = apply_blocking(
        &f.config,
        &command(AuthorizedKeysMode::Block, DriftAction::Report, want),
    )
    .unwrap();
    assert_eq!(outcome(&applied, "ops"), AccessOutcome::Written { keys: 1 });
    assert!(!managed.exists());
    assert!(f.dir.path().join("home-ops/.ssh/authorized_keys").exists());
}

#[test]
fn issue_16_users_come_from_nss_when_no_passwd_file_is_given() {
    let fixture = fixture();
    let mut config = fixture.config.clone();
    config.passwd_file = None;
    config.users = vec!["root".into()];
    let applied = apply_blocking(
        &config,
        &command(
            AuthorizedKeysMode::File,
            DriftAction::Report,
            &[
                ("root", &["ssh-ed25519 AAAA root-key"]),
                ("no-such-user-16", &["ssh-ed25519 AAAA x"]),
                ("daemon", &["ssh-ed25519 AAAA x"]),
            ],
        ),
    )
    .unwrap();
    assert_eq!(
        outcome(&applied, "root"),
        AccessOutcome::Written { keys: 1 }
    );
    let AccessOutcome::Failed { message } = outcome(&applied, "no-such-user-16") else {
        panic!("{applied:?}");
    };
    assert!(message.contains("no user \"no-such-user-16\""), "{message}");
    // daemon exists through NSS (uid 1 on Debian) and stays out: below min_uid, not listed.
    let AccessOutcome::Failed { message } = outcome(&applied, "daemon") else {
        panic!("{applied:?}");
    };
    assert!(message.contains("may not be managed"), "{message}");
    assert!(fixture.dir.path().join("managed/root").exists());
}

/// Run by [`issue_16_users_only_known_to_nss_are_managed`] in a child process under
/// nss_wrapper, which answers `getpwnam_r` from `NSS_WRAPPER_PASSWD` as an LDAP or sssd
/// module would: the user is in no `/etc/passwd`.
#[test]
#[ignore = "run under nss_wrapper by issue_16_users_only_known_to_nss_are_managed"]
fn nss_wrapper_child() {
    let root = PathBuf::from(std::env::var("UNITY_NSS_TEST_DIR").unwrap());
    let mut config = SshKeysConfig::defaults(&root.join("data"));
    config.users = vec![];
    let applied = apply_blocking(
        &config,
        &command(
            AuthorizedKeysMode::Block,
            DriftAction::Report,
            &[
                ("ldapuser", &["ssh-ed25519 AAAA ldap-key"]),
                ("ldapsys", &["ssh-ed25519 AAAA x"]),
            ],
        ),
    )
    .unwrap();
    assert_eq!(
        outcome(&applied, "ldapuser"),
        AccessOutcome::Written { keys: 1 }
    );
    let AccessOutcome::Failed { message } = outcome(&applied, "ldapsys") else {
        panic!("{applied:?}");
    };
    assert!(message.contains("uid 500"), "{message}");
    let file = root.join("home-ldap/.ssh/authorized_keys");
    assert_eq!(fs::metadata(&file).unwrap().uid(), 5000);
    assert!(fs::read_to_string(&file).unwrap().contains("ldap-key"));
}

#[test]
#[allow(clippy::disallowed_methods)] // the test binary itself, re-run under nss_wrapper
fn issue_16_users_only_known_to_nss_are_managed() {
    const WRAPPER: &str = "/usr/lib/x86_64-linux-gnu/libnss_wrapper.so";
    assert!(
        Path::new(WRAPPER).exists(),
        "{WRAPPER} missing: install libnss-wrapper (scripts/test does)"
    );
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::create_dir(root.join("home-ldap")).unwrap();
    fs::write(
        root.join("passwd"),
        format!(
            "ldapuser:x:5000:5000:LDAP user:{home}:/bin/sh\nldapsys:x:500:500::{home}:/bin/sh\n",
            home = root.join("home-ldap").display()
        ),
    )
    .unwrap();
    fs::write(root.join("group"), "ldapusers:x:5000:\n").unwrap();
    assert!(
        nix::unistd::User::from_name("ldapuser").unwrap().is_none(),
        "not a user of this host"
    );
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "ssh_access::tests::nss_wrapper_child",
            "--ignored",
        ])
        .env("LD_PRELOAD", WRAPPER)
        .env("NSS_WRAPPER_PASSWD", root.join("passwd"))
        .env("NSS_WRAPPER_GROUP", root.join("group"))
        .env("UNITY_NSS_TEST_DIR", root)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
