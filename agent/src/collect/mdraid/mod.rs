//! md RAID collector: `/proc/mdstat` and `mdadm --detail` parsed into arrays with a verdict each.
//!
//! `parse` and `verdict` are pure; only `run` reads the mdstat file and executes `mdadm`.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

pub mod parse;
pub mod run;
pub mod samples;
pub mod verdict;

#[cfg(test)]
mod tests;

pub use parse::{parse_detail, parse_mdstat};
pub use run::{collect, RaidConfig};
pub use verdict::{array_verdict, detail_verdict};
