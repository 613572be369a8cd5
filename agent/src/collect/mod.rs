//! Collectors: each one reads one part of the host (one room per tool) and returns typed data.
//!
//! A collector is a pure `parse` module (bytes in, typed model out, no I/O) plus a thin `run`
//! module that executes the tool through [`crate::exec`] and hands its output to the parser.

pub mod certificates;
pub mod containers;
pub mod databases;
pub mod mdraid;
pub mod plugins;
pub mod proc_text;
pub mod series;
pub mod smart;
pub mod stack;
pub mod system;
pub mod text;
pub mod zfs;

/// The series of one storage state (SMART, ZFS, md RAID), as the local loop and the agentless
/// proxy send them.
pub fn storage_samples(
    state: &unity_shared::proto::StorageState,
    timestamp_ms: i64,
) -> Vec<unity_shared::proto::Sample> {
    let mut samples = smart::samples::to_samples(&state.smart, timestamp_ms);
    samples.extend(zfs::samples::to_samples(&state.zfs, timestamp_ms));
    samples.extend(mdraid::samples::to_samples(&state.raid, timestamp_ms));
    samples
}
