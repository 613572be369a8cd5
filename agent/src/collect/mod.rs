//! Collectors: each one reads one part of the host (one room per tool) and returns typed data.
//!
//! A collector is a pure `parse` module (bytes in, typed model out, no I/O) plus a thin `run`
//! module that executes the tool through [`crate::exec`] and hands its output to the parser.

pub mod certificates;
pub mod containers;
pub mod databases;
pub mod mdraid;
pub mod plugins;
pub mod series;
pub mod smart;
pub mod stack;
pub mod system;
pub mod text;
pub mod zfs;
