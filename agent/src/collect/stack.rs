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

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use unity_shared::model::storage::stack::{
    DriveIdentity, LinkKey, MdMemberState, MdMembership, Mount, StackDrive, StackLayer,
    StorageStack, UnlinkedMember, ZfsMembership, ZfsVdevClass,
};
use unity_shared::model::storage::{
    ArrayResult, RaidCollection, SmartCollection, SmartDeviceResult, Vdev, VdevKind, VerdictStatus,
    ZfsCollection,
};

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

/// A drive while the stack is being built.
struct Draft {
    identity: DriveIdentity,
    /// Whole-disk device names without `/dev/` (`sda`, `nvme0`, `nvme0n1`).
    devices: BTreeSet<String>,
    by_id: BTreeSet<String>,
    verdict: Option<VerdictStatus>,
    missing: bool,
    md: Vec<MdMembership>,
    zfs: Vec<ZfsMembership>,
    mounts: Vec<Mount>,
}

impl Draft {
    fn new(identity: DriveIdentity, device: Option<String>, missing: bool) -> Draft {
        Draft {
            identity,
            devices: device.into_iter().collect(),
            by_id: BTreeSet::new(),
            verdict: None,
            missing,
            md: Vec::new(),
            zfs: Vec::new(),
            mounts: Vec::new(),
        }
    }

    fn has_device(&self, disk: &str) -> bool {
        let key = disk_key(disk);
        self.devices.iter().any(|device| disk_key(device) == key)
    }
}

struct Linker {
    drives: Vec<Draft>,
    /// Link name (without `/dev/disk/by-id/` or `/dev/`) → target (without `/dev/`).
    links: BTreeMap<String, String>,
    unlinked: Vec<UnlinkedMember>,
}

struct PoolContext<'a> {
    name: &'a str,
    verdict: VerdictStatus,
    mount_points: &'a [String],
}

impl Linker {
    fn add_smart(&mut self, result: &SmartDeviceResult) {
        let identity = result
            .report
            .as_ref()
            .map(|report| {
                normalized(&DriveIdentity {
                    model: report.device.model.clone(),
                    serial: report.device.serial.clone(),
                    wwn: report.device.wwn.clone(),
                })
            })
            .unwrap_or_default();
        // A drive behind a RAID controller (`-d megaraid,N`) shares its path with others.
        let behind_controller = result
            .device_type
            .as_deref()
            .is_some_and(|t| t.contains(','));
        let device = Some(short(&result.device).to_owned()).filter(|_| !behind_controller);
        let verdict = result.verdict.as_ref().map(|v| v.status);
        let existing = self.drives.iter_mut().find(|d| {
            (identity.is_identifiable() && same_drive(&d.identity, &identity))
                || device.as_deref().is_some_and(|device| d.has_device(device))
        });
        match existing {
            Some(drive) => {
                drive.devices.extend(device);
                drive.verdict = drive.verdict.max(verdict);
            }
            None => {
                let mut drive = Draft::new(identity, device, false);
                drive.verdict = verdict;
                self.drives.push(drive);
            }
        }
    }

    /// A link to a whole disk names the drive (`by_id`); links to partitions only resolve.
    fn add_link(&mut self, link: &str, target: &str) {
        let Some((disk, false)) = split_kernel(target) else {
            return;
        };
        if split_part_suffix(link).1 {
            return;
        }
        let found = self
            .find_by_identity(link)
            .map(|(index, _)| index)
            .or_else(|| self.find_by_device(&disk));
        let index =
            match found {
                Some(index) => index,
                None if is_drive_link(link) => {
                    let identity = identity_from_link(link);
                    if let Some(index) = self.drives.iter().position(|d| {
                        identity.is_identifiable() && same_drive(&d.identity, &identity)
                    }) {
                        index
                    } else {
                        self.drives.push(Draft::new(identity, None, false));
                        self.drives.len().saturating_sub(1)
                    }
                }
                None => return,
            };
        if let Some(drive) = self.drives.get_mut(index) {
            drive.devices.insert(disk);
            drive.by_id.insert(link.to_owned());
            let from_link = identity_from_link(link);
            if drive.identity.wwn.is_none() {
                drive.identity.wwn = from_link.wwn;
            }
        }
    }

    /// The drive whose WWN or serial is in `name`.
    fn find_by_identity(&self, name: &str) -> Option<(usize, LinkKey)> {
        let (name, _) = split_part_suffix(short(name));
        if let Some(wwn) = wwn_in_name(name) {
            if let Some(index) = unique(&self.drives, |d| d.identity.wwn.as_deref() == Some(&wwn)) {
                return Some((index, LinkKey::Wwn));
            }
        }
        let serial_matches = |drive: &Draft| {
            drive
                .identity
                .serial
                .as_deref()
                .is_some_and(|serial| serial_in_name(name, serial))
        };
        unique(&self.drives, serial_matches).map(|index| (index, LinkKey::Serial))
    }

    fn find_by_device(&self, disk: &str) -> Option<usize> {
        unique(&self.drives, |d| d.has_device(disk))
    }

    /// Finds the drive under a member name; creates a drive for a plain kernel disk name
    /// (`sdb1`) that no drive claims yet. Returns the drive and how it was found.
    fn find_or_create(&mut self, name: &str) -> Option<(usize, LinkKey)> {
        if let Some(found) = self.find_by_identity(name) {
            return Some(found);
        }
        let target = self.resolve(name)?;
        let (disk, _) = split_kernel(&target)?;
        if let Some(index) = self.find_by_device(&disk) {
            return Some((index, LinkKey::DevicePath));
        }
        self.drives
            .push(Draft::new(DriveIdentity::default(), Some(disk), false));
        Some((self.drives.len().saturating_sub(1), LinkKey::DevicePath))
    }

    /// The kernel device a member name stands for: through the links, else the name itself
    /// (`sda1`, `/dev/vdb1`); `None` when it is neither (an alias, a file, a `gptid/` label).
    fn resolve(&self, name: &str) -> Option<String> {
        let name = short(name);
        if let Some(target) = self.links.get(name) {
            return Some(target.clone());
        }
        let (disk_link, is_part) = split_part_suffix(name);
        if is_part {
            if let Some(target) = self.links.get(disk_link) {
                return Some(target.clone());
            }
        }
        split_kernel(name).map(|_| name.to_owned())
    }

    fn add_array(&mut self, result: &ArrayResult, mounts: &[(String, String)]) {
        let array = &result.array;
        let mount_points: Vec<String> = mounts
            .iter()
            .filter(|(device, _)| md_array_of(short(device)) == Some(array.name.as_str()))
            .map(|(_, mount_point)| mount_point.clone())
            .collect();
        for member in &array.members {
            let detail_words = result
                .detail
                .as_ref()
                .and_then(|detail| {
                    detail
                        .devices
                        .iter()
                        .find(|d| d.path.as_deref().map(short) == Some(member.device.as_str()))
                })
                .map(|d| d.state.as_slice())
                .unwrap_or_default();
            let has = |word: &str| detail_words.iter().any(|w| w == word);
            let state = if member.faulty || has("faulty") {
                MdMemberState::Faulty
            } else if has("rebuilding") {
                MdMemberState::Rebuilding
            } else if member.spare || has("spare") {
                MdMemberState::Spare
            } else if member.journal || has("journal") {
                MdMemberState::Journal
            } else if member.replacement || has("replacement") {
                MdMemberState::Replacement
            } else {
                MdMemberState::Active
            };
            let Some((index, linked_by)) = self.find_or_create(&member.device) else {
                self.unlinked.push(UnlinkedMember {
                    layer: StackLayer::Md,
                    container: array.name.clone(),
                    name: member.device.clone(),
                });
                continue;
            };
            let member_path = self
                .resolve(&member.device)
                .map_or_else(|| member.device.clone(), |target| format!("/dev/{target}"));
            if let Some(drive) = self.drives.get_mut(index) {
                drive.md.push(MdMembership {
                    array: array.name.clone(),
                    member: member_path,
                    state,
                    write_mostly: member.write_mostly,
                    array_verdict: result.verdict.status,
                    mount_points: mount_points.clone(),
                    linked_by,
                });
            }
        }
    }

    fn add_vdev(
        &mut self,
        pool: &PoolContext<'_>,
        class: ZfsVdevClass,
        parents: &[&str],
        vdev: &Vdev,
    ) {
        if !vdev.children.is_empty() {
            let mut path = parents.to_vec();
            path.push(&vdev.name);
            for child in &vdev.children {
                self.add_vdev(pool, class, &path, child);
            }
            return;
        }
        if vdev.kind != VdevKind::Disk {
            return;
        }
        let Some((index, linked_by)) = self.find_or_create(&vdev.name) else {
            self.unlinked.push(UnlinkedMember {
                layer: StackLayer::Zfs,
                container: pool.name.to_owned(),
                name: vdev.name.clone(),
            });
            return;
        };
        let device = self
            .resolve(&vdev.name)
            .map(|target| format!("/dev/{target}"));
        if let Some(drive) = self.drives.get_mut(index) {
            drive.zfs.push(ZfsMembership {
                pool: pool.name.to_owned(),
                vdev: vdev.name.clone(),
                device,
                parent: parents.join("/"),
                class,
                state: vdev.state.clone(),
                pool_verdict: pool.verdict,
                mount_points: pool.mount_points.to_vec(),
                linked_by,
            });
        }
    }

    fn finish(self) -> StorageStack {
        let (mut present, missing): (Vec<Draft>, Vec<Draft>) =
            self.drives.into_iter().partition(|d| !d.missing);
        present.sort_by(|a, b| a.devices.iter().next().cmp(&b.devices.iter().next()));
        let drives = present
            .into_iter()
            .chain(missing)
            .map(|draft| StackDrive {
                identity: draft.identity,
                device_paths: draft.devices.iter().map(|d| format!("/dev/{d}")).collect(),
                by_id: draft.by_id.into_iter().collect(),
                verdict: draft.verdict,
                missing: draft.missing,
                md: draft.md,
                zfs: draft.zfs,
                mounts: draft.mounts,
            })
            .collect();
        StorageStack {
            drives,
            unlinked: self.unlinked,
        }
    }
}

/// The index of the one drive that matches; `None` for none or several.
fn unique(drives: &[Draft], matches: impl Fn(&Draft) -> bool) -> Option<usize> {
    let mut found = drives.iter().enumerate().filter(|(_, d)| matches(d));
    let (index, _) = found.next()?;
    found.next().is_none().then_some(index)
}

/// Trims the fields, drops empty ones and lower-cases the WWN.
fn normalized(identity: &DriveIdentity) -> DriveIdentity {
    let clean = |value: &Option<String>| {
        value
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    DriveIdentity {
        model: clean(&identity.model),
        serial: clean(&identity.serial),
        wwn: clean(&identity.wwn).map(|wwn| wwn.to_ascii_lowercase()),
    }
}

/// Same WWN, or same serial (and the same model when both are known).
fn same_drive(a: &DriveIdentity, b: &DriveIdentity) -> bool {
    if let (Some(a_wwn), Some(b_wwn)) = (&a.wwn, &b.wwn) {
        return a_wwn == b_wwn;
    }
    match (&a.serial, &b.serial) {
        (Some(a_serial), Some(b_serial)) if a_serial == b_serial => match (&a.model, &b.model) {
            (Some(a_model), Some(b_model)) => a_model == b_model,
            _ => true,
        },
        _ => false,
    }
}

/// A name without its directory: `/dev/disk/by-id/wwn-…` → `wwn-…`, `/dev/sda1` → `sda1`,
/// `/dev/gptid/X` → `gptid/X`; other names unchanged.
fn short(name: &str) -> &str {
    if let Some(rest) = name.strip_prefix("/dev/disk/") {
        return rest.split_once('/').map_or(rest, |(_, name)| name);
    }
    name.strip_prefix("/dev/").unwrap_or(name)
}

/// `ata-X_Y-part1` → (`ata-X_Y`, true).
fn split_part_suffix(name: &str) -> (&str, bool) {
    match name.rsplit_once("-part") {
        Some((disk, number)) if !number.is_empty() && all_digits(number) => (disk, true),
        _ => (name, false),
    }
}

fn all_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// The whole disk of a kernel device name and whether the name is a partition:
/// `sda1` → (`sda`, true), `nvme0n1p2` → (`nvme0n1`, true), `nvme0` → (`nvme0`, false),
/// FreeBSD `ada0p3`/`da1s1a` → (`ada0`/`da1`, true). `None` for anything else (md, dm, loop,
/// zvols, labels).
fn split_kernel(name: &str) -> Option<(String, bool)> {
    let letters_end = name
        .find(|c: char| !c.is_ascii_lowercase())
        .unwrap_or(name.len());
    let (prefix, rest) = name.split_at(letters_end);
    for linux in ["sd", "vd", "hd", "xvd"] {
        if let Some(drive_letters) = prefix.strip_prefix(linux) {
            if drive_letters.is_empty() || !(rest.is_empty() || all_digits(rest)) {
                return None;
            }
            return Some((prefix.to_owned(), !rest.is_empty()));
        }
    }
    let (number, tail) = split_digits(rest)?;
    let disk_len = prefix.len() + number.len();
    match prefix {
        "nvme" => {
            if tail.is_empty() {
                return Some((name.to_owned(), false));
            }
            let namespace = tail.strip_prefix('n')?;
            let (namespace_number, partition) = split_digits(namespace)?;
            let disk_len = disk_len + 1 + namespace_number.len();
            numbered_partition(name, disk_len, partition, 'p')
        }
        "mmcblk" => numbered_partition(name, disk_len, tail, 'p'),
        "ada" | "da" | "nvd" | "nda" | "vtbd" | "mfid" | "ad" => {
            let disk = name.get(..disk_len)?.to_owned();
            if tail.is_empty() {
                return Some((disk, false));
            }
            let valid = match tail.strip_prefix('p') {
                Some(partition) => all_digits(partition),
                None => {
                    let slice = tail.strip_prefix('s')?;
                    let (_, label) = split_digits(slice)?;
                    label.is_empty() || (label.len() == 1 && label <= "h")
                }
            };
            valid.then_some((disk, true))
        }
        _ => None,
    }
}

fn numbered_partition(
    name: &str,
    disk_len: usize,
    partition: &str,
    marker: char,
) -> Option<(String, bool)> {
    let disk = name.get(..disk_len)?.to_owned();
    if partition.is_empty() {
        return Some((disk, false));
    }
    all_digits(partition.strip_prefix(marker)?).then_some((disk, true))
}

/// Leading digits (at least one) and the rest.
fn split_digits(text: &str) -> Option<(&str, &str)> {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    (end > 0).then(|| text.split_at(end))
}

/// The key two names of one drive share: the disk, with an NVMe namespace mapped to its
/// controller (`nvme0n1` → `nvme0`, the name smartctl uses).
fn disk_key(disk: &str) -> String {
    if let Some(rest) = disk.strip_prefix("nvme") {
        if let Some((number, tail)) = split_digits(rest) {
            if tail.starts_with('n') {
                return format!("nvme{number}");
            }
        }
    }
    disk.to_owned()
}

/// The md array a mounted device belongs to: `md0`, `md0p1`, `md_d0p1` → the array name.
fn md_array_of(name: &str) -> Option<&str> {
    if !name.starts_with("md") {
        return None;
    }
    let array = match name.rsplit_once('p') {
        Some((array, partition)) if all_digits(partition) && array.len() > 2 => array,
        _ => name,
    };
    array
        .bytes()
        .last()
        .is_some_and(|b| b.is_ascii_digit())
        .then_some(array)
}

/// The WWN a member name carries, as `0x` + lower-case hex: `wwn-0x5000c500c65ac66f`, SCSI NAA
/// `scsi-35000c500…` and illumos `c0t5000C500631F81E7d0`.
fn wwn_in_name(name: &str) -> Option<String> {
    let is_hex16 = |hex: &str| hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit());
    let lower = |hex: &str| format!("0x{}", hex.to_ascii_lowercase());
    if let Some(hex) = name.strip_prefix("wwn-0x") {
        return is_hex16(hex).then(|| lower(hex));
    }
    if let Some(hex) = name.strip_prefix("scsi-3") {
        return is_hex16(hex).then(|| lower(hex));
    }
    let illumos = name.strip_prefix('c')?;
    let (_, rest) = split_digits(illumos)?;
    let rest = rest.strip_prefix('t')?;
    let hex = rest.get(..16)?;
    let tail = rest.get(16..)?.strip_prefix('d')?;
    (is_hex16(hex) && split_digits(tail).is_some()).then(|| lower(hex))
}

/// Whether `name` (without a partition suffix) is a by-id or diskid name ending in `serial`:
/// `ata-MODEL_SERIAL`, `nvme-MODEL_SERIAL`, `nvme-MODEL_SERIAL_1`, `usb-VENDOR_MODEL_SERIAL-0:0`,
/// `diskid/DISK-SERIAL`. Serials shorter than 4 characters are not trusted.
fn serial_in_name(name: &str, serial: &str) -> bool {
    if serial.len() < 4 {
        return false;
    }
    let serial = serial.replace(' ', "_");
    if let Some(disk_serial) = name.strip_prefix("diskid/DISK-") {
        return disk_serial == serial;
    }
    if !is_drive_link(name) {
        return false;
    }
    let mut candidates = vec![name];
    if let Some((stem, lun)) = name.rsplit_once('-') {
        if lun.split(':').all(all_digits) {
            candidates.push(stem);
        }
    }
    if let Some((stem, namespace)) = name.rsplit_once('_') {
        if all_digits(namespace) && namespace.len() <= 2 {
            candidates.push(stem);
        }
    }
    let suffix = format!("_{serial}");
    candidates.iter().any(|c| c.ends_with(&suffix))
}

/// By-id names of physical drives (not md, dm, LVM or partition-label links).
fn is_drive_link(name: &str) -> bool {
    [
        "ata-",
        "nvme-",
        "scsi-",
        "usb-",
        "wwn-",
        "virtio-",
        "mmc-",
        "ieee1394-",
    ]
    .iter()
    .any(|prefix| name.starts_with(prefix))
}

/// What a whole-disk by-id name says about the drive: the WWN, or model and serial from
/// `ata-`/`nvme-` names (`ata-TOSHIBA_MG09ACA18TE_82X0A0QMFJDH`).
fn identity_from_link(name: &str) -> DriveIdentity {
    let mut identity = DriveIdentity {
        wwn: wwn_in_name(name),
        ..DriveIdentity::default()
    };
    let rest = name
        .strip_prefix("ata-")
        .or_else(|| name.strip_prefix("nvme-"));
    if let Some((model, serial)) = rest.and_then(|rest| rest.rsplit_once('_')) {
        if serial.len() >= 4 && !model.is_empty() && !model.starts_with("eui.") {
            identity.model = Some(model.replace('_', " "));
            identity.serial = Some(serial.to_owned());
        }
    }
    identity
}

#[cfg(test)]
mod tests;
