//! Diagnostics for the local CLI: parse saved tool output, collect once and print.

pub mod certificates;
pub mod containers;
pub mod databases;
pub mod parse;
pub mod plugins;
pub mod stack;
pub mod storage;
