//! Managed certificates: what the owner declared (names, host, key type, lifetime, files,
//! reload, issuer) and where issuance stands, one postcard record per certificate name; and
//! the serials the services CA revoked, for its CRL. No key material: keys stay on the hosts.
//!
//! Layout 2 keeps the installed chain (PEM, public) in [`IssuedRecord::chain_pem`], which an
//! ACME revocation needs; layout 1 (the first days of issue 15) had no chain. Postcard is
//! positional, so a record is decoded as layout 2 and, failing that, as layout 1 (each must
//! use every byte); layout-1 records are rewritten as layout 2 when next updated.

use super::{encode, StorageError};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use unity_shared::model::certificate::{CertificateFiles, CertificateName, KeyType};
use unity_shared::proto::AgentId;

/// Who signs a managed certificate. postcard encodes by position: append variants only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum IssuerKind {
    /// The controller's homelab services CA.
    ServicesCa,
    /// An ACME CA through the named `[acme]` provider.
    Acme { provider: String },
}

/// The certificate installed now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedRecord {
    pub serial_hex: String,
    pub not_after_unix: i64,
    pub issued_at_ms: i64,
    /// The reload ran and succeeded.
    pub reloaded: bool,
    /// The chain as issued (PEM: leaf first); empty for a layout-1 record.
    pub chain_pem: String,
}

/// Where issuance stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuanceState {
    pub issued: Option<IssuedRecord>,
    pub last_attempt_ms: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_at_ms: Option<i64>,
    /// Failures in a row (the retry backoff grows with them).
    pub failures: u32,
    /// Not before this time after a failure.
    pub retry_at_ms: Option<i64>,
    /// Revoked: never renewed again.
    pub revoked_at_ms: Option<i64>,
    /// Someone asked for a renewal now (the loop does it next, retry wait or not).
    pub renew_requested: bool,
}

/// One declared certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedCertificateRecord {
    pub name: CertificateName,
    pub host: AgentId,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<IpAddr>,
    pub key_type: KeyType,
    pub lifetime_secs: u64,
    pub files: CertificateFiles,
    pub reload: Option<Vec<String>>,
    pub issuer: IssuerKind,
    pub declared_by: String,
    pub declared_at_ms: i64,
    pub state: IssuanceState,
}

/// A record in layout 2, or else in layout 1 (no chain).
fn decode_record(bytes: &[u8]) -> Result<ManagedCertificateRecord, StorageError> {
    fn exact<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Option<T> {
        match postcard::take_from_bytes::<T>(bytes) {
            Ok((value, [])) => Some(value),
            _ => None,
        }
    }
    if let Some(record) = exact::<ManagedCertificateRecord>(bytes) {
        return Ok(record);
    }
    let old = exact::<layout1::Record>(bytes).ok_or_else(|| StorageError::Corrupt {
        tree: TREE,
        message: "neither layout 2 nor layout 1 of a managed certificate".into(),
    })?;
    Ok(old.upgrade())
}

/// Layout 1: [`IssuedRecord`] without the chain. Only ever read.
mod layout1 {
    use super::*;

    #[derive(Deserialize)]
    pub struct Issued {
        serial_hex: String,
        not_after_unix: i64,
        issued_at_ms: i64,
        reloaded: bool,
    }

    #[derive(Deserialize)]
    pub struct State {
        issued: Option<Issued>,
        last_attempt_ms: Option<i64>,
        last_error: Option<String>,
        last_error_at_ms: Option<i64>,
        failures: u32,
        retry_at_ms: Option<i64>,
        revoked_at_ms: Option<i64>,
        renew_requested: bool,
    }

    #[derive(Deserialize)]
    pub struct Record {
        name: CertificateName,
        host: AgentId,
        dns_names: Vec<String>,
        ip_addresses: Vec<IpAddr>,
        key_type: KeyType,
        lifetime_secs: u64,
        files: CertificateFiles,
        reload: Option<Vec<String>>,
        issuer: IssuerKind,
        declared_by: String,
        declared_at_ms: i64,
        state: State,
    }

    impl Record {
        pub fn upgrade(self) -> ManagedCertificateRecord {
            let state = self.state;
            ManagedCertificateRecord {
                name: self.name,
                host: self.host,
                dns_names: self.dns_names,
                ip_addresses: self.ip_addresses,
                key_type: self.key_type,
                lifetime_secs: self.lifetime_secs,
                files: self.files,
                reload: self.reload,
                issuer: self.issuer,
                declared_by: self.declared_by,
                declared_at_ms: self.declared_at_ms,
                state: IssuanceState {
                    issued: state.issued.map(|issued| IssuedRecord {
                        serial_hex: issued.serial_hex,
                        not_after_unix: issued.not_after_unix,
                        issued_at_ms: issued.issued_at_ms,
                        reloaded: issued.reloaded,
                        chain_pem: String::new(),
                    }),
                    last_attempt_ms: state.last_attempt_ms,
                    last_error: state.last_error,
                    last_error_at_ms: state.last_error_at_ms,
                    failures: state.failures,
                    retry_at_ms: state.retry_at_ms,
                    revoked_at_ms: state.revoked_at_ms,
                    renew_requested: state.renew_requested,
                },
            }
        }
    }
}

/// A serial the services CA revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokedSerialRecord {
    pub serial_hex: String,
    pub revoked_at_ms: i64,
    pub certificate: CertificateName,
}

/// The `managed_certificates` and `services_ca_revoked` trees.
pub struct ManagedCertificates {
    certificates: sled::Tree,
    revoked: sled::Tree,
}

const TREE: &str = "managed_certificates";
const REVOKED_TREE: &str = "services_ca_revoked";

impl ManagedCertificates {
    pub fn open(db: &sled::Db) -> Result<ManagedCertificates, StorageError> {
        Ok(ManagedCertificates {
            certificates: db.open_tree(TREE)?,
            revoked: db.open_tree(REVOKED_TREE)?,
        })
    }

    /// Adds a new record; `false` (and nothing written) when the name is taken.
    pub fn insert_new(&self, record: &ManagedCertificateRecord) -> Result<bool, StorageError> {
        let bytes = encode(TREE, record)?;
        let swapped = self.certificates.compare_and_swap(
            record.name.as_str().as_bytes(),
            None as Option<&[u8]>,
            Some(bytes),
        )?;
        Ok(swapped.is_ok())
    }

    pub fn get(
        &self,
        name: &CertificateName,
    ) -> Result<Option<ManagedCertificateRecord>, StorageError> {
        self.certificates
            .get(name.as_str().as_bytes())?
            .map(|bytes| decode_record(&bytes))
            .transpose()
    }

    /// Every record, ordered by name.
    pub fn list(&self) -> Result<Vec<ManagedCertificateRecord>, StorageError> {
        self.certificates
            .iter()
            .values()
            .map(|value| decode_record(&value?))
            .collect()
    }

    /// Changes a record in place (atomically against other updates); `None` if it is gone.
    pub fn update(
        &self,
        name: &CertificateName,
        change: impl Fn(&mut ManagedCertificateRecord),
    ) -> Result<Option<ManagedCertificateRecord>, StorageError> {
        let mut failure = None;
        let mut updated = None;
        self.certificates
            .fetch_and_update(name.as_str().as_bytes(), |old| {
                let old = old?;
                match decode_record(old) {
                    Ok(mut record) => {
                        change(&mut record);
                        match encode(TREE, &record) {
                            Ok(bytes) => {
                                updated = Some(record);
                                Some(bytes)
                            }
                            Err(error) => {
                                failure = Some(error);
                                Some(old.to_vec())
                            }
                        }
                    }
                    Err(error) => {
                        failure = Some(error);
                        Some(old.to_vec())
                    }
                }
            })?;
        match failure {
            Some(error) => Err(error),
            None => Ok(updated),
        }
    }

    /// Removes a record; `true` if there was one.
    pub fn remove(&self, name: &CertificateName) -> Result<bool, StorageError> {
        Ok(self
            .certificates
            .remove(name.as_str().as_bytes())?
            .is_some())
    }

    /// Records a revoked serial for the CRL.
    pub fn add_revoked(&self, record: &RevokedSerialRecord) -> Result<(), StorageError> {
        self.revoked
            .insert(record.serial_hex.as_bytes(), encode(REVOKED_TREE, record)?)?;
        Ok(())
    }

    /// Every revoked serial.
    pub fn revoked(&self) -> Result<Vec<RevokedSerialRecord>, StorageError> {
        self.revoked
            .iter()
            .values()
            .map(|value| super::decode(REVOKED_TREE, &value?))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_names_are_unique() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::storage::open_test_db(dir.path());
        let store = ManagedCertificates::open(&db).unwrap();
        let record = ManagedCertificateRecord {
            name: CertificateName::new("nas").unwrap(),
            host: AgentId::new("nas-1").unwrap(),
            dns_names: vec!["nas.home.arpa".into()],
            ip_addresses: vec!["192.168.1.2".parse().unwrap()],
            key_type: KeyType::Rsa3072,
            lifetime_secs: 86400,
            files: CertificateFiles {
                key: Some("/etc/nginx/nas.key".into()),
                key_mode: 0o600,
                ..CertificateFiles::default()
            },
            reload: Some(vec!["systemctl".into(), "reload".into(), "nginx".into()]),
            issuer: IssuerKind::ServicesCa,
            declared_by: "admin".into(),
            declared_at_ms: 1,
            state: IssuanceState::default(),
        };
        assert!(store.insert_new(&record).unwrap());
        assert!(!store.insert_new(&record).unwrap());
        let updated = store
            .update(&record.name, |record| record.state.failures = 3)
            .unwrap()
            .unwrap();
        assert_eq!(updated.state.failures, 3);
        assert_eq!(store.list().unwrap(), [updated]);
        assert!(store.remove(&record.name).unwrap());
        assert!(store.get(&record.name).unwrap().is_none());
        assert!(store
            .update(&record.name, |record| record.state.failures = 4)
            .unwrap()
            .is_none());
    }

    #[test]
    fn issue_15_layout_1_records_without_the_chain_still_decode() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::storage::open_test_db(dir.path());
        let store = ManagedCertificates::open(&db).unwrap();
        let issued = IssuedRecord {
            serial_hex: "0a".into(),
            not_after_unix: 2_000_000_000,
            issued_at_ms: 5,
            reloaded: true,
            chain_pem: String::new(),
        };
        let mut record = ManagedCertificateRecord {
            name: CertificateName::new("web").unwrap(),
            host: AgentId::new("nas-1").unwrap(),
            dns_names: vec!["web.home.test".into()],
            ip_addresses: Vec::new(),
            key_type: KeyType::EcdsaP256,
            lifetime_secs: 60,
            files: CertificateFiles::default(),
            reload: None,
            issuer: IssuerKind::Acme {
                provider: "pebble".into(),
            },
            declared_by: "admin".into(),
            declared_at_ms: 1,
            state: IssuanceState {
                issued: Some(issued.clone()),
                failures: 2,
                renew_requested: true,
                ..IssuanceState::default()
            },
        };
        // Layout 1 is layout 2 without the chain: drop the empty string's one length byte,
        // the last byte of the issued record inside the state, which ends the record.
        let mut bytes = postcard::to_allocvec(&record).unwrap();
        let state = postcard::to_allocvec(&record.state).unwrap();
        let chain_at = bytes.len() - state.len() + postcard::to_allocvec(&issued).unwrap().len();
        assert_eq!(bytes.remove(chain_at), 0);
        db.open_tree(TREE)
            .unwrap()
            .insert("web", bytes.clone())
            .unwrap();
        assert_eq!(store.get(&record.name).unwrap().as_ref(), Some(&record));
        // Rewritten as layout 2 by the next update.
        store
            .update(&record.name, |record| record.state.failures = 3)
            .unwrap();
        record.state.failures = 3;
        let stored = db.open_tree(TREE).unwrap().get("web").unwrap().unwrap();
        assert_eq!(
            postcard::from_bytes::<ManagedCertificateRecord>(&stored).unwrap(),
            record
        );
        // Bytes that are neither layout are corruption, named as such.
        let error = decode_record(&bytes[..bytes.len() - 3]).unwrap_err();
        assert!(error.to_string().contains("neither layout"), "{error}");
    }
}
