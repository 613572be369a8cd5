//! A person's SSH public key, parsed and validated with `ssh-key` (pure): Ed25519, ECDSA
//! (NIST P-256, P-384, P-521), RSA of at least 2048 bits and the FIDO security-key variants
//! are taken; DSA, short RSA, certificates, private keys and anything that is not one public
//! key line are refused with a message that says what was given.

use ssh_key::public::KeyData;
use ssh_key::{HashAlg, PublicKey};

/// The shortest RSA key accepted.
pub const MIN_RSA_BITS: u32 = 2048;

/// A validated public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedKey {
    /// `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`, …
    pub algorithm: String,
    pub bits: u32,
    /// `algorithm base64`, without the comment.
    pub public_key: String,
    /// `SHA256:…`
    pub fingerprint: String,
    /// The key's comment, blanks collapsed (may be empty).
    pub comment: String,
}

/// Why a key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("no public key given (the input is empty)")]
    Empty,
    #[error(
        "this is a private key; give the public half (the .pub file), which is all Unity needs"
    )]
    PrivateKey,
    #[error("give exactly one public key line (found {0} lines)")]
    SeveralLines(usize),
    #[error("this is an SSH certificate, not a public key; give the key it certifies")]
    Certificate,
    #[error("DSA keys are refused (OpenSSH disabled them); use Ed25519")]
    Dsa,
    #[error("RSA key of {bits} bits is too short: at least {MIN_RSA_BITS} bits are required")]
    RsaTooShort { bits: u32 },
    #[error("unsupported key algorithm {0:?}: use Ed25519, ECDSA or RSA (2048 bits or more)")]
    Unsupported(String),
    #[error("not an OpenSSH public key ({0}); expected a line like 'ssh-ed25519 AAAA… comment'")]
    Malformed(String),
}

/// Parses the text of a `.pub` file (one line; surrounding blank lines are fine).
pub fn parse(text: &str) -> Result<ParsedKey, KeyError> {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    let line = match lines.as_slice() {
        [] => return Err(KeyError::Empty),
        [line] => *line,
        more if more.iter().any(|line| line.contains("PRIVATE KEY")) => {
            return Err(KeyError::PrivateKey)
        }
        more => return Err(KeyError::SeveralLines(more.len())),
    };
    if line.contains("PRIVATE KEY") {
        return Err(KeyError::PrivateKey);
    }
    let algorithm = line.split_whitespace().next().unwrap_or_default();
    if algorithm.contains("-cert-v01@openssh.com") {
        return Err(KeyError::Certificate);
    }
    if line.chars().any(char::is_control) {
        return Err(KeyError::Malformed("control characters".into()));
    }
    let key = PublicKey::from_openssh(line).map_err(|error| match algorithm {
        "ssh-dss" => KeyError::Dsa,
        _ => KeyError::Malformed(error.to_string()),
    })?;
    let bits = match key.key_data() {
        KeyData::Ed25519(_) | KeyData::SkEd25519(_) => 256,
        KeyData::Ecdsa(ecdsa) => match ecdsa.curve() {
            ssh_key::EcdsaCurve::NistP256 => 256,
            ssh_key::EcdsaCurve::NistP384 => 384,
            ssh_key::EcdsaCurve::NistP521 => 521,
        },
        KeyData::SkEcdsaSha2NistP256(_) => 256,
        KeyData::Rsa(rsa) => {
            let bits = mpint_bits(rsa.n().as_positive_bytes().unwrap_or_default());
            if bits < MIN_RSA_BITS {
                return Err(KeyError::RsaTooShort { bits });
            }
            bits
        }
        KeyData::Dsa(_) => return Err(KeyError::Dsa),
        other => return Err(KeyError::Unsupported(other.algorithm().to_string())),
    };
    let public_key = PublicKey::new(key.key_data().clone(), "")
        .to_openssh()
        .map_err(|error| KeyError::Malformed(error.to_string()))?;
    Ok(ParsedKey {
        algorithm: key.algorithm().to_string(),
        bits,
        public_key: public_key.trim().to_owned(),
        fingerprint: key.fingerprint(HashAlg::Sha256).to_string(),
        comment: key
            .comment()
            .as_str_lossy()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    })
}

/// The size in bits of a big-endian unsigned number.
fn mpint_bits(bytes: &[u8]) -> u32 {
    let bytes = match bytes.iter().position(|&byte| byte != 0) {
        Some(first) => &bytes[first..],
        None => return 0,
    };
    let leading = bytes[0].leading_zeros();
    u32::try_from(bytes.len() * 8).unwrap_or(u32::MAX) - leading
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_16_ed25519_ecdsa_and_rsa_2048_are_taken_with_ssh_keygen_fingerprints() {
        let cases = [
            (
                include_str!("testdata/ed25519.pub"),
                "ssh-ed25519",
                256,
                "SHA256:Zg3ZLgFjHd4rRZr8Q10nwkQgES8HE4DHPTZz8NR8QLk",
            ),
            (
                include_str!("testdata/ecdsa256.pub"),
                "ecdsa-sha2-nistp256",
                256,
                "SHA256:f0JS9ldBKgXJ34cSC0OF5EU+eF6fPm1uLlEWFGovdic",
            ),
            (
                include_str!("testdata/ecdsa384.pub"),
                "ecdsa-sha2-nistp384",
                384,
                "SHA256:DcoxGz0yf1o+qLvBpvtX1hEe+YnLJQR02TyKRab/pOM",
            ),
            (
                include_str!("testdata/ecdsa521.pub"),
                "ecdsa-sha2-nistp521",
                521,
                "SHA256:Eavn3SxLGJx7Yn2OHVvpoZJ+N3Ek6bHv3W8pn5x4Gmw",
            ),
            (
                include_str!("testdata/rsa2048.pub"),
                "ssh-rsa",
                2048,
                "SHA256:wiXnMSZw6Ig62D0LxgBqM32ximDsWcAgw2xOdSmrT/A",
            ),
        ];
        for (text, algorithm, bits, fingerprint) in cases {
            let key = parse(text).unwrap();
            assert_eq!(key.algorithm, algorithm);
            assert_eq!(key.bits, bits, "{algorithm}");
            assert_eq!(key.fingerprint, fingerprint);
            assert!(key.comment.ends_with("@test"));
            assert!(key.public_key.starts_with(algorithm));
            assert!(!key.public_key.contains("@test"));
            assert!(text.starts_with(&key.public_key));
        }
    }

    #[test]
    fn issue_16_malformed_and_weak_keys_are_refused_clearly() {
        let refused = |text: &str| parse(text).unwrap_err();
        assert_eq!(
            refused(include_str!("testdata/rsa1024.pub")),
            KeyError::RsaTooShort { bits: 1024 }
        );
        assert_eq!(refused(include_str!("testdata/dsa.pub")), KeyError::Dsa);
        assert_eq!(
            refused(include_str!("testdata/cert.pub")),
            KeyError::Certificate
        );
        assert_eq!(refused("  \n\n"), KeyError::Empty);
        assert_eq!(
            refused("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n"),
            KeyError::PrivateKey
        );
        let two = format!(
            "{}{}",
            include_str!("testdata/ed25519.pub"),
            include_str!("testdata/ecdsa256.pub")
        );
        assert_eq!(refused(&two), KeyError::SeveralLines(2));
        assert!(matches!(
            refused("ssh-ed25519 not-base64!"),
            KeyError::Malformed(_)
        ));
        assert!(matches!(refused("hello world"), KeyError::Malformed(_)));
        let message = refused("ssh-ed25519 AAAA").to_string();
        assert!(message.contains("not an OpenSSH public key"), "{message}");
    }
}
