//! OpenAPI operations for container updates: policies, maintenance windows, operations,
//! backups and registries.

use super::{object, op, Access, Operation};
use serde_json::{json, Value};

pub(super) const OPERATIONS: &[Operation] = &[
    op(
        "get",
        "/api/v1/hosts/{agent_id}/maintenance-windows",
        "The host's maintenance windows, the ones in effect (host, group or controller), open or closed and the next change",
        Access::User,
        &[],
        None,
    ),
    op(
        "put",
        "/api/v1/hosts/{agent_id}/maintenance-windows",
        "Set the host's maintenance windows, e.g. {\"windows\": [\"Sat 02:00-05:00 Europe/Berlin\"]}; empty: follow the group or controller",
        Access::Admin,
        &[],
        Some(windows_body),
    ),
    op(
        "get",
        "/api/v1/hosts/{agent_id}/update-policy",
        "The host's update-policy override (settings: mode, level, include, exclude, transform, cooldown, pin, probe) and the policy in effect (effective: key, value, source = agent | default | controller | host; data_restore: the agent's own setting, source agent)",
        Access::User,
        &[],
        None,
    ),
    op(
        "put",
        "/api/v1/hosts/{agent_id}/update-policy",
        "Set the host's update-policy override; empty settings remove it",
        Access::Admin,
        &[],
        Some(policy_body),
    ),
    op(
        "get",
        "/api/v1/hosts/{agent_id}/containers/{name}/update-policy",
        "A container's explicit update-policy override (wins over labels and host) and the policy in effect (effective: key, value, source = agent | default | controller | host | label | override; data_restore comes only from the label unity.update.data_restore, else it is the agent's own [containers] data_restore: source agent, value empty; labels_known)",
        Access::User,
        &[],
        None,
    ),
    op(
        "put",
        "/api/v1/hosts/{agent_id}/containers/{name}/update-policy",
        "Set a container's update-policy override; empty settings remove it",
        Access::Admin,
        &[],
        Some(policy_body),
    ),
    op(
        "post",
        "/api/v1/hosts/{agent_id}/containers/{name}/{verb}",
        "Queue a container operation; verb: update (default image: the detected candidate), rollback, restart, backup, restore. Runs when the agent is connected, until it expires (202)",
        Access::Admin,
        &[],
        Some(operation_body),
    ),
    op(
        "get",
        "/api/v1/hosts/{agent_id}/containers/{name}/backups",
        "The container's backups (full inspect, image), as reported with its operations, newest first; excluded_env names the environment variables the agent did not send (their values stay on the host)",
        Access::User,
        &[],
        None,
    ),
    op(
        "get",
        "/api/v1/hosts/{agent_id}/containers/{name}/backups/diff",
        "Which configuration fields differ between two backups (runtime state such as ids, times, paths and addresses left out; docs/container-updates.md)",
        Access::User,
        &[
            ("from", "A backup's file name", true),
            ("to", "Another backup's file name", true),
        ],
        None,
    ),
    op(
        "get",
        "/api/v1/operations",
        "Container operations and agent updates (action agent_update, see POST /api/v1/hosts/{agent_id}/agent-update), newest first (the update history): state, outcome, stage and stage_label, times as *_at_ms and RFC 3339 *_at, progress lines with stage labels, result",
        Access::User,
        &[
            ("agent_id", "Only this host's operations", false),
            ("limit", "At most this many (default 50, at most 1000)", false),
        ],
        None,
    ),
    op(
        "get",
        "/api/v1/operations/{id}",
        "One container operation with its live progress (stage, stage_label) and result; after a failed health gate, result.evidence holds the failed container's last log lines, health check runs and probe failure; a backup's inspect stays sealed here",
        Access::User,
        &[],
        None,
    ),
    op(
        "get",
        "/api/v1/updates",
        "The newest update check per container as it stands now (an update applied since is up to date); failed: when and why the candidate failed on this container (manual update only); waiting: why it is not applied now (failed here, cooldown countdown, window, canary, rollout stopped, dependency order); vulnerability_gate: the host's scanner (trivy, grype, not_installed, off, not_reported), threshold, current and candidate counts by severity, delta (the CVE delta: critical/high/medium/low differences, fixed_* and new_*), verdict (pass, fixes, worse, not_scanned, no_scanner, off) and summary; cooldown: while the candidate is in its cooldown, eligible_at_ms, age_known and text (\"eligible in 2h 13m\"); insight (pending updates): recommendation {verdict: apply_now|wait|hold, reasons [{kind, verdict, text}]} and release_notes {origin, releases [{tag, name, body (text, cut; truncated_from), url}], error, summary (machine-generated: model, prompt, answer, summary, breaking, error)}",
        Access::User,
        &[("status", "update (default), error or all", false)],
        None,
    ),
    op(
        "post",
        "/api/v1/updates/check",
        "Check every container for updates now and wait for the result",
        Access::Admin,
        &[],
        None,
    ),
    op(
        "get",
        "/api/v1/registries",
        "Registries with stored credentials (never the secret)",
        Access::Admin,
        &[],
        None,
    ),
    op(
        "put",
        "/api/v1/registries/{registry}",
        "Store a registry's credentials, encrypted",
        Access::Admin,
        &[],
        Some(registry_body),
    ),
    op(
        "delete",
        "/api/v1/registries/{registry}",
        "Forget a registry's credentials",
        Access::Admin,
        &[],
        None,
    ),
];

fn policy_body() -> Value {
    let mut schema = object(&[("settings", "object", true)]);
    schema["properties"]["settings"]["additionalProperties"] = json!({ "type": "string" });
    schema
}

fn operation_body() -> Value {
    object(&[
        ("image", "string", false),
        ("force", "boolean", false),
        ("backup", "string", false),
        ("expires_in", "string", false),
    ])
}

fn windows_body() -> Value {
    let mut schema = object(&[("windows", "array", true)]);
    schema["properties"]["windows"]["items"] = json!({ "type": "string" });
    schema
}

fn registry_body() -> Value {
    object(&[
        ("username", "string", true),
        ("secret", "string", false),
        ("secret_name", "string", false),
        ("plain_http", "boolean", false),
    ])
}
