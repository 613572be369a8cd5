//! The on-disk spool: every report is written here before it is sent and deleted only when
//! the controller acknowledges it. Bounded: past the cap the oldest reports are dropped, and
//! the drop count travels in every later report.
//!
//! Layout: one file per report, `<seq:020>.report` (postcard), written to a temporary name,
//! fsynced and renamed, and a `state` file with the next sequence number and the drop count.
//! Note that every method here uses blocking I/O.

mod layout;
mod layout_containers;
mod renumber;

pub use renumber::Reconciled;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use unity_shared::model::certificate::CertificateInventory;
use unity_shared::model::container::ContainerInventory;
use unity_shared::model::database::DatabaseInstance;
use unity_shared::model::plugin::{CheckResult, SeriesBatch, SourceStatus};
use unity_shared::proto::{Report, Sample, StorageState};

/// Typed state that travels in a report beside its samples; each part is `None` when that
/// collector did not run for this report.
#[derive(Debug, Default)]
pub struct TypedState {
    pub storage: Option<StorageState>,
    pub databases: Option<Vec<DatabaseInstance>>,
    pub containers: Option<ContainerInventory>,
    /// Series from plugins, each with a `source` label.
    pub plugin_series: Option<SeriesBatch>,
    /// The textfiles and exporters read for this report.
    pub plugin_sources: Option<Vec<SourceStatus>>,
    /// The local checks' newest results.
    pub checks: Option<Vec<CheckResult>>,
    /// The certificates found on the host.
    pub certificates: Option<CertificateInventory>,
    /// The vulnerability scanner and its image scans.
    pub image_scans: Option<unity_shared::model::scan::ImageScans>,
    /// The service checks' results since the previous report.
    pub service_checks: Option<Vec<unity_shared::model::service::ServiceCheckResult>>,
}

/// Spool failures.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// The file system refused an operation.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A report could not be encoded.
    #[error("encoding report: {0}")]
    Encode(#[from] postcard::Error),
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io {
        path: path.to_owned(),
        source,
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct SpoolState {
    next_seq: u64,
    dropped_reports: u64,
}

pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    /// seq -> file size
    entries: BTreeMap<u64, u64>,
    total_bytes: u64,
    state: SpoolState,
}

/// Written to a temporary name, fsynced, renamed, and the directory fsynced: a report the
/// agent believes spooled survives a power cut.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), SpoolError> {
    crate::fsutil::replace_file(path, bytes, 0o600).map_err(io_error(path))
}

impl Spool {
    /// Opens the spool in `dir`, finding reports left by an earlier run.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Spool, SpoolError> {
        fs::create_dir_all(dir).map_err(io_error(dir))?;
        let state_path = dir.join("state");
        let state = match fs::read(&state_path) {
            Ok(bytes) => postcard::from_bytes(&bytes).unwrap_or_else(|error| {
                tracing::warn!(%error, "Spool state unreadable; rebuilding it from the files.");
                SpoolState::default()
            }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => SpoolState::default(),
            Err(source) => {
                return Err(SpoolError::Io {
                    path: state_path,
                    source,
                })
            }
        };
        let mut spool = Spool {
            dir: dir.to_owned(),
            max_bytes,
            entries: BTreeMap::new(),
            total_bytes: 0,
            state,
        };
        for entry in fs::read_dir(dir).map_err(io_error(dir))? {
            let entry = entry.map_err(io_error(dir))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".tmp") {
                let _ = fs::remove_file(entry.path());
                continue;
            }
            let Some(seq) = name
                .strip_suffix(".report")
                .and_then(|s| s.parse::<u64>().ok())
            else {
                continue;
            };
            let size = entry.metadata().map_err(io_error(&entry.path()))?.len();
            spool.entries.insert(seq, size);
            spool.total_bytes += size;
            spool.state.next_seq = spool.state.next_seq.max(seq + 1);
        }
        if spool.state.next_seq == 0 {
            spool.state.next_seq = 1;
        }
        spool.resume_renumbering()?;
        Ok(spool)
    }

    fn path_of(&self, seq: u64) -> PathBuf {
        self.dir.join(format!("{seq:020}.report"))
    }

    /// Durably stores a new report of `samples` and returns its sequence number.
    pub fn append(
        &mut self,
        collected_at_ms: i64,
        samples: Vec<Sample>,
    ) -> Result<u64, SpoolError> {
        self.append_with(collected_at_ms, samples, TypedState::default())
    }

    /// Like [`Spool::append`], with typed inventory alongside the samples.
    pub fn append_with(
        &mut self,
        collected_at_ms: i64,
        samples: Vec<Sample>,
        typed: TypedState,
    ) -> Result<u64, SpoolError> {
        let seq = self.state.next_seq;
        let report = Report {
            seq,
            collected_at_ms,
            samples,
            dropped_reports: self.state.dropped_reports,
            storage: typed.storage.map(Box::new),
            databases: typed.databases,
            containers: typed.containers.map(Box::new),
            plugin_series: typed.plugin_series.map(Box::new),
            plugin_sources: typed.plugin_sources,
            checks: typed.checks,
            certificates: typed.certificates.map(Box::new),
            image_scans: typed.image_scans.map(Box::new),
            service_checks: typed.service_checks,
        };
        let bytes = postcard::to_allocvec(&report)?;
        self.state.next_seq = seq + 1;
        self.save_state()?;
        write_atomically(&self.path_of(seq), &bytes)?;
        self.entries.insert(seq, bytes.len() as u64);
        self.total_bytes += bytes.len() as u64;
        self.enforce_cap()?;
        Ok(seq)
    }

    fn save_state(&self) -> Result<(), SpoolError> {
        write_atomically(
            &self.dir.join("state"),
            &postcard::to_allocvec(&self.state)?,
        )
    }

    /// Drops the oldest reports (never the newest) until the spool fits its cap.
    fn enforce_cap(&mut self) -> Result<(), SpoolError> {
        let mut dropped = 0;
        while self.total_bytes > self.max_bytes && self.entries.len() > 1 {
            let Some((&seq, _)) = self.entries.iter().next() else {
                break;
            };
            self.remove(seq)?;
            dropped += 1;
        }
        if dropped > 0 {
            self.state.dropped_reports += dropped;
            self.save_state()?;
            tracing::warn!(
                n_dropped = dropped,
                total_dropped = self.state.dropped_reports,
                "Spool full: dropped the oldest reports."
            );
        }
        Ok(())
    }

    fn remove(&mut self, seq: u64) -> Result<(), SpoolError> {
        if let Some(size) = self.entries.remove(&seq) {
            self.total_bytes = self.total_bytes.saturating_sub(size);
            let path = self.path_of(seq);
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(SpoolError::Io { path, source }),
            }
        }
        Ok(())
    }

    /// The controller stored `seq`: forget it.
    pub fn ack(&mut self, seq: u64) -> Result<(), SpoolError> {
        self.remove(seq)
    }

    /// Reads a spooled report. A corrupt file is removed and counted as dropped.
    pub fn read(&mut self, seq: u64) -> Result<Option<Report>, SpoolError> {
        if !self.entries.contains_key(&seq) {
            return Ok(None);
        }
        let path = self.path_of(seq);
        let bytes = fs::read(&path).map_err(io_error(&path))?;
        match layout::decode(&bytes) {
            Ok(report) => Ok(Some(report)),
            Err(error) => {
                tracing::warn!(seq, %error, "Dropping a corrupt spooled report.");
                self.remove(seq)?;
                self.state.dropped_reports += 1;
                self.save_state()?;
                Ok(None)
            }
        }
    }

    /// Spooled sequence numbers after `after`, oldest first, at most `limit`.
    pub fn pending_after(&self, after: Option<u64>, limit: usize) -> Vec<u64> {
        let start = after.map_or(0, |seq| seq.saturating_add(1));
        self.entries
            .range(start..)
            .map(|(&seq, _)| seq)
            .take(limit)
            .collect()
    }

    /// Makes sure new reports are numbered after what the controller already stored (after a
    /// lost data directory, say), so they are not mistaken for replays.
    pub fn skip_past(&mut self, last_stored_seq: u64) -> Result<(), SpoolError> {
        if self.state.next_seq <= last_stored_seq {
            tracing::warn!(
                next_seq = self.state.next_seq,
                last_stored_seq,
                "Controller has newer reports than this spool; renumbering."
            );
            self.state.next_seq = last_stored_seq + 1;
            self.save_state()?;
        }
        Ok(())
    }

    /// The sequence number the next report will get.
    pub fn next_seq(&self) -> u64 {
        self.state.next_seq
    }

    pub fn depth(&self) -> usize {
        self.entries.len()
    }

    pub fn bytes(&self) -> u64 {
        self.total_bytes
    }

    pub fn dropped_reports(&self) -> u64 {
        self.state.dropped_reports
    }
}

/// Counts reports in a spool directory without opening it (for `unity-agent status`).
pub fn depth_of(dir: &Path) -> usize {
    fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|entry| entry.file_name().to_string_lossy().ends_with(".report"))
                .count()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(n: usize) -> Vec<Sample> {
        (0..n)
            .map(|i| Sample {
                metric: "m".into(),
                labels: vec![],
                timestamp_ms: i as i64,
                value: i as f64,
            })
            .collect()
    }

    #[test]
    fn reports_survive_reopen_until_acked() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path(), 1 << 20).unwrap();
        let first = spool.append(1, samples(3)).unwrap();
        let second = spool.append(2, samples(3)).unwrap();
        assert_eq!((first, second), (1, 2));
        drop(spool);
        let mut spool = Spool::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(spool.pending_after(None, 10), vec![1, 2]);
        assert_eq!(spool.read(1).unwrap().unwrap().samples.len(), 3);
        spool.ack(1).unwrap();
        drop(spool);
        let mut spool = Spool::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(spool.pending_after(None, 10), vec![2]);
        spool.ack(2).unwrap();
        drop(spool);
        // Sequence numbers keep increasing even when the spool is empty.
        let mut spool = Spool::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(spool.append(3, vec![]).unwrap(), 3);
    }

    #[test]
    fn cap_drops_oldest_and_counts_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path(), 600).unwrap();
        for i in 0..20 {
            spool.append(i, samples(10)).unwrap();
        }
        assert!(spool.bytes() <= 600);
        let pending = spool.pending_after(None, 100);
        assert_eq!(*pending.last().unwrap(), 20, "newest report kept");
        let dropped = spool.dropped_reports();
        assert_eq!(dropped as usize + pending.len(), 20);
        let newest = spool.read(20).unwrap().unwrap();
        assert!(
            newest.dropped_reports > 0,
            "drops are reported, never silent"
        );
    }

    #[test]
    fn corrupt_report_is_dropped_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path(), 1 << 20).unwrap();
        spool.append(1, samples(2)).unwrap();
        fs::write(dir.path().join(format!("{:020}.report", 1)), b"\xff\xff").unwrap();
        assert!(spool.read(1).unwrap().is_none());
        assert_eq!(spool.dropped_reports(), 1);
        assert_eq!(spool.depth(), 0);
    }

    #[test]
    fn skip_past_renumbers() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::open(dir.path(), 1 << 20).unwrap();
        spool.skip_past(41).unwrap();
        assert_eq!(spool.append(0, vec![]).unwrap(), 42);
    }
}
