//! The drives being assembled while [`super::link`] walks the layers: each SMART device, link,
//! md member and ZFS vdev is attached to the one drive it names, or recorded as unlinked.

use std::collections::{BTreeMap, BTreeSet};

use unity_shared::model::storage::stack::{
    DriveIdentity, LinkKey, MdMemberState, MdMembership, Mount, StackDrive, StackLayer,
    StorageStack, UnlinkedMember, ZfsMembership, ZfsVdevClass,
};
use unity_shared::model::storage::{ArrayResult, SmartDeviceResult, Vdev, VdevKind, VerdictStatus};

use super::device_names::{
    disk_key, identity_from_link, is_drive_link, md_array_of, serial_in_name, short, split_kernel,
    split_part_suffix, wwn_in_name,
};

/// A drive while the stack is being built.
pub(super) struct Draft {
    pub(super) identity: DriveIdentity,
    /// Whole-disk device names without `/dev/` (`sda`, `nvme0`, `nvme0n1`).
    pub(super) devices: BTreeSet<String>,
    pub(super) by_id: BTreeSet<String>,
    pub(super) verdict: Option<VerdictStatus>,
    pub(super) missing: bool,
    pub(super) md: Vec<MdMembership>,
    pub(super) zfs: Vec<ZfsMembership>,
    pub(super) mounts: Vec<Mount>,
}

impl Draft {
    pub(super) fn new(identity: DriveIdentity, device: Option<String>, missing: bool) -> Draft {
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

pub(super) struct Linker {
    pub(super) drives: Vec<Draft>,
    /// Link name (without `/dev/disk/by-id/` or `/dev/`) → target (without `/dev/`).
    pub(super) links: BTreeMap<String, String>,
    pub(super) unlinked: Vec<UnlinkedMember>,
}

pub(super) struct PoolContext<'a> {
    pub(super) name: &'a str,
    pub(super) verdict: VerdictStatus,
    pub(super) mount_points: &'a [String],
}

impl Linker {
    pub(super) fn add_smart(&mut self, result: &SmartDeviceResult) {
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
    pub(super) fn add_link(&mut self, link: &str, target: &str) {
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
    pub(super) fn find_or_create(&mut self, name: &str) -> Option<(usize, LinkKey)> {
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

    pub(super) fn add_array(&mut self, result: &ArrayResult, mounts: &[(String, String)]) {
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

    pub(super) fn add_vdev(
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

    pub(super) fn finish(self) -> StorageStack {
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
pub(super) fn normalized(identity: &DriveIdentity) -> DriveIdentity {
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
pub(super) fn same_drive(a: &DriveIdentity, b: &DriveIdentity) -> bool {
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
