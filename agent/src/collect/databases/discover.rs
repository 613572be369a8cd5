//! Turns what the host shows (listening sockets, their processes, running containers) into
//! [`Candidate`]s: endpoints worth probing, each with the engine expected there. Pure.
//!
//! A listening socket becomes a candidate when its process has a well-known database name or its
//! port is a well-known database port; Unix sockets also when their file name is a well-known
//! database socket name. All endpoints of one database process form one candidate (probed on
//! its preferred endpoint: IPv4 before IPv6 before Unix); endpoints without a known process are
//! grouped by port. Containers come in through [`ContainerPorts`]: the published ports of the
//! running containers, from the container loop's latest inventory.

use std::collections::BTreeMap;
use std::net::IpAddr;

use unity_shared::model::database::{
    DatabaseContainer, DatabaseEndpoint, DatabaseEngine, DatabaseProcess, DiscoveryMethod,
};

use super::proc_net::{ProcSnapshot, ProcessInfo};

/// A running container as the container collector sees it: what discovery needs, no more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerPorts {
    pub name: Option<String>,
    /// Image reference (`postgres:16`, `docker.io/bitnami/redis:7.2`, `minio/minio`).
    pub image: String,
    pub published: Vec<PublishedPort>,
}

/// One published port: `host_ip:host_port` on the host forwards to `container_port`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishedPort {
    /// `None` (or unspecified) means all interfaces.
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: PortProtocol,
}

/// The transport of a published port; only TCP can carry a database here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortProtocol {
    Tcp,
    Udp,
}

/// An endpoint worth probing and what is expected there.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The engine the evidence points to; [`DatabaseEngine::Unknown`] makes the probe sniff.
    pub engine: DatabaseEngine,
    pub endpoint: DatabaseEndpoint,
    pub other_endpoints: Vec<DatabaseEndpoint>,
    /// Sorted, each once.
    pub discovered_by: Vec<DiscoveryMethod>,
    pub process: Option<DatabaseProcess>,
    pub container: Option<DatabaseContainer>,
}

/// The engine a process name stands for (`comm`, or the program name in `cmdline`).
pub fn engine_for_process(comm: &str, cmdline: &[String]) -> Option<DatabaseEngine> {
    let program = cmdline
        .first()
        .and_then(|first| first.split_whitespace().next())
        .map(|first| first.rsplit('/').next().unwrap_or(first))
        .unwrap_or("");
    [comm, program].into_iter().find_map(engine_for_name)
}

fn engine_for_name(name: &str) -> Option<DatabaseEngine> {
    match name {
        "postgres" | "postmaster" => Some(DatabaseEngine::Postgres),
        "mysqld" => Some(DatabaseEngine::Mysql),
        "mariadbd" => Some(DatabaseEngine::Mariadb),
        "redis-server" | "valkey-server" | "keydb-server" => Some(DatabaseEngine::Redis),
        "mongod" | "mongos" => Some(DatabaseEngine::Mongodb),
        "minio" => Some(DatabaseEngine::Minio),
        _ => None,
    }
}

/// The engine a well-known TCP port stands for.
pub fn engine_for_port(port: u16) -> Option<DatabaseEngine> {
    match port {
        5432 => Some(DatabaseEngine::Postgres),
        3306 => Some(DatabaseEngine::Mysql),
        6379 => Some(DatabaseEngine::Redis),
        27017 => Some(DatabaseEngine::Mongodb),
        9000 => Some(DatabaseEngine::Minio),
        _ => None,
    }
}

/// The engine a well-known Unix socket file name stands for.
pub fn engine_for_unix_path(path: &str) -> Option<DatabaseEngine> {
    let file_name = path.rsplit('/').next().unwrap_or(path);
    if file_name.starts_with(".s.PGSQL.") {
        Some(DatabaseEngine::Postgres)
    } else if file_name == "mysqld.sock" || file_name == "mysql.sock" {
        Some(DatabaseEngine::Mysql)
    } else if file_name.starts_with("redis") && file_name.ends_with(".sock") {
        Some(DatabaseEngine::Redis)
    } else if file_name.starts_with("mongodb-") && file_name.ends_with(".sock") {
        Some(DatabaseEngine::Mongodb)
    } else {
        None
    }
}

/// The engine a container image stands for, falling back to the container-side port.
pub fn engine_for_image(image: &str, container_port: u16) -> Option<DatabaseEngine> {
    // `registry:5000/library/postgres:16@sha256:...` -> `postgres`.
    let without_digest = image.split('@').next().unwrap_or(image);
    let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
    let repository = last.split(':').next().unwrap_or(last).to_ascii_lowercase();
    let by_name = match repository.as_str() {
        "postgres" | "postgresql" | "postgis" | "timescaledb" | "timescaledb-ha" => {
            Some(DatabaseEngine::Postgres)
        }
        "mysql" | "mysql-server" | "percona-server" => Some(DatabaseEngine::Mysql),
        "mariadb" => Some(DatabaseEngine::Mariadb),
        "redis" | "redis-stack-server" | "valkey" | "keydb" => Some(DatabaseEngine::Redis),
        "mongo" | "mongodb" | "mongodb-community-server" => Some(DatabaseEngine::Mongodb),
        "minio" => Some(DatabaseEngine::Minio),
        _ => None,
    };
    by_name.or_else(|| engine_for_port(container_port))
}

/// How strongly a piece of evidence names the engine; the strongest wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Evidence {
    UnixPath,
    Port,
    Image,
    Process,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum GroupKey {
    Process(u32),
    Port(u16),
    UnixPath(String),
}

#[derive(Debug, Default)]
struct Group {
    engine: Option<(Evidence, DatabaseEngine)>,
    endpoints: Vec<DatabaseEndpoint>,
    discovered_by: Vec<DiscoveryMethod>,
    process: Option<DatabaseProcess>,
    container: Option<DatabaseContainer>,
}

impl Group {
    fn suggest(&mut self, evidence: Evidence, engine: DatabaseEngine) {
        if self.engine.is_none_or(|(current, _)| evidence > current) {
            self.engine = Some((evidence, engine));
        }
    }

    fn add_endpoint(&mut self, endpoint: DatabaseEndpoint) {
        if !self.endpoints.contains(&endpoint) {
            self.endpoints.push(endpoint);
        }
    }
}

/// Preference for the endpoint to probe: IPv4 loopback, IPv4 any, other IPv4, then IPv6 in the
/// same order, then Unix sockets.
fn endpoint_rank(endpoint: &DatabaseEndpoint) -> (u8, DatabaseEndpoint) {
    let rank = match endpoint {
        DatabaseEndpoint::Tcp { host, .. } => match host.parse::<IpAddr>() {
            Ok(IpAddr::V4(v4)) if v4.is_loopback() => 0,
            Ok(IpAddr::V4(v4)) if v4.is_unspecified() => 1,
            Ok(IpAddr::V4(_)) => 2,
            Ok(IpAddr::V6(v6)) if v6.is_loopback() => 3,
            Ok(IpAddr::V6(v6)) if v6.is_unspecified() => 4,
            _ => 5,
        },
        DatabaseEndpoint::Unix { .. } => 6,
    };
    (rank, endpoint.clone())
}

fn tcp_endpoint(address: IpAddr, port: u16) -> DatabaseEndpoint {
    DatabaseEndpoint::Tcp {
        host: address.to_string(),
        port,
    }
}

fn process_ref(process: &ProcessInfo) -> DatabaseProcess {
    DatabaseProcess {
        pid: process.pid,
        name: process.comm.clone(),
    }
}

/// Finds the candidates in a `/proc` snapshot and a list of running containers.
pub fn discover(snapshot: &ProcSnapshot, containers: &[ContainerPorts]) -> Vec<Candidate> {
    // The lowest pid holding a socket owns it (a pre-forking server's parent).
    let mut owner: BTreeMap<u64, &ProcessInfo> = BTreeMap::new();
    let mut processes: Vec<&ProcessInfo> = snapshot.processes.iter().collect();
    processes.sort_by_key(|process| process.pid);
    for process in processes {
        for inode in &process.socket_inodes {
            owner.entry(*inode).or_insert(process);
        }
    }
    let mut groups: BTreeMap<GroupKey, Group> = BTreeMap::new();

    for listener in &snapshot.tcp {
        let process = owner.get(&listener.inode).copied();
        let by_process =
            process.and_then(|process| engine_for_process(&process.comm, &process.cmdline));
        let by_port = engine_for_port(listener.port);
        let key = match (process, by_process) {
            (Some(process), Some(_)) => GroupKey::Process(process.pid),
            _ if by_port.is_some() => GroupKey::Port(listener.port),
            _ => continue,
        };
        let group = groups.entry(key).or_default();
        group.add_endpoint(tcp_endpoint(listener.address, listener.port));
        if let Some(process) = process {
            group.process = Some(process_ref(process));
        }
        if let Some(engine) = by_process {
            group.suggest(Evidence::Process, engine);
            group.discovered_by.push(DiscoveryMethod::ListeningSocket);
            group.discovered_by.push(DiscoveryMethod::ProcessName);
        }
        if let Some(engine) = by_port {
            group.suggest(Evidence::Port, engine);
            group.discovered_by.push(DiscoveryMethod::WellKnownPort);
        }
    }

    for listener in &snapshot.unix {
        let process = owner.get(&listener.inode).copied();
        let by_process =
            process.and_then(|process| engine_for_process(&process.comm, &process.cmdline));
        let by_path = engine_for_unix_path(&listener.path);
        let key = match (process, by_process) {
            (Some(process), Some(_)) => GroupKey::Process(process.pid),
            _ if by_path.is_some() => GroupKey::UnixPath(listener.path.clone()),
            _ => continue,
        };
        let group = groups.entry(key).or_default();
        group.add_endpoint(DatabaseEndpoint::Unix {
            path: listener.path.clone(),
        });
        if let Some(process) = process {
            group.process = Some(process_ref(process));
        }
        group.discovered_by.push(DiscoveryMethod::ListeningSocket);
        if let Some(engine) = by_process {
            group.suggest(Evidence::Process, engine);
            group.discovered_by.push(DiscoveryMethod::ProcessName);
        }
        if let Some(engine) = by_path {
            group.suggest(Evidence::UnixPath, engine);
        }
    }

    for container in containers {
        for published in &container.published {
            if published.protocol != PortProtocol::Tcp {
                continue;
            }
            let Some(engine) = engine_for_image(&container.image, published.container_port) else {
                continue;
            };
            // The container's port is already listening on the host (docker-proxy, or the
            // engine's own forwarding): join that group, else start one.
            let existing = groups.iter().find_map(|(key, group)| {
                group
                    .endpoints
                    .iter()
                    .any(|endpoint| {
                        matches!(endpoint, DatabaseEndpoint::Tcp { port, .. } if *port == published.host_port)
                    })
                    .then(|| key.clone())
            });
            let key = existing.unwrap_or(GroupKey::Port(published.host_port));
            let group = groups.entry(key).or_default();
            let host_ip = published
                .host_ip
                .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
            if group.endpoints.is_empty() {
                group.add_endpoint(tcp_endpoint(host_ip, published.host_port));
            }
            group.suggest(Evidence::Image, engine);
            group.discovered_by.push(DiscoveryMethod::Container);
            group.container = Some(DatabaseContainer {
                name: container.name.clone(),
                image: container.image.clone(),
            });
        }
    }

    let mut candidates: Vec<Candidate> = groups
        .into_values()
        .filter_map(|mut group| {
            group.endpoints.sort_by_key(endpoint_rank);
            let mut endpoints = group.endpoints.into_iter();
            let endpoint = endpoints.next()?;
            group.discovered_by.sort();
            group.discovered_by.dedup();
            Some(Candidate {
                engine: group
                    .engine
                    .map_or(DatabaseEngine::Unknown, |(_, engine)| engine),
                endpoint,
                other_endpoints: endpoints.collect(),
                discovered_by: group.discovered_by,
                process: group.process,
                container: group.container,
            })
        })
        .collect();
    candidates.sort_by(|a, b| a.endpoint.cmp(&b.endpoint));
    candidates
}

/// Whether two endpoints reach the same listener: equal, or TCP on the same port where one
/// side is a wildcard address or both are loopback addresses.
pub fn endpoints_match(a: &DatabaseEndpoint, b: &DatabaseEndpoint) -> bool {
    match (a, b) {
        (
            DatabaseEndpoint::Tcp {
                host: host_a,
                port: port_a,
            },
            DatabaseEndpoint::Tcp {
                host: host_b,
                port: port_b,
            },
        ) => {
            if port_a != port_b {
                return false;
            }
            if host_a == host_b {
                return true;
            }
            match (host_a.parse::<IpAddr>(), host_b.parse::<IpAddr>()) {
                (Ok(ip_a), Ok(ip_b)) => {
                    ip_a == ip_b
                        || ip_a.is_unspecified()
                        || ip_b.is_unspecified()
                        || (ip_a.is_loopback() && ip_b.is_loopback())
                }
                _ => false,
            }
        }
        (DatabaseEndpoint::Unix { path: path_a }, DatabaseEndpoint::Unix { path: path_b }) => {
            path_a == path_b
        }
        _ => false,
    }
}
