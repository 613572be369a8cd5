//! Remote write positions (issue 20): for each endpoint, the newest timestamp sent of every
//! series, so an exporter resumes after a restart where it left off. One record per endpoint
//! in the `remote_write_positions` tree: endpoint name -> postcard `Vec<(series id, ts)>`.
//!
//! One record rather than one sled key per series: sled costs hundreds of bytes per key (see
//! `series/index.rs`), and the exporter saves a whole pass at a time anyway.

use super::StorageError;
use std::collections::BTreeMap;

const TREE: &str = "remote_write_positions";

/// Per series id, the newest timestamp (Unix ms) delivered to one endpoint.
pub type Positions = BTreeMap<u64, i64>;

/// The `remote_write_positions` tree.
pub struct RemoteWritePositions {
    tree: sled::Tree,
}

impl RemoteWritePositions {
    pub fn open(db: &sled::Db) -> Result<RemoteWritePositions, StorageError> {
        Ok(RemoteWritePositions {
            tree: db.open_tree(TREE)?,
        })
    }

    /// The positions of `endpoint`; empty when it never sent anything.
    pub fn load(&self, endpoint: &str) -> Result<Positions, StorageError> {
        let Some(bytes) = self.tree.get(endpoint.as_bytes())? else {
            return Ok(Positions::new());
        };
        let pairs: Vec<(u64, i64)> = super::decode(TREE, &bytes)?;
        Ok(pairs.into_iter().collect())
    }

    /// Replaces the positions of `endpoint` and makes them durable before returning.
    ///
    /// Note that this uses blocking I/O.
    pub fn save(&self, endpoint: &str, positions: &Positions) -> Result<(), StorageError> {
        let pairs: Vec<(u64, i64)> = positions.iter().map(|(&id, &ts)| (id, ts)).collect();
        let bytes = super::encode(TREE, &pairs)?;
        self.tree.insert(endpoint.as_bytes(), bytes)?;
        self.tree.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_write_positions_survive_a_reopen_per_endpoint() {
        let dir = tempfile::tempdir().unwrap();
        let positions: Positions = [(0, 1_000), (7, -5), (u64::MAX, i64::MAX)].into();
        {
            let db = crate::storage::open_test_db(dir.path());
            let store = RemoteWritePositions::open(&db).unwrap();
            assert!(store.load("vm").unwrap().is_empty());
            store.save("vm", &positions).unwrap();
            store.save("prom", &[(1, 2)].into()).unwrap();
        }
        let db = crate::storage::open_test_db(dir.path());
        let store = RemoteWritePositions::open(&db).unwrap();
        assert_eq!(store.load("vm").unwrap(), positions);
        assert_eq!(store.load("prom").unwrap(), [(1, 2)].into());
    }

    #[test]
    fn remote_write_positions_that_do_not_decode_are_corrupt_not_empty() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::storage::open_test_db(dir.path());
        db.open_tree(TREE)
            .unwrap()
            .insert("vm", &[0xff][..])
            .unwrap();
        let store = RemoteWritePositions::open(&db).unwrap();
        assert!(matches!(
            store.load("vm"),
            Err(StorageError::Corrupt { tree: TREE, .. })
        ));
    }
}
