//! Operator commands (join tokens, agents, hosts, history queries, users, API tokens) for the
//! local CLI: `protocol.rs` (the messages), `handle.rs` (one request answered with the domain's
//! functions) and `socket.rs` (the daemon's 0600 Unix socket and the CLI's side of it). When
//! no daemon runs, the CLI opens the database and calls [`handle`] itself. The admin socket
//! calls `crate::domain`, never the HTTP faces.

mod agent_builds;
mod alerts;
mod backup;
mod handle;
mod managed_certificates;
mod protocol;
mod secrets;
mod socket;
mod ssh_access;
mod ssh_ca;
pub mod ssh_protocol;

pub use agent_builds::{AgentBuildsRequest, AgentBuildsResponse, AgentUpdateLine};
pub use alerts::{AlertLine, AlertsRequest, AlertsResponse, RuleLine};
pub use backup::{BackupDone, BackupRequest};
pub use handle::handle;
pub use protocol::{
    AdminRequest, AdminResponse, AgentlessRequest, CertificateRequest, HostView,
    SecretAdminRequest, SeriesView, UserSummary,
};
pub use socket::{call_daemon, serve};
pub use ssh_ca::{SshCaRequest, SshCaResponse};
