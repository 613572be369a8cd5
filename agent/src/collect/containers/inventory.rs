//! From bollard's response types to the inventory model. Pure.
//!
//! A container is built from its inspect answer ([`from_inspect`]) plus the inspect answer of
//! its image (repo digests, platform, build time). When inspecting fails, the list entry still
//! gives the basics ([`from_summary`]), so a container never silently drops out.

use std::collections::HashMap;

use bollard::models::{
    ContainerInspectResponse, ContainerStateStatusEnum, ContainerSummary,
    ContainerSummaryStateEnum, EndpointSettings, HealthStatusEnum, ImageInspect, MountPoint,
    PortBinding, PortSummaryTypeEnum, RestartPolicyNameEnum,
};
use unity_shared::model::container::{
    ComposeInfo, Container, ContainerUsage, HealthStatus, MountInfo, NetworkAttachment, Platform,
    PortMapping, RunState,
};

/// Milliseconds since the Unix epoch of an RFC 3339 time; `None` for Go's zero time
/// (`0001-01-01T00:00:00Z`, "never") and anything unparsable.
pub fn time_ms(text: &str) -> Option<i64> {
    let parsed =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    let ms = parsed.unix_timestamp_nanos() / 1_000_000;
    i64::try_from(ms).ok().filter(|ms| *ms > 0)
}

/// Label keys that name the compose project and service: Docker Compose's, then
/// podman-compose's own.
const COMPOSE_KEYS: [(&str, &str); 2] = [
    ("com.docker.compose.project", "com.docker.compose.service"),
    ("io.podman.compose.project", "io.podman.compose.service"),
];

fn compose(labels: &HashMap<String, String>) -> Option<ComposeInfo> {
    COMPOSE_KEYS.iter().find_map(|(project_key, service_key)| {
        Some(ComposeInfo {
            project: labels.get(*project_key)?.clone(),
            service: labels.get(*service_key)?.clone(),
            config_files: labels
                .get("com.docker.compose.project.config_files")
                .cloned(),
            working_dir: labels
                .get("com.docker.compose.project.working_dir")
                .cloned(),
        })
    })
}

fn sorted_labels(labels: &HashMap<String, String>) -> Vec<(String, String)> {
    let mut sorted: Vec<(String, String)> = labels
        .iter()
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    sorted.sort();
    sorted
}

fn run_state(status: Option<ContainerStateStatusEnum>) -> RunState {
    match status {
        Some(ContainerStateStatusEnum::CREATED) => RunState::Created,
        // A container being stopped still runs until its process exits.
        Some(ContainerStateStatusEnum::RUNNING | ContainerStateStatusEnum::STOPPING) => {
            RunState::Running
        }
        Some(ContainerStateStatusEnum::PAUSED) => RunState::Paused,
        Some(ContainerStateStatusEnum::RESTARTING) => RunState::Restarting,
        Some(ContainerStateStatusEnum::REMOVING) => RunState::Removing,
        Some(ContainerStateStatusEnum::EXITED) => RunState::Exited,
        Some(ContainerStateStatusEnum::DEAD) => RunState::Dead,
        Some(ContainerStateStatusEnum::EMPTY) | None => RunState::Unknown,
    }
}

fn summary_state(state: Option<ContainerSummaryStateEnum>) -> RunState {
    match state {
        Some(ContainerSummaryStateEnum::CREATED) => RunState::Created,
        Some(ContainerSummaryStateEnum::RUNNING | ContainerSummaryStateEnum::STOPPING) => {
            RunState::Running
        }
        Some(ContainerSummaryStateEnum::PAUSED) => RunState::Paused,
        Some(ContainerSummaryStateEnum::RESTARTING) => RunState::Restarting,
        Some(ContainerSummaryStateEnum::REMOVING) => RunState::Removing,
        Some(ContainerSummaryStateEnum::EXITED) => RunState::Exited,
        Some(ContainerSummaryStateEnum::DEAD) => RunState::Dead,
        Some(ContainerSummaryStateEnum::EMPTY) | None => RunState::Unknown,
    }
}

/// The health status; `None` when the container has no health check (Docker omits `Health`,
/// Podman sends an empty status).
pub fn health(status: Option<HealthStatusEnum>) -> Option<HealthStatus> {
    match status? {
        HealthStatusEnum::STARTING => Some(HealthStatus::Starting),
        HealthStatusEnum::HEALTHY => Some(HealthStatus::Healthy),
        HealthStatusEnum::UNHEALTHY => Some(HealthStatus::Unhealthy),
        HealthStatusEnum::EMPTY | HealthStatusEnum::NONE => None,
    }
}

fn restart_policy(name: Option<RestartPolicyNameEnum>) -> Option<String> {
    Some(
        match name? {
            // The API documents an empty name as "do not restart".
            RestartPolicyNameEnum::EMPTY | RestartPolicyNameEnum::NO => "no",
            RestartPolicyNameEnum::ALWAYS => "always",
            RestartPolicyNameEnum::UNLESS_STOPPED => "unless-stopped",
            RestartPolicyNameEnum::ON_FAILURE => "on-failure",
        }
        .to_owned(),
    )
}

/// `"8080/tcp"` -> `(8080, "tcp")`; a bare port is TCP.
fn parse_port_key(key: &str) -> Option<(u16, String)> {
    let (port, protocol) = key.split_once('/').unwrap_or((key, "tcp"));
    Some((port.parse().ok()?, protocol.to_owned()))
}

fn non_empty(text: Option<&String>) -> Option<String> {
    text.filter(|text| !text.is_empty()).cloned()
}

/// Port mappings from a port map (the live `NetworkSettings.Ports`, or the configured
/// `HostConfig.PortBindings` of a container that is not running), sorted.
fn ports(map: &HashMap<String, Option<Vec<PortBinding>>>) -> Vec<PortMapping> {
    let mut ports = Vec::new();
    for (key, bindings) in map {
        let Some((container_port, protocol)) = parse_port_key(key) else {
            continue;
        };
        let bindings = bindings.as_deref().unwrap_or_default();
        if bindings.is_empty() {
            ports.push(PortMapping {
                container_port,
                protocol: protocol.clone(),
                host_ip: None,
                host_port: None,
            });
        }
        for binding in bindings {
            ports.push(PortMapping {
                container_port,
                protocol: protocol.clone(),
                host_ip: non_empty(binding.host_ip.as_ref()),
                host_port: binding
                    .host_port
                    .as_deref()
                    .and_then(|port| port.parse().ok()),
            });
        }
    }
    ports.sort_by(|a, b| {
        (a.container_port, &a.protocol, &a.host_ip, a.host_port).cmp(&(
            b.container_port,
            &b.protocol,
            &b.host_ip,
            b.host_port,
        ))
    });
    ports
}

fn mount(mount: &MountPoint) -> MountInfo {
    let kind = mount.typ.clone().unwrap_or_default();
    let source = match (kind.as_str(), &mount.name) {
        ("volume", Some(name)) if !name.is_empty() => name.clone(),
        _ => mount.source.clone().unwrap_or_default(),
    };
    MountInfo {
        kind,
        source,
        destination: mount.destination.clone().unwrap_or_default(),
        read_only: !mount.rw.unwrap_or(true),
    }
}

/// Networks sorted by name. The alias Docker and Podman add by themselves (the short
/// container id) is left out: it says nothing the id does not.
fn networks(networks: &HashMap<String, EndpointSettings>, id: &str) -> Vec<NetworkAttachment> {
    let short_id = id.get(..12).unwrap_or(id);
    let mut attachments: Vec<NetworkAttachment> = networks
        .iter()
        .map(|(name, endpoint)| NetworkAttachment {
            name: name.clone(),
            ip_address: non_empty(endpoint.ip_address.as_ref()),
            aliases: endpoint
                .aliases
                .iter()
                .flatten()
                .filter(|alias| alias.as_str() != short_id)
                .cloned()
                .collect(),
        })
        .collect();
    attachments.sort_by(|a, b| a.name.cmp(&b.name));
    attachments
}

/// The platform an image was built for; `None` when the engine does not say.
pub fn platform(image: &ImageInspect) -> Option<Platform> {
    Some(Platform {
        os: non_empty(image.os.as_ref())?,
        architecture: non_empty(image.architecture.as_ref())?,
        variant: non_empty(image.variant.as_ref()),
    })
}

/// One container from its inspect answer and, when it could be read, its image's.
pub fn from_inspect(
    inspect: &ContainerInspectResponse,
    image: Option<&ImageInspect>,
    usage: Option<ContainerUsage>,
) -> Container {
    let id = inspect.id.clone().unwrap_or_default();
    let state = inspect.state.as_ref();
    let run_state = run_state(state.and_then(|state| state.status));
    let config = inspect.config.as_ref();
    let empty = HashMap::new();
    let labels = config
        .and_then(|config| config.labels.as_ref())
        .unwrap_or(&empty);
    let live_ports = inspect
        .network_settings
        .as_ref()
        .and_then(|settings| settings.ports.as_ref())
        .filter(|ports| !ports.is_empty());
    let configured_ports = inspect
        .host_config
        .as_ref()
        .and_then(|host| host.port_bindings.as_ref());
    let port_map = live_ports.or(configured_ports);
    let mut repo_digests: Vec<String> = image
        .and_then(|image| image.repo_digests.clone())
        .unwrap_or_default();
    repo_digests.sort();
    repo_digests.dedup();
    let exited = matches!(run_state, RunState::Exited | RunState::Dead);
    Container {
        name: inspect
            .name
            .as_deref()
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_owned(),
        image: config
            .and_then(|config| config.image.clone())
            .unwrap_or_default(),
        image_id: inspect.image.clone().unwrap_or_default(),
        repo_digests,
        platform: image.and_then(platform),
        image_created_ms: image
            .and_then(|image| image.created.as_deref())
            .and_then(time_ms),
        state: run_state,
        health: health(
            state
                .and_then(|state| state.health.as_ref())
                .and_then(|health| health.status),
        ),
        exit_code: state.and_then(|state| state.exit_code).filter(|_| exited),
        restart_policy: restart_policy(
            inspect
                .host_config
                .as_ref()
                .and_then(|host| host.restart_policy.as_ref())
                .and_then(|policy| policy.name),
        ),
        restart_count: inspect
            .restart_count
            .and_then(|count| u64::try_from(count).ok())
            .unwrap_or(0),
        created_ms: inspect.created.as_deref().and_then(time_ms),
        started_ms: state
            .and_then(|state| state.started_at.as_deref())
            .and_then(time_ms),
        ports: port_map.map(ports).unwrap_or_default(),
        mounts: inspect.mounts.iter().flatten().map(mount).collect(),
        networks: inspect
            .network_settings
            .as_ref()
            .and_then(|settings| settings.networks.as_ref())
            .map(|found| networks(found, &id))
            .unwrap_or_default(),
        compose: compose(labels),
        labels: sorted_labels(labels),
        usage,
        network_mode: inspect
            .host_config
            .as_ref()
            .and_then(|host| non_empty(host.network_mode.as_ref())),
        oom_killed: state.and_then(|state| state.oom_killed).unwrap_or(false),
        id,
    }
}

/// A container from its list entry alone, for when inspecting it failed: no health, restart
/// policy, start time or image details.
pub fn from_summary(summary: &ContainerSummary) -> Container {
    let id = summary.id.clone().unwrap_or_default();
    let empty = HashMap::new();
    let labels = summary.labels.as_ref().unwrap_or(&empty);
    let mut ports: Vec<PortMapping> = summary
        .ports
        .iter()
        .flatten()
        .map(|port| PortMapping {
            container_port: port.private_port,
            protocol: match port.typ {
                Some(PortSummaryTypeEnum::UDP) => "udp",
                Some(PortSummaryTypeEnum::SCTP) => "sctp",
                _ => "tcp",
            }
            .to_owned(),
            host_ip: non_empty(port.ip.as_ref()),
            host_port: port.public_port,
        })
        .collect();
    ports.sort_by(|a, b| {
        (a.container_port, &a.protocol, &a.host_ip, a.host_port).cmp(&(
            b.container_port,
            &b.protocol,
            &b.host_ip,
            b.host_port,
        ))
    });
    Container {
        name: summary
            .names
            .iter()
            .flatten()
            .next()
            .map(|name| name.trim_start_matches('/').to_owned())
            .unwrap_or_default(),
        image: summary.image.clone().unwrap_or_default(),
        image_id: summary.image_id.clone().unwrap_or_default(),
        repo_digests: Vec::new(),
        platform: None,
        image_created_ms: None,
        state: summary_state(summary.state),
        health: None,
        exit_code: None,
        restart_policy: None,
        restart_count: 0,
        created_ms: summary.created.map(|seconds| seconds.saturating_mul(1000)),
        started_ms: None,
        ports,
        mounts: summary.mounts.iter().flatten().map(mount).collect(),
        networks: Vec::new(),
        compose: compose(labels),
        labels: sorted_labels(labels),
        usage: None,
        network_mode: summary
            .host_config
            .as_ref()
            .and_then(|host| non_empty(host.network_mode.as_ref())),
        oom_killed: false,
        id,
    }
}
