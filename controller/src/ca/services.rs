//! The homelab *services* CA: a second root, apart from the agent-identity CA in [`super`],
//! that signs TLS server certificates for the owner's services (nginx, a NAS, a printer).
//!
//! The two are never interchangeable: different keys and roots in different files; this root
//! signs leaves with the `serverAuth` extended key usage only, the agent CA signs agent
//! certificates with `clientAuth` only, and the QUIC verifier trusts the agent root alone and
//! requires `clientAuth` (tests in `services_tests.rs`). As with [`super::CertificateAuthority::sign_agent`],
//! nothing a CSR asks for but its public key reaches a certificate: the names come from the
//! owner's declaration.
//!
//! When the owner sets domains (and IP ranges), the root carries name constraints permitting
//! only those. The constraints are part of the root: when they change, the root is re-issued
//! with the same key and subject (so certificates already issued still chain to it) and the
//! previous root is kept as `ca-previous.crt`; trust stores must get the new root for the new
//! constraints to apply.

use super::{io_error, offset_time, pem_to_der, random_serial, write_private, CaError};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams,
    CertificateSigningRequestParams, CidrSubnet, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, GeneralSubtree, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose,
    NameConstraints, RevokedCertParams, SanType, SerialNumber,
};
use rustls::pki_types::CertificateDer;
use std::net::IpAddr;
use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, SystemTime};
use unity_shared::model::certificate::KeyType;

const CERT_FILE: &str = "ca.crt";
const PREVIOUS_CERT_FILE: &str = "ca-previous.crt";
const KEY_FILE: &str = "ca.key";
const SCOPE_FILE: &str = "name-constraints";

/// The names the root permits: DNS subtrees (`home.arpa` permits `nas.home.arpa`) and IP
/// ranges in CIDR form. Both empty: no constraints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameScope {
    pub dns: Vec<String>,
    pub ip_ranges: Vec<String>,
}

impl NameScope {
    /// How the scope is kept beside the root, to notice a change.
    fn canonical(&self) -> String {
        format!(
            "dns={}\nip={}\n",
            self.dns.join(","),
            self.ip_ranges.join(",")
        )
    }

    fn is_empty(&self) -> bool {
        self.dns.is_empty() && self.ip_ranges.is_empty()
    }

    /// Whether `name` is inside a permitted DNS subtree (always, without constraints).
    pub fn permits_dns(&self, name: &str) -> bool {
        if self.is_empty() {
            return true;
        }
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        self.dns.iter().any(|domain| {
            let domain = domain.trim_start_matches('.').to_ascii_lowercase();
            name == domain || name.ends_with(&format!(".{domain}"))
        })
    }

    /// Whether `ip` is inside a permitted range (always, without constraints).
    pub fn permits_ip(&self, ip: IpAddr) -> bool {
        if self.is_empty() {
            return true;
        }
        self.ip_ranges
            .iter()
            .any(|range| ipnet::IpNet::from_str(range).is_ok_and(|network| network.contains(&ip)))
    }

    fn constraints(&self) -> Result<Option<NameConstraints>, CaError> {
        if self.is_empty() {
            return Ok(None);
        }
        let mut permitted: Vec<GeneralSubtree> = self
            .dns
            .iter()
            .map(|domain| GeneralSubtree::DnsName(domain.clone()))
            .collect();
        for range in &self.ip_ranges {
            let subnet = CidrSubnet::from_str(range)
                .map_err(|_| CaError::BadCsr(format!("not an IP range: {range}")))?;
            permitted.push(GeneralSubtree::IpAddress(subnet));
        }
        // Without a permitted IP subtree, RFC 5280 leaves IP addresses unconstrained: exclude
        // them all, so a leaf with an IP outside the configuration never validates.
        let excluded = if self.ip_ranges.is_empty() {
            vec![
                GeneralSubtree::IpAddress(CidrSubnet::from_v4_prefix([0, 0, 0, 0], 0)),
                GeneralSubtree::IpAddress(CidrSubnet::from_v6_prefix([0; 16], 0)),
            ]
        } else {
            Vec::new()
        };
        Ok(Some(NameConstraints {
            permitted_subtrees: permitted,
            excluded_subtrees: excluded,
        }))
    }
}

/// A certificate the services CA signed.
#[derive(Debug, Clone)]
pub struct IssuedService {
    /// The leaf alone (this CA has no intermediates), PEM.
    pub chain_pem: String,
    pub serial_hex: String,
    pub not_after_unix: i64,
}

/// What a leaf is for: its names (from the owner's declaration) and the key type the CSR
/// must carry.
#[derive(Debug, Clone)]
pub struct ServiceProfile<'a> {
    pub dns_names: &'a [String],
    pub ip_addresses: &'a [IpAddr],
    pub key_type: KeyType,
    pub lifetime: Duration,
}

/// A serial the CRL lists, and when it was revoked (Unix seconds).
#[derive(Debug, Clone)]
pub struct RevokedSerial {
    pub serial_hex: String,
    pub revoked_at_unix: i64,
}

pub struct ServicesCa {
    root_der: CertificateDer<'static>,
    root_pem: String,
    issuer: Issuer<'static, KeyPair>,
    scope: NameScope,
}

fn root_params(scope: &NameScope, now: SystemTime) -> Result<CertificateParams, CaError> {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, "Unity homelab services CA");
    name.push(DnType::OrganizationName, "Unity");
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.name_constraints = scope.constraints()?;
    params.serial_number = Some(random_serial());
    params.not_before = offset_time(now - Duration::from_secs(3600));
    params.not_after = offset_time(now + Duration::from_secs(10 * 365 * 24 * 3600));
    Ok(params)
}

impl ServicesCa {
    /// Loads the services CA from `dir`, creating it (0700 directory, 0600 key) when absent,
    /// and re-issuing the root with the same key when `scope` differs from the root's.
    ///
    /// Note that this uses blocking I/O.
    pub fn load_or_create(dir: &Path, scope: &NameScope) -> Result<ServicesCa, CaError> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io_error(dir))?;
        let cert_path = dir.join(CERT_FILE);
        let key_path = dir.join(KEY_FILE);
        let scope_path = dir.join(SCOPE_FILE);
        let now = SystemTime::now();
        if key_path.exists() {
            let key_pem = std::fs::read_to_string(&key_path).map_err(io_error(&key_path))?;
            let cert_pem = std::fs::read_to_string(&cert_path).map_err(io_error(&cert_path))?;
            let key = KeyPair::from_pem(&key_pem)?;
            let stored_scope = std::fs::read_to_string(&scope_path).unwrap_or_default();
            if stored_scope == scope.canonical() {
                let root_der =
                    pem_to_der(&cert_pem).ok_or(rcgen::Error::CouldNotParseCertificate)?;
                let issuer = Issuer::from_ca_cert_der(&root_der, key)?;
                return Ok(ServicesCa {
                    root_der,
                    root_pem: cert_pem,
                    issuer,
                    scope: scope.clone(),
                });
            }
            tracing::warn!(
                domains = ?scope.dns,
                ip_ranges = ?scope.ip_ranges,
                "The services CA's name constraints changed: re-issuing its root with the same key; install the new root in trust stores."
            );
            let previous = dir.join(PREVIOUS_CERT_FILE);
            std::fs::write(&previous, cert_pem).map_err(io_error(&previous))?;
            return Self::issue_root(dir, key, scope, now);
        }
        let key = KeyPair::generate()?;
        write_private(&key_path, key.serialize_pem().as_bytes())?;
        Self::issue_root(dir, key, scope, now)
    }

    fn issue_root(
        dir: &Path,
        key: KeyPair,
        scope: &NameScope,
        now: SystemTime,
    ) -> Result<ServicesCa, CaError> {
        let params = root_params(scope, now)?;
        let root = params.self_signed(&key)?;
        let cert_path = dir.join(CERT_FILE);
        std::fs::write(&cert_path, root.pem()).map_err(io_error(&cert_path))?;
        let scope_path = dir.join(SCOPE_FILE);
        std::fs::write(&scope_path, scope.canonical()).map_err(io_error(&scope_path))?;
        Ok(ServicesCa {
            root_der: root.der().clone(),
            root_pem: root.pem(),
            issuer: Issuer::new(params, key),
            scope: scope.clone(),
        })
    }

    /// The root, DER.
    pub fn root_der(&self) -> &CertificateDer<'static> {
        &self.root_der
    }

    /// The root, PEM.
    pub fn root_pem(&self) -> &str {
        &self.root_pem
    }

    /// SHA-256 over the root's DER, hex, for comparing with what a trust store shows.
    pub fn root_sha256(&self) -> String {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(self.root_der.as_ref()))
    }

    pub fn scope(&self) -> &NameScope {
        &self.scope
    }

    /// Signs a server certificate over the CSR's public key for the profile's names. The CSR
    /// must be well signed and carry a key of the profile's type; its subject, names and
    /// extensions are ignored.
    pub fn sign_service(
        &self,
        csr_der: &[u8],
        profile: &ServiceProfile<'_>,
        now: SystemTime,
    ) -> Result<IssuedService, CaError> {
        check_key_type(csr_der, profile.key_type)?;
        let csr = CertificateSigningRequestParams::from_der(&csr_der.into())
            .map_err(|error| CaError::BadCsr(error.to_string()))?;
        if profile.dns_names.is_empty() && profile.ip_addresses.is_empty() {
            return Err(CaError::BadCsr(
                "a certificate needs at least one name".into(),
            ));
        }
        for name in profile.dns_names {
            if !self.scope.permits_dns(name) {
                return Err(CaError::BadCsr(format!(
                    "{name} is outside the services CA's domains"
                )));
            }
        }
        for ip in profile.ip_addresses {
            if !self.scope.permits_ip(*ip) {
                return Err(CaError::BadCsr(format!(
                    "{ip} is outside the services CA's IP ranges"
                )));
            }
        }
        let mut params = CertificateParams::default();
        let common_name = profile
            .dns_names
            .first()
            .cloned()
            .or_else(|| profile.ip_addresses.first().map(ToString::to_string))
            .unwrap_or_default();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        let mut names = Vec::new();
        for name in profile.dns_names {
            names.push(SanType::DnsName(name.clone().try_into()?));
        }
        names.extend(
            profile
                .ip_addresses
                .iter()
                .map(|ip| SanType::IpAddress(*ip)),
        );
        params.subject_alt_names = names;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        if matches!(profile.key_type, KeyType::Rsa2048 | KeyType::Rsa3072) {
            params.key_usages.push(KeyUsagePurpose::KeyEncipherment);
        }
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let serial = random_serial();
        let serial_hex = hex::encode(serial.as_ref());
        params.serial_number = Some(serial);
        params.use_authority_key_identifier_extension = true;
        let not_after = now + profile.lifetime;
        let backdate = Duration::from_secs(300).min(profile.lifetime / 10);
        params.not_before = offset_time(now - backdate);
        params.not_after = offset_time(not_after);
        let certificate = params.signed_by(&csr.public_key, &self.issuer)?;
        Ok(IssuedService {
            chain_pem: certificate.pem(),
            serial_hex,
            not_after_unix: offset_time(not_after).unix_timestamp(),
        })
    }

    /// The certificate revocation list over `revoked`, valid for a week, DER.
    pub fn crl_der(&self, revoked: &[RevokedSerial], now: SystemTime) -> Result<Vec<u8>, CaError> {
        let revoked_certs = revoked
            .iter()
            .filter_map(|entry| {
                let serial = hex::decode(&entry.serial_hex).ok()?;
                Some(RevokedCertParams {
                    serial_number: SerialNumber::from_slice(&serial),
                    revocation_time: offset_time(
                        SystemTime::UNIX_EPOCH
                            + Duration::from_secs(entry.revoked_at_unix.max(0) as u64),
                    ),
                    reason_code: None,
                    invalidity_date: None,
                })
            })
            .collect();
        let seconds = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs())
            .unwrap_or(0);
        let params = CertificateRevocationListParams {
            this_update: offset_time(now),
            next_update: offset_time(now + Duration::from_secs(7 * 24 * 3600)),
            crl_number: SerialNumber::from(seconds),
            issuing_distribution_point: None,
            revoked_certs,
            key_identifier_method: KeyIdMethod::Sha256,
        };
        Ok(params.signed_by(&self.issuer)?.der().to_vec())
    }
}

/// Refuses a CSR whose public key is not of `key_type` (curve or RSA size included).
fn check_key_type(csr_der: &[u8], key_type: KeyType) -> Result<(), CaError> {
    use x509_parser::prelude::FromDer;
    use x509_parser::public_key::PublicKey;
    let (_, csr) = x509_parser::certification_request::X509CertificationRequest::from_der(csr_der)
        .map_err(|error| CaError::BadCsr(format!("not a CSR: {error}")))?;
    let spki = &csr.certification_request_info.subject_pki;
    let parsed = spki
        .parsed()
        .map_err(|error| CaError::BadCsr(format!("unreadable public key: {error}")))?;
    let found = match &parsed {
        PublicKey::RSA(rsa) => match rsa.key_size() {
            2048 => Some(KeyType::Rsa2048),
            3072 => Some(KeyType::Rsa3072),
            _ => None,
        },
        PublicKey::EC(_)
            if spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|parameters| parameters.as_oid().ok())
                == Some(x509_parser::oid_registry::OID_EC_P256) =>
        {
            Some(KeyType::EcdsaP256)
        }
        _ if spki.algorithm.algorithm == x509_parser::oid_registry::OID_SIG_ED25519 => {
            Some(KeyType::Ed25519)
        }
        _ => None,
    };
    if found == Some(key_type) {
        Ok(())
    } else {
        Err(CaError::BadCsr(format!(
            "the CSR's key is not the declared {key_type:?}"
        )))
    }
}
