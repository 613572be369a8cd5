//! Renumbering spooled reports past what the controller already stored under this identity,
//! so that none is mistaken for a replay and acknowledged as a duplicate without being
//! stored. Needed when the numbers this spool hands out were also handed out elsewhere: the
//! data directory moved to another machine (a new instance, see `crate::instance`) or was
//! rolled back (a VM snapshot, a restored backup: the controller knows sequence numbers this
//! spool never made).
//!
//! Crash-safe: a `renumber` marker holding the first new number is written first; every report
//! below it is rewritten (in order) above the reports already moved, then the marker goes. A
//! spool opened with the marker present finishes the job. A crash between writing a moved copy
//! and removing the original sends that report twice; the controller stores a report's samples
//! only once per timestamp, so nothing is lost and nothing doubles.

use super::{io_error, write_atomically, Spool, SpoolError};
use std::fs;
use unity_shared::proto::Report;

const MARKER: &str = "renumber";

/// What [`Spool::reconcile`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reconciled {
    /// Reports given new sequence numbers.
    pub n_renumbered: usize,
}

impl Spool {
    /// Brings the spool in line with the controller's `Welcome`: new reports are numbered after
    /// `last_stored_seq`, and pending reports too when their numbers may belong to other
    /// reports (`new_instance`, or this spool was rolled back).
    pub fn reconcile(
        &mut self,
        last_stored_seq: Option<u64>,
        new_instance: bool,
    ) -> Result<Reconciled, SpoolError> {
        let Some(last_stored_seq) = last_stored_seq else {
            return Ok(Reconciled::default());
        };
        let rolled_back = self.state.next_seq <= last_stored_seq;
        self.skip_past(last_stored_seq)?;
        let collides = self
            .entries
            .keys()
            .next()
            .is_some_and(|&oldest| oldest <= last_stored_seq);
        if !(collides && (new_instance || rolled_back)) {
            return Ok(Reconciled::default());
        }
        let start = self.state.next_seq;
        tracing::warn!(
            last_stored_seq,
            start,
            n_pending = self.entries.len(),
            new_instance,
            "The controller stored these sequence numbers for other reports; renumbering the spool."
        );
        write_atomically(&self.dir.join(MARKER), &start.to_le_bytes())?;
        let n_renumbered = self.finish_renumbering(start)?;
        Ok(Reconciled { n_renumbered })
    }

    /// Resumes a renumbering a crash interrupted (called when the spool opens).
    pub(super) fn resume_renumbering(&mut self) -> Result<(), SpoolError> {
        let path = self.dir.join(MARKER);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => return Err(SpoolError::Io { path, source }),
        };
        match <[u8; 8]>::try_from(bytes.as_slice()) {
            Ok(start) => {
                let start = u64::from_le_bytes(start);
                tracing::warn!(start, "Finishing an interrupted renumbering of the spool.");
                self.finish_renumbering(start)?;
            }
            Err(_) => {
                // Written atomically, so this is not a torn write: someone else's file.
                tracing::warn!(path = %path.display(), "Ignoring an unreadable renumbering marker.");
                fs::remove_file(&path).map_err(io_error(&path))?;
            }
        }
        Ok(())
    }

    /// Moves every report numbered below `start` above the highest one at or after it, oldest
    /// first; then drops the marker.
    fn finish_renumbering(&mut self, start: u64) -> Result<usize, SpoolError> {
        let old: Vec<u64> = self.entries.range(..start).map(|(&seq, _)| seq).collect();
        let mut next = self
            .entries
            .range(start..)
            .next_back()
            .map_or(start, |(&seq, _)| seq + 1);
        let mut n_moved = 0;
        for seq in old {
            let Some(mut report) = self.read(seq)? else {
                continue;
            };
            report.seq = next;
            self.write_report(&report)?;
            self.remove(seq)?;
            next += 1;
            n_moved += 1;
        }
        self.state.next_seq = self.state.next_seq.max(next);
        self.save_state()?;
        let marker = self.dir.join(MARKER);
        match fs::remove_file(&marker) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(SpoolError::Io {
                    path: marker,
                    source,
                })
            }
        }
        crate::fsutil::sync_parent(&marker).map_err(io_error(&marker))?;
        Ok(n_moved)
    }

    /// Writes `report` under its own sequence number.
    fn write_report(&mut self, report: &Report) -> Result<(), SpoolError> {
        let bytes = postcard::to_allocvec(report)?;
        write_atomically(&self.path_of(report.seq), &bytes)?;
        if let Some(previous) = self.entries.insert(report.seq, bytes.len() as u64) {
            self.total_bytes = self.total_bytes.saturating_sub(previous);
        }
        self.total_bytes += bytes.len() as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::Spool;
    use super::*;

    fn spool_with(dir: &std::path::Path, n: i64) -> Spool {
        let mut spool = Spool::open(dir, 1 << 20).unwrap();
        for at in 1..=n {
            spool.append(at, vec![]).unwrap();
        }
        spool
    }

    /// (seq, collected_at) of every pending report, oldest first.
    fn pending(spool: &mut Spool) -> Vec<(u64, i64)> {
        spool
            .pending_after(None, usize::MAX)
            .into_iter()
            .map(|seq| {
                let report = spool.read(seq).unwrap().unwrap();
                assert_eq!(report.seq, seq, "the file name and the report agree");
                (seq, report.collected_at_ms)
            })
            .collect()
    }

    #[test]
    fn a_new_instance_moves_every_pending_report_past_the_stored_ones_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = spool_with(dir.path(), 3);
        let reconciled = spool.reconcile(Some(10), true).unwrap();
        assert_eq!(reconciled.n_renumbered, 3);
        assert_eq!(pending(&mut spool), vec![(11, 1), (12, 2), (13, 3)]);
        assert_eq!(spool.append(4, vec![]).unwrap(), 14);
        drop(spool);
        let mut reopened = Spool::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(pending(&mut reopened).len(), 4);
        assert!(!dir.path().join(MARKER).exists());
    }

    #[test]
    fn the_same_instance_replaying_stored_reports_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = spool_with(dir.path(), 3);
        // The controller stored 1 and 2 but the acks were lost: real replays.
        assert_eq!(spool.reconcile(Some(2), false).unwrap().n_renumbered, 0);
        assert_eq!(pending(&mut spool), vec![(1, 1), (2, 2), (3, 3)]);
        // Nothing pending at or below the stored number: nothing to move, even when new.
        assert_eq!(spool.reconcile(None, true).unwrap().n_renumbered, 0);
    }

    #[test]
    fn a_rolled_back_spool_is_renumbered_even_for_the_same_instance() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = spool_with(dir.path(), 3);
        // The controller has 40: numbers this spool never made (a VM snapshot rolled back).
        assert_eq!(spool.reconcile(Some(40), false).unwrap().n_renumbered, 3);
        assert_eq!(pending(&mut spool), vec![(41, 1), (42, 2), (43, 3)]);
    }

    #[test]
    fn an_interrupted_renumbering_finishes_in_order_when_the_spool_opens() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = spool_with(dir.path(), 4);
        // A crash after moving the first report (the marker says where to start).
        write_atomically(&dir.path().join(MARKER), &20u64.to_le_bytes()).unwrap();
        let mut first = spool.read(1).unwrap().unwrap();
        first.seq = 20;
        spool.write_report(&first).unwrap();
        spool.remove(1).unwrap();
        drop(spool);
        let mut reopened = Spool::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(
            pending(&mut reopened),
            vec![(20, 1), (21, 2), (22, 3), (23, 4)]
        );
        assert!(!dir.path().join(MARKER).exists());
        assert_eq!(reopened.append(5, vec![]).unwrap(), 24);
    }
}
