//! The host key decision (pure): the key an agentless host presents is compared with the pinned
//! one, key type and key bytes exactly (the comment does not count). No pinned key: the
//! presented one is reported for the owner to confirm, and nothing is run.

use russh::keys::ssh_key::{HashAlg, PublicKey};
use unity_shared::model::agentless::SshLine;

/// What to do with the key a host presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyCheck {
    /// It is the pinned key: go on.
    Trusted,
    /// Nothing is pinned: report this key for confirmation, run nothing.
    ToConfirm(SshLine),
    /// Another key than the pinned one: refuse, run nothing.
    Mismatch(SshLine),
}

/// The presented key as one OpenSSH line (`ssh-ed25519 AAAA...`), without a comment.
pub fn presented_line(key: &PublicKey) -> Option<SshLine> {
    let mut key = key.clone();
    key.set_comment("");
    let text = key.to_openssh().ok()?;
    SshLine::new(text.trim().to_owned()).ok()
}

/// The SHA-256 fingerprint of a key line as OpenSSH prints it (`SHA256:...`), `None` when the
/// line is not a public key.
pub fn fingerprint(line: &str) -> Option<String> {
    let key = parse_line(line)?;
    Some(key.fingerprint(HashAlg::Sha256).to_string())
}

/// Reads `[options] type base64 [comment]` leniently: the first word that decodes as a key.
fn parse_line(line: &str) -> Option<PublicKey> {
    let words: Vec<&str> = line.split_whitespace().collect();
    words.windows(2).find_map(|pair| {
        let candidate = format!("{} {}", pair[0], pair[1]);
        PublicKey::from_openssh(&candidate).ok()
    })
}

/// Compares the presented key with the pinned one. A pinned line that is not a key at all
/// matches nothing (refused, never trusted by accident). `None` when the presented key cannot
/// even be written as a line (refused too).
pub fn check(presented: &PublicKey, pinned: Option<&SshLine>) -> Option<HostKeyCheck> {
    let line = presented_line(presented)?;
    Some(match pinned {
        None => HostKeyCheck::ToConfirm(line),
        Some(pinned) => match parse_line(pinned.as_str()) {
            Some(pinned_key) if pinned_key.key_data() == presented.key_data() => {
                HostKeyCheck::Trusted
            }
            _ => HostKeyCheck::Mismatch(line),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJknT66UqMB3HVvd03kUiJk64efemKvBKOr1xVeHZZ2E";
    const B: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMsyzZFybQLfzN+HcSqTK0Vv/Xd622pozLemfSvlhJHJ";

    fn key(line: &str) -> PublicKey {
        PublicKey::from_openssh(line).unwrap()
    }

    #[test]
    fn issue_16_pinned_key_must_match_exactly() {
        let pinned = SshLine::new(format!("{A} root@nas")).unwrap();
        assert_eq!(
            check(&key(A), Some(&pinned)).unwrap(),
            HostKeyCheck::Trusted
        );
        match check(&key(B), Some(&pinned)).unwrap() {
            HostKeyCheck::Mismatch(presented) => assert_eq!(presented.as_str(), B),
            other => panic!("expected a mismatch, got {other:?}"),
        }
        let garbage = SshLine::new("ssh-ed25519 notbase64").unwrap();
        assert!(matches!(
            check(&key(A), Some(&garbage)).unwrap(),
            HostKeyCheck::Mismatch(_)
        ));
    }

    #[test]
    fn issue_16_no_pinned_key_asks_for_confirmation() {
        match check(&key(A), None).unwrap() {
            HostKeyCheck::ToConfirm(presented) => assert_eq!(presented.as_str(), A),
            other => panic!("expected a key to confirm, got {other:?}"),
        }
    }

    #[test]
    fn fingerprints_as_openssh_prints_them() {
        let print = fingerprint(&format!("{A} comment")).unwrap();
        assert!(print.starts_with("SHA256:"), "{print}");
        assert_eq!(fingerprint(A), Some(print));
        assert_eq!(fingerprint("not a key"), None);
    }
}
