//! Domain types that travel inside reports.

pub mod database;
pub mod storage;
