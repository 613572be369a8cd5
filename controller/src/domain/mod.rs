//! The controller's domain layer: what an operator can see and do, as plain functions over a
//! [`Context`](crate::context::Context) that return typed values or a
//! [`DomainError`](error::DomainError). It knows no HTTP, no HTML and no admin socket: the REST
//! API (`api`), the dashboard pages (`web`), the admin socket (`admin`) and the alert loop
//! (`alerts`) call it as siblings, and none of them calls another's internals.
//!
//! Functions that read or write the store block (sled, argon2); the faces run them off the
//! async threads. Changes made on behalf of someone take the actor's name and are audited.
//!
//! - [`hosts`]: enrolled hosts with their status; one host's detail.
//!   [`os_label`]: the operating system as a host names it, from its reported name and version.
//! - [`host_state`]: a host's newest storage, databases and containers.
//! - [`history`]: a host's series and history queries.
//! - [`alerts`]: open and resolved alerts as listed.
//! - [`agents`]: revocation, and the commands sent to a connected agent.
//! - [`tokens`]: join tokens.
//! - [`users`], [`api_tokens`], [`sessions`], [`second_factor`]: who may log in, how (password,
//!   TOTP, recovery codes), and who is acting.
//! - [`access`]: who may do what on which host, the one check every face makes; [`groups`]:
//!   user groups and their rights, host groups, host labels.
//! - [`audit`]: the audit log.
//! - [`operations`]: container operations asked for and their history; [`backups`]: what
//!   their results carried.
//! - [`updates`], [`update_policies`], [`registries`]: update checks, policy overrides and
//!   maintenance windows, registry credentials.

pub mod access;
pub mod actor;
pub mod agent_builds;
pub mod agent_rollouts;
#[cfg(test)]
mod agent_rollouts_tests;
pub mod agent_updates;
pub mod agentless;
pub mod agents;
/// Issue 18: acknowledgements and silences; the operator's alert rules.
pub mod alert_actions;
pub mod alert_rules;
pub mod alerts;
pub mod api_tokens;
pub mod audit;
pub mod backups;
pub mod certificates;
pub mod container_detail;
pub mod container_logs;
/// The controller's own backup and restore, audited, and the schedule (issue 20).
pub mod controller_backup;
pub mod disk_baselines;
pub mod error;
pub mod groups;
pub mod history;
pub mod host_state;
pub mod hosts;
pub mod managed_certificates;
pub mod notifications;
pub mod oidc;
pub mod operations;
pub mod os_label;
pub mod registries;
pub mod sealing;
pub mod second_factor;
pub mod secrets;
pub mod services;
pub mod sessions;
pub mod ssh_access;
pub mod ssh_ca;
pub mod tokens;
pub mod update_policies;
pub mod updates;
pub mod users;
