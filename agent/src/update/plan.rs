//! The new container's create configuration, computed from the old container's inspect and the
//! old and new images' inspect. Pure: engine answers in, a [`Plan`] out.
//!
//! An inspect shows the *effective* configuration: what the user set merged with what the old
//! image defined and what the engine filled in. Cloning it verbatim would pin the old image's
//! defaults onto the new image (a stale `PATH`, the old `CMD`, the old HEALTHCHECK). The rules,
//! each applied by one function below:
//!
//! - **Env** ([`env()`]): an entry equal to one of the old image's `Env` entries is dropped, so
//!   the new image's value applies; everything else is kept. On Podman (the env holds
//!   `container=podman`) the entries Podman adds itself are dropped too: `container=podman`,
//!   `TERM=xterm`, `HOSTNAME=<hostname>` and `HOME` (derived from the image's user).
//! - **Labels**: a label with the same key and value as on the old image is dropped.
//! - **Cmd, Entrypoint, WorkingDir, User, Healthcheck, Shell, StopSignal**: unset when equal to
//!   the old image's (an empty list or string counts as unset). `Cmd` is kept whenever the
//!   entrypoint is the user's, since Docker does not inherit an image `CMD` across a user
//!   entrypoint. A `StopSignal` of `15`/`SIGTERM` the old image did not set is the default.
//! - **ExposedPorts, Volumes**: entries the old image declared are dropped, the rest kept.
//! - **Hostname**: unset when it is the old container's short id (the engine's default).
//! - **HostConfig** ([`host_config`]) is kept: binds, mounts, port bindings, restart policy,
//!   resources, devices, capabilities, DNS, sysctls, security options. Removed: values the
//!   engine fills in by default (`MaskedPaths`, `ReadonlyPaths`, runtime `runc`/`oci`, namespace
//!   modes `private`/`shareable`, Podman's `MemorySwappiness -1`), and `ContainerIDFile`.
//!   Rewritten: legacy links back to `name:alias`, Podman's `RLIMIT_NOFILE` ulimit names to
//!   `nofile`, an empty device permission to `rwm`. Anonymous volumes of the old container are
//!   mounted by name, so their data carries over.
//! - **Networks** ([`networks`]): every network is kept with its aliases (minus the old
//!   container's short id, which the engine adds), static IPv4/IPv6 addresses, links and driver
//!   options; the first (the `NetworkMode` one, else by name) at create, the rest connected
//!   before the start. Runtime fields (IP, gateway, MAC, endpoint) are dropped. Note that
//!   Podman's compatible API does not report a static IP, so Podman loses it.

use std::collections::{BTreeMap, HashMap, HashSet};

use bollard::models::{
    ContainerConfig, ContainerCreateBody, ContainerInspectResponse, EndpointIpamConfig,
    EndpointSettings, HostConfig, ImageConfig, ImageInspect, Mount, MountType, NetworkingConfig,
};

/// What to create, and what to connect before starting it.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The body for `POST /containers/create`; its networking config names the first network.
    pub create: ContainerCreateBody,
    /// Further networks, by name, connected after create and before start.
    pub connect: Vec<Attachment>,
    /// What was dropped because it came from the old image or the engine, for the log.
    pub notes: Vec<String>,
    /// The image id the created container must run (`sha256:…`): the swap checks it after the
    /// create and rolls back when the reference resolved to another image. `None`: not checked.
    pub image_id: Option<String>,
}

/// Why no plan can be made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlanError {
    /// The container inspect lacks a section every engine sends.
    #[error("container inspect has no {0} section")]
    Missing(&'static str),
}

/// Plans the container that replaces `old` (running `old_image`) with `new_reference` (whose
/// inspect is `new_image`). With `old_image` = `new_image` this is a faithful clone (restore).
pub fn plan(
    old: &ContainerInspectResponse,
    old_image: &ImageInspect,
    new_image: &ImageInspect,
    new_reference: &str,
) -> Result<Plan, PlanError> {
    let config = old.config.as_ref().ok_or(PlanError::Missing("Config"))?;
    let host = old
        .host_config
        .as_ref()
        .ok_or(PlanError::Missing("HostConfig"))?;
    let empty = ImageConfig::default();
    let old_defaults = old_image.config.as_ref().unwrap_or(&empty);
    let short_id: String = old
        .id
        .as_deref()
        .unwrap_or_default()
        .chars()
        .take(12)
        .collect();
    let mut notes = Vec::new();

    let mut create = container_config(config, old_defaults, &short_id, &mut notes);
    create.image = Some(new_reference.to_owned());
    if old_defaults.healthcheck.is_some()
        && create.healthcheck.is_none()
        && new_image
            .config
            .as_ref()
            .is_none_or(|c| c.healthcheck.is_none())
    {
        notes.push("the new image has no HEALTHCHECK; the stability period applies".to_owned());
    }
    let mut host_config = host_config(host);
    keep_anonymous_volumes(old, &mut host_config, &mut notes);

    let (first, connect) = networks(old, &short_id);
    if let Some((name, _)) = &first {
        if !is_default_network(name) {
            host_config.network_mode = Some(name.clone());
        }
    }
    create.host_config = Some(host_config);
    create.networking_config = first.map(|(name, settings)| NetworkingConfig {
        endpoints_config: Some(HashMap::from([(name, settings)])),
    });
    Ok(Plan {
        create,
        connect,
        notes,
        image_id: None,
    })
}

fn container_config(
    config: &ContainerConfig,
    image: &ImageConfig,
    short_id: &str,
    notes: &mut Vec<String>,
) -> ContainerCreateBody {
    let user_entrypoint = differs(&config.entrypoint, &image.entrypoint);
    let keep_cmd = user_entrypoint || differs(&config.cmd, &image.cmd);
    let hostname = config
        .hostname
        .clone()
        .filter(|name| name != short_id && !name.is_empty());
    let labels = config.labels.as_ref().map(|labels| {
        let image_labels = image.labels.clone().unwrap_or_default();
        let kept: HashMap<String, String> = labels
            .iter()
            .filter(|(key, value)| image_labels.get(*key) != Some(*value))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        if kept.len() < labels.len() {
            notes.push(format!(
                "dropped {} label(s) of the old image",
                labels.len() - kept.len()
            ));
        }
        kept
    });
    let default_stop = matches!(config.stop_signal.as_deref(), Some("15" | "SIGTERM"))
        && image.stop_signal.is_none();
    ContainerCreateBody {
        hostname,
        domainname: config.domainname.clone().filter(|name| !name.is_empty()),
        user: config
            .user
            .clone()
            .filter(|user| differs_str(user, &image.user)),
        attach_stdin: config.attach_stdin,
        attach_stdout: config.attach_stdout,
        attach_stderr: config.attach_stderr,
        exposed_ports: minus(&config.exposed_ports, &image.exposed_ports),
        tty: config.tty,
        open_stdin: config.open_stdin,
        stdin_once: config.stdin_once,
        env: Some(env(config, image, notes)),
        cmd: config.cmd.clone().filter(|_| keep_cmd),
        healthcheck: config
            .healthcheck
            .clone()
            .filter(|_| config.healthcheck != image.healthcheck),
        volumes: minus(&config.volumes, &image.volumes),
        working_dir: config
            .working_dir
            .clone()
            .filter(|dir| differs_str(dir, &image.working_dir)),
        entrypoint: config.entrypoint.clone().filter(|_| user_entrypoint),
        network_disabled: config.network_disabled,
        labels,
        stop_signal: config
            .stop_signal
            .clone()
            .filter(|signal| !default_stop && differs_str(signal, &image.stop_signal)),
        stop_timeout: config.stop_timeout,
        shell: config
            .shell
            .clone()
            .filter(|_| differs(&config.shell, &image.shell)),
        ..ContainerCreateBody::default()
    }
}

/// The container's env minus the old image's entries (and Podman's own, see the module docs).
pub fn env(config: &ContainerConfig, image: &ImageConfig, notes: &mut Vec<String>) -> Vec<String> {
    let image_env: HashSet<&str> = image.env.iter().flatten().map(String::as_str).collect();
    let entries = config.env.clone().unwrap_or_default();
    let podman = entries.iter().any(|entry| entry == "container=podman");
    let hostname_entry = format!(
        "HOSTNAME={}",
        config.hostname.as_deref().unwrap_or_default()
    );
    let image_sets_home = image_env.iter().any(|entry| entry.starts_with("HOME="));
    let mut dropped = Vec::new();
    let kept = entries
        .into_iter()
        .filter(|entry| {
            let from_image = image_env.contains(entry.as_str());
            let from_podman = podman
                && (entry == "container=podman"
                    || entry == "TERM=xterm"
                    || *entry == hostname_entry
                    || (entry.starts_with("HOME=") && !image_sets_home));
            if from_image || from_podman {
                dropped.push(entry.split('=').next().unwrap_or_default().to_owned());
            }
            !(from_image || from_podman)
        })
        .collect();
    if !dropped.is_empty() {
        notes.push(format!(
            "env from the old image or engine dropped: {}",
            dropped.join(", ")
        ));
    }
    kept
}

/// The old host config minus engine defaults, with the rewrites of the module docs.
pub fn host_config(old: &HostConfig) -> HostConfig {
    let mut host = old.clone();
    host.masked_paths = None;
    host.readonly_paths = None;
    host.container_id_file = None;
    host.runtime = host
        .runtime
        .filter(|runtime| !matches!(runtime.as_str(), "" | "runc" | "oci"));
    host.memory_swappiness = host.memory_swappiness.filter(|value| *value >= 0);
    host.ipc_mode = host
        .ipc_mode
        .filter(|mode| !matches!(mode.as_str(), "" | "private" | "shareable"));
    host.pid_mode = host
        .pid_mode
        .filter(|mode| !matches!(mode.as_str(), "" | "private"));
    host.uts_mode = host
        .uts_mode
        .filter(|mode| !matches!(mode.as_str(), "" | "private"));
    host.cgroupns_mode = host.cgroupns_mode.filter(|mode| mode.as_ref() != "");
    host.links = old
        .links
        .as_ref()
        .map(|links| links.iter().map(|link| legacy_link(link)).collect());
    if let Some(ulimits) = &mut host.ulimits {
        for ulimit in ulimits {
            if let Some(name) = &ulimit.name {
                let short = name
                    .strip_prefix("RLIMIT_")
                    .unwrap_or(name)
                    .to_ascii_lowercase();
                ulimit.name = Some(short);
            }
        }
    }
    if let Some(devices) = &mut host.devices {
        for device in devices {
            if device
                .cgroup_permissions
                .as_deref()
                .is_none_or(str::is_empty)
            {
                device.cgroup_permissions = Some("rwm".to_owned());
            }
        }
    }
    host
}

/// `/db:/web/database` (as inspect shows a link) becomes `db:database` (as create takes it).
fn legacy_link(link: &str) -> String {
    match link.split_once(':') {
        Some((target, alias)) => {
            let target = target.trim_start_matches('/');
            let alias = alias.rsplit('/').next().unwrap_or(alias);
            format!("{target}:{alias}")
        }
        None => link.trim_start_matches('/').to_owned(),
    }
}

/// Mounts the old container's anonymous volumes (from the image's `VOLUME`, not named by the
/// user) by name into the new container, so that their data carries over.
fn keep_anonymous_volumes(
    old: &ContainerInspectResponse,
    host: &mut HostConfig,
    notes: &mut Vec<String>,
) {
    let mut covered: HashSet<String> = host
        .binds
        .iter()
        .flatten()
        .filter_map(|bind| bind.split(':').nth(1).map(str::to_owned))
        .collect();
    covered.extend(
        host.mounts
            .iter()
            .flatten()
            .filter_map(|mount| mount.target.clone()),
    );
    for point in old.mounts.iter().flatten() {
        let (Some(name), Some(target)) = (&point.name, &point.destination) else {
            continue;
        };
        if point.typ.as_deref() != Some("volume") || covered.contains(target) {
            continue;
        }
        notes.push(format!("anonymous volume {name} kept at {target}"));
        host.mounts.get_or_insert_with(Vec::new).push(Mount {
            target: Some(target.clone()),
            source: Some(name.clone()),
            typ: Some(MountType::VOLUME),
            read_only: point.rw.map(|rw| !rw),
            ..Mount::default()
        });
    }
}

/// A network name and the endpoint settings to attach with.
pub type Attachment = (String, EndpointSettings);

/// The first network (created with the container) and the others (connected afterwards).
pub fn networks(
    old: &ContainerInspectResponse,
    short_id: &str,
) -> (Option<Attachment>, Vec<Attachment>) {
    let mode = old
        .host_config
        .as_ref()
        .and_then(|host| host.network_mode.clone())
        .unwrap_or_default();
    if mode == "host" || mode == "none" || mode.contains(':') {
        return (None, Vec::new());
    }
    let attached: BTreeMap<String, EndpointSettings> = old
        .network_settings
        .as_ref()
        .and_then(|settings| settings.networks.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|(name, endpoint)| (name, endpoint_settings(&endpoint, short_id)))
        .collect();
    let first_name = if attached.contains_key(&mode) {
        Some(mode)
    } else {
        attached.keys().next().cloned()
    };
    let mut first = None;
    let mut rest = Vec::new();
    for (name, settings) in attached {
        if Some(&name) == first_name.as_ref() {
            first = Some((name, settings));
        } else {
            rest.push((name, settings));
        }
    }
    (first, rest)
}

/// What the user set on one network attachment; runtime fields dropped.
fn endpoint_settings(endpoint: &EndpointSettings, short_id: &str) -> EndpointSettings {
    let aliases: Vec<String> = endpoint
        .aliases
        .iter()
        .flatten()
        .filter(|alias| alias.as_str() != short_id)
        .cloned()
        .collect();
    let ipam = endpoint.ipam_config.as_ref().filter(|ipam| {
        ipam.ipv4_address
            .as_deref()
            .is_some_and(|ip| !ip.is_empty())
            || ipam
                .ipv6_address
                .as_deref()
                .is_some_and(|ip| !ip.is_empty())
    });
    EndpointSettings {
        ipam_config: ipam.map(|ipam| EndpointIpamConfig {
            ipv4_address: ipam.ipv4_address.clone().filter(|ip| !ip.is_empty()),
            ipv6_address: ipam.ipv6_address.clone().filter(|ip| !ip.is_empty()),
            link_local_ips: ipam.link_local_ips.clone(),
        }),
        links: endpoint.links.clone(),
        aliases: (!aliases.is_empty()).then_some(aliases),
        driver_opts: endpoint.driver_opts.clone().filter(|opts| !opts.is_empty()),
        ..EndpointSettings::default()
    }
}

/// Docker's default bridge and Podman's default network, selected by `NetworkMode=bridge`.
fn is_default_network(name: &str) -> bool {
    name == "bridge" || name == "podman"
}

/// Whether a container list differs from the image's, with an empty list counting as unset.
fn differs(container: &Option<Vec<String>>, image: &Option<Vec<String>>) -> bool {
    let norm = |list: &Option<Vec<String>>| list.clone().filter(|list| !list.is_empty());
    norm(container) != norm(image)
}

fn differs_str(container: &str, image: &Option<String>) -> bool {
    !container.is_empty() && Some(container) != image.as_deref()
}

/// The container's entries not declared by the image; `None` when nothing is left.
fn minus(container: &Option<Vec<String>>, image: &Option<Vec<String>>) -> Option<Vec<String>> {
    let image: HashSet<&String> = image.iter().flatten().collect();
    let kept: Vec<String> = container
        .iter()
        .flatten()
        .filter(|entry| !image.contains(entry))
        .cloned()
        .collect();
    (!kept.is_empty()).then_some(kept)
}
