//! A quiet moment for the controller's backup (`crate::storage::backup`): the writer's lock
//! held while the caller takes the series files, so no ingest, checkpoint, merge or
//! retention changes a file meanwhile. Reads go on. With the lock held, the files on disk are
//! what a crash at that instant would leave: every acknowledged sample is in the write-ahead
//! log or a chunk file, and nothing is half-written (each `ingest` returns only after its
//! `fdatasync`).

use std::path::PathBuf;

use super::{SeriesError, SeriesStore};

impl SeriesStore {
    /// Runs `take` with the directories the series files live in (the write-ahead log, the
    /// chunk files with the series index) while the writer's lock is held. Keep `take` short:
    /// ingest waits for it (acknowledgements are delayed, nothing is lost).
    ///
    /// Note that `take` is called with the lock held and usually does blocking I/O.
    pub fn while_quiet<R>(&self, take: impl FnOnce(&[PathBuf]) -> R) -> Result<R, SeriesError> {
        let _writer = self.lock_writer()?;
        Ok(take(&[self.wal_dir.clone(), self.chunk_dir.clone()]))
    }
}
