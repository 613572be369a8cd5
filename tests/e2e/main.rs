//! End-to-end tests: a real controller and real agents over QUIC on loopback. One test binary
//! (`cargo test -p unity-tests --test e2e`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod acme;
mod agentless;
mod agentless_assign;
mod agentless_secret;
mod agentless_spool;
mod alerts;
mod api;
mod api_headers;
mod api_login;
mod api_metrics;
mod api_tokens;
mod certificates;
mod container_alerts;
mod container_updates;
mod containers;
mod crash_reconnect;
mod dashboard;
mod dashboard_access;
mod dashboard_storage;
mod databases;
mod durability;
mod enrollment;
mod frames;
mod household;
mod household_cli;
mod identity;
mod ingest;
mod log_flood;
mod managed_certificates;
mod managed_certificates_cli;
mod oidc;
mod passkeys;
mod plugins;
mod plugins_bad_input;
mod plugins_discovery;
mod quickstart;
mod release_notes;
mod renewal;
mod revocation;
mod secrets;
mod secrets_databases;
mod secrets_registry;
mod secrets_setup;
mod services;
mod ssh_access;
mod ssh_access_file_mode;
mod ssh_access_pages;
mod ssh_ca;
mod state_durability;
mod storage;
mod storage_trends;
mod systemd_notify;
