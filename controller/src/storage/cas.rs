//! One record changed in place: read it, apply the change, write it back only if nobody wrote
//! it meanwhile (sled's compare-and-swap), else start again from what is there now. The
//! stores that keep mutable records (operations, agent updates, rollouts) share it; each then
//! does its own follow-up (an index slot) and flushes.

use super::StorageError;

/// Applies `change` to the record at `key` atomically; the record as stored after, or `None`
/// when there is none. Not flushed.
pub fn update<T>(
    tree: &sled::Tree,
    key: &[u8],
    decode: impl Fn(&[u8]) -> Result<T, StorageError>,
    encode: impl Fn(&T) -> Result<Vec<u8>, StorageError>,
    change: impl Fn(&mut T),
) -> Result<Option<T>, StorageError> {
    loop {
        let Some(current) = tree.get(key)? else {
            return Ok(None);
        };
        let mut record = decode(&current)?;
        change(&mut record);
        if tree
            .compare_and_swap(key, Some(current), Some(encode(&record)?))?
            .is_ok()
        {
            return Ok(Some(record));
        }
    }
}
