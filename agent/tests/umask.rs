//! Files and directories the agent writes for sshd get exactly the mode asked for under the
//! packaged unit's `UMask=0077` (sshd reads authorized-keys and principals files as the user
//! who logs in: a 0600 root file would refuse every such login). Its own test binary, because
//! the umask is the whole process's: no other test runs beside this one.

use std::os::unix::fs::PermissionsExt;

#[test]
fn modes_are_exact_under_the_units_umask() {
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("unity/principals");
    unity_agent::fsutil::create_dirs(&nested, 0o755).unwrap();
    assert_eq!(mode(&dir.path().join("unity")), 0o755);
    assert_eq!(mode(&nested), 0o755);
    let file = nested.join("ops");
    unity_agent::fsutil::replace_file(&file, b"root\n", 0o644).unwrap();
    assert_eq!(mode(&file), 0o644);
    let key = dir.path().join("key.pem");
    unity_agent::fsutil::replace_file(&key, b"secret", 0o600).unwrap();
    assert_eq!(mode(&key), 0o600);
}
