//! One picture of the storage stack: links SMART drives, md array members, ZFS vdevs and
//! mounted filesystems into a [`StorageStack`], one entry per physical drive.
//!
//! [`link`] is pure. Members are tied to drives by the World Wide Name in their name
//! (`wwn-0x…`, illumos `c0t5000C500…d0`, SCSI NAA `scsi-35000…`), by the serial number in their
//! name (`ata-MODEL_SERIAL`, `nvme-MODEL_SERIAL`, FreeBSD `diskid/DISK-SERIAL`), and by device
//! path, directly or through a `/dev/disk/by-id` link, with partitions mapped to their disk
//! (`/dev/sda1` → `/dev/sda`, `nvme0n1p2` → `nvme0n1` → SMART's `/dev/nvme0`, FreeBSD
//! `da0p2`/`ada0s1a` → `da0`/`ada0`). FreeBSD `gptid/…` labels link only when the caller lists
//! them among the links. Drives in `previous` that are not found now are kept as `missing`.
//!
//! Only [`read_links`] and [`read_mounts`] touch the host.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod device_names;
mod linker;

use std::path::Path;

use unity_shared::model::storage::stack::{DriveIdentity, Mount, StorageStack, ZfsVdevClass};
use unity_shared::model::storage::{RaidCollection, SmartCollection, ZfsCollection};

use device_names::{md_array_of, short};
use linker::{normalized, same_drive, Draft, Linker, PoolContext};

/// Links the layers. `by_id` pairs a link (`/dev/disk/by-id/NAME`, or any other link such as
/// `/dev/gptid/…`) with the device it resolves to (`/dev/sda1`); `mounts` pairs a mounted
/// device (`/dev/sda1`, `/dev/md0`, or a ZFS dataset name) with its mount point; `previous`
/// are the identities from the last stack ([`StorageStack::identities`]).
pub fn link(
    smart: &SmartCollection,
    zfs: &ZfsCollection,
    raid: &RaidCollection,
    by_id: &[(String, String)],
    mounts: &[(String, String)],
    previous: &[DriveIdentity],
) -> StorageStack {
    let mut linker = Linker {
        drives: Vec::new(),
        links: by_id
            .iter()
            .map(|(link, target)| (short(link).to_owned(), short(target).to_owned()))
            .collect(),
        unlinked: Vec::new(),
    };
    for device in &smart.devices {
        linker.add_smart(device);
    }
    for (link, target) in by_id {
        linker.add_link(short(link), short(target));
    }
    for identity in previous.iter().filter(|i| i.is_identifiable()) {
        let identity = normalized(identity);
        if !linker
            .drives
            .iter()
            .any(|d| same_drive(&d.identity, &identity))
        {
            linker.drives.push(Draft::new(identity, None, true));
        }
    }
    for array in &raid.arrays {
        linker.add_array(array, mounts);
    }
    for pool in &zfs.pools {
        let pool_name = pool.status.name.as_str();
        let mount_points: Vec<String> = mounts
            .iter()
            .filter(|(device, _)| !device.starts_with('/'))
            .filter(|(device, _)| device.split('/').next() == Some(pool_name))
            .map(|(_, mount_point)| mount_point.clone())
            .collect();
        let context = PoolContext {
            name: pool_name,
            verdict: pool.verdict.status,
            mount_points: &mount_points,
        };
        let sections = [
            (ZfsVdevClass::Data, "", &pool.status.root.children),
            (ZfsVdevClass::Log, "logs", &pool.status.logs),
            (ZfsVdevClass::Special, "special", &pool.status.special),
            (ZfsVdevClass::Dedup, "dedup", &pool.status.dedup),
            (ZfsVdevClass::Cache, "cache", &pool.status.cache),
            (ZfsVdevClass::Spare, "spares", &pool.status.spares),
        ];
        for (class, section, vdevs) in sections {
            let parents: Vec<&str> = if section.is_empty() {
                Vec::new()
            } else {
                vec![section]
            };
            for vdev in vdevs {
                linker.add_vdev(&context, class, &parents, vdev);
            }
        }
    }
    for (device, mount_point) in mounts.iter().filter(|(d, _)| d.starts_with("/dev/")) {
        let name = short(device);
        if md_array_of(name).is_some() {
            continue;
        }
        if let Some((index, _)) = linker.find_or_create(name) {
            if let Some(drive) = linker.drives.get_mut(index) {
                drive.mounts.push(Mount {
                    device: device.clone(),
                    mount_point: mount_point.clone(),
                });
            }
        }
    }
    linker.finish()
}

/// Reads a `/dev/disk/by-id`-style directory: each entry's path and the device it resolves to.
/// An unreadable directory gives an empty list; entries that do not resolve are left out.
pub async fn read_links(dev_disk_by_id: &Path) -> Vec<(String, String)> {
    let mut links = Vec::new();
    let Ok(mut entries) = tokio::fs::read_dir(dev_disk_by_id).await else {
        return links;
    };
    while let Ok(Some(entry)) = entries.next_entry().await {
        let path = entry.path();
        if let Ok(target) = tokio::fs::canonicalize(&path).await {
            links.push((
                path.to_string_lossy().into_owned(),
                target.to_string_lossy().into_owned(),
            ));
        }
    }
    links.sort();
    links
}

/// Reads a mounts table (`/proc/self/mounts`) into `(device, mount point)` pairs (see
/// [`parse_mounts`]), with `/dev/…` symlinks (`/dev/disk/by-uuid/…`, `/dev/md/NAME`) resolved.
/// An unreadable file gives an empty list.
pub async fn read_mounts(path: &Path) -> Vec<(String, String)> {
    let Ok(bytes) = tokio::fs::read(path).await else {
        return Vec::new();
    };
    let mut mounts = parse_mounts(&String::from_utf8_lossy(&bytes));
    for (device, _) in &mut mounts {
        if device.starts_with("/dev/") {
            if let Ok(resolved) = tokio::fs::canonicalize(&*device).await {
                *device = resolved.to_string_lossy().into_owned();
            }
        }
    }
    mounts
}

/// Parses `/proc/self/mounts` (fstab format): keeps filesystems mounted from a `/dev/…`
/// device and ZFS datasets; decodes the octal escapes (`\040` for a space).
pub fn parse_mounts(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let device = unescape(fields.next()?);
            let mount_point = unescape(fields.next()?);
            let fs_type = fields.next()?;
            (device.starts_with("/dev/") || fs_type == "zfs").then_some((device, mount_point))
        })
        .collect()
}

fn unescape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut rest = field;
    while let Some(position) = rest.find('\\') {
        let (before, after) = rest.split_at(position);
        out.push_str(before);
        let code = after.get(1..4).and_then(|d| u8::from_str_radix(d, 8).ok());
        match code {
            Some(byte) => {
                out.push(char::from(byte));
                rest = after.get(4..).unwrap_or_default();
            }
            None => {
                out.push('\\');
                rest = after.get(1..).unwrap_or_default();
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests;
