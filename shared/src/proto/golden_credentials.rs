//! Golden values of the protocol-7 messages (SSH access, the SSH CA, secrets, agentless
//! hosts), chained into `golden_tests.rs`'s golden file.

use super::*;
use crate::model::agentless::{
    AgentlessCollectors, AgentlessOutcome, AgentlessStatus, AgentlessTarget,
};
use crate::model::secret::{SecretAnswer, SecretName, SecretValue};
use crate::model::ssh::{
    AccessOutcome, AuthorizedKeysMode, DriftAction, Principal, SshHostCertificate, SshHostKey,
    SshLine, UnixUser, UserAccessOutcome, UserKeys, UserPrincipals,
};

fn line(text: &str) -> SshLine {
    SshLine::new(text).unwrap()
}

fn user(name: &str) -> UnixUser {
    UnixUser::new(name).unwrap()
}

fn host_id() -> AgentId {
    AgentId::new("nas-appliance").unwrap()
}

fn report() -> Report {
    Report {
        seq: 9,
        collected_at_ms: 1_700_000_000_000,
        samples: vec![Sample {
            metric: "load1".into(),
            labels: vec![],
            timestamp_ms: 1_700_000_000_000,
            value: 0.5,
        }],
        dropped_reports: 0,
        storage: None,
        databases: None,
        containers: None,
        plugin_series: None,
        plugin_sources: None,
        checks: None,
        certificates: None,
        image_scans: None,
        service_checks: None,
    }
}

pub(super) fn agent_messages() -> Vec<(String, AgentMessage)> {
    let outcomes = [
        AgentlessOutcome::Collected,
        AgentlessOutcome::HostKeyToConfirm {
            presented: line("ssh-ed25519 AAAAC3 nas"),
        },
        AgentlessOutcome::HostKeyMismatch {
            presented: line("ssh-ed25519 AAAAC4 other"),
        },
        AgentlessOutcome::Unreachable {
            message: "connection refused".into(),
        },
        AgentlessOutcome::AuthenticationFailed {
            message: "publickey refused".into(),
        },
        AgentlessOutcome::CommandFailed {
            command: "zpool status -p".into(),
            message: "timed out after 30 s".into(),
        },
    ];
    let mut out = vec![
        (
            "agent.secret_request".to_owned(),
            AgentMessage::SecretRequest(SecretRequest {
                id: 5,
                names: vec![SecretName::new("pg-monitor").unwrap()],
            }),
        ),
        (
            "agent.agentless_report".to_owned(),
            AgentMessage::AgentlessReport(Box::new(AgentlessReport {
                host: host_id(),
                facts: Some(HostFacts {
                    hostname: "nas".into(),
                    ..HostFacts::default()
                }),
                report: report(),
            })),
        ),
    ];
    out.extend(outcomes.into_iter().enumerate().map(|(n, outcome)| {
        (
            format!("agent.agentless_status.{n}"),
            AgentMessage::AgentlessStatus(AgentlessStatus {
                host: host_id(),
                at_ms: 1_700_000_000_000,
                outcome,
            }),
        )
    }));
    out
}

pub(super) fn controller_messages() -> Vec<(String, ControllerMessage)> {
    let name = SecretName::new("pg-monitor").unwrap();
    vec![
        (
            "controller.secret_reply".into(),
            ControllerMessage::SecretReply(SecretReply {
                id: 5,
                answers: vec![
                    SecretAnswer {
                        name: name.clone(),
                        value: Some(SecretValue::new("hunter2")),
                    },
                    SecretAnswer {
                        name: SecretName::new("other").unwrap(),
                        value: None,
                    },
                ],
            }),
        ),
        (
            "controller.secrets_withdrawn".into(),
            ControllerMessage::SecretsWithdrawn(SecretsWithdrawn { names: vec![name] }),
        ),
        (
            "controller.agentless_ack".into(),
            ControllerMessage::AgentlessAck(AgentlessAck {
                host: host_id(),
                ack: Ack {
                    seq: 9,
                    duplicate: false,
                },
            }),
        ),
        (
            "controller.agentless_nack".into(),
            ControllerMessage::AgentlessNack(AgentlessNack {
                host: host_id(),
                nack: Nack {
                    seq: 9,
                    reason: "not assigned to this proxy".into(),
                },
            }),
        ),
    ]
}

pub(super) fn commands() -> Vec<Command> {
    let mut out = Vec::new();
    for (mode, on_drift) in [
        (AuthorizedKeysMode::Block, DriftAction::Report),
        (AuthorizedKeysMode::File, DriftAction::Restore),
    ] {
        out.push(Command::from(ApplySshAccess {
            generation: 3,
            mode,
            on_drift,
            users: vec![UserKeys {
                user: user("root"),
                lines: vec![line(
                    "from=\"10.0.0.0/8\",no-port-forwarding ssh-ed25519 AAAAC3 alice@laptop",
                )],
            }],
        }));
    }
    out.push(Command::from(ReadSshHostKeys));
    out.push(Command::from(ConfigureSshd {
        host_certificates: vec![SshHostCertificate {
            host_key_path: "/etc/ssh/ssh_host_ed25519_key".into(),
            certificate: line("ssh-ed25519-cert-v01@openssh.com AAAAIHNz nas"),
        }],
        trusted_user_ca_keys: vec![line("ssh-ed25519 AAAAC3 unity-user-ca")],
        principals: vec![UserPrincipals {
            user: user("root"),
            principals: vec![Principal::new("ops").unwrap()],
        }],
        revoked_keys: vec![line("ssh-ed25519 AAAAC3 lost-laptop")],
    }));
    out.push(Command::from(AssignAgentless {
        targets: vec![AgentlessTarget {
            host: host_id(),
            address: "192.168.1.20".into(),
            port: 22,
            user: user("monitor"),
            private_key: SecretValue::new("-----BEGIN OPENSSH PRIVATE KEY-----\n"),
            host_key: Some(line("ssh-ed25519 AAAAC3 nas")),
            interval_secs: 60,
            command_timeout_secs: 30,
            collectors: AgentlessCollectors {
                system: true,
                smart: true,
                zfs: false,
                raid: true,
            },
            last_stored_seq: Some(8),
        }],
    }));
    out
}

pub(super) fn responses() -> Vec<CommandResponse> {
    let outcomes = [
        AccessOutcome::Unchanged,
        AccessOutcome::Written { keys: 2 },
        AccessOutcome::Removed,
        AccessOutcome::Drift {
            found: vec!["ssh-rsa AAAAB3 mallory".into()],
        },
        AccessOutcome::Restored {
            found: vec!["ssh-rsa AAAAB3 mallory".into()],
        },
        AccessOutcome::Failed {
            message: "no home directory".into(),
        },
    ];
    vec![
        CommandResponse::SshAccessApplied(SshAccessApplied {
            generation: 3,
            users: outcomes
                .into_iter()
                .map(|outcome| UserAccessOutcome {
                    user: user("root"),
                    outcome,
                })
                .collect(),
        }),
        CommandResponse::SshHostKeys(SshHostKeys {
            keys: vec![SshHostKey {
                path: "/etc/ssh/ssh_host_ed25519_key".into(),
                public_key: line("ssh-ed25519 AAAAC3 root@nas"),
            }],
        }),
        CommandResponse::SshdConfigured(SshdConfigured {
            changed: true,
            reloaded: true,
        }),
        CommandResponse::AgentlessAssigned(AgentlessAssigned { targets: 1 }),
    ]
}
