//! md RAID collector: `/proc/mdstat` and `mdadm --detail` parsed into arrays with a verdict each.
//!
//! `parse`, `parse_detail` and `verdict` are pure; only `run` reads the mdstat file and executes
//! `mdadm`.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

pub mod parse;
pub mod parse_detail;
pub mod run;
pub mod samples;
pub mod verdict;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_whitespace;

pub use parse::parse_mdstat;
pub use parse_detail::parse_detail;
pub use run::{collect, RaidConfig};
pub use verdict::{array_verdict, detail_verdict};
