//! Remote write positions (issue 20): for each endpoint, the newest timestamp delivered of
//! every series, and the batch in flight, so an exporter resumes after a restart where it
//! left off and first sends the uncertain batch again exactly as it was.
//!
//! Tree `remote_write_positions`, keys under `<endpoint> 0x00`:
//! - `p ++ shard (u64 BE)`: postcard `Vec<(series id, ts)>` of the series ids
//!   `shard * SHARD ..` (a batch rewrites only the shards it touched; one sled key per series
//!   would cost hundreds of bytes each, see `series/index.rs`);
//! - `f`: the batch in flight, postcard `Vec<(series id, after, newest)>`, written and made
//!   durable before the batch is sent, removed with the positions update after it was
//!   delivered (one atomic sled batch).

use super::StorageError;
use std::collections::{BTreeMap, BTreeSet};

const TREE: &str = "remote_write_positions";
/// Series ids per shard record.
const SHARD: u64 = 1024;

/// Per series id, the newest timestamp (Unix ms) delivered to one endpoint.
pub type Positions = BTreeMap<u64, i64>;

/// One series' part of a batch: the samples after `after` (None: from the first) up to and
/// including `newest`.
pub type Range = (u64, Option<i64>, i64);

/// The `remote_write_positions` tree.
pub struct RemoteWritePositions {
    tree: sled::Tree,
}

fn prefix(endpoint: &str) -> Vec<u8> {
    let mut key = endpoint.as_bytes().to_vec();
    key.push(0);
    key
}

fn shard_key(endpoint: &str, shard: u64) -> Vec<u8> {
    let mut key = prefix(endpoint);
    key.push(b'p');
    key.extend_from_slice(&shard.to_be_bytes());
    key
}

fn in_flight_key(endpoint: &str) -> Vec<u8> {
    let mut key = prefix(endpoint);
    key.push(b'f');
    key
}

impl RemoteWritePositions {
    pub fn open(db: &sled::Db) -> Result<RemoteWritePositions, StorageError> {
        Ok(RemoteWritePositions {
            tree: db.open_tree(TREE)?,
        })
    }

    /// The positions of `endpoint` (empty when it never sent anything) and the batch that
    /// was in flight when it stopped, if any.
    pub fn load(&self, endpoint: &str) -> Result<(Positions, Option<Vec<Range>>), StorageError> {
        let mut shards = prefix(endpoint);
        shards.push(b'p');
        let mut positions = Positions::new();
        for entry in self.tree.scan_prefix(&shards) {
            let (_, bytes) = entry?;
            let pairs: Vec<(u64, i64)> = super::decode(TREE, &bytes)?;
            positions.extend(pairs);
        }
        let in_flight = self
            .tree
            .get(in_flight_key(endpoint))?
            .map(|bytes| super::decode(TREE, &bytes))
            .transpose()?;
        Ok((positions, in_flight))
    }

    /// Records the batch about to be sent and makes it durable before returning.
    ///
    /// Note that this uses blocking I/O.
    pub fn begin(&self, endpoint: &str, ranges: &[Range]) -> Result<(), StorageError> {
        self.tree
            .insert(in_flight_key(endpoint), super::encode(TREE, &ranges)?)?;
        self.tree.flush()?;
        Ok(())
    }

    /// After a batch was delivered (or refused for good): writes the positions of the
    /// `touched` series (from `positions`, the endpoint's whole map) and clears the batch in
    /// flight, atomically. Durable with the next [`RemoteWritePositions::begin`] or flush.
    pub fn commit(
        &self,
        endpoint: &str,
        touched: impl IntoIterator<Item = u64>,
        positions: &Positions,
    ) -> Result<(), StorageError> {
        let shards: BTreeSet<u64> = touched.into_iter().map(|id| id / SHARD).collect();
        let mut batch = sled::Batch::default();
        for shard in shards {
            let low = shard * SHARD;
            let pairs: Vec<(u64, i64)> = positions
                .range(low..=low + (SHARD - 1))
                .map(|(&id, &ts)| (id, ts))
                .collect();
            batch.insert(shard_key(endpoint, shard), super::encode(TREE, &pairs)?);
        }
        batch.remove(in_flight_key(endpoint));
        self.tree.apply_batch(batch)?;
        Ok(())
    }

    /// Makes every commit so far durable.
    ///
    /// Note that this uses blocking I/O.
    pub fn flush(&self) -> Result<(), StorageError> {
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
        let positions: Positions = [(0, 1_000), (7, -5), (5000, 9), (u64::MAX, i64::MAX)].into();
        {
            let db = crate::storage::open_test_db(dir.path());
            let store = RemoteWritePositions::open(&db).unwrap();
            assert_eq!(store.load("vm").unwrap(), (Positions::new(), None));
            store.begin("vm", &[(7, None, -5)]).unwrap();
            store
                .commit("vm", [0, 7, 5000, u64::MAX], &positions)
                .unwrap();
            store.begin("prom", &[(1, Some(1), 2)]).unwrap();
            // A later change rewrites only its shard; the others keep their entries.
            let mut newer = positions.clone();
            newer.insert(3, 4);
            newer.remove(&5000);
            store.commit("vm", [3], &newer).unwrap();
            store.flush().unwrap();
        }
        let db = crate::storage::open_test_db(dir.path());
        let store = RemoteWritePositions::open(&db).unwrap();
        let mut expected = positions.clone();
        expected.insert(3, 4);
        assert_eq!(store.load("vm").unwrap(), (expected, None));
        // The other endpoint's batch in flight is still there, its positions untouched.
        assert_eq!(
            store.load("prom").unwrap(),
            (Positions::new(), Some(vec![(1, Some(1), 2)]))
        );
        // An endpoint whose name is a prefix of another's sees only its own.
        assert_eq!(store.load("v").unwrap(), (Positions::new(), None));
    }

    #[test]
    fn remote_write_positions_that_do_not_decode_are_corrupt_not_empty() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::storage::open_test_db(dir.path());
        db.open_tree(TREE)
            .unwrap()
            .insert(shard_key("vm", 0), &[0xff][..])
            .unwrap();
        let store = RemoteWritePositions::open(&db).unwrap();
        assert!(matches!(
            store.load("vm"),
            Err(StorageError::Corrupt { tree: TREE, .. })
        ));
    }
}
