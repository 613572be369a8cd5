//! The Unity controller: the agents' certificate authority, the QUIC endpoint they report to,
//! durable storage of their history, the dashboard and REST API, and the operator's CLI.

pub mod acme;
pub mod admin;
pub mod agent_updates;
pub mod agentless;
pub mod alerts;
pub mod api;
pub mod backup;
pub mod ca;
pub mod cli;
pub mod clock;
pub mod config;
pub mod context;
pub mod domain;
pub mod health;
pub mod housekeeping;
pub mod http;
pub mod outbound;
pub mod remote_write;
pub mod sealing;
pub mod service;
pub mod service_checks;
pub mod storage;
pub mod transport;
pub mod updates;
pub mod web;

#[cfg(test)]
mod layers_tests;
#[cfg(test)]
mod route_rules_tests;
