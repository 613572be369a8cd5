//! Golden bytes of every wire type, so that a reordered, retyped or inserted field anywhere in
//! `proto` or `model` fails CI (postcard is positional: such a change breaks every peer of the
//! current [`PROTOCOL_VERSION`]). Appending an enum variant at the end changes nothing here.
//!
//! The large model values (a storage state with real SMART, ZFS and md output, databases, a
//! container inventory, command results) are read from `testdata/wire/*.json` by field name,
//! so moving a field in Rust changes the bytes, not the input. Every message kind and every
//! enum variant that travels is encoded once; `testdata/wire/golden.txt` holds `name hex` per
//! line. After a deliberate change: bump `PROTOCOL_VERSION` and the ALPN token (see the
//! module's rules), then `UPDATE_EXPECT=1 cargo test -p unity-shared golden`.

use super::*;
use crate::model::certificate::{
    CertificateFiles, CertificateInventory, CertificateLocation, CertificateName, ChainProblem,
    ChallengeListener, FileFormat, FoundCertificate, InventoryProblem, KeyType, PublicKeyKind,
    SubjectName,
};
use crate::model::container::ContainerInventory;
use crate::model::database::DatabaseInstance;
use crate::model::database_image::DatabaseKind;
use crate::model::plugin::{
    BatchSample, CheckResult, CheckStatus, SeriesBatch, SourceKind, SourceStatus,
};
use crate::model::scan::{
    Finding, GateThreshold, ImageScan, ImageScans, ScanFailure, Scanner, ScannerState, Severity,
    SeverityCounts, VulnerabilityGate,
};
use crate::model::update::{
    Backup, CommandResult, ContainerCommand, DataSource, DatabaseDump, FailureEvidence,
    HealthCheckRun, HealthPolicy, LogLine, OperationId, Outcome, Probe, Progress, RegistryAuth,
    Stage, UpdateRequest,
};
use serde::de::DeserializeOwned;

fn load<T: DeserializeOwned>(name: &str) -> T {
    let path = format!("{}/testdata/wire/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{path}: {error}"))
}

fn host() -> HostFacts {
    HostFacts {
        hostname: "nas".into(),
        os: "Debian GNU/Linux".into(),
        os_version: "12".into(),
        kernel: "6.1.0-13-amd64".into(),
        arch: "x86_64".into(),
        cpu_model: "Intel(R) N100".into(),
        n_cpus: 4,
        memory_bytes: 16 << 30,
    }
}

fn operation_id() -> OperationId {
    OperationId("0000018c-update-web".into())
}

/// Plugin series as a textfile gives them: strings once, indexes per sample.
fn plugin_series() -> SeriesBatch {
    let strings = [
        "backup_last_success_timestamp_seconds",
        "job",
        "nightly",
        "source",
        "textfile/backup.prom",
        "check_status",
        "check/disk_free",
    ];
    SeriesBatch {
        strings: strings.iter().map(|s| (*s).to_owned()).collect(),
        samples: vec![
            BatchSample {
                metric: 0,
                labels: vec![(1, 2), (3, 4)],
                timestamp_ms: 1_700_000_000_000,
                value: 1_699_990_000.0,
            },
            BatchSample {
                metric: 5,
                labels: vec![(3, 6)],
                timestamp_ms: 1_700_000_000_000,
                value: 1.0,
            },
        ],
    }
}

/// Every kind of source, one failed and one with parse errors and drops.
fn plugin_sources() -> Vec<SourceStatus> {
    vec![
        SourceStatus {
            kind: SourceKind::Textfile,
            source: "textfile/backup.prom".into(),
            location: "/var/lib/unity-agent/textfile/backup.prom".into(),
            n_series: 1,
            n_dropped: 2,
            n_errors: 1,
            errors: vec!["/var/lib/unity-agent/textfile/backup.prom:3: expected a value".into()],
            failure: None,
            bytes: 180,
            duration_ms: 1,
        },
        SourceStatus {
            kind: SourceKind::Exporter,
            source: "exporter/node".into(),
            location: "http://127.0.0.1:9100/metrics".into(),
            n_series: 0,
            n_dropped: 0,
            n_errors: 0,
            errors: vec![],
            failure: Some("connection refused".into()),
            bytes: 0,
            duration_ms: 3,
        },
    ]
}

/// A check result for each status.
fn checks() -> Vec<CheckResult> {
    [
        CheckStatus::Ok,
        CheckStatus::Warning,
        CheckStatus::Critical,
        CheckStatus::Unknown,
    ]
    .into_iter()
    .enumerate()
    .map(|(n, status)| CheckResult {
        name: format!("check_{n}"),
        status,
        message: format!("{} - all said", status.as_str()),
        exit_code: (n < 3).then_some(n as i32),
        started_at_ms: 1_700_000_000_000,
        duration_ms: 12,
        interval_ms: 60_000,
        error: (n == 3).then(|| "timed out after 10s".to_owned()),
        n_series: 1,
        n_dropped: n as u32,
        errors: vec![format!("check_{n}:2: unexpected character")],
    })
    .collect()
}

fn certificate_inventory() -> CertificateInventory {
    let found = |location, position, key, problems| FoundCertificate {
        location,
        position,
        subject: "CN=nas.home.arpa,O=Home".into(),
        names: vec![
            SubjectName::Dns("nas.home.arpa".into()),
            SubjectName::Ip("192.168.1.10".parse().unwrap()),
            SubjectName::Email("admin@home.arpa".into()),
            SubjectName::Uri("https://nas.home.arpa/".into()),
        ],
        issuer: "CN=Home CA".into(),
        serial_hex: "0a1b2c".into(),
        not_before_unix: 1_700_000_000,
        not_after_unix: 1_707_776_000,
        key,
        is_ca: false,
        sha256_hex: "ab".repeat(32),
        problems,
    };
    CertificateInventory {
        certificates: vec![
            found(
                CertificateLocation::File {
                    path: "/etc/nginx/tls/nas.pem".into(),
                    format: FileFormat::Pem,
                },
                0,
                PublicKeyKind::Ecdsa {
                    curve: "P-256".into(),
                },
                vec![ChainProblem::Expired, ChainProblem::NotYetValid],
            ),
            found(
                CertificateLocation::File {
                    path: "/etc/ssl/x.der".into(),
                    format: FileFormat::Der,
                },
                0,
                PublicKeyKind::Rsa { bits: 2048 },
                vec![ChainProblem::SelfSigned, ChainProblem::WrongOrder],
            ),
            found(
                CertificateLocation::File {
                    path: "/etc/ssl/x.p12".into(),
                    format: FileFormat::Pkcs12,
                },
                1,
                PublicKeyKind::Ed25519,
                vec![],
            ),
            found(
                CertificateLocation::Port {
                    address: "0.0.0.0".into(),
                    port: 443,
                    process: Some("nginx".into()),
                    server_name: Some("nas.home.arpa".into()),
                },
                0,
                PublicKeyKind::Other {
                    oid: "1.2.3".into(),
                },
                vec![
                    ChainProblem::MissingIntermediate {
                        issuer: "CN=R3".into(),
                    },
                    ChainProblem::NameMismatch { name: "nas".into() },
                ],
            ),
            found(
                CertificateLocation::Port {
                    address: "::1".into(),
                    port: 8443,
                    process: None,
                    server_name: None,
                },
                1,
                PublicKeyKind::Ed448,
                vec![],
            ),
        ],
        problems: vec![InventoryProblem {
            location: "/etc/ssl/broken.pem".into(),
            message: "not a certificate".into(),
        }],
        files_scanned: 12,
        ports_probed: 3,
        truncated: true,
    }
}

/// Issue 17 §2: a host's scanner and the scans of its images.
fn image_scans() -> ImageScans {
    ImageScans {
        scanner: ScannerState::Available(Scanner::Trivy),
        scans: vec![ImageScan {
            image_id: "sha256:1111".into(),
            repo_digests: vec!["registry.lan/web@sha256:89d3".into()],
            scanner: Scanner::Grype,
            scanner_version: Some("0.87.0".into()),
            scanned_at_ms: 1_700_000_000_000,
            counts: SeverityCounts {
                critical: 1,
                high: 2,
                medium: 3,
                low: 4,
                unknown: 5,
            },
            findings: vec![
                Finding {
                    severity: Severity::Critical,
                    id: "CVE-2022-22965".into(),
                },
                Finding {
                    severity: Severity::Unknown,
                    id: "GHSA-xxxx".into(),
                },
            ],
            findings_truncated: true,
        }],
        failures: vec![ScanFailure {
            image_id: "sha256:2222".into(),
            at_ms: 1_700_000_000_001,
            message: "trivy exited with status 1".into(),
        }],
    }
}

fn agent_messages() -> Vec<(&'static str, AgentMessage)> {
    let storage: StorageState = load("storage_state.json");
    let databases: Vec<DatabaseInstance> = load("databases.json");
    let containers: ContainerInventory = load("container_inventory.json");
    vec![
        (
            "agent.hello",
            AgentMessage::Hello(Hello {
                protocol_version: PROTOCOL_VERSION,
                agent_version: "0.1.0".into(),
                host: host(),
                instance_id: InstanceId::from_bytes([0x5a; 16]),
                install: InstallKind::Deb,
            }),
        ),
        (
            "agent.report",
            AgentMessage::Report(Report {
                seq: 42,
                collected_at_ms: 1_700_000_000_000,
                samples: vec![Sample {
                    metric: "cpu_usage_ratio".into(),
                    labels: vec![("cpu".into(), "total".into())],
                    timestamp_ms: 1_700_000_000_000,
                    value: 0.25,
                }],
                dropped_reports: 3,
                storage: Some(Box::new(storage)),
                databases: Some(databases),
                containers: Some(Box::new(containers)),
                plugin_series: Some(Box::new(plugin_series())),
                plugin_sources: Some(plugin_sources()),
                checks: Some(checks()),
                certificates: Some(Box::new(certificate_inventory())),
                image_scans: Some(Box::new(image_scans())),
                service_checks: Some(super::golden_services::results()),
            }),
        ),
        (
            "agent.heartbeat",
            AgentMessage::Heartbeat(Heartbeat {
                sent_at_ms: 1_700_000_000_000,
                spool_depth: 7,
            }),
        ),
        (
            "agent.renew",
            AgentMessage::Renew(RenewRequest {
                csr_der: vec![0x30, 0x82, 0x01, 0x0a],
            }),
        ),
    ]
}

fn controller_messages() -> Vec<(&'static str, ControllerMessage)> {
    vec![
        (
            "controller.welcome",
            ControllerMessage::Welcome(Welcome {
                protocol_version: PROTOCOL_VERSION,
                controller_version: "0.1.0".into(),
                agent_id: AgentId::new("nas-1a2b3c").unwrap(),
                last_stored_seq: Some(41),
                server_time_ms: 1_700_000_000_000,
                new_instance: true,
            }),
        ),
        (
            "controller.ack",
            ControllerMessage::Ack(Ack {
                seq: 42,
                duplicate: false,
            }),
        ),
        (
            "controller.nack",
            ControllerMessage::Nack(Nack {
                seq: 43,
                reason: "storage writer stopped".into(),
            }),
        ),
        (
            "controller.heartbeat_ack",
            ControllerMessage::HeartbeatAck {
                server_time_ms: 1_700_000_000_001,
            },
        ),
        (
            "controller.renewed",
            ControllerMessage::Renewed(Renewed {
                certificate_der: vec![0x30, 0x82, 0x02, 0x0b],
                not_after_unix: 1_702_592_000,
            }),
        ),
        (
            "controller.renew_refused",
            ControllerMessage::RenewRefused {
                reason: "bad CSR".into(),
            },
        ),
    ]
}

fn enrollment() -> Vec<(String, Vec<u8>)> {
    let mut out = vec![(
        "enroll.request".to_owned(),
        encode(&EnrollRequest {
            protocol_version: PROTOCOL_VERSION,
            token: "3f2a9c1e.0b5d".into(),
            csr_der: vec![0x30, 0x82],
            host: host(),
        }),
    )];
    out.push((
        "enroll.enrolled".to_owned(),
        encode(&EnrollResponse::Enrolled(Enrolled {
            agent_id: AgentId::new("nas-1a2b3c").unwrap(),
            certificate_der: vec![0x30, 0x82, 0x03],
            ca_certificate_der: vec![0x30, 0x82, 0x04],
            not_after_unix: 1_702_592_000,
        })),
    ));
    let refusals = [
        EnrollRefusal::UnknownToken,
        EnrollRefusal::ExpiredToken,
        EnrollRefusal::TokenAlreadyUsed,
        EnrollRefusal::BadCsr("not a CSR".into()),
        EnrollRefusal::VersionMismatch {
            controller: 5,
            agent: 4,
        },
        EnrollRefusal::Internal("storage failure".into()),
    ];
    for (n, refusal) in refusals.into_iter().enumerate() {
        out.push((
            format!("enroll.refused.{n}"),
            encode(&EnrollResponse::Refused(refusal)),
        ));
    }
    out
}

fn container_commands() -> Vec<ContainerCommand> {
    let container = "web".to_owned();
    vec![
        ContainerCommand::Update(UpdateRequest {
            id: operation_id(),
            container: container.clone(),
            image: "registry.lan/web@sha256:89d3".into(),
            auth: Some(RegistryAuth {
                username: "ci".into(),
                password: "secret".into(),
                server: "registry.lan".into(),
            }),
            health: HealthPolicy {
                probe: Some(Probe::Http {
                    host: "127.0.0.1".into(),
                    port: 8080,
                    path: "/health".into(),
                }),
                ..HealthPolicy::default()
            },
            force: true,
            volume_archive_limit_bytes: Some(1 << 30),
            vulnerability_gate: Some(VulnerabilityGate {
                threshold: GateThreshold::High,
                automatic: true,
            }),
        }),
        ContainerCommand::Update(UpdateRequest {
            id: operation_id(),
            container: container.clone(),
            image: "registry.lan/web:1.2".into(),
            auth: None,
            health: HealthPolicy {
                probe: Some(Probe::Tcp {
                    host: "127.0.0.1".into(),
                    port: 5432,
                }),
                ..HealthPolicy::default()
            },
            force: false,
            volume_archive_limit_bytes: None,
            vulnerability_gate: None,
        }),
        ContainerCommand::Rollback {
            id: operation_id(),
            container: container.clone(),
        },
        ContainerCommand::Restart {
            id: operation_id(),
            container: container.clone(),
        },
        ContainerCommand::Backup {
            id: operation_id(),
            container: container.clone(),
        },
        ContainerCommand::Restore {
            id: operation_id(),
            container,
            backup: "1700000000000.json".into(),
        },
    ]
}

fn commands() -> Vec<(String, Vec<u8>)> {
    let mut envelopes = vec![
        Command::Ping(Ping { nonce: 7 }),
        Command::CollectNow(CollectNow),
    ];
    envelopes.extend(
        container_commands()
            .into_iter()
            .map(|command| Command::Container(Box::new(command))),
    );
    let name = CertificateName::new("nas-web").unwrap();
    envelopes.extend(
        [
            KeyType::EcdsaP256,
            KeyType::Rsa2048,
            KeyType::Rsa3072,
            KeyType::Ed25519,
        ]
        .map(|key_type| {
            Command::from(PrepareCertificate {
                certificate: name.clone(),
                key_type,
                dns_names: vec!["nas.home.arpa".into()],
                ip_addresses: vec!["192.168.1.10".parse().unwrap(), "::1".parse().unwrap()],
            })
        }),
    );
    envelopes.push(Command::from(InstallCertificate {
        certificate: name,
        chain_pem: "-----BEGIN CERTIFICATE-----\n".into(),
        files: CertificateFiles {
            cert: Some("/etc/nginx/tls/cert.pem".into()),
            chain: Some("/etc/nginx/tls/chain.pem".into()),
            fullchain: Some("/etc/nginx/tls/fullchain.pem".into()),
            key: Some("/etc/nginx/tls/key.pem".into()),
            combined: Some("/etc/haproxy/nas.pem".into()),
            owner: Some("root".into()),
            group: Some("www-data".into()),
            key_mode: 0o640,
        },
        reload: Some(vec!["systemctl".into(), "reload".into(), "nginx".into()]),
    }));
    envelopes.extend(
        [
            ChallengeListener::Port(80),
            ChallengeListener::Webroot("/var/www/html".into()),
        ]
        .map(|listener| {
            Command::from(ServeHttpChallenge {
                token: "tok".into(),
                key_authorization: "tok.thumb".into(),
                listener,
                lifetime_secs: 120,
            })
        }),
    );
    let mut out: Vec<(String, Vec<u8>)> = envelopes
        .into_iter()
        .enumerate()
        .map(|(n, command)| {
            (
                format!("command.{n}"),
                encode(&CommandEnvelope {
                    id: CommandId(100 + n as u64),
                    command,
                }),
            )
        })
        .collect();
    let mut results: Vec<CommandResult> = load("command_results.json");
    results.push(CommandResult {
        backup_taken: Some(Backup {
            container: "web".into(),
            taken_at_ms: 1_700_000_000_000,
            image_ref: "registry.lan/web:1.1".into(),
            image_id: "sha256:1111".into(),
            inspect_json: r#"{"Name":"/web"}"#.into(),
            volume_archives: vec!["1700000000000-data.tar.gz".into()],
            dump: None,
            excluded_env: Vec::new(),
        }),
        ..results[0].clone()
    });
    results.push(CommandResult {
        backup_taken: Some(Backup {
            container: "web".into(),
            taken_at_ms: 1_700_000_000_001,
            image_ref: "registry.lan/web:1.1".into(),
            image_id: "sha256:1111".into(),
            inspect_json: r#"{"Config":{"Env":["A=1"]}}"#.into(),
            volume_archives: Vec::new(),
            dump: None,
            excluded_env: vec!["DB_PASSWORD".into()],
        }),
        evidence: Some(FailureEvidence {
            reason: "exited with code 1".into(),
            log_tail: "starting\nfatal: no config\n".into(),
            log_truncated: true,
            health_checks: vec![HealthCheckRun {
                start: "2026-12-07T09:00:00.1Z".into(),
                end: "2026-12-07T09:00:00.2Z".into(),
                exit_code: 1,
                output: "curl: (7) refused".into(),
            }],
            probe_failure: Some("tcp 127.0.0.1:8080: connection refused".into()),
            capture_error: None,
        }),
        ..results[0].clone()
    });
    results.push(CommandResult {
        outcome: Outcome::RolledBack,
        backup_taken: Some(Backup {
            container: "db".into(),
            taken_at_ms: 1_700_000_000_000,
            image_ref: "postgres:15".into(),
            image_id: "sha256:1515".into(),
            inspect_json: r#"{"Name":"/db"}"#.into(),
            volume_archives: Vec::new(),
            dump: Some(DatabaseDump {
                kind: DatabaseKind::Postgres,
                file: "1700000000000-dump.sql".into(),
                size_bytes: 4096,
                duration_ms: 1200,
            }),
            excluded_env: Vec::new(),
        }),
        data_restored: Some(DataSource::Dump),
        ..results[0].clone()
    });
    let stages = [
        Stage::Pulling,
        Stage::BackingUp,
        Stage::Stopping,
        Stage::Starting,
        Stage::HealthChecking,
        Stage::RollingBack,
        Stage::Done,
    ];
    let mut responses = vec![
        CommandResponse::Pong(Pong { nonce: 7 }),
        CommandResponse::Collected(Collected { seq: 42 }),
        CommandResponse::Failed {
            message: "collector stopped".into(),
        },
        CommandResponse::CertificateCsr(CertificateCsr {
            csr_der: vec![0x30, 0x82],
        }),
        CommandResponse::CertificateInstalled(CertificateInstalled {
            serial_hex: "0a1b".into(),
            not_after_unix: 1_707_776_000,
            reloaded: true,
        }),
        CommandResponse::ChallengeServing(ChallengeServing {
            at: "0.0.0.0:80".into(),
        }),
    ];
    responses.extend(stages.into_iter().map(|stage| {
        CommandResponse::ContainerProgress(Progress {
            id: operation_id(),
            stage,
            message: "working".into(),
        })
    }));
    responses.extend(
        results
            .into_iter()
            .map(|result| CommandResponse::ContainerResult(Box::new(result))),
    );
    let log: Vec<LogLine> = load("log_lines.json");
    out.push(("log_lines".to_owned(), encode(&log)));
    out.extend(
        responses
            .into_iter()
            .enumerate()
            .map(|(n, response)| (format!("response.{n}"), encode(&response))),
    );
    out
}

fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    postcard::to_allocvec(value).unwrap()
}

#[test]
fn golden_bytes_of_every_wire_type() {
    let mut lines = Vec::new();
    for (name, message) in agent_messages() {
        lines.push(format!("{name} {}", hex::encode(encode(&message))));
    }
    for kind in [
        InstallKind::Unknown,
        InstallKind::File,
        InstallKind::Deb,
        InstallKind::Rpm,
    ] {
        lines.push(format!(
            "install.{} {}",
            kind.as_str(),
            hex::encode(encode(&kind))
        ));
    }
    for (name, message) in controller_messages() {
        lines.push(format!("{name} {}", hex::encode(encode(&message))));
    }
    for (name, bytes) in enrollment().into_iter().chain(commands()) {
        lines.push(format!("{name} {}", hex::encode(bytes)));
    }
    for (name, message) in golden_credentials::agent_messages() {
        lines.push(format!("{name} {}", hex::encode(encode(&message))));
    }
    for (name, message) in golden_credentials::controller_messages() {
        lines.push(format!("{name} {}", hex::encode(encode(&message))));
    }
    for (n, command) in golden_credentials::commands().into_iter().enumerate() {
        let envelope = CommandEnvelope {
            id: CommandId(700 + n as u64),
            command,
        };
        lines.push(format!("v7.command.{n} {}", hex::encode(encode(&envelope))));
    }
    for (n, response) in golden_credentials::responses().into_iter().enumerate() {
        lines.push(format!(
            "v7.response.{n} {}",
            hex::encode(encode(&response))
        ));
    }
    for (n, command) in super::golden_services::commands().into_iter().enumerate() {
        let envelope = CommandEnvelope {
            id: CommandId(1800 + n as u64),
            command,
        };
        lines.push(format!(
            "v18.command.{n} {}",
            hex::encode(encode(&envelope))
        ));
    }
    for (n, response) in super::golden_services::responses().into_iter().enumerate() {
        lines.push(format!(
            "v18.response.{n} {}",
            hex::encode(encode(&response))
        ));
    }
    for (n, command) in super::golden_container_logs::commands()
        .into_iter()
        .enumerate()
    {
        let envelope = CommandEnvelope {
            id: CommandId(1900 + n as u64),
            command,
        };
        lines.push(format!(
            "v19.command.{n} {}",
            hex::encode(encode(&envelope))
        ));
    }
    for (n, response) in super::golden_container_logs::responses()
        .into_iter()
        .enumerate()
    {
        lines.push(format!(
            "v19.response.{n} {}",
            hex::encode(encode(&response))
        ));
    }
    for (name, message) in super::golden_agent_build::controller_messages() {
        lines.push(format!("{name} {}", hex::encode(encode(&message))));
    }
    for (n, command) in super::golden_agent_build::commands()
        .into_iter()
        .enumerate()
    {
        let envelope = CommandEnvelope {
            id: CommandId(2000 + n as u64),
            command,
        };
        lines.push(format!(
            "v20.command.{n} {}",
            hex::encode(encode(&envelope))
        ));
    }
    for (n, response) in super::golden_agent_build::responses()
        .into_iter()
        .enumerate()
    {
        lines.push(format!(
            "v20.response.{n} {}",
            hex::encode(encode(&response))
        ));
    }
    for (name, bytes) in super::golden_agent_build::others() {
        lines.push(format!("{name} {}", hex::encode(bytes)));
    }
    lines.push(String::new());
    expect_test::expect_file!["../../testdata/wire/golden.txt"].assert_eq(&lines.join("\n"));
}

#[test]
fn the_golden_inputs_decode_back_to_themselves() {
    // Every value above survives its own encoding (the golden file pins bytes that decode).
    for (name, message) in agent_messages() {
        let back: AgentMessage = postcard::from_bytes(&encode(&message)).unwrap();
        assert_eq!(encode(&back), encode(&message), "{name}");
    }
    for (name, message) in controller_messages() {
        let back: ControllerMessage = postcard::from_bytes(&encode(&message)).unwrap();
        assert_eq!(back, message, "{name}");
    }
    for (name, message) in golden_credentials::agent_messages() {
        let back: AgentMessage = postcard::from_bytes(&encode(&message)).unwrap();
        assert_eq!(back, message, "{name}");
    }
    for (name, message) in golden_credentials::controller_messages() {
        let back: ControllerMessage = postcard::from_bytes(&encode(&message)).unwrap();
        assert_eq!(back, message, "{name}");
    }
    for command in golden_credentials::commands() {
        let back: Command = postcard::from_bytes(&encode(&command)).unwrap();
        assert_eq!(back, command);
    }
    for command in super::golden_services::commands() {
        let back: Command = postcard::from_bytes(&encode(&command)).unwrap();
        assert_eq!(back, command);
    }
}
