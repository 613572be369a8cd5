//! Each drive's accepted SMART baseline (issue 18 §1, disk trends): the counter values an
//! alert compares against, when and by whom they were accepted (nobody: set automatically when
//! the drive was first seen), and since when the drive has been too hot (so "hot for 5
//! minutes" survives a controller restart).
//!
//! Keys are `agent \0 drive` (WWN, serial or device name); values are JSON, so a field
//! appended later reads from records written before it (`serde(default)`). The pure helpers
//! that name a drive and read its watched counters from a SMART report live here too, so the
//! alert rules and the dashboard's "accept as new baseline" agree on both.

use super::StorageError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use unity_shared::model::storage::{SmartDeviceResult, SmartReport};
use unity_shared::proto::AgentId;

const TREE: &str = "disk_baselines";

/// One drive's baseline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct DiskBaseline {
    /// Counter name (`reallocated_sectors`, `media_errors`, `percentage_used`, …) → value.
    #[serde(default)]
    pub counters: BTreeMap<String, u64>,
    pub accepted_at_ms: i64,
    /// The user who accepted it; `None` when set at the drive's first sighting.
    #[serde(default)]
    pub accepted_by: Option<String>,
    /// When the drive went over its temperature limit, while it stays over.
    #[serde(default)]
    pub hot_since_ms: Option<i64>,
}

/// The wear counter's name among a baseline's counters.
pub const WEAR: &str = "percentage_used";

/// The drive's stable name: WWN, else serial, else device name without `/dev/`.
pub fn drive_id(device: &SmartDeviceResult) -> String {
    let identity = device.report.as_ref().map(|report| &report.device);
    identity
        .and_then(|id| known(id.wwn.as_deref()))
        .or_else(|| identity.and_then(|id| known(id.serial.as_deref())))
        .unwrap_or_else(|| device.device.trim_start_matches("/dev/"))
        .to_owned()
}

/// An identity field unless it is a placeholder without letters or digits (`--`, ``).
fn known(value: Option<&str>) -> Option<&str> {
    value
        .map(str::trim)
        .filter(|value| value.chars().any(|c| c.is_ascii_alphanumeric()))
}

/// The watched counters of one report, by name (only those it reports).
pub fn counters(report: &SmartReport) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    if let Some(ata) = &report.ata {
        for attribute in &ata.attributes {
            let name = match attribute.id {
                5 => "reallocated_sectors",
                197 => "pending_sectors",
                198 => "offline_uncorrectable",
                199 => "udma_crc_errors",
                _ => continue,
            };
            if let Some(value) = attribute.raw.value {
                out.insert(name.to_owned(), value);
            }
        }
    }
    if let Some(nvme) = &report.nvme {
        if let Some(value) = nvme.media_errors {
            out.insert("media_errors".to_owned(), value);
        }
        if let Some(value) = nvme.percentage_used {
            out.insert(WEAR.to_owned(), value);
        }
    }
    if let Some(scsi) = &report.scsi {
        if let Some(value) = scsi.grown_defects {
            out.insert("grown_defects".to_owned(), value);
        }
        if let Some(value) = scsi.percentage_used_endurance {
            out.entry(WEAR.to_owned()).or_insert(value);
        }
    }
    out
}

/// A new baseline from a report's values of now.
pub fn baseline_of(report: &SmartReport, now_ms: i64, by: Option<String>) -> DiskBaseline {
    DiskBaseline {
        counters: counters(report),
        accepted_at_ms: now_ms,
        accepted_by: by,
        hot_since_ms: None,
    }
}

pub struct DiskBaselines {
    tree: sled::Tree,
}

fn prefix_of(agent_id: &AgentId) -> Vec<u8> {
    let mut key = agent_id.as_str().as_bytes().to_vec();
    key.push(0);
    key
}

fn corrupt(error: serde_json::Error) -> StorageError {
    StorageError::Corrupt {
        tree: TREE,
        message: error.to_string(),
    }
}

impl DiskBaselines {
    pub fn open(db: &sled::Db) -> Result<DiskBaselines, StorageError> {
        Ok(DiskBaselines {
            tree: db.open_tree(TREE)?,
        })
    }

    /// Every drive's baseline on one host, by drive.
    pub fn of_host(
        &self,
        agent_id: &AgentId,
    ) -> Result<BTreeMap<String, DiskBaseline>, StorageError> {
        let prefix = prefix_of(agent_id);
        let mut out = BTreeMap::new();
        for entry in self.tree.scan_prefix(&prefix) {
            let (key, value) = entry?;
            let drive = String::from_utf8_lossy(&key[prefix.len()..]).into_owned();
            out.insert(drive, serde_json::from_slice(&value).map_err(corrupt)?);
        }
        Ok(out)
    }

    /// One drive's baseline.
    pub fn get(
        &self,
        agent_id: &AgentId,
        drive: &str,
    ) -> Result<Option<DiskBaseline>, StorageError> {
        let mut key = prefix_of(agent_id);
        key.extend_from_slice(drive.as_bytes());
        match self.tree.get(key)? {
            Some(value) => Ok(Some(serde_json::from_slice(&value).map_err(corrupt)?)),
            None => Ok(None),
        }
    }

    /// Stores (replaces) one drive's baseline. Not flushed: the caller flushes.
    pub fn put(
        &self,
        agent_id: &AgentId,
        drive: &str,
        baseline: &DiskBaseline,
    ) -> Result<(), StorageError> {
        let mut key = prefix_of(agent_id);
        key.extend_from_slice(drive.as_bytes());
        let value = serde_json::to_vec(baseline).map_err(corrupt)?;
        self.tree.insert(key, value)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_18_baselines_round_trip_per_host_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let nas: AgentId = "nas".parse().unwrap();
        let other: AgentId = "nas2".parse().unwrap();
        let baseline = DiskBaseline {
            counters: BTreeMap::from([("reallocated_sectors".to_owned(), 8)]),
            accepted_at_ms: 1_000,
            accepted_by: Some("admin".into()),
            hot_since_ms: None,
        };
        {
            let db = sled::open(dir.path()).unwrap();
            let store = DiskBaselines::open(&db).unwrap();
            store.put(&nas, "0x5000c500a1b2c3d4", &baseline).unwrap();
            store
                .put(&other, "other", &DiskBaseline::default())
                .unwrap();
            db.flush().unwrap();
        }
        let db = sled::open(dir.path()).unwrap();
        let store = DiskBaselines::open(&db).unwrap();
        let all = store.of_host(&nas).unwrap();
        assert_eq!(all.len(), 1, "{all:?}");
        assert_eq!(all["0x5000c500a1b2c3d4"], baseline);
        assert_eq!(
            store.get(&nas, "0x5000c500a1b2c3d4").unwrap(),
            Some(baseline)
        );
        assert_eq!(store.get(&nas, "other").unwrap(), None);
        // A record that is not JSON is a corrupt record, not a panic.
        db.open_tree(TREE)
            .unwrap()
            .insert(b"nas\0bad", b"\xff")
            .unwrap();
        assert!(matches!(
            store.of_host(&nas),
            Err(StorageError::Corrupt { .. })
        ));
    }
}
