//! Device names as Linux and FreeBSD spell them: whole disk vs partition, md arrays, the
//! WWN or serial number inside a `/dev/disk/by-id` link name. Pure string functions.

use unity_shared::model::storage::stack::DriveIdentity;

/// A name without its directory: `/dev/disk/by-id/wwn-…` → `wwn-…`, `/dev/sda1` → `sda1`,
/// `/dev/gptid/X` → `gptid/X`; other names unchanged.
pub(super) fn short(name: &str) -> &str {
    if let Some(rest) = name.strip_prefix("/dev/disk/") {
        return rest.split_once('/').map_or(rest, |(_, name)| name);
    }
    name.strip_prefix("/dev/").unwrap_or(name)
}

/// `ata-X_Y-part1` → (`ata-X_Y`, true).
pub(super) fn split_part_suffix(name: &str) -> (&str, bool) {
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
pub(super) fn split_kernel(name: &str) -> Option<(String, bool)> {
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
pub(super) fn disk_key(disk: &str) -> String {
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
pub(super) fn md_array_of(name: &str) -> Option<&str> {
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
pub(super) fn wwn_in_name(name: &str) -> Option<String> {
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
pub(super) fn serial_in_name(name: &str, serial: &str) -> bool {
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
pub(super) fn is_drive_link(name: &str) -> bool {
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
pub(super) fn identity_from_link(name: &str) -> DriveIdentity {
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
