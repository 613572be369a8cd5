//! What Unity's sshd files say, decided without touching the disk: which host key files a
//! `[sshd] host_keys` pattern names, the drop-in's directives, the trusted user CA file, a
//! user's principals file, and whether sshd's main configuration includes the drop-in.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The file under Unity's directory holding the user CA keys for `TrustedUserCAKeys`.
pub const TRUSTED_USER_CA_KEYS: &str = "trusted_user_ca_keys";
/// The directory under Unity's directory with one principals file per user.
pub const PRINCIPALS_DIR: &str = "principals";

/// Whether `text` matches the shell-style `pattern` (`*` any run, `?` one character).
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

/// The certificate's file name for a host key (`ssh_host_ed25519_key` ->
/// `ssh_host_ed25519_key-cert.pub`, as sshd names them).
pub fn certificate_file_name(host_key_path: &str) -> Option<String> {
    let name = Path::new(host_key_path).file_name()?.to_str()?;
    Some(format!("{name}-cert.pub"))
}

/// The private key's path for a public key file (`…_key.pub` -> `…_key`).
pub fn private_key_path(public_key_path: &Path) -> Option<PathBuf> {
    let text = public_key_path.to_str()?;
    text.strip_suffix(".pub").map(PathBuf::from)
}

/// What goes into the drop-in: certificates' paths, whether a trusted user CA file and
/// principals files are there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropIn {
    pub host_certificates: Vec<PathBuf>,
    pub trusted_user_ca_keys: Option<PathBuf>,
    /// `<unity_dir>/principals/%u` when principals are used.
    pub principals_pattern: Option<PathBuf>,
}

impl DropIn {
    /// No pieces (only the header).
    pub fn empty() -> DropIn {
        DropIn {
            host_certificates: Vec::new(),
            trusted_user_ca_keys: None,
            principals_pattern: None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.host_certificates.is_empty()
            && self.trusted_user_ca_keys.is_none()
            && self.principals_pattern.is_none()
    }
}

/// The drop-in's text: a header, then one directive a line.
pub fn drop_in(pieces: &DropIn) -> String {
    let mut text = String::from(
        "# Written by the Unity agent for the Unity SSH CA; replaced on every change.\n\
         # Edits are lost: change what the controller sends instead (docs/ssh-ca.md).\n",
    );
    for path in &pieces.host_certificates {
        text.push_str(&format!("HostCertificate {}\n", path.display()));
    }
    if let Some(path) = &pieces.trusted_user_ca_keys {
        text.push_str(&format!("TrustedUserCAKeys {}\n", path.display()));
    }
    if let Some(path) = &pieces.principals_pattern {
        text.push_str(&format!("AuthorizedPrincipalsFile {}\n", path.display()));
    }
    text
}

/// Lines, one a line, with a trailing newline (the trusted user CA file, a principals file).
pub fn lines<S: AsRef<str>>(lines: &[S]) -> String {
    let mut text = String::new();
    for line in lines {
        text.push_str(line.as_ref());
        text.push('\n');
    }
    text
}

/// Every file Unity wants in place, by path, for `unity_dir`, `drop_in` and the pieces
/// (certificates by file name, trusted keys, principals by user). Nothing at all (an empty
/// map) when there is nothing to install: the drop-in and Unity's files are then removed.
pub fn desired_files(
    unity_dir: &Path,
    drop_in_path: &Path,
    certificates: &[(String, String)],
    trusted_user_ca_keys: &[String],
    principals: &[(String, Vec<String>)],
) -> BTreeMap<PathBuf, String> {
    let mut files = BTreeMap::new();
    let mut pieces = DropIn {
        host_certificates: Vec::new(),
        trusted_user_ca_keys: None,
        principals_pattern: None,
    };
    for (file_name, certificate) in certificates {
        let path = unity_dir.join(file_name);
        files.insert(path.clone(), lines(&[certificate]));
        pieces.host_certificates.push(path);
    }
    if !trusted_user_ca_keys.is_empty() {
        let path = unity_dir.join(TRUSTED_USER_CA_KEYS);
        files.insert(path.clone(), lines(trusted_user_ca_keys));
        pieces.trusted_user_ca_keys = Some(path);
    }
    if !principals.is_empty() {
        let dir = unity_dir.join(PRINCIPALS_DIR);
        for (user, names) in principals {
            files.insert(dir.join(user), lines(names));
        }
        pieces.principals_pattern = Some(dir.join("%u"));
    }
    if !pieces.is_empty() {
        files.insert(drop_in_path.to_owned(), drop_in(&pieces));
    }
    files
}

/// Whether sshd's main configuration `text` has an `Include` that names `drop_in` (relative
/// Include paths are under `/etc/ssh`, as sshd reads them).
pub fn includes(text: &str, drop_in: &Path) -> bool {
    let Some(drop_in) = drop_in.to_str() else {
        return false;
    };
    text.lines().any(|line| {
        let mut words = line.split_whitespace();
        let is_include = words
            .next()
            .is_some_and(|word| word.eq_ignore_ascii_case("include"));
        is_include
            && words.any(|pattern| {
                let pattern = pattern.trim_matches('"');
                let pattern = if pattern.starts_with('/') {
                    pattern.to_owned()
                } else {
                    format!("/etc/ssh/{pattern}")
                };
                path_match(&pattern, drop_in)
            })
    })
}

/// A glob over a whole path: `*` and `?` do not cross `/`.
fn path_match(pattern: &str, path: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('/').collect();
    let path: Vec<&str> = path.split('/').collect();
    pattern.len() == path.len()
        && pattern
            .iter()
            .zip(&path)
            .all(|(pattern, part)| wildcard_match(pattern, part))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_like_the_shell() {
        assert!(wildcard_match(
            "ssh_host_*_key.pub",
            "ssh_host_ed25519_key.pub"
        ));
        assert!(!wildcard_match(
            "ssh_host_*_key.pub",
            "ssh_host_ed25519_key"
        ));
        assert!(wildcard_match("*.conf", "50-unity.conf"));
        assert!(!wildcard_match("*.conf", "50-unity.conf.bak"));
        assert!(wildcard_match("a?c", "abc"));
        assert!(wildcard_match("*", ""));
    }

    #[test]
    fn the_drop_in_names_the_pieces_and_nothing_else() {
        let files = desired_files(
            Path::new("/etc/ssh/unity"),
            Path::new("/etc/ssh/sshd_config.d/50-unity.conf"),
            &[(
                "ssh_host_ed25519_key-cert.pub".into(),
                "ssh-ed25519-cert-v01@openssh.com AAAA".into(),
            )],
            &["ssh-ed25519 AAAA unity-ssh-ca".into()],
            &[("root".into(), vec!["root".into(), "root@nas".into()])],
        );
        let drop_in = &files[Path::new("/etc/ssh/sshd_config.d/50-unity.conf")];
        assert!(drop_in.ends_with(
            "HostCertificate /etc/ssh/unity/ssh_host_ed25519_key-cert.pub\n\
             TrustedUserCAKeys /etc/ssh/unity/trusted_user_ca_keys\n\
             AuthorizedPrincipalsFile /etc/ssh/unity/principals/%u\n"
        ));
        assert_eq!(
            files[Path::new("/etc/ssh/unity/principals/root")],
            "root\nroot@nas\n"
        );
        assert_eq!(files.len(), 4);
        assert!(desired_files(Path::new("/u"), Path::new("/d"), &[], &[], &[]).is_empty());
    }

    #[test]
    fn includes_follow_sshd_rules() {
        let drop_in = Path::new("/etc/ssh/sshd_config.d/50-unity.conf");
        assert!(includes("Include /etc/ssh/sshd_config.d/*.conf\n", drop_in));
        assert!(includes("include sshd_config.d/*.conf\n", drop_in));
        assert!(!includes(
            "# Include /etc/ssh/sshd_config.d/*.conf\n",
            drop_in
        ));
        assert!(!includes("Include /etc/ssh/other.d/*.conf\n", drop_in));
        assert!(!includes("Port 22\n", drop_in));
    }

    #[test]
    fn file_names() {
        assert_eq!(
            certificate_file_name("/etc/ssh/ssh_host_ed25519_key").as_deref(),
            Some("ssh_host_ed25519_key-cert.pub")
        );
        assert_eq!(
            private_key_path(Path::new("/etc/ssh/k.pub")),
            Some(PathBuf::from("/etc/ssh/k"))
        );
        assert_eq!(private_key_path(Path::new("/etc/ssh/k")), None);
    }
}
