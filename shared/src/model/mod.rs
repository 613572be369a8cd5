//! Domain types that travel inside reports.

pub mod agent_build;
pub mod agentless;
pub mod certificate;
pub mod container;
pub mod container_logs;
pub mod data_restore;
pub mod database;
pub mod database_image;
pub mod names;
pub mod plugin;
pub mod scan;
pub mod secret;
pub mod service;
pub mod ssh;
pub mod storage;
pub mod update;
