//! Backups as the controller keeps them (with the results of the operations that took them)
//! compared field by field: image reference and id, then the configuration part of the
//! engine's inspect ([`configuration`]: the documented list of what is compared; runtime state
//! such as ids, times, paths and addresses is left out). Pure.

use serde_json::Value;
use std::collections::BTreeMap;
use unity_shared::model::update::Backup;

/// One difference between two backups: a JSON path (`Config.Env[2]`) and both values
/// (`None` when absent on that side).
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub path: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// Which fields differ between two backups (image reference and id, then the configuration
/// part of the inspect, [`configuration`]), in path order. An inspect that is not JSON counts
/// as one opaque value.
pub fn diff(before: &Backup, after: &Backup) -> Vec<Change> {
    let mut changes = Vec::new();
    for (path, a, b) in [
        ("image_ref", &before.image_ref, &after.image_ref),
        ("image_id", &before.image_id, &after.image_id),
    ] {
        if a != b {
            changes.push(Change {
                path: path.to_owned(),
                before: Some(Value::String(a.clone())),
                after: Some(Value::String(b.clone())),
            });
        }
    }
    let mut left = BTreeMap::new();
    let mut right = BTreeMap::new();
    flatten("", &configuration(&inspect(before)), &mut left);
    flatten("", &configuration(&inspect(after)), &mut right);
    let paths: std::collections::BTreeSet<&String> = left.keys().chain(right.keys()).collect();
    for path in paths {
        let (a, b) = (left.get(path), right.get(path));
        if a != b {
            changes.push(Change {
                path: path.clone(),
                before: a.cloned(),
                after: b.cloned(),
            });
        }
    }
    changes
}

/// The parts of an endpoint (`NetworkSettings.Networks.<network>`) that the owner configures.
pub const ENDPOINT_CONFIGURATION: [&str; 4] = ["Aliases", "IPAMConfig", "Links", "DriverOpts"];

/// The configuration part of a container inspect, what the backup diff compares (pure):
///
/// - `Name`, `Platform`;
/// - `Config` (image, command, entrypoint, environment, labels, user, working directory,
///   exposed ports, volumes, health check, stop signal and timeout, …), without a `Hostname`
///   the engine made from the container id;
/// - `HostConfig` (binds and mounts, port bindings, restart policy, resources, capabilities,
///   network mode, devices, log configuration, …);
/// - per network in `NetworkSettings.Networks`: [`ENDPOINT_CONFIGURATION`] (aliases without
///   the container's short id, static addresses, links, driver options).
///
/// Everything else is runtime state and left out: `Id`, `Created`, `State`, `RestartCount`,
/// `Image` (compared as `image_id`), `Path` and `Args` (made from `Config`), `ResolvConfPath`,
/// `HostnamePath`, `HostsPath`, `LogPath`, `Driver`, `GraphDriver`, `Mounts` (resolved from
/// `HostConfig` and the image), `ExecIDs`, labels and profiles of the security modules, sizes,
/// and the rest of `NetworkSettings` (addresses, gateways, endpoint and sandbox ids, ports
/// as published now). A value that is not a JSON object is kept whole.
pub fn configuration(inspect: &Value) -> Value {
    let Value::Object(all) = inspect else {
        return inspect.clone();
    };
    let id = all.get("Id").and_then(Value::as_str).unwrap_or_default();
    let short_id = id.get(..12).unwrap_or(id);
    let mut kept = serde_json::Map::new();
    for key in ["Name", "Platform", "HostConfig"] {
        if let Some(value) = all.get(key) {
            kept.insert(key.to_owned(), value.clone());
        }
    }
    if let Some(Value::Object(config)) = all.get("Config") {
        let mut config = config.clone();
        let generated = config
            .get("Hostname")
            .and_then(Value::as_str)
            .is_some_and(|hostname| !hostname.is_empty() && id.starts_with(hostname));
        if generated {
            config.remove("Hostname");
        }
        kept.insert("Config".to_owned(), Value::Object(config));
    }
    if let Some(Value::Object(networks)) = inspect.pointer("/NetworkSettings/Networks") {
        let mut endpoints = serde_json::Map::new();
        for (network, endpoint) in networks {
            let mut configured = serde_json::Map::new();
            for key in ENDPOINT_CONFIGURATION {
                let Some(value) = endpoint.get(key) else {
                    continue;
                };
                let value = match (key, value) {
                    ("Aliases", Value::Array(aliases)) => Value::Array(
                        aliases
                            .iter()
                            .filter(|alias| short_id.is_empty() || alias.as_str() != Some(short_id))
                            .cloned()
                            .collect(),
                    ),
                    _ => value.clone(),
                };
                configured.insert(key.to_owned(), value);
            }
            endpoints.insert(network.clone(), Value::Object(configured));
        }
        let mut settings = serde_json::Map::new();
        settings.insert("Networks".to_owned(), Value::Object(endpoints));
        kept.insert("NetworkSettings".to_owned(), Value::Object(settings));
    }
    Value::Object(kept)
}

/// The backup's inspect as JSON (a string value when the agent sent something else).
pub fn inspect(backup: &Backup) -> Value {
    serde_json::from_str(&backup.inspect_json)
        .unwrap_or_else(|_| Value::String(backup.inspect_json.clone()))
}

/// Leaves of a JSON value by path; empty arrays and objects count as leaves.
fn flatten(prefix: &str, value: &Value, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&path, child, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (index, child) in items.iter().enumerate() {
                flatten(&format!("{prefix}[{index}]"), child, out);
            }
        }
        leaf => {
            out.insert(prefix.to_owned(), leaf.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample(stamp: u64, env: &[&str]) -> Backup {
        Backup {
            container: "web".to_owned(),
            taken_at_ms: stamp,
            image_ref: "localhost/app:1".to_owned(),
            image_id: "sha256:1".to_owned(),
            inspect_json:
                json!({ "Config": { "Env": env }, "State": { "Running": stamp.is_multiple_of(2) } })
                    .to_string(),
            volume_archives: Vec::new(),
            dump: None,
            excluded_env: Vec::new(),
        }
    }

    #[test]
    fn diff_names_the_changed_fields_and_ignores_state() {
        let before = sample(1, &["A=1", "B=2"]);
        let mut after = sample(2, &["A=1", "B=3", "C=4"]);
        after.image_id = "sha256:2".to_owned();
        let changes: Vec<String> = diff(&before, &after)
            .into_iter()
            .map(|change| format!("{}: {:?} -> {:?}", change.path, change.before, change.after))
            .collect();
        assert_eq!(
            changes,
            [
                r#"image_id: Some(String("sha256:1")) -> Some(String("sha256:2"))"#,
                r#"Config.Env[1]: Some(String("B=2")) -> Some(String("B=3"))"#,
                r#"Config.Env[2]: None -> Some(String("C=4"))"#,
            ]
        );
        assert!(diff(&before, &before).is_empty());
    }

    /// A real `docker inspect` of the same configuration in two containers (recreated): only
    /// runtime fields differ, and none of them is reported; a changed alias, bind and label are.
    #[test]
    fn issue_17_diff_compares_configuration_only() {
        let inspect = |id: &str, created: &str, ip: &str, alias: &str, bind: &str, label: &str| {
            json!({
                "Id": id, "Created": created, "Path": "sh", "Args": ["-c", "sleep"],
                "State": { "Status": "running", "Running": true, "Pid": 4242, "StartedAt": created },
                "Image": "sha256:aaaa",
                "ResolvConfPath": format!("/var/lib/docker/containers/{id}/resolv.conf"),
                "HostnamePath": format!("/var/lib/docker/containers/{id}/hostname"),
                "HostsPath": format!("/var/lib/docker/containers/{id}/hosts"),
                "LogPath": format!("/var/lib/docker/containers/{id}/{id}-json.log"),
                "Name": "/web", "RestartCount": 0, "Driver": "overlay2", "Platform": "linux",
                "MountLabel": "", "ProcessLabel": "", "AppArmorProfile": "docker-default",
                "ExecIDs": null,
                "HostConfig": { "Binds": [bind], "NetworkMode": "front",
                    "RestartPolicy": { "Name": "unless-stopped", "MaximumRetryCount": 0 } },
                "GraphDriver": { "Name": "overlay2", "Data": { "MergedDir": format!("/var/lib/docker/overlay2/{id}/merged") } },
                "Mounts": [{ "Type": "bind", "Source": "/srv", "Destination": "/bind", "RW": false }],
                "Config": { "Hostname": &id[..12], "Image": "localhost/app:1",
                    "Env": ["A=1"], "Labels": { "tier": label } },
                "NetworkSettings": {
                    "SandboxID": format!("sandbox-{id}"), "SandboxKey": format!("/var/run/docker/netns/{id}"),
                    "Ports": { "8080/tcp": [{ "HostIp": "127.0.0.1", "HostPort": "8080" }] },
                    "Networks": { "front": {
                        "IPAMConfig": null, "Links": null, "Aliases": [alias, &id[..12]],
                        "NetworkID": "n1", "EndpointID": format!("ep-{id}"), "Gateway": "172.18.0.1",
                        "IPAddress": ip, "IPPrefixLen": 16, "MacAddress": "02:42:ac:12:00:02",
                        "DNSNames": ["web", &id[..12]]
                    } }
                }
            })
            .to_string()
        };
        let backup = |inspect_json: String| Backup {
            inspect_json,
            ..sample(1, &[])
        };
        let before = backup(inspect(
            "0123456789abcdef0123",
            "2026-12-07T09:00:00Z",
            "172.18.0.2",
            "web-front",
            "/srv:/bind:ro",
            "a",
        ));
        let recreated = backup(inspect(
            "fedcba98765432100000",
            "2026-12-07T10:00:00Z",
            "172.18.0.3",
            "web-front",
            "/srv:/bind:ro",
            "a",
        ));
        assert_eq!(diff(&before, &recreated), []);
        let changed = backup(inspect(
            "fedcba98765432100000",
            "2026-12-07T10:00:00Z",
            "172.18.0.3",
            "api",
            "/srv:/bind",
            "b",
        ));
        let paths: Vec<String> = diff(&before, &changed)
            .into_iter()
            .map(|c| c.path)
            .collect();
        assert_eq!(
            paths,
            [
                "Config.Labels.tier",
                "HostConfig.Binds[0]",
                "NetworkSettings.Networks.front.Aliases[0]",
            ]
        );
        // A hostname the owner set is configuration.
        let mut set = configuration(&serde_json::from_str(&before.inspect_json).unwrap());
        assert!(set["Config"].get("Hostname").is_none());
        set = configuration(&json!({ "Id": "0123", "Config": { "Hostname": "nas" } }));
        assert_eq!(set["Config"]["Hostname"], "nas");
    }

    #[test]
    fn an_inspect_that_is_not_json_is_one_value() {
        let mut before = sample(1, &["A=1"]);
        before.inspect_json = "not json".to_owned();
        let changes = diff(&before, &sample(2, &["A=1"]));
        assert!(
            changes.iter().any(|change| change.path.is_empty()),
            "{changes:?}"
        );
    }
}
