//! The revoked keys file (`RevokedKeys`): the plain public keys the controller revoked, one
//! a line, which sshd refuses on their own and as the key of any certificate. Decided without
//! touching the disk: every line must be a plain OpenSSH public key (a line sshd could not
//! read is refused here, before anything is written), and the file is added to Unity's files
//! with its directive whenever the user CA is trusted, empty when nothing is revoked (sshd
//! refuses every public key when the file named by `RevokedKeys` is missing).

use super::render;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The file under Unity's directory listing the revoked public keys.
pub const REVOKED_KEYS: &str = "revoked_keys";

/// `Ok` with the lines as sshd will read them, or why a line is not a plain public key.
pub fn checked_lines(lines: &[String]) -> Result<Vec<String>, String> {
    lines
        .iter()
        .enumerate()
        .map(|(index, line)| {
            let key = ssh_key::PublicKey::from_openssh(line.trim()).map_err(|error| {
                format!(
                    "revoked key {} is not an OpenSSH public key ({error}); nothing was written",
                    index + 1
                )
            })?;
            key.to_openssh()
                .map_err(|error| format!("revoked key {}: {error}; nothing was written", index + 1))
        })
        .collect()
}

/// Adds the revoked keys file and its `RevokedKeys` line to `files` (as `desired_files` made
/// them) when the user CA is trusted or anything is revoked; the drop-in is made if there was
/// none.
pub fn add_revoked_keys(
    files: &mut BTreeMap<PathBuf, String>,
    unity_dir: &Path,
    drop_in_path: &Path,
    trusts_user_ca: bool,
    revoked: &[String],
) {
    if !trusts_user_ca && revoked.is_empty() {
        return;
    }
    let path = unity_dir.join(REVOKED_KEYS);
    files.insert(path.clone(), render::lines(revoked));
    let drop_in = files
        .entry(drop_in_path.to_owned())
        .or_insert_with(|| render::drop_in(&render::DropIn::empty()));
    drop_in.push_str(&format!("RevokedKeys {}\n", path.display()));
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILpEcgiOLw9GZVHGbgdQ6pULnF2Fx4OjzPKVNpThOEqZ lost";

    #[test]
    fn only_plain_public_keys_pass() {
        assert_eq!(
            checked_lines(&[format!(" {KEY} ")]).unwrap(),
            vec![KEY.to_owned()]
        );
        let error = checked_lines(&[KEY.into(), "ssh-ed25519 AAAA nonsense".into()]).unwrap_err();
        assert!(error.starts_with("revoked key 2 "), "{error}");
        assert!(checked_lines(&["ssh-ed25519-cert-v01@openssh.com AAAA x".into()]).is_err());
    }

    #[test]
    fn the_file_comes_with_the_trusted_user_ca_even_when_empty() {
        let unity = Path::new("/etc/ssh/unity");
        let drop_in = Path::new("/etc/ssh/sshd_config.d/50-unity.conf");
        let mut files = render::desired_files(
            unity,
            drop_in,
            &[],
            &["ssh-ed25519 AAAA unity-ssh-ca".into()],
            &[],
        );
        add_revoked_keys(&mut files, unity, drop_in, true, &[]);
        assert_eq!(files[&unity.join(REVOKED_KEYS)], "");
        assert!(files[drop_in].ends_with(
            "TrustedUserCAKeys /etc/ssh/unity/trusted_user_ca_keys\n\
             RevokedKeys /etc/ssh/unity/revoked_keys\n"
        ));

        let mut files = BTreeMap::new();
        add_revoked_keys(&mut files, unity, drop_in, false, &[]);
        assert!(files.is_empty());
        add_revoked_keys(&mut files, unity, drop_in, false, &[KEY.into()]);
        assert_eq!(files[&unity.join(REVOKED_KEYS)], format!("{KEY}\n"));
        assert!(files[drop_in].ends_with("RevokedKeys /etc/ssh/unity/revoked_keys\n"));
    }
}
