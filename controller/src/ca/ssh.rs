//! The SSH certificate authority: a third key, apart from the agents' CA and the services CA,
//! that signs OpenSSH certificates. An ed25519 key in `<data_dir>/ssh-ca/ca_ed25519` (0600, in
//! OpenSSH's format, so `ssh-keygen -l` reads it) with its public half beside it; made by
//! `unity-controller ssh ca init` or on first use. It signs *host* certificates for the host
//! public keys an agent reports and *user* certificates for the public keys operators bring;
//! the key itself never leaves this directory. See docs/ssh-ca.md.

use super::{io_error, write_private, CaError};
use ring::rand::{SecureRandom, SystemRandom};
use ssh_key::certificate::{Builder, CertType};
use ssh_key::private::Ed25519Keypair;
use ssh_key::{HashAlg, LineEnding, PrivateKey, PublicKey};
use std::path::Path;

const KEY_FILE: &str = "ca_ed25519";
const PUBLIC_FILE: &str = "ca_ed25519.pub";
/// The comment of the CA's public key.
pub const COMMENT: &str = "unity-ssh-ca";
/// How far back a certificate's validity starts, for clocks a little behind.
pub const BACKDATE_SECS: u64 = 60;

/// The extensions `ssh-keygen` gives a user certificate by default.
const USER_EXTENSIONS: &[&str] = &[
    "permit-X11-forwarding",
    "permit-agent-forwarding",
    "permit-port-forwarding",
    "permit-pty",
    "permit-user-rc",
];

/// Host or user certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SshCertKind {
    Host,
    User,
}

/// What one certificate says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshCertRequest {
    pub kind: SshCertKind,
    /// Who and when, shown in sshd's log on every login.
    pub key_id: String,
    pub serial: u64,
    pub principals: Vec<String>,
    /// Unix seconds.
    pub valid_after: u64,
    pub valid_before: u64,
}

/// A signed certificate.
#[derive(Debug, Clone)]
pub struct SignedSshCertificate {
    /// The OpenSSH line (`ssh-ed25519-cert-v01@openssh.com AAAA… key-id`).
    pub line: String,
    /// The SHA-256 fingerprint of the signed public key.
    pub key_fingerprint: String,
}

/// `(valid_after, valid_before)` for a certificate made at `now` (Unix seconds) valid for
/// `ttl_secs`: backdated by [`BACKDATE_SECS`] for clock skew, ending `ttl_secs` after `now`.
pub fn validity(now: u64, ttl_secs: u64) -> (u64, u64) {
    (
        now.saturating_sub(BACKDATE_SECS),
        now.saturating_add(ttl_secs),
    )
}

/// When a certificate valid from `valid_after` to `valid_before` is renewed: two thirds in.
pub fn renew_at(valid_after: u64, valid_before: u64) -> u64 {
    let lifetime = valid_before.saturating_sub(valid_after);
    valid_after + lifetime * 2 / 3
}

fn ssh_error(error: ssh_key::Error) -> CaError {
    CaError::BadCsr(format!("SSH: {error}"))
}

pub struct SshCa {
    key: PrivateKey,
}

impl SshCa {
    /// Loads the CA from `dir`, or `None` when it was never made. Note that this uses
    /// blocking I/O.
    pub fn load(dir: &Path) -> Result<Option<SshCa>, CaError> {
        let path = dir.join(KEY_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(io_error(&path)(error)),
        };
        let key = PrivateKey::from_openssh(text).map_err(ssh_error)?;
        Ok(Some(SshCa { key }))
    }

    /// Loads the CA, making it first when there is none; `true` when it was made now. Note
    /// that this uses blocking I/O.
    pub fn load_or_create(dir: &Path) -> Result<(SshCa, bool), CaError> {
        if let Some(ca) = SshCa::load(dir)? {
            return Ok((ca, false));
        }
        std::fs::create_dir_all(dir).map_err(io_error(dir))?;
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(io_error(dir))?;
        }
        let mut key = random_ed25519()?;
        key.set_comment(COMMENT);
        let private = key.to_openssh(LineEnding::LF).map_err(ssh_error)?;
        write_private(&dir.join(KEY_FILE), private.as_bytes())?;
        let ca = SshCa { key };
        let public_path = dir.join(PUBLIC_FILE);
        std::fs::write(&public_path, format!("{}\n", ca.public_line()))
            .map_err(io_error(&public_path))?;
        Ok((ca, true))
    }

    /// The CA's public key line (`ssh-ed25519 AAAA… unity-ssh-ca`).
    pub fn public_line(&self) -> String {
        self.key
            .public_key()
            .to_openssh()
            .unwrap_or_else(|_| String::new())
    }

    /// `SHA256:…`, as `ssh-keygen -l` shows it.
    pub fn fingerprint(&self) -> String {
        self.key.fingerprint(HashAlg::Sha256).to_string()
    }

    /// Signs `public_key` (an OpenSSH public key line) as `request` says.
    pub fn sign(
        &self,
        public_key: &str,
        request: &SshCertRequest,
    ) -> Result<SignedSshCertificate, CaError> {
        let public = PublicKey::from_openssh(public_key.trim())
            .map_err(|error| CaError::BadCsr(format!("not an OpenSSH public key: {error}")))?;
        let mut builder = Builder::new(
            random_bytes::<32>()?.to_vec(),
            public.key_data().clone(),
            request.valid_after,
            request.valid_before,
        )
        .map_err(ssh_error)?;
        builder.serial(request.serial).map_err(ssh_error)?;
        builder.key_id(request.key_id.clone()).map_err(ssh_error)?;
        builder.comment(request.key_id.clone()).map_err(ssh_error)?;
        match request.kind {
            SshCertKind::Host => {
                builder.cert_type(CertType::Host).map_err(ssh_error)?;
            }
            SshCertKind::User => {
                builder.cert_type(CertType::User).map_err(ssh_error)?;
                for extension in USER_EXTENSIONS {
                    builder.extension(*extension, "").map_err(ssh_error)?;
                }
            }
        }
        if request.principals.is_empty() {
            return Err(CaError::BadCsr(
                "a certificate needs at least one principal".into(),
            ));
        }
        for principal in &request.principals {
            builder
                .valid_principal(principal.clone())
                .map_err(ssh_error)?;
        }
        let certificate = builder.sign(&self.key).map_err(ssh_error)?;
        Ok(SignedSshCertificate {
            line: certificate.to_openssh().map_err(ssh_error)?,
            key_fingerprint: public.fingerprint(HashAlg::Sha256).to_string(),
        })
    }
}

/// `N` bytes from the system's random generator.
fn random_bytes<const N: usize>() -> Result<[u8; N], CaError> {
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| CaError::Random)?;
    Ok(bytes)
}

/// A fresh ed25519 key from the system's random generator (the seed is wiped after use).
fn random_ed25519() -> Result<PrivateKey, CaError> {
    let mut seed = random_bytes::<32>()?;
    let key = PrivateKey::from(Ed25519Keypair::from_seed(&seed));
    seed.fill(0);
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn user_key() -> String {
        let key = random_ed25519().unwrap();
        key.public_key().to_openssh().unwrap()
    }

    #[test]
    fn validity_is_backdated_and_renewal_at_two_thirds() {
        assert_eq!(validity(1_000_000, 3600), (1_000_000 - 60, 1_003_600));
        assert_eq!(validity(10, 5), (0, 15));
        assert_eq!(renew_at(0, 30), 20);
        assert_eq!(renew_at(100, 100 + 30 * 86400), 100 + 20 * 86400);
    }

    #[test]
    fn the_key_is_made_once_private_and_signs_certificates_it_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let ca_dir = dir.path().join("ssh-ca");
        let (ca, created) = SshCa::load_or_create(&ca_dir).unwrap();
        assert!(created);
        let mode = std::fs::metadata(ca_dir.join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let (again, created) = SshCa::load_or_create(&ca_dir).unwrap();
        assert!(!created);
        assert_eq!(again.public_line(), ca.public_line());
        assert!(ca.public_line().starts_with("ssh-ed25519 "));
        assert!(ca.public_line().ends_with(COMMENT));

        let request = SshCertRequest {
            kind: SshCertKind::User,
            key_id: "ops for root".into(),
            serial: 7,
            principals: vec!["root".into()],
            valid_after: 1000,
            valid_before: 2000,
        };
        let user_key = user_key();
        let signed = ca.sign(&user_key, &request).unwrap();
        let certificate = ssh_key::Certificate::from_openssh(&signed.line).unwrap();
        assert_eq!(certificate.serial(), 7);
        assert_eq!(certificate.valid_principals(), ["root".to_owned()]);
        assert!(certificate.cert_type().is_user());
        assert!(certificate.extensions().contains_key("permit-pty"));
        let ca_fingerprint = ca.key.fingerprint(HashAlg::Sha256);
        certificate.validate_at(1500, [&ca_fingerprint]).unwrap();
        assert!(certificate.validate_at(2001, [&ca_fingerprint]).is_err());

        let host = SshCertRequest {
            kind: SshCertKind::Host,
            principals: vec!["nas".into(), "nas.home.arpa".into()],
            ..request.clone()
        };
        let signed = ca.sign(&user_key, &host).unwrap();
        let certificate = ssh_key::Certificate::from_openssh(&signed.line).unwrap();
        assert!(certificate.cert_type().is_host());
        assert!(certificate.extensions().is_empty());

        assert!(ca.sign("ssh-ed25519 nonsense", &request).is_err());
        let none = SshCertRequest {
            principals: Vec::new(),
            ..request
        };
        assert!(ca.sign(&user_key, &none).is_err());
    }
}
