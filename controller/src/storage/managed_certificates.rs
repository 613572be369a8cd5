//! Managed certificates: what the owner declared (names, host, key type, lifetime, files,
//! reload, issuer) and where issuance stands, one postcard record per certificate name; and
//! the serials the services CA revoked, for its CRL. No key material: keys stay on the hosts.

use super::{decode, encode, StorageError};
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
            .map(|bytes| decode(TREE, &bytes))
            .transpose()
    }

    /// Every record, ordered by name.
    pub fn list(&self) -> Result<Vec<ManagedCertificateRecord>, StorageError> {
        self.certificates
            .iter()
            .values()
            .map(|value| decode(TREE, &value?))
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
                match decode::<ManagedCertificateRecord>(TREE, old) {
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
            .map(|value| decode(REVOKED_TREE, &value?))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_names_are_unique() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
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
}
