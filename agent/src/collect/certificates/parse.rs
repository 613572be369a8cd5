//! Certificate files and served chains, decoded (pure: bytes in, typed certificates out, no
//! I/O). A file may be PEM (one or many `CERTIFICATE` blocks, possibly with a private key
//! beside them: the key block is counted and dropped, its bytes never kept) or one DER
//! certificate. PKCS#12 is not decoded (see `docs/certificates/inventory.md`). Nothing here
//! panics on hostile input: a block that does not decode is an error string for the caller
//! to report.

use sha2::{Digest, Sha256};
use std::net::IpAddr;
use unity_shared::model::certificate::{FileFormat, PublicKeyKind, SubjectName};
use x509_parser::der_parser::oid::Oid;
use x509_parser::prelude::{FromDer, GeneralName, ParsedExtension, X509Certificate, X509Name};
use x509_parser::public_key::PublicKey;

/// One decoded certificate, with the raw names the chain checks compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// RFC 4514, most specific first (`CN=nas.home.arpa,O=Home`).
    pub subject: String,
    pub issuer: String,
    /// The DER of the subject and issuer names: what "issued by" compares.
    pub subject_der: Vec<u8>,
    pub issuer_der: Vec<u8>,
    pub names: Vec<SubjectName>,
    pub serial_hex: String,
    pub not_before_unix: i64,
    pub not_after_unix: i64,
    pub key: PublicKeyKind,
    pub is_ca: bool,
    pub sha256_hex: String,
}

impl Certificate {
    /// Subject and issuer are the same name.
    pub fn self_issued(&self) -> bool {
        self.subject_der == self.issuer_der
    }
}

/// What one file held.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ParsedFile {
    pub format: Option<FileFormat>,
    pub certificates: Vec<Certificate>,
    /// Private-key blocks seen (their contents are dropped at once).
    pub private_keys: usize,
    /// Blocks that looked like certificates and did not decode, with why.
    pub errors: Vec<String>,
}

/// PEM labels of certificates.
const CERTIFICATE_LABELS: &[&str] = &["CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE"];

/// Decodes a file's bytes: PEM when it has a `-----BEGIN ` line, else one DER certificate
/// when it starts like one (an ASN.1 SEQUENCE). Anything else holds no certificate.
pub fn parse_file(bytes: &[u8]) -> ParsedFile {
    if contains(bytes, b"-----BEGIN ") {
        return parse_pem(bytes);
    }
    let mut parsed = ParsedFile::default();
    if bytes.first() == Some(&0x30) {
        parsed.format = Some(FileFormat::Der);
        match parse_der(bytes) {
            Ok(certificate) => parsed.certificates.push(certificate),
            Err(error) => parsed.errors.push(error),
        }
    }
    parsed
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

fn parse_pem(bytes: &[u8]) -> ParsedFile {
    let mut parsed = ParsedFile {
        format: Some(FileFormat::Pem),
        ..ParsedFile::default()
    };
    for (index, block) in x509_parser::pem::Pem::iter_from_buffer(bytes).enumerate() {
        match block {
            Ok(block) if CERTIFICATE_LABELS.contains(&block.label.as_str()) => {
                match parse_der(&block.contents) {
                    Ok(certificate) => parsed.certificates.push(certificate),
                    Err(error) => parsed
                        .errors
                        .push(format!("PEM block {}: {error}", index + 1)),
                }
            }
            Ok(block) => {
                if block.label.ends_with("PRIVATE KEY") {
                    parsed.private_keys += 1;
                }
                // Dropped here: key material is never kept.
            }
            Err(error) => {
                parsed
                    .errors
                    .push(format!("PEM block {}: {error}", index + 1));
                // A broken block leaves the reader at an unknown place: stop.
                break;
            }
        }
    }
    parsed
}

/// Decodes one DER certificate.
pub fn parse_der(der: &[u8]) -> Result<Certificate, String> {
    let (rest, certificate) = X509Certificate::from_der(der)
        .map_err(|error| format!("not a valid X.509 certificate: {error}"))?;
    let used = &der[..der.len() - rest.len()];
    Ok(describe(&certificate, used))
}

fn describe(certificate: &X509Certificate<'_>, der: &[u8]) -> Certificate {
    let tbs = &certificate.tbs_certificate;
    let mut names = Vec::new();
    let mut is_ca = false;
    for extension in tbs.extensions() {
        match extension.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(san) => {
                names.extend(san.general_names.iter().filter_map(subject_name));
            }
            ParsedExtension::BasicConstraints(constraints) => is_ca = constraints.ca,
            _ => {}
        }
    }
    Certificate {
        subject: rfc4514(&tbs.subject),
        issuer: rfc4514(&tbs.issuer),
        subject_der: tbs.subject.as_raw().to_vec(),
        issuer_der: tbs.issuer.as_raw().to_vec(),
        names,
        serial_hex: hex(trim_zeros(tbs.raw_serial())),
        not_before_unix: tbs.validity.not_before.timestamp(),
        not_after_unix: tbs.validity.not_after.timestamp(),
        key: key_kind(certificate),
        is_ca,
        sha256_hex: hex(&Sha256::digest(der)),
    }
}

fn subject_name(name: &GeneralName<'_>) -> Option<SubjectName> {
    match name {
        GeneralName::DNSName(dns) => Some(SubjectName::Dns((*dns).to_owned())),
        GeneralName::RFC822Name(email) => Some(SubjectName::Email((*email).to_owned())),
        GeneralName::URI(uri) => Some(SubjectName::Uri((*uri).to_owned())),
        GeneralName::IPAddress(bytes) => match bytes.len() {
            4 => <[u8; 4]>::try_from(*bytes)
                .ok()
                .map(|octets| SubjectName::Ip(IpAddr::from(octets))),
            16 => <[u8; 16]>::try_from(*bytes)
                .ok()
                .map(|octets| SubjectName::Ip(IpAddr::from(octets))),
            _ => None,
        },
        _ => None,
    }
}

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_ED25519: &str = "1.3.101.112";
const OID_ED448: &str = "1.3.101.113";

fn key_kind(certificate: &X509Certificate<'_>) -> PublicKeyKind {
    let spki = certificate.public_key();
    let algorithm = spki.algorithm.algorithm.to_id_string();
    match algorithm.as_str() {
        OID_RSA => match spki.parsed() {
            Ok(PublicKey::RSA(rsa)) => PublicKeyKind::Rsa {
                bits: significant_bits(rsa.modulus),
            },
            _ => PublicKeyKind::Other { oid: algorithm },
        },
        OID_EC => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|parameters| parameters.as_oid().ok())
                .map(|oid| curve_name(&oid))
                .unwrap_or_else(|| "unknown".to_owned());
            PublicKeyKind::Ecdsa { curve }
        }
        OID_ED25519 => PublicKeyKind::Ed25519,
        OID_ED448 => PublicKeyKind::Ed448,
        _ => PublicKeyKind::Other { oid: algorithm },
    }
}

fn curve_name(oid: &Oid<'_>) -> String {
    let id = oid.to_id_string();
    match id.as_str() {
        "1.2.840.10045.3.1.7" => "P-256".to_owned(),
        "1.3.132.0.34" => "P-384".to_owned(),
        "1.3.132.0.35" => "P-521".to_owned(),
        _ => id,
    }
}

fn trim_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|byte| *byte != 0)
        .unwrap_or(bytes.len().saturating_sub(1));
    &bytes[start..]
}

/// Bits of an unsigned big-endian integer (an RSA modulus with its sign byte).
fn significant_bits(bytes: &[u8]) -> u32 {
    let bytes = trim_zeros(bytes);
    match bytes.first() {
        Some(first) => {
            let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX / 8);
            len * 8 - first.leading_zeros()
        }
        None => 0,
    }
}

/// Lowercase hex without separators.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut out, byte| {
        let _ = write!(out, "{byte:02x}");
        out
    })
}

/// A name as RFC 4514 writes it: the last RDN first, `+` inside an RDN, values escaped.
fn rfc4514(name: &X509Name<'_>) -> String {
    let registry = x509_parser::objects::oid_registry();
    let mut rdns: Vec<String> = name
        .iter()
        .map(|rdn| {
            rdn.iter()
                .map(|attribute| {
                    let key = x509_parser::objects::oid2abbrev(attribute.attr_type(), registry)
                        .map(str::to_owned)
                        .unwrap_or_else(|_| attribute.attr_type().to_id_string());
                    let value = match attribute.as_str() {
                        Ok(text) => escape_value(text),
                        Err(_) => format!("#{}", hex(attribute.attr_value().data)),
                    };
                    format!("{key}={value}")
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.reverse();
    rdns.join(",")
}

fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (index, character) in value.chars().enumerate() {
        let special = matches!(character, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=')
            || (index == 0 && matches!(character, '#' | ' '))
            || (index == last && character == ' ');
        if special {
            out.push('\\');
        }
        if character == '\0' {
            out.push_str("\\00");
        } else {
            out.push(character);
        }
    }
    out
}
