//! Finding one drive, pool or array in a host's storage state, the links between them (a
//! drive's pools and arrays, a pool's or array's drives), the series labels that pick one
//! drive's history, and the pages' addresses. Pure: state in, references and strings out.

use crate::storage::disk_baselines::drive_id;
use crate::web::format::url_segment;
use unity_shared::model::storage::mdraid::ArrayResult;
use unity_shared::model::storage::stack::StackDrive;
use unity_shared::model::storage::zfs::PoolResult;
use unity_shared::model::storage::SmartDeviceResult;
use unity_shared::proto::{AgentId, StorageState};

/// The drive whose page id ([`drive_id`]: WWN, serial or device name) is `id`.
pub fn device<'a>(state: &'a StorageState, id: &str) -> Option<&'a SmartDeviceResult> {
    state
        .smart
        .devices
        .iter()
        .find(|device| drive_id(device) == id)
}

/// The pool named `name`.
pub fn pool<'a>(state: &'a StorageState, name: &str) -> Option<&'a PoolResult> {
    state.zfs.pools.iter().find(|pool| pool.status.name == name)
}

/// The array named `name`.
pub fn array<'a>(state: &'a StorageState, name: &str) -> Option<&'a ArrayResult> {
    state
        .raid
        .arrays
        .iter()
        .find(|array| array.array.name == name)
}

fn same(a: Option<&str>, b: Option<&str>) -> bool {
    match (a.map(str::trim), b.map(str::trim)) {
        (Some(a), Some(b)) => !a.is_empty() && a.eq_ignore_ascii_case(b),
        _ => false,
    }
}

/// Whether the stack's `drive` is the drive smartctl reported as `device`: same WWN, same
/// serial, or the same device path.
pub fn is_same_drive(drive: &StackDrive, device: &SmartDeviceResult) -> bool {
    let identity = device.report.as_ref().map(|report| &report.device);
    same(
        drive.identity.wwn.as_deref(),
        identity.and_then(|id| id.wwn.as_deref()),
    ) || same(
        drive.identity.serial.as_deref(),
        identity.and_then(|id| id.serial.as_deref()),
    ) || drive.device_paths.contains(&device.device)
}

/// Where the drive sits in the storage stack, when the agent linked it.
pub fn stack_drive<'a>(
    state: &'a StorageState,
    device: &SmartDeviceResult,
) -> Option<&'a StackDrive> {
    state
        .stack
        .drives
        .iter()
        .find(|drive| !drive.missing && is_same_drive(drive, device))
}

/// The SMART device of a stack drive, when smartctl reported it.
pub fn device_of<'a>(state: &'a StorageState, drive: &StackDrive) -> Option<&'a SmartDeviceResult> {
    state
        .smart
        .devices
        .iter()
        .find(|device| is_same_drive(drive, device))
}

/// The drives holding a vdev of `pool`: (the leaf's name, the drive), in stack order.
pub fn pool_drives<'a>(state: &'a StorageState, pool: &str) -> Vec<(&'a str, &'a StackDrive)> {
    state
        .stack
        .drives
        .iter()
        .flat_map(|drive| {
            drive
                .zfs
                .iter()
                .filter(move |member| member.pool == pool)
                .map(move |member| (member.vdev.as_str(), drive))
        })
        .collect()
}

/// The drives holding a member of `array`: (the member device, the drive).
pub fn array_drives<'a>(state: &'a StorageState, array: &str) -> Vec<(&'a str, &'a StackDrive)> {
    state
        .stack
        .drives
        .iter()
        .flat_map(|drive| {
            drive
                .md
                .iter()
                .filter(move |member| member.array == array)
                .map(move |member| (member.member.as_str(), drive))
        })
        .collect()
}

/// The label matcher that picks this drive's series (`serial=…`, else `device=…`), as the
/// agent labels them (`agent/src/collect/smart/samples.rs`); `None` when no label can be
/// written as a matcher (a `,` or `=` in it).
pub fn series_matcher(device: &SmartDeviceResult) -> Option<(String, String)> {
    let serial = device
        .report
        .as_ref()
        .and_then(|report| report.device.serial.as_deref())
        .map(str::trim)
        .filter(|serial| !serial.is_empty());
    let (name, value) = match serial {
        Some(serial) => ("serial", serial.to_owned()),
        None => match &device.device_type {
            Some(kind) if kind.contains(',') => ("device", format!("{} [{kind}]", device.device)),
            _ => ("device", device.device.clone()),
        },
    };
    let writable = !value.is_empty() && !value.contains([',', '=']);
    writable.then(|| (name.to_owned(), value))
}

/// A matcher as the chart script's `data-labels` takes it.
pub fn matcher_text(matcher: &(String, String)) -> String {
    format!("{}={}", matcher.0, matcher.1)
}

/// `/hosts/{agent}/disks/{drive id}`.
pub fn disk_href(agent_id: &AgentId, device: &SmartDeviceResult) -> String {
    format!(
        "/hosts/{}/disks/{}",
        url_segment(agent_id.as_str()),
        url_segment(&drive_id(device))
    )
}

/// `/hosts/{agent}/pools/{name}`.
pub fn pool_href(agent_id: &AgentId, name: &str) -> String {
    format!(
        "/hosts/{}/pools/{}",
        url_segment(agent_id.as_str()),
        url_segment(name)
    )
}

/// `/hosts/{agent}/arrays/{name}`.
pub fn array_href(agent_id: &AgentId, name: &str) -> String {
    format!(
        "/hosts/{}/arrays/{}",
        url_segment(agent_id.as_str()),
        url_segment(name)
    )
}

/// A name usable in a label matcher (no `,` or `=`), for the pool and array charts.
pub fn matchable(name: &str) -> bool {
    !name.is_empty() && !name.contains([',', '='])
}
