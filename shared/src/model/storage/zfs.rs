//! ZFS model: `zpool status` as a tree of vdevs, `zpool list -Hp` capacity, `zfs list -Hp` datasets.

use serde::{Deserialize, Serialize};

use super::{CollectorOutcome, ParseWarning, Verdict};

/// Parsed `zpool status` output (one or more pools).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct ZpoolStatus {
    pub pools: Vec<PoolStatus>,
}

/// One pool in `zpool status`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct PoolStatus {
    pub name: String,
    pub state: VdevState,
    /// The `status:` paragraph, joined into one line.
    pub status: Option<String>,
    /// The `action:` paragraph, joined into one line.
    pub action: Option<String>,
    /// The `see:` URL.
    pub see: Option<String>,
    /// The last or current scrub/resilver; `None` when the pool was never scanned.
    pub scan: Option<Scan>,
    /// The pool's root row; its `children` are the data vdevs.
    pub root: Vdev,
    /// `logs` section.
    pub logs: Vec<Vdev>,
    /// `cache` section.
    pub cache: Vec<Vdev>,
    /// `spares` section.
    pub spares: Vec<Vdev>,
    /// `special` allocation class section.
    pub special: Vec<Vdev>,
    /// `dedup` allocation class section.
    pub dedup: Vec<Vdev>,
    /// The `errors:` line and any file list after it.
    pub errors: Option<PoolErrors>,
}

/// A device or a group of devices in the pool's config tree.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Vdev {
    pub name: String,
    pub kind: VdevKind,
    pub state: VdevState,
    /// Counters are exact with `zpool status -p`; otherwise `11.7K` becomes 11 980 (1024-based).
    pub read_errors: Option<u64>,
    pub write_errors: Option<u64>,
    pub checksum_errors: Option<u64>,
    /// Text after the counters, e.g. `cannot open`, `(resilvering)`, `was /dev/dsk/c0t5d0s0`.
    pub note: Option<String>,
    pub children: Vec<Vdev>,
}

/// What a vdev row is.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum VdevKind {
    /// The pool's own row.
    Root,
    /// A leaf: disk, partition or file.
    Disk,
    Mirror,
    /// `raidz1`, `raidz2`, `raidz3` (`raidz` is parity 1).
    Raidz {
        parity: u8,
    },
    /// `draid1:4d:11c:1s`: parity and the full spec string.
    Draid {
        parity: u8,
        spec: String,
    },
    /// `replacing-N`: old and new device while a replace runs.
    Replacing,
    /// `spare-N`: a hot spare in use.
    Spare,
    /// A dRAID distributed spare, e.g. `draid1-0-0`.
    DistributedSpare,
    /// `indirect-N` (a removed top-level vdev).
    Indirect,
}

/// A pool or vdev state as `zpool status` prints it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum VdevState {
    Online,
    Degraded,
    Faulted,
    Offline,
    Unavail,
    Removed,
    Suspended,
    /// A spare that is available.
    Avail,
    /// A spare in use.
    Inuse,
    /// Any other word, kept verbatim.
    Other(String),
}

/// A scrub or resilver: running, finished or canceled.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Scan {
    pub kind: ScanKind,
    pub state: ScanState,
    /// The `scan:` text, verbatim (first line).
    pub text: String,
    /// When it started (in progress) as printed, e.g. `Sun Feb 11 11:54:20 2024`.
    pub started_at: Option<String>,
    /// When it ended as printed.
    pub finished_at: Option<String>,
    /// `finished_at` as seconds since the Unix epoch, reading the local time as UTC.
    pub finished_unix: Option<i64>,
    /// How long it ran (finished) in seconds.
    pub duration_seconds: Option<u64>,
    pub repaired_bytes: Option<u64>,
    pub errors: Option<u64>,
    pub scanned_bytes: Option<u64>,
    pub issued_bytes: Option<u64>,
    pub total_bytes: Option<u64>,
    pub percent_done: Option<f64>,
    /// Time left as printed, e.g. `0 days 00:15:40`; `None` when unknown.
    pub time_to_go: Option<String>,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ScanKind {
    Scrub,
    Resilver,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ScanState {
    InProgress,
    Finished,
    Canceled,
}

/// The `errors:` line.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct PoolErrors {
    /// Verbatim text after `errors:`.
    pub text: String,
    /// `true` for `No known data errors`.
    pub no_known_errors: bool,
    /// `N data errors, use '-v' for a list`.
    pub data_errors: Option<u64>,
    /// Files listed after `Permanent errors have been detected in the following files:`.
    pub files: Vec<String>,
}

/// One pool row of `zpool list -Hp`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct PoolCapacity {
    pub name: String,
    pub health: Option<VdevState>,
    pub size_bytes: Option<u64>,
    pub allocated_bytes: Option<u64>,
    pub free_bytes: Option<u64>,
    pub fragmentation_percent: Option<u64>,
    pub capacity_percent: Option<u64>,
    /// E.g. 1.83 for `1.83x`.
    pub dedup_ratio: Option<f64>,
    /// Rows of `zpool list -v` below the pool.
    pub vdevs: Vec<VdevCapacity>,
}

/// A vdev row of `zpool list -v`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct VdevCapacity {
    pub name: String,
    /// 1 for top-level vdevs, 2 for their members. 0 for a section row (`logs`, `cache`,
    /// `spares`, `special`, `dedup`; every number `None`): the rows after it, up to the next
    /// section row, belong to that section of the same pool.
    pub depth: u32,
    pub size_bytes: Option<u64>,
    pub allocated_bytes: Option<u64>,
    pub free_bytes: Option<u64>,
    pub health: Option<VdevState>,
}

/// One row of `zfs list -Hp -o name,avail,used,usedsnap,usedds`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Dataset {
    pub name: String,
    pub available_bytes: Option<u64>,
    pub used_bytes: Option<u64>,
    pub used_by_snapshots_bytes: Option<u64>,
    pub used_by_dataset_bytes: Option<u64>,
}

/// The result of one ZFS collector run.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ZfsCollection {
    pub outcome: CollectorOutcome,
    pub pools: Vec<PoolResult>,
    pub capacity: Vec<PoolCapacity>,
    pub datasets: Vec<Dataset>,
    pub warnings: Vec<ParseWarning>,
    /// Commands that failed while the run as a whole succeeded.
    pub errors: Vec<String>,
}

/// One pool with its verdict.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct PoolResult {
    pub status: PoolStatus,
    pub verdict: Verdict,
}
