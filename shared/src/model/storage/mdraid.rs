//! md RAID model: `/proc/mdstat` arrays and `mdadm --detail` output.

use serde::{Deserialize, Serialize};

use super::{CollectorOutcome, ParseWarning, Verdict};

/// Parsed `/proc/mdstat`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct Mdstat {
    /// E.g. `raid1`, `raid6` from `Personalities : [raid1] [raid6]`.
    pub personalities: Vec<String>,
    pub arrays: Vec<MdArray>,
    /// From `unused devices:`; empty for `<none>`.
    pub unused_devices: Vec<String>,
}

/// One array in `/proc/mdstat`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct MdArray {
    /// E.g. `md0`, `md_d0`, `md127`.
    pub name: String,
    pub active: bool,
    /// E.g. `read-only`, `auto-read-only`.
    pub read_only: Option<String>,
    /// `None` for inactive arrays and containers that print no level.
    pub level: Option<MdLevel>,
    pub members: Vec<MdMember>,
    /// Size in 1 KiB blocks.
    pub blocks: Option<u64>,
    /// Metadata: `1.2`, `external:imsm`, `external:/md127/0`; `None` for 0.90 (not printed).
    pub superblock: Option<String>,
    pub chunk_kib: Option<u64>,
    /// E.g. `2 near-copies` (raid10) or `algorithm 2` (raid5/6).
    pub layout: Option<String>,
    /// `[n/m]`: devices the array should have.
    pub raid_disks: Option<u32>,
    /// `[n/m]`: devices working now.
    pub working_disks: Option<u32>,
    /// `[UU_]`, verbatim.
    pub member_status: Option<String>,
    pub sync: Option<MdSync>,
    pub bitmap: Option<MdBitmap>,
    /// This is a metadata container (IMSM/DDF): members are spares by design.
    pub is_container: bool,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MdLevel {
    Linear,
    Multipath,
    Raid0,
    Raid1,
    Raid4,
    Raid5,
    Raid6,
    Raid10,
    Container,
    Other(String),
}

/// One member device, e.g. `sde1[6](F)`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct MdMember {
    pub device: String,
    /// The number in brackets (the descriptor index, not the slot).
    pub index: Option<u32>,
    /// `(F)`
    pub faulty: bool,
    /// `(S)`
    pub spare: bool,
    /// `(W)`
    pub write_mostly: bool,
    /// `(J)`
    pub journal: bool,
    /// `(R)`
    pub replacement: bool,
}

/// A running resync, recovery, check, repair or reshape.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct MdSync {
    pub action: MdSyncAction,
    pub percent: Option<f64>,
    pub done_blocks: Option<u64>,
    pub total_blocks: Option<u64>,
    pub finish_minutes: Option<f64>,
    pub speed_kib_per_sec: Option<u64>,
    /// `=DELAYED` or `=PENDING`: waiting for another array on the same disks.
    pub waiting: bool,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MdSyncAction {
    Resync,
    Recovery,
    Check,
    Repair,
    Reshape,
}

/// `bitmap: 35/84 pages [140KB], 65536KB chunk`
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct MdBitmap {
    pub pages_used: Option<u64>,
    pub pages_total: Option<u64>,
    pub size_kib: Option<u64>,
    pub chunk_kib: Option<u64>,
    /// An external bitmap file, when one is named.
    pub file: Option<String>,
}

/// Parsed `mdadm --detail /dev/mdX`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct MdDetail {
    pub device: Option<String>,
    /// Metadata version, e.g. `1.2`, `0.90`, `ddf`.
    pub version: Option<String>,
    pub creation_time: Option<String>,
    pub raid_level: Option<MdLevel>,
    pub array_size_kib: Option<u64>,
    pub used_dev_size_kib: Option<u64>,
    pub raid_devices: Option<u32>,
    pub total_devices: Option<u32>,
    pub active_devices: Option<u32>,
    pub working_devices: Option<u32>,
    pub failed_devices: Option<u32>,
    pub spare_devices: Option<u32>,
    pub intent_bitmap: Option<String>,
    pub update_time: Option<String>,
    /// The `State :` line verbatim, e.g. `clean, degraded, recovering`.
    pub state: Option<String>,
    /// The same, split: `["clean", "degraded", "recovering"]`.
    pub state_flags: Vec<String>,
    pub layout: Option<String>,
    pub chunk_size: Option<String>,
    pub consistency_policy: Option<String>,
    /// `Rebuild Status : 20% complete` and friends.
    pub rebuild_percent: Option<u64>,
    pub resync_percent: Option<u64>,
    pub reshape_percent: Option<u64>,
    pub check_percent: Option<u64>,
    pub name: Option<String>,
    pub uuid: Option<String>,
    pub events: Option<String>,
    pub container: Option<String>,
    pub member_arrays: Vec<String>,
    pub devices: Vec<MdDetailDevice>,
}

/// A row of the device table at the end of `mdadm --detail`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct MdDetailDevice {
    pub number: Option<u32>,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    /// The slot in the array; `None` for `-` (spares, faulty, container members).
    pub raid_device: Option<u32>,
    /// E.g. `["active", "sync"]`, `["faulty"]`, `["removed"]`, `["spare", "rebuilding"]`.
    pub state: Vec<String>,
    pub path: Option<String>,
}

/// The result of one md RAID collector run.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct RaidCollection {
    pub outcome: CollectorOutcome,
    pub arrays: Vec<ArrayResult>,
    pub warnings: Vec<ParseWarning>,
    pub errors: Vec<String>,
}

/// One array: its mdstat entry, its `mdadm --detail` when available, and the verdict of both.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ArrayResult {
    pub array: MdArray,
    pub detail: Option<MdDetail>,
    pub verdict: Verdict,
}
