//! Keys for managed certificates, made on this host: ECDSA P-256 and Ed25519 by rcgen, RSA
//! 2048/3072 by the `rsa` crate (ring cannot generate RSA keys) as PKCS#8 for rcgen. A key waits
//! in `[delivery] key_dir` (0700, the key 0600, fsynced) until its certificate arrives; the CSR
//! carries the declared names, though the controller takes only its public key.

use crate::fsutil;
use rcgen::{CertificateParams, DnType, KeyPair, SanType};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use unity_shared::model::certificate::{CertificateName, KeyType};

/// Making or keeping a key failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("making the key: {0}")]
    Generate(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no pending key for certificate {0} (it must be prepared first)")]
    NoPendingKey(String),
    #[error("the pending key of {name} is unreadable: {message}")]
    BadPendingKey { name: String, message: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.to_owned(),
        source,
    }
}

/// A fresh key of `key_type`.
pub fn generate(key_type: KeyType) -> Result<KeyPair, KeyError> {
    let generate_error = |error: rcgen::Error| KeyError::Generate(error.to_string());
    match key_type {
        KeyType::EcdsaP256 => {
            KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(generate_error)
        }
        KeyType::Ed25519 => KeyPair::generate_for(&rcgen::PKCS_ED25519).map_err(generate_error),
        KeyType::Rsa2048 => rsa_key(2048),
        KeyType::Rsa3072 => rsa_key(3072),
    }
}

fn rsa_key(bits: usize) -> Result<KeyPair, KeyError> {
    use rsa::pkcs8::EncodePrivateKey as _;
    let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, bits)
        .map_err(|error| KeyError::Generate(error.to_string()))?;
    let der = key
        .to_pkcs8_der()
        .map_err(|error| KeyError::Generate(error.to_string()))?;
    let der = rustls_pki_types::PrivatePkcs8KeyDer::from(der.as_bytes());
    KeyPair::from_pkcs8_der_and_sign_algo(&der, &rcgen::PKCS_RSA_SHA256)
        .map_err(|error| KeyError::Generate(error.to_string()))
}

/// A CSR over `key` for the names (DER).
pub fn csr(key: &KeyPair, dns_names: &[String], ips: &[IpAddr]) -> Result<Vec<u8>, KeyError> {
    let generate_error = |error: rcgen::Error| KeyError::Generate(error.to_string());
    let mut params = CertificateParams::default();
    let common_name = dns_names
        .first()
        .cloned()
        .or_else(|| ips.first().map(ToString::to_string))
        .unwrap_or_default();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    for name in dns_names {
        params.subject_alt_names.push(SanType::DnsName(
            name.clone().try_into().map_err(generate_error)?,
        ));
    }
    params
        .subject_alt_names
        .extend(ips.iter().map(|ip| SanType::IpAddress(*ip)));
    Ok(params
        .serialize_request(key)
        .map_err(generate_error)?
        .der()
        .to_vec())
}

/// Where the pending key of `name` waits.
pub fn pending_path(key_dir: &Path, name: &CertificateName) -> PathBuf {
    key_dir.join(format!("{name}.pending.key"))
}

/// Keeps `key` as the pending key of `name` (replacing an older one), 0600 and fsynced.
pub fn store_pending(
    key_dir: &Path,
    name: &CertificateName,
    key: &KeyPair,
) -> Result<(), KeyError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(key_dir)
        .map_err(io(key_dir))?;
    std::fs::set_permissions(key_dir, std::fs::Permissions::from_mode(0o700))
        .map_err(io(key_dir))?;
    let path = pending_path(key_dir, name);
    fsutil::replace_file(&path, key.serialize_pem().as_bytes(), 0o600).map_err(io(&path))
}

/// The pending key of `name`.
pub fn load_pending(key_dir: &Path, name: &CertificateName) -> Result<KeyPair, KeyError> {
    let path = pending_path(key_dir, name);
    let pem = match std::fs::read_to_string(&path) {
        Ok(pem) => pem,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(KeyError::NoPendingKey(name.to_string()))
        }
        Err(error) => return Err(io(&path)(error)),
    };
    KeyPair::from_pem(&pem).map_err(|error| KeyError::BadPendingKey {
        name: name.to_string(),
        message: error.to_string(),
    })
}

/// Forgets the pending key of `name` once its certificate is installed.
pub fn remove_pending(key_dir: &Path, name: &CertificateName) -> Result<(), KeyError> {
    let path = pending_path(key_dir, name);
    match std::fs::remove_file(&path) {
        Ok(()) => fsutil::sync_parent(&path).map_err(io(&path)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(io(&path)(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::PublicKeyData as _;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn issue_15_keys_of_every_type_make_csrs_and_wait_private() {
        let dir = tempfile::tempdir().unwrap();
        let key_dir = dir.path().join("keys");
        let name = CertificateName::new("nas").unwrap();
        for key_type in [KeyType::EcdsaP256, KeyType::Ed25519, KeyType::Rsa2048] {
            let key = generate(key_type).unwrap();
            let der = csr(
                &key,
                &["nas.home.arpa".to_owned()],
                &["192.168.1.2".parse().unwrap()],
            )
            .unwrap();
            let parsed =
                rcgen::CertificateSigningRequestParams::from_der(&der.as_slice().into()).unwrap();
            assert_eq!(parsed.public_key.der_bytes(), key.public_key_raw());
            assert_eq!(parsed.params.subject_alt_names.len(), 2);
            store_pending(&key_dir, &name, &key).unwrap();
            let loaded = load_pending(&key_dir, &name).unwrap();
            assert_eq!(
                loaded.public_key_raw(),
                key.public_key_raw(),
                "{key_type:?}"
            );
        }
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&key_dir), 0o700);
        assert_eq!(mode(&pending_path(&key_dir, &name)), 0o600);
        remove_pending(&key_dir, &name).unwrap();
        assert!(matches!(
            load_pending(&key_dir, &name),
            Err(KeyError::NoPendingKey(_))
        ));
    }
}
