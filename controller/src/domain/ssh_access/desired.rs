//! The managed keys a host should have (pure): from the people and their keys, the grants that
//! apply to the host (by id or through a host group it is in now) and have not expired, and the
//! lines the owner adopted from a hand edit there. The result is sorted and free of duplicates,
//! so the same inputs always give the same [`UserKeys`] and the same fingerprint.

use super::lines::authorized_line;
use crate::storage::ssh_access::{AdoptedLines, GrantRecord, GrantTarget, PersonRecord};
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use unity_shared::model::ssh::{SshLine, UnixUser, UserKeys};
use unity_shared::proto::AgentId;

/// Whether `grant` is in force at `now_ms`.
pub fn active(grant: &GrantRecord, now_ms: i64) -> bool {
    grant.expires_at_ms.is_none_or(|expiry| expiry > now_ms)
}

/// Whether `grant` names the host `agent_id`, directly or through one of `groups` (the host
/// groups the host is in now).
pub fn applies_to(grant: &GrantRecord, agent_id: &AgentId, groups: &BTreeSet<String>) -> bool {
    match &grant.target {
        GrantTarget::Host(host) => host == agent_id,
        GrantTarget::HostGroup(group) => groups.contains(group),
    }
}

/// The users and their lines for one host.
pub fn user_keys(
    people: &[PersonRecord],
    grants: &[GrantRecord],
    agent_id: &AgentId,
    groups: &BTreeSet<String>,
    adopted: &[AdoptedLines],
    now_ms: i64,
) -> Vec<UserKeys> {
    let people: BTreeMap<&str, &PersonRecord> = people
        .iter()
        .map(|person| (person.name.as_str(), person))
        .collect();
    let mut users: BTreeMap<UnixUser, BTreeSet<SshLine>> = BTreeMap::new();
    for grant in grants {
        if !active(grant, now_ms) || !applies_to(grant, agent_id, groups) {
            continue;
        }
        let Some(person) = people.get(grant.person.as_str()) else {
            continue;
        };
        for key in &person.keys {
            if grant
                .key
                .as_ref()
                .is_some_and(|only| *only != key.fingerprint)
            {
                continue;
            }
            // The options were checked when the grant was made; a line that no longer
            // builds is left out rather than sent half-made.
            let Ok(line) =
                authorized_line(&grant.options, &key.public_key, &person.name, &key.comment)
            else {
                continue;
            };
            for user in &grant.users {
                users.entry(user.clone()).or_default().insert(line.clone());
            }
        }
    }
    for adopted in adopted {
        users
            .entry(adopted.user.clone())
            .or_default()
            .extend(adopted.lines.iter().cloned());
    }
    users
        .into_iter()
        .filter(|(_, lines)| !lines.is_empty())
        .map(|(user, lines)| UserKeys {
            user,
            lines: lines.into_iter().collect(),
        })
        .collect()
}

/// A fingerprint of a host's desired keys (its generation grows when this changes).
pub fn fingerprint(users: &[UserKeys]) -> String {
    let mut hasher = Sha256::new();
    for user in users {
        hasher.update(user.user.as_str().as_bytes());
        hasher.update(b"\n");
        for line in &user.lines {
            hasher.update(b"\t");
            hasher.update(line.as_str().as_bytes());
            hasher.update(b"\n");
        }
    }
    hex::encode(hasher.finalize())
}

/// The earliest expiry after `now_ms` among `grants` (when the desired keys change next).
pub fn next_expiry(grants: &[GrantRecord], now_ms: i64) -> Option<i64> {
    grants
        .iter()
        .filter_map(|grant| grant.expires_at_ms)
        .filter(|expiry| *expiry > now_ms)
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::ssh_access::{GrantOptions, SshKeyRecord};

    fn key(fingerprint: &str, public_key: &str) -> SshKeyRecord {
        SshKeyRecord {
            fingerprint: fingerprint.into(),
            algorithm: "ssh-ed25519".into(),
            bits: 256,
            public_key: public_key.into(),
            comment: "laptop".into(),
            added_by: "admin".into(),
            added_at_ms: 0,
        }
    }

    fn grant(id: u64, person: &str, user: &str, target: GrantTarget) -> GrantRecord {
        GrantRecord {
            id,
            person: person.into(),
            key: None,
            users: vec![UnixUser::new(user).unwrap()],
            target,
            expires_at_ms: None,
            options: GrantOptions::default(),
            added_by: "admin".into(),
            added_at_ms: 0,
        }
    }

    #[test]
    fn issue_16_grants_by_host_and_group_expiry_one_key_and_adopted_lines() {
        let people = vec![
            PersonRecord {
                name: "alice".into(),
                keys: vec![
                    key("SHA256:a1", "ssh-ed25519 A1"),
                    key("SHA256:a2", "ssh-ed25519 A2"),
                ],
                added_by: "admin".into(),
                added_at_ms: 0,
            },
            PersonRecord {
                name: "bob".into(),
                keys: vec![key("SHA256:b1", "ssh-ed25519 B1")],
                added_by: "admin".into(),
                added_at_ms: 0,
            },
        ];
        let nas = AgentId::new("nas").unwrap();
        let other = AgentId::new("other").unwrap();
        let groups: BTreeSet<String> = ["storage".to_owned()].into();
        let mut bob_once = grant(3, "bob", "backup", GrantTarget::HostGroup("storage".into()));
        bob_once.key = Some("SHA256:b1".into());
        bob_once.expires_at_ms = Some(1000);
        bob_once.options.no_pty = true;
        let grants = vec![
            grant(1, "alice", "root", GrantTarget::Host(nas.clone())),
            grant(2, "alice", "root", GrantTarget::HostGroup("storage".into())),
            bob_once,
            grant(4, "bob", "root", GrantTarget::Host(other.clone())),
            grant(5, "nobody", "root", GrantTarget::Host(nas.clone())),
        ];
        let adopted = vec![AdoptedLines {
            user: UnixUser::new("root").unwrap(),
            lines: vec![SshLine::new("ssh-ed25519 HAND kept").unwrap()],
        }];
        let keys = user_keys(&people, &grants, &nas, &groups, &adopted, 999);
        let text: Vec<(String, Vec<String>)> = keys
            .iter()
            .map(|user| {
                (
                    user.user.to_string(),
                    user.lines.iter().map(ToString::to_string).collect(),
                )
            })
            .collect();
        assert_eq!(
            text,
            vec![
                (
                    "backup".into(),
                    vec!["no-pty ssh-ed25519 B1 unity:bob laptop".into()]
                ),
                (
                    "root".into(),
                    vec![
                        "ssh-ed25519 A1 unity:alice laptop".into(),
                        "ssh-ed25519 A2 unity:alice laptop".into(),
                        "ssh-ed25519 HAND kept".into(),
                    ]
                ),
            ]
        );
        // At the expiry bob's grant stops being delivered; the fingerprint changes with it.
        let later = user_keys(&people, &grants, &nas, &groups, &adopted, 1000);
        assert_eq!(later.len(), 1);
        assert_ne!(fingerprint(&keys), fingerprint(&later));
        assert_eq!(
            fingerprint(&later),
            fingerprint(&user_keys(&people, &grants, &nas, &groups, &adopted, 5000))
        );
        assert_eq!(next_expiry(&grants, 999), Some(1000));
        assert_eq!(next_expiry(&grants, 1000), None);
        // A host in no group and named by no grant gets nothing.
        assert!(user_keys(
            &people,
            &grants,
            &AgentId::new("x").unwrap(),
            &BTreeSet::new(),
            &[],
            0
        )
        .is_empty());
    }
}
