//! ZFS collector: `zpool status` parsed into a vdev tree with a verdict per pool, plus
//! `zpool list -Hp` capacity and `zfs list -Hp` datasets.
//!
//! `parse` (text, with `scan`), `parse_json` (`zpool status -j`), `parse_list`, what they share
//! (`fields`, `ctime`) and `verdict` are pure; only `run` executes `zpool`/`zfs`.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

pub mod ctime;
pub mod fields;
pub mod parse;
pub mod parse_json;
pub mod parse_list;
pub mod run;
pub mod samples;
pub mod scan;
pub mod verdict;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_json;
#[cfg(test)]
mod tests_regressions;

pub use ctime::parse_ctime;
pub use parse::parse_status;
pub use parse_json::parse_status_json;
pub use parse_list::{parse_zfs_list, parse_zpool_list};
pub use run::{collect, ZfsConfig};
pub use verdict::{verdict, ZfsThresholds};
