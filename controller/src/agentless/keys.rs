//! Agentless login keys: a fresh ed25519 key per host, its OpenSSH private half sealed with the
//! controller's one sealing key ([`CredentialKey`], as ACME accounts and registry credentials
//! are) under the associated data `agentless <host>`, so a sealed key copied to another host's
//! record does not open.

use crate::sealing::SealingKey;
use crate::updates::credentials::{open_credentials, seal_credentials, CredentialKey, Credentials};
use ring::rand::{SecureRandom, SystemRandom};
use ssh_key::private::{Ed25519Keypair, PrivateKey};
use ssh_key::LineEnding;
use std::path::Path;
use unity_shared::model::agentless::SecretValue;
use unity_shared::proto::AgentId;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the sealing key: {0}")]
    SealingKey(String),
    #[error("making a key: {0}")]
    Generate(String),
    #[error("the sealed key of {0} does not open with this controller's sealing key")]
    Open(AgentId),
}

/// A generated key: the sealed private half and the public `authorized_keys` line.
pub struct GeneratedKey {
    pub sealed_private: Vec<u8>,
    pub public: String,
}

fn associated(host: &AgentId) -> String {
    format!("agentless {host}")
}

/// Makes an ed25519 key for `host` and seals its private half. Note that this uses blocking
/// I/O (the sealing key file).
pub fn generate(data_dir: &Path, host: &AgentId) -> Result<GeneratedKey, KeyError> {
    let mut seed = [0u8; 32];
    SystemRandom::new()
        .fill(&mut seed)
        .map_err(|_| KeyError::Generate("no randomness".into()))?;
    let mut private = PrivateKey::from(Ed25519Keypair::from_seed(&seed));
    seed.fill(0);
    let comment = format!("unity-agentless-{host}");
    private.set_comment(comment.as_str());
    let openssh = private
        .to_openssh(LineEnding::LF)
        .map_err(|error| KeyError::Generate(error.to_string()))?;
    let public = private
        .public_key()
        .to_openssh()
        .map_err(|error| KeyError::Generate(error.to_string()))?;
    let key = CredentialKey::open_or_create(data_dir)
        .map_err(|error| KeyError::SealingKey(error.to_string()))?;
    let sealed_private = key
        .seal(
            &associated(host),
            &Credentials {
                username: String::new(),
                secret: openssh.to_string(),
            },
        )
        .map_err(|error| KeyError::SealingKey(error.to_string()))?;
    Ok(GeneratedKey {
        sealed_private,
        public,
    })
}

/// Opens a sealed private key for sending to the host's proxy. Note that this uses blocking
/// I/O (the sealing key file).
pub fn open(data_dir: &Path, host: &AgentId, sealed: &[u8]) -> Result<SecretValue, KeyError> {
    let key = CredentialKey::open_or_create(data_dir)
        .map_err(|error| KeyError::SealingKey(error.to_string()))?;
    let opened = key
        .open(&associated(host), sealed)
        .map_err(|_| KeyError::Open(host.clone()))?;
    Ok(SecretValue::new(opened.secret.into_bytes()))
}

/// Re-seals a host's sealed private key with `key`'s current key (a sealing-key rotation);
/// `None` when it is sealed with the current key already.
pub fn reseal(
    key: &SealingKey,
    host: &AgentId,
    sealed: &[u8],
) -> Result<Option<Vec<u8>>, KeyError> {
    if key.is_current(sealed) {
        return Ok(None);
    }
    let place = associated(host);
    let opened = open_credentials(key, &place, sealed).map_err(|_| KeyError::Open(host.clone()))?;
    seal_credentials(key, &place, &opened)
        .map(Some)
        .map_err(|error| KeyError::SealingKey(error.to_string()))
}

/// The SHA-256 fingerprint of an OpenSSH public key line (`SHA256:...`), `None` when it is
/// not one.
pub fn fingerprint(line: &str) -> Option<String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    words.windows(2).find_map(|pair| {
        let key = ssh_key::PublicKey::from_openssh(&format!("{} {}", pair[0], pair[1])).ok()?;
        Some(key.fingerprint(ssh_key::HashAlg::Sha256).to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_16_a_generated_key_opens_only_for_its_host() {
        let dir = tempfile::tempdir().unwrap();
        let host = AgentId::new("nas").unwrap();
        let key = generate(dir.path(), &host).unwrap();
        assert!(key.public.starts_with("ssh-ed25519 "), "{}", key.public);
        assert!(fingerprint(&key.public).unwrap().starts_with("SHA256:"));
        let private = open(dir.path(), &host, &key.sealed_private).unwrap();
        let text = private.expose_str().unwrap();
        assert!(text.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"));
        // The sealed bytes do not contain the key in the clear.
        let body: String = text.lines().nth(1).unwrap().to_owned();
        assert!(!String::from_utf8_lossy(&key.sealed_private).contains(&body));
        let other = AgentId::new("router").unwrap();
        assert!(open(dir.path(), &other, &key.sealed_private).is_err());
        let parsed = ssh_key::PrivateKey::from_openssh(text).unwrap();
        assert_eq!(parsed.public_key().to_openssh().unwrap(), key.public);
    }
}
