//! Backups as the controller keeps them (with the results of the operations that took them)
//! compared field by field: image reference and id, then the engine's inspect without its
//! runtime state. Pure.

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

/// Inspect fields that change on every start and say nothing about the configuration.
const VOLATILE: [&str; 6] = [
    "State",
    "NetworkSettings",
    "RestartCount",
    "LogPath",
    "ResolvConfPath",
    "GraphDriver",
];

/// Which fields differ between two backups (image reference and id, then the inspect without
/// its runtime state), in path order. An inspect that is not JSON counts as one opaque value.
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
    flatten("", &inspect(before), &mut left);
    flatten("", &inspect(after), &mut right);
    let paths: std::collections::BTreeSet<&String> = left.keys().chain(right.keys()).collect();
    for path in paths {
        if VOLATILE.iter().any(|prefix| {
            path == prefix
                || path.starts_with(&format!("{prefix}."))
                || path.starts_with(&format!("{prefix}["))
        }) {
            continue;
        }
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
