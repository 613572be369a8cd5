//! OpenAPI operations for managed SSH access: people and their public keys, grants, each
//! host's mode, drift policy and last outcome, and the owner's answers to drift.

use super::{object, op, Access, Operation};
use serde_json::{json, Value};

pub(super) const OPERATIONS: &[Operation] = &[
    op("get", "/api/v1/ssh/people", "People with their SSH public keys (fingerprint, algorithm, bits, comment)", Access::User, &[], None),
    op("post", "/api/v1/ssh/people", "Add a person (keys are added separately)", Access::Admin, &[], Some(person_body)),
    op("delete", "/api/v1/ssh/people/{name}", "Remove a person with their keys and grants (taken off every host within one reconcile)", Access::Admin, &[], None),
    op("post", "/api/v1/ssh/people/{name}/keys", "Add a public key (Ed25519, ECDSA, RSA of 2048 bits or more; DSA, certificates and private keys are refused with a message)", Access::Admin, &[], Some(key_body)),
    op("post", "/api/v1/ssh/keys/delete", "Remove a key by its SHA256 fingerprint", Access::Admin, &[], Some(fingerprint_body)),
    op("get", "/api/v1/ssh/grants", "Grants: who may log in as which UNIX users on which host or host group, until when, with which options (expired ones marked)", Access::User, &[], None),
    op("post", "/api/v1/ssh/grants", "Grant a person's keys (or one key) login as UNIX users on a host or a host group", Access::Admin, &[], Some(grant_body)),
    op("delete", "/api/v1/ssh/grants/{id}", "Remove a grant (its keys leave the hosts within one reconcile)", Access::Admin, &[], None),
    op("get", "/api/v1/ssh/hosts", "Each host's mode, drift policy, desired generation and the agent's last outcome per user", Access::User, &[], None),
    op("put", "/api/v1/ssh/hosts/{agent_id}", "Set a host's mode (file, the default, or block) and drift policy (report, restore)", Access::Admin, &[], Some(host_body)),
    op("get", "/api/v1/ssh/drift", "Hand edits of managed keys found and left in place: found, expected, added and missing lines", Access::User, &[], None),
    op("post", "/api/v1/ssh/hosts/{agent_id}/restore", "Write Unity's keys back over the host's hand edits now", Access::Admin, &[], None),
    op("post", "/api/v1/ssh/hosts/{agent_id}/adopt", "Keep a user's hand edit on the host: the lines no grant gives become part of that user's managed keys there", Access::Admin, &[], Some(adopt_body)),
    op("post", "/api/v1/ssh/hosts/{agent_id}/clear-adopted", "Drop the lines adopted for a user on the host: the next apply takes them out of the managed keys", Access::Admin, &[], Some(adopt_body)),
];

fn person_body() -> Value {
    object(&[("name", "string", true)])
}

fn key_body() -> Value {
    object(&[("public_key", "string", true)])
}

fn fingerprint_body() -> Value {
    object(&[("fingerprint", "string", true)])
}

fn host_body() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "mode": { "type": "string", "enum": ["block", "file"] },
            "on_drift": { "type": "string", "enum": ["report", "restore"] }
        }
    })
}

fn adopt_body() -> Value {
    object(&[("user", "string", true)])
}

fn grant_body() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["person", "users"],
        "properties": {
            "person": { "type": "string" },
            "key": { "type": "string", "description": "One key's SHA256 fingerprint; absent: all the person's keys" },
            "users": { "type": "array", "items": { "type": "string" } },
            "host": { "type": "string", "description": "An agent id (or give group)" },
            "group": { "type": "string", "description": "A host group (or give host)" },
            "expires_in": { "type": "string", "description": "From now, e.g. 30d; the grant stops being delivered then" },
            "from": { "type": "array", "items": { "type": "string" }, "description": "from= patterns or CIDRs" },
            "command": { "type": "string", "description": "A forced command (no quotes, backslashes or control characters)" },
            "no_port_forwarding": { "type": "boolean" },
            "no_agent_forwarding": { "type": "boolean" },
            "no_pty": { "type": "boolean" }
        }
    })
}
