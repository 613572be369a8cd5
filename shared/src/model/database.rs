//! Database discovery and health model: what the agent's database collector reports about the
//! PostgreSQL, MySQL/MariaDB, Redis, MongoDB and MinIO servers it finds on a host.
//!
//! These types travel to the controller over postcard (which encodes fields and variants by
//! position) and are printed as JSON by `unity-agent collect databases --json` (where the field
//! names are the stable, documented names; see `docs/databases.md`). Therefore:
//! never reorder fields or variants, only append; no `untagged`, `flatten` or
//! `skip_serializing_if`; absent values are `Option::None` (JSON `null`).
//!
//! Credentials never appear in these types: they stay in the agent's configuration.

use serde::{Deserialize, Serialize};

/// Which database server software answered (or was expected) on an endpoint.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum DatabaseEngine {
    /// PostgreSQL (frontend/backend protocol 3.0).
    Postgres,
    /// MySQL (or a MySQL-protocol server that does not say it is MariaDB).
    Mysql,
    /// MariaDB (MySQL protocol; the version string says "MariaDB").
    Mariadb,
    /// Redis (RESP), including protocol-compatible forks.
    Redis,
    /// MongoDB (OP_MSG wire protocol).
    Mongodb,
    /// MinIO object storage (S3 over HTTP, `/minio/health/*`).
    Minio,
    /// Something answered, but not with the protocol expected, or nothing could be identified.
    Unknown,
}

impl DatabaseEngine {
    /// A short human-readable name ("PostgreSQL", "MariaDB", ...).
    pub fn display_name(self) -> &'static str {
        match self {
            DatabaseEngine::Postgres => "PostgreSQL",
            DatabaseEngine::Mysql => "MySQL",
            DatabaseEngine::Mariadb => "MariaDB",
            DatabaseEngine::Redis => "Redis",
            DatabaseEngine::Mongodb => "MongoDB",
            DatabaseEngine::Minio => "MinIO",
            DatabaseEngine::Unknown => "unknown",
        }
    }
}

/// Where a database server listens.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum DatabaseEndpoint {
    /// A TCP listening address as the host shows it; `host` is an IP address without brackets
    /// (`127.0.0.1`, `0.0.0.0`, `::`).
    Tcp { host: String, port: u16 },
    /// A Unix stream socket path (`/run/postgresql/.s.PGSQL.5432`).
    Unix { path: String },
}

impl std::fmt::Display for DatabaseEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseEndpoint::Tcp { host, port } if host.contains(':') => {
                write!(f, "[{host}]:{port}")
            }
            DatabaseEndpoint::Tcp { host, port } => write!(f, "{host}:{port}"),
            DatabaseEndpoint::Unix { path } => write!(f, "unix:{path}"),
        }
    }
}

/// How an instance was found. An instance found several ways lists each once.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum DiscoveryMethod {
    /// A listening socket in `/proc/net/{tcp,tcp6,unix}` owned by a known database process.
    ListeningSocket,
    /// The owning process has a well-known database name (`postgres`, `mariadbd`, ...).
    ProcessName,
    /// The listening port is a well-known database port (5432, 3306, 6379, 27017, 9000).
    WellKnownPort,
    /// A running container's image and published port.
    Container,
    /// Listed in the agent configuration.
    Configured,
    /// Seen in an earlier collection and probed again (so a stopped server shows as down).
    Remembered,
}

/// The process that owns the listening socket.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct DatabaseProcess {
    pub pid: u32,
    /// `/proc/PID/comm` (at most 15 bytes, as the kernel keeps it).
    pub name: String,
}

/// The container an instance was found in (from the container collector).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct DatabaseContainer {
    pub name: Option<String>,
    /// Image reference as the container engine reports it (`postgres:16`, `bitnami/redis`).
    pub image: String,
}

/// The replication role a server reports.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum ReplicationRole {
    /// Accepts writes (PostgreSQL not in recovery, Redis `master`, MongoDB writable primary).
    Primary,
    /// Follows a primary (PostgreSQL in recovery, Redis `slave`, MongoDB secondary).
    Replica,
}

/// Replication state, when the server reports it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Replication {
    pub role: ReplicationRole,
    /// How far a replica is behind, in seconds (PostgreSQL replay lag; Redis
    /// `master_last_io_seconds_ago`). `None` on a primary or when unknown.
    pub lag_seconds: Option<f64>,
    /// Replicas connected to this primary.
    pub n_replicas: Option<u64>,
    /// Whether a replica's link to its primary is up (Redis `master_link_status`).
    pub primary_link_up: Option<bool>,
}

/// One database (schema namespace) and its size on disk.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct DatabaseSize {
    pub name: String,
    pub size_bytes: Option<u64>,
}

/// Deeper health, read when the server lets the agent in (trust auth, an open Redis, or
/// configured credentials). Every field is optional: engines report different subsets.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct DatabaseHealth {
    /// Client connections now.
    pub connections: Option<u64>,
    /// The configured connection limit (`max_connections`, `maxclients`).
    pub max_connections: Option<u64>,
    /// Databases and their sizes (PostgreSQL, MongoDB).
    pub databases: Vec<DatabaseSize>,
    pub replication: Option<Replication>,
    /// Seconds since the server started.
    pub uptime_seconds: Option<u64>,
    /// Memory the server uses (Redis `used_memory`).
    pub used_memory_bytes: Option<u64>,
    /// The memory limit, when one is set (Redis `maxmemory`, `None` when 0 = unlimited).
    pub max_memory_bytes: Option<u64>,
    /// Clients blocked: PostgreSQL backends waiting on a lock, Redis `blocked_clients`.
    pub blocked_clients: Option<u64>,
    /// Slow work: PostgreSQL queries active for more than a minute, Redis slow-log entries.
    pub slow_queries: Option<u64>,
    /// MinIO: `/minio/health/cluster` reports write quorum.
    pub cluster_healthy: Option<bool>,
}

/// One database server endpoint and what a credential-free probe (plus, optionally,
/// credentials) found out about it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct DatabaseInstance {
    /// What answered; the expected engine when nothing answered; `Unknown` when the wrong
    /// protocol answered.
    pub engine: DatabaseEngine,
    /// The endpoint probed.
    pub endpoint: DatabaseEndpoint,
    /// Further endpoints of the same server process (e.g. its Unix socket, its IPv6 listener).
    pub other_endpoints: Vec<DatabaseEndpoint>,
    /// How it was found; sorted, each method once.
    pub discovered_by: Vec<DiscoveryMethod>,
    pub process: Option<DatabaseProcess>,
    pub container: Option<DatabaseContainer>,
    /// The version string the server reported (`15.18 (Debian 15.18-0+deb12u1)`,
    /// `10.11.19-MariaDB-0+deb12u1`, `7.0.15`).
    pub version: Option<String>,
    /// The server answered in its own protocol within the timeout.
    pub reachable: bool,
    /// Whether the server demands authentication before it answers; `None` when the probe
    /// cannot tell without credentials.
    pub auth_required: Option<bool>,
    /// Whether the server offers TLS (PostgreSQL SSLRequest, MySQL `CLIENT_SSL`).
    pub tls_offered: Option<bool>,
    /// Round trip of the first request (connect included), in milliseconds.
    pub latency_ms: Option<f64>,
    /// Why the probe failed or is incomplete, for people.
    pub error: Option<String>,
    pub health: Option<DatabaseHealth>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> DatabaseInstance {
        DatabaseInstance {
            engine: DatabaseEngine::Redis,
            endpoint: DatabaseEndpoint::Tcp {
                host: "127.0.0.1".to_owned(),
                port: 6379,
            },
            other_endpoints: vec![DatabaseEndpoint::Unix {
                path: "/run/redis/redis.sock".to_owned(),
            }],
            discovered_by: vec![
                DiscoveryMethod::ListeningSocket,
                DiscoveryMethod::ProcessName,
            ],
            process: Some(DatabaseProcess {
                pid: 42,
                name: "redis-server".to_owned(),
            }),
            container: None,
            version: Some("7.0.15".to_owned()),
            reachable: true,
            auth_required: Some(false),
            tls_offered: None,
            latency_ms: Some(0.25),
            error: None,
            health: Some(DatabaseHealth {
                connections: Some(1),
                max_connections: Some(10000),
                replication: Some(Replication {
                    role: ReplicationRole::Primary,
                    lag_seconds: None,
                    n_replicas: Some(0),
                    primary_link_up: None,
                }),
                ..DatabaseHealth::default()
            }),
        }
    }

    #[test]
    fn postcard_round_trip() {
        let instance = sample();
        let bytes = postcard::to_stdvec(&instance).unwrap();
        let back: DatabaseInstance = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, instance);
    }

    #[test]
    fn endpoint_display() {
        let v6 = DatabaseEndpoint::Tcp {
            host: "::1".to_owned(),
            port: 5432,
        };
        assert_eq!(v6.to_string(), "[::1]:5432");
        assert_eq!(sample().endpoint.to_string(), "127.0.0.1:6379");
        assert_eq!(
            sample().other_endpoints[0].to_string(),
            "unix:/run/redis/redis.sock"
        );
    }
}
