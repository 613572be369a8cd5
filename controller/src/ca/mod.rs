//! The controller's certificate authority: creates its CA on first start, issues the server
//! certificate agents verify, and signs agent CSRs from a fixed profile.
//!
//! Invariant: nothing a CSR asks for except its public key reaches a certificate. The identity,
//! validity, key usage and CA flag all come from [`CertificateAuthority::sign_agent`].

pub mod release;
pub mod services;
pub mod services_slot;
pub mod ssh;
pub mod verifier;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use time::OffsetDateTime;
use unity_shared::proto::{AgentId, CONTROLLER_SERVER_NAME};

/// Certificate authority errors.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// Reading or writing the CA files failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Certificate generation or parsing failed.
    #[error("certificate: {0}")]
    Rcgen(#[from] rcgen::Error),
    /// The CSR was malformed, badly signed or used an unsupported extension.
    #[error("{0}")]
    BadCsr(String),
    /// The system's random generator failed.
    #[error("the system random generator failed")]
    Random,
}

/// What was issued to an agent.
#[derive(Debug, Clone)]
pub struct IssuedCertificate {
    pub der: CertificateDer<'static>,
    pub serial_hex: String,
    pub not_after_unix: i64,
}

pub struct CertificateAuthority {
    ca_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
    server_der: CertificateDer<'static>,
    server_key_der: Vec<u8>,
}

const CA_CERT_FILE: &str = "ca.crt";
const CA_KEY_FILE: &str = "ca.key";

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> CaError + '_ {
    move |source| CaError::Io {
        path: path.to_owned(),
        source,
    }
}

fn random_serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    // A positive INTEGER without a leading zero byte: clear the top bit, keep it non-zero.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::from_slice(&bytes)
}

fn offset_time(at: SystemTime) -> OffsetDateTime {
    let seconds = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or(0);
    OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Writes `contents` to `path` atomically, readable by the owner only.
fn write_private(path: &Path, contents: &[u8]) -> Result<(), CaError> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io_error(&tmp))?;
    file.write_all(contents).map_err(io_error(&tmp))?;
    file.sync_all().map_err(io_error(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_error(path))?;
    Ok(())
}

impl CertificateAuthority {
    /// Loads the CA from `dir`, creating it on first start.
    ///
    /// Note that this uses blocking I/O.
    pub fn load_or_create(dir: &Path) -> Result<CertificateAuthority, CaError> {
        std::fs::create_dir_all(dir).map_err(io_error(dir))?;
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        let (ca_der, issuer) = if key_path.exists() {
            let key_pem = std::fs::read_to_string(&key_path).map_err(io_error(&key_path))?;
            let cert_pem = std::fs::read_to_string(&cert_path).map_err(io_error(&cert_path))?;
            let key = KeyPair::from_pem(&key_pem)?;
            let ca_der = pem_to_der(&cert_pem).ok_or(rcgen::Error::CouldNotParseCertificate)?;
            let issuer = Issuer::from_ca_cert_der(&ca_der, key)?;
            (ca_der, issuer)
        } else {
            let key = KeyPair::generate()?;
            let mut params = CertificateParams::default();
            let mut name = DistinguishedName::new();
            name.push(DnType::CommonName, "Unity controller CA");
            name.push(DnType::OrganizationName, "Unity");
            params.distinguished_name = name;
            params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
            params.key_usages = vec![
                KeyUsagePurpose::KeyCertSign,
                KeyUsagePurpose::CrlSign,
                KeyUsagePurpose::DigitalSignature,
            ];
            params.serial_number = Some(random_serial());
            let now = SystemTime::now();
            params.not_before = offset_time(now - Duration::from_secs(3600));
            params.not_after = offset_time(now + Duration::from_secs(20 * 365 * 24 * 3600));
            let certificate = params.self_signed(&key)?;
            write_private(&key_path, key.serialize_pem().as_bytes())?;
            std::fs::write(&cert_path, certificate.pem()).map_err(io_error(&cert_path))?;
            let ca_der = certificate.der().clone();
            (ca_der, Issuer::new(params, key))
        };
        let server_key = KeyPair::generate()?;
        let mut params = CertificateParams::new(vec![CONTROLLER_SERVER_NAME.to_owned()])?;
        params
            .distinguished_name
            .push(DnType::CommonName, CONTROLLER_SERVER_NAME);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.serial_number = Some(random_serial());
        params.use_authority_key_identifier_extension = true;
        let now = SystemTime::now();
        params.not_before = offset_time(now - Duration::from_secs(3600));
        params.not_after = offset_time(now + Duration::from_secs(365 * 24 * 3600));
        let server = params.signed_by(&server_key, &issuer)?;
        Ok(CertificateAuthority {
            ca_der,
            issuer,
            server_der: server.der().clone(),
            server_key_der: server_key.serialize_der(),
        })
    }

    pub fn ca_der(&self) -> &CertificateDer<'static> {
        &self.ca_der
    }

    /// The pin agents pass as `--ca-hash`.
    pub fn ca_hash(&self) -> String {
        unity_shared::tls::ca_hash(&self.ca_der).unwrap_or_default()
    }

    /// The server chain (leaf, CA) and key the QUIC endpoint presents.
    pub fn server_identity(&self) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key_der.clone()));
        (vec![self.server_der.clone(), self.ca_der.clone()], key)
    }

    /// Issues a fresh TLS server certificate for `names` (DNS names or IP addresses), valid for
    /// a year, for the dashboard's HTTPS. Returns the chain (leaf, CA) and the new key.
    pub fn issue_server_certificate(
        &self,
        names: &[String],
    ) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), CaError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(names.to_vec())?;
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().map_or("unity", String::as_str),
        );
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.serial_number = Some(random_serial());
        params.use_authority_key_identifier_extension = true;
        let now = SystemTime::now();
        params.not_before = offset_time(now - Duration::from_secs(3600));
        params.not_after = offset_time(now + Duration::from_secs(365 * 24 * 3600));
        let certificate = params.signed_by(&key, &self.issuer)?;
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        Ok((
            vec![certificate.der().clone(), self.ca_der.clone()],
            key_der,
        ))
    }

    /// Signs a certificate for `agent_id` over the CSR's public key only.
    pub fn sign_agent(
        &self,
        csr_der: &[u8],
        agent_id: &AgentId,
        lifetime: Duration,
        now: SystemTime,
    ) -> Result<IssuedCertificate, CaError> {
        let csr = CertificateSigningRequestParams::from_der(&csr_der.into())
            .map_err(|error| CaError::BadCsr(error.to_string()))?;
        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, agent_id.as_str());
        name.push(DnType::OrganizationName, "Unity agent");
        params.distinguished_name = name;
        let uri = format!("urn:unity:agent:{agent_id}");
        params.subject_alt_names = vec![SanType::URI(uri.try_into()?)];
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let serial = random_serial();
        let serial_hex = hex::encode(serial.as_ref());
        params.serial_number = Some(serial);
        params.use_authority_key_identifier_extension = true;
        let not_after = now + lifetime;
        // Tolerate some clock skew, without distorting short test lifetimes.
        let backdate = Duration::from_secs(300).min(lifetime / 10);
        params.not_before = offset_time(now - backdate);
        params.not_after = offset_time(not_after);
        let certificate = params.signed_by(&csr.public_key, &self.issuer)?;
        Ok(IssuedCertificate {
            der: certificate.der().clone(),
            serial_hex,
            not_after_unix: offset_time(not_after).unix_timestamp(),
        })
    }
}

fn pem_to_der(pem: &str) -> Option<CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::from_pem_slice(pem.as_bytes()).ok()
}

#[cfg(test)]
mod services_tests;
#[cfg(test)]
mod tests;
