//! The agentless hosts' reports on disk: one [`Spool`] per host (the agent's own spool, reused
//! whole: one fsynced file per report until the controller acknowledges it, bounded, oldest
//! dropped first and counted in `dropped_reports`), in `<data_dir>/agentless/<host>/`. A
//! proxy restart or a long controller outage loses nothing it collected: the spools left by an
//! earlier run are opened at start and replayed in order on the next session. A host removed
//! from the proxy's assignment has its spool deleted. Blocking I/O throughout (the proxy calls
//! it off the async threads).

use crate::spool::{Spool, SpoolError, TypedState};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use unity_shared::proto::{AgentId, Report, Sample, StorageState};

/// The directory of the agentless hosts' spools under the agent's data directory.
pub fn root_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("agentless")
}

/// The bound of each agentless host's spool: a quarter of the agent's own (`spool_max_bytes`),
/// 64 MiB by default, weeks of reports at a one-minute interval.
pub fn per_host_max_bytes(own_max_bytes: u64) -> u64 {
    own_max_bytes / 4
}

/// Every agentless host's spool.
#[derive(Default)]
pub struct Spools {
    /// `None`: no data directory (tests of the proxy alone); nothing is kept.
    root: Option<PathBuf>,
    /// The bound of each host's spool.
    max_bytes: u64,
    hosts: BTreeMap<AgentId, Spool>,
}

impl Spools {
    /// Opens the spools in `root`, with every host's reports left by an earlier run.
    pub fn open(root: &Path, max_bytes: u64) -> Result<Spools, SpoolError> {
        fs::create_dir_all(root).map_err(|source| SpoolError::Io {
            path: root.to_owned(),
            source,
        })?;
        let mut spools = Spools {
            root: Some(root.to_owned()),
            max_bytes,
            hosts: BTreeMap::new(),
        };
        let entries = fs::read_dir(root).map_err(|source| SpoolError::Io {
            path: root.to_owned(),
            source,
        })?;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Ok(host) = AgentId::new(name.to_string_lossy()) else {
                continue;
            };
            if entry.path().is_dir() {
                let spool = Spool::open(&entry.path(), max_bytes)?;
                if spool.depth() > 0 {
                    tracing::info!(%host, spooled = spool.depth(), "Agentless reports left spooled by an earlier run.");
                }
                spools.hosts.insert(host, spool);
            }
        }
        Ok(spools)
    }

    /// Whether `host` is assigned (has a spool).
    pub fn contains(&self, host: &AgentId) -> bool {
        self.hosts.contains_key(host)
    }

    /// `host`'s spool, opened (created) when it has none yet.
    fn open_spool(&mut self, host: &AgentId) -> Result<&mut Spool, SpoolError> {
        if !self.hosts.contains_key(host) {
            let Some(root) = &self.root else {
                return Err(SpoolError::Io {
                    path: PathBuf::new(),
                    source: std::io::Error::other("no data directory for agentless spools"),
                });
            };
            let spool = Spool::open(&root.join(host.as_str()), self.max_bytes)?;
            self.hosts.insert(host.clone(), spool);
        }
        self.hosts.get_mut(host).ok_or_else(|| SpoolError::Io {
            path: PathBuf::new(),
            source: std::io::Error::other("spool vanished"),
        })
    }

    /// A host is (again) assigned: its new reports are numbered after `last_stored_seq`, and
    /// its spooled ones too when the controller stored their numbers for other reports (see
    /// [`Spool::reconcile`]).
    pub fn assigned(
        &mut self,
        host: &AgentId,
        last_stored_seq: Option<u64>,
    ) -> Result<(), SpoolError> {
        self.open_spool(host)?.reconcile(last_stored_seq, false)?;
        Ok(())
    }

    /// Deletes the spools of hosts missing from `wanted` (no longer assigned: the controller
    /// would refuse their reports).
    pub fn retain(&mut self, wanted: &BTreeSet<AgentId>) {
        let gone: Vec<AgentId> = self
            .hosts
            .keys()
            .filter(|host| !wanted.contains(*host))
            .cloned()
            .collect();
        for host in gone {
            self.hosts.remove(&host);
            if let Some(root) = &self.root {
                let dir = root.join(host.as_str());
                match fs::remove_dir_all(&dir) {
                    Ok(()) => {
                        tracing::info!(%host, "Agentless host unassigned: its spool deleted.")
                    }
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                    Err(error) => {
                        tracing::warn!(%host, dir = %dir.display(), %error, "Deleting an unassigned host's spool failed.")
                    }
                }
            }
        }
    }

    /// Durably stores one collection of `host`; returns its sequence number, or `None` when
    /// the host is not assigned (a round that ended as its host was removed: its spool is gone
    /// and stays gone).
    pub fn append(
        &mut self,
        host: &AgentId,
        collected_at_ms: i64,
        samples: Vec<Sample>,
        storage: Option<StorageState>,
    ) -> Result<Option<u64>, SpoolError> {
        let Some(spool) = self.hosts.get_mut(host) else {
            return Ok(None);
        };
        let typed = TypedState {
            storage,
            ..TypedState::default()
        };
        spool.append_with(collected_at_ms, samples, typed).map(Some)
    }

    /// Up to `limit` of `host`'s spooled reports after `after`, oldest first.
    pub fn pending(
        &mut self,
        host: &AgentId,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Report>, SpoolError> {
        let Some(spool) = self.hosts.get_mut(host) else {
            return Ok(Vec::new());
        };
        let mut reports = Vec::new();
        for seq in spool.pending_after(after, limit) {
            reports.extend(spool.read(seq)?);
        }
        Ok(reports)
    }

    /// The controller stored `host`'s report `seq`: forget it.
    pub fn ack(&mut self, host: &AgentId, seq: u64) -> Result<(), SpoolError> {
        match self.hosts.get_mut(host) {
            Some(spool) => spool.ack(seq),
            None => Ok(()),
        }
    }

    /// The hosts with a spool.
    pub fn hosts(&self) -> Vec<AgentId> {
        self.hosts.keys().cloned().collect()
    }

    /// `host`'s spooled reports and the reports dropped for it so far.
    pub fn depth_and_dropped(&self, host: &AgentId) -> (usize, u64) {
        self.hosts
            .get(host)
            .map_or((0, 0), |spool| (spool.depth(), spool.dropped_reports()))
    }
}

/// Counts `host`'s spooled reports without opening its spool (for tests and status).
pub fn depth_of(data_dir: &Path, host: &AgentId) -> usize {
    crate::spool::depth_of(&root_dir(data_dir).join(host.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(name: &str) -> AgentId {
        AgentId::new(name).unwrap()
    }

    fn sample(at: i64) -> Vec<Sample> {
        vec![Sample {
            metric: "load1".into(),
            labels: vec![],
            timestamp_ms: at,
            value: 0.5,
        }]
    }

    fn seqs(reports: &[Report]) -> Vec<u64> {
        reports.iter().map(|report| report.seq).collect()
    }

    #[test]
    fn issue_16_agentless_reports_survive_a_proxy_restart_until_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let root = root_dir(dir.path());
        let mut spools = Spools::open(&root, 1 << 20).unwrap();
        spools.assigned(&host("nas"), Some(41)).unwrap();
        for at in [100, 200, 300] {
            spools.append(&host("nas"), at, sample(at), None).unwrap();
        }
        spools.assigned(&host("router"), None).unwrap();
        spools
            .append(&host("router"), 150, sample(150), None)
            .unwrap();
        drop(spools);

        let mut spools = Spools::open(&root, 1 << 20).unwrap();
        assert_eq!(spools.hosts(), [host("nas"), host("router")]);
        let pending = spools.pending(&host("nas"), None, 10).unwrap();
        assert_eq!(
            seqs(&pending),
            [42, 43, 44],
            "numbered after the stored seq"
        );
        let times: Vec<i64> = pending.iter().map(|r| r.collected_at_ms).collect();
        assert_eq!(times, [100, 200, 300]);
        spools.ack(&host("nas"), 42).unwrap();
        assert_eq!(
            seqs(&spools.pending(&host("nas"), Some(42), 1).unwrap()),
            [43]
        );
        drop(spools);

        let mut spools = Spools::open(&root, 1 << 20).unwrap();
        assert_eq!(
            seqs(&spools.pending(&host("nas"), None, 10).unwrap()),
            [43, 44]
        );
        // The controller's stored seq is older (reports in flight): nothing is renumbered,
        // and new reports continue after the spooled ones.
        spools.assigned(&host("nas"), Some(42)).unwrap();
        assert_eq!(
            spools.append(&host("nas"), 400, sample(400), None).unwrap(),
            Some(45)
        );
        assert_eq!(spools.depth_and_dropped(&host("nas")), (3, 0));
    }

    #[test]
    fn issue_16_an_unassigned_host_loses_its_spool() {
        let dir = tempfile::tempdir().unwrap();
        let root = root_dir(dir.path());
        let mut spools = Spools::open(&root, 1 << 20).unwrap();
        for name in ["nas", "router"] {
            spools.assigned(&host(name), None).unwrap();
            spools.append(&host(name), 1, sample(1), None).unwrap();
        }
        spools.retain(&BTreeSet::from([host("router")]));
        assert!(!root.join("nas").exists());
        // A round that ends after the removal keeps nothing and brings no directory back.
        assert_eq!(
            spools.append(&host("nas"), 2, sample(2), None).unwrap(),
            None
        );
        assert!(!root.join("nas").exists());
        assert!(root.join("router").exists());
        drop(spools);
        let spools = Spools::open(&root, 1 << 20).unwrap();
        assert_eq!(spools.hosts(), [host("router")]);
    }

    #[test]
    fn issue_16_a_full_agentless_spool_drops_the_oldest_and_counts_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut spools = Spools::open(&root_dir(dir.path()), 400).unwrap();
        spools.assigned(&host("nas"), None).unwrap();
        spools.assigned(&host("router"), None).unwrap();
        for at in 0..30 {
            spools.append(&host("nas"), at, sample(at), None).unwrap();
        }
        let (depth, dropped) = spools.depth_and_dropped(&host("nas"));
        assert!(dropped > 0 && depth > 0);
        assert_eq!(depth as u64 + dropped, 30);
        let pending = spools.pending(&host("nas"), None, 100).unwrap();
        assert_eq!(pending.last().unwrap().seq, 30, "the newest is kept");
        let newest = pending.last().unwrap().dropped_reports;
        assert!(
            newest > 0 && newest <= dropped,
            "drops travel in later reports"
        );
        // Other hosts have bounds of their own.
        spools.append(&host("router"), 1, sample(1), None).unwrap();
        assert_eq!(spools.depth_and_dropped(&host("router")), (1, 0));
    }

    #[test]
    fn issue_16_a_rolled_back_controller_gets_renumbered_reports() {
        let dir = tempfile::tempdir().unwrap();
        let mut spools = Spools::open(&root_dir(dir.path()), 1 << 20).unwrap();
        spools.assigned(&host("nas"), None).unwrap();
        spools.append(&host("nas"), 1, sample(1), None).unwrap();
        spools.append(&host("nas"), 2, sample(2), None).unwrap();
        // The controller stored seq 10 for this host already (from an earlier proxy, say).
        spools.assigned(&host("nas"), Some(10)).unwrap();
        let pending = spools.pending(&host("nas"), None, 10).unwrap();
        assert_eq!(seqs(&pending), [11, 12]);
        assert_eq!(pending[0].collected_at_ms, 1, "order kept");
    }
}
