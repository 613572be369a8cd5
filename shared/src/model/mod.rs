//! Domain types that travel inside reports.

pub mod storage;
