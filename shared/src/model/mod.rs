//! Domain types that travel inside reports.

pub mod certificate;
pub mod container;
pub mod database;
pub mod plugin;
pub mod storage;
pub mod update;
