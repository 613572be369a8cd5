//! The Unity controller: the agents' certificate authority, the QUIC endpoint they report to,
//! durable storage of their history, the dashboard and REST API, and the operator's CLI.

/// mimalloc instead of glibc's malloc for every program built on the controller: ingest
/// decodes and frees several small strings per sample, and with 1000 agents glibc's
/// `malloc`/`free`/`malloc_consolidate` took over a third of the controller's CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod admin;
pub mod alerts;
pub mod api;
pub mod ca;
pub mod cli;
pub mod config;
pub mod health;
pub mod quickstart;
pub mod service;
pub mod storage;
pub mod transport;
pub mod updates;
pub mod web;
