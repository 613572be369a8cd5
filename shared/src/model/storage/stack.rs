//! The storage stack: one entry per physical drive with what sits on it (md arrays, ZFS
//! pools, mounted filesystems), linked by WWN, serial and device path.
//!
//! Drives seen in an earlier collection but absent now stay in the picture, flagged
//! `missing`, so a vanished disk is visible instead of silently gone.

use serde::{Deserialize, Serialize};

use super::{VdevState, VerdictStatus};

/// The whole picture as of one collection.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct StorageStack {
    /// Present drives sorted by device path, then missing drives in the order they were given.
    pub drives: Vec<StackDrive>,
    /// Pool and array members that could not be tied to any drive (a `gptid/…` label with no
    /// link to resolve it, a file vdev, an alias from `vdev_id.conf`).
    pub unlinked: Vec<UnlinkedMember>,
}

/// What identifies a physical drive across reboots and `/dev` renames.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct DriveIdentity {
    pub model: Option<String>,
    pub serial: Option<String>,
    /// `0x` + 16 hex digits, lower case, as smartctl prints it.
    pub wwn: Option<String>,
}

/// One physical drive and the layers above it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct StackDrive {
    pub identity: DriveIdentity,
    /// Device paths of the whole drive now, e.g. `["/dev/nvme0", "/dev/nvme0n1"]`; empty when
    /// missing.
    pub device_paths: Vec<String>,
    /// `/dev/disk/by-id` names of the whole drive, e.g. `wwn-0x5000c500c65ac66f`.
    pub by_id: Vec<String>,
    /// The SMART verdict; `None` when there is no SMART data for this drive.
    pub verdict: Option<VerdictStatus>,
    /// Seen in an earlier collection, absent now.
    pub missing: bool,
    pub md: Vec<MdMembership>,
    pub zfs: Vec<ZfsMembership>,
    /// Filesystems mounted straight from the drive or one of its partitions.
    pub mounts: Vec<Mount>,
}

/// How a layer found its drive.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum LinkKey {
    /// The member's name carries the drive's World Wide Name (`wwn-0x…`).
    Wwn,
    /// The member's name carries the drive's serial number (`ata-MODEL_SERIAL`, `DISK-SERIAL`).
    Serial,
    /// The member is the drive's device or one of its partitions (`/dev/sda1`, `nvme0n1p2`),
    /// directly or through a `/dev/disk/by-id` link.
    DevicePath,
}

/// The drive (or one of its partitions) is a member of an md array.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct MdMembership {
    /// E.g. `md0`.
    pub array: String,
    /// The member device, e.g. `/dev/sda1`.
    pub member: String,
    pub state: MdMemberState,
    /// `(W)`: write-mostly member.
    pub write_mostly: bool,
    /// The array's verdict.
    pub array_verdict: VerdictStatus,
    /// Where the array (or one of its partitions) is mounted.
    pub mount_points: Vec<String>,
    pub linked_by: LinkKey,
}

/// A member's role in its array.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MdMemberState {
    Active,
    /// `(F)` or mdadm `faulty`.
    Faulty,
    /// `(S)`: a spare (not yet in use).
    Spare,
    /// A spare being rebuilt into the array (mdadm `spare rebuilding`).
    Rebuilding,
    /// `(J)`: a write journal.
    Journal,
    /// `(R)`: the replacement of another member.
    Replacement,
}

/// The drive (or one of its partitions) is a leaf vdev of a ZFS pool.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ZfsMembership {
    pub pool: String,
    /// The leaf's name as `zpool status` prints it, e.g. `ata-…_SERIAL-part1`, `wwn-0x…`.
    pub vdev: String,
    /// The device the name resolved to, e.g. `/dev/sda1`, when known.
    pub device: Option<String>,
    /// The groups above the leaf, e.g. `mirror-0`, `logs/mirror-1`; empty when the leaf is a
    /// top-level vdev of the data class itself.
    pub parent: String,
    pub class: ZfsVdevClass,
    pub state: VdevState,
    /// The pool's verdict.
    pub pool_verdict: VerdictStatus,
    /// Where the pool's datasets are mounted.
    pub mount_points: Vec<String>,
    pub linked_by: LinkKey,
}

/// Which section of `zpool status` a vdev is in.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ZfsVdevClass {
    Data,
    Log,
    Cache,
    Spare,
    Special,
    Dedup,
}

/// A filesystem mounted from a device.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// E.g. `/dev/sda1`.
    pub device: String,
    pub mount_point: String,
}

/// A pool or array member that could not be tied to a drive.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct UnlinkedMember {
    pub layer: StackLayer,
    /// The pool or array, e.g. `tank`, `md0`.
    pub container: String,
    /// The member's name as the tool prints it.
    pub name: String,
}

/// A layer of the stack.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StackLayer {
    Md,
    Zfs,
}

impl DriveIdentity {
    /// Whether there is anything to recognize the drive by (a serial or a WWN).
    pub fn is_identifiable(&self) -> bool {
        self.serial.is_some() || self.wwn.is_some()
    }
}

impl StorageStack {
    /// The identities of every identifiable drive in the stack, present and missing: pass
    /// them as `previous` to the next link so that a drive that vanishes stays visible.
    pub fn identities(&self) -> Vec<DriveIdentity> {
        self.drives
            .iter()
            .map(|drive| drive.identity.clone())
            .filter(DriveIdentity::is_identifiable)
            .collect()
    }
}
