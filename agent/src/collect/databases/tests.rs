//! Pure tests: `/proc` parsers, discovery (sockets, processes, containers), configuration and
//! planning, credential redaction. Protocol tests live in `probe/tests.rs`, real servers in
//! `live_tests.rs`.

#![allow(clippy::indexing_slicing)]

use std::net::IpAddr;

use expect_test::{expect, Expect};
use proptest::prelude::*;
use unity_shared::model::database::{
    DatabaseEndpoint, DatabaseEngine, DatabaseInstance, DiscoveryMethod,
};

use super::credentials::{password_from_file_contents, Credentials, DatabaseCredentials, Secret};
use super::discover::{
    discover, endpoints_match, engine_for_image, engine_for_process, Candidate, ContainerPorts,
    PortProtocol, PublishedPort,
};
use super::proc_net::{
    parse_cmdline, parse_comm, parse_hex_socket_address, parse_proc_net_tcp, parse_proc_net_unix,
    parse_socket_link, ProcSnapshot, ProcessInfo,
};
use super::run::{parse_endpoint, plan, DatabaseTarget, DatabasesConfig, RawDatabasesConfig};

// Lines in the kernel's exact format (net/ipv4/tcp_ipv4.c, net/ipv6/tcp_ipv6.c,
// net/unix/af_unix.c). Addresses are as printed on a little-endian host.
const PROC_NET_TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   101        0 31337 1 0000000000000000 100 0 0 10 0
   1: 00000000:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000   102        0 31338 1 0000000000000000 100 0 0 10 0
   2: 0100007F:1538 0100007F:D5B2 01 00000000:00000000 00:00000000 00000000   101        0 40000 1 0000000000000000 20 4 30 10 -1
   3: 00000000:3FFB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 31350 1 0000000000000000 100 0 0 10 0
   4: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1603 1 0000000000000000 100 0 0 10 0
   5: 00000000:2328 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 31360 1 0000000000000000 100 0 0 10 0
";

const PROC_NET_TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1538 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000   101        0 31345 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000000000000:18EB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 31346 1 0000000000000000 100 0 0 10 0
";

const PROC_NET_UNIX: &str = "Num       RefCount Protocol Flags    Type St Inode Path
0000000000000000: 00000002 00000000 00010000 0001 01 31339 /run/postgresql/.s.PGSQL.5432
0000000000000000: 00000002 00000000 00010000 0001 01 31340 /run/mysqld/mysqld.sock
0000000000000000: 00000003 00000000 00000000 0001 03 31341 /run/mysqld/mysqld.sock
0000000000000000: 00000002 00000000 00010000 0001 01 31342 @/tmp/.X11-unix/X0
0000000000000000: 00000002 00000000 00000000 0002 01 31343 /run/systemd/notify
0000000000000000: 00000002 00000000 00010000 0001 01 31344 /run/my redis/redis-server.sock
0000000000000000: 00000002 00000000 00010000 0001 01 31347
";

fn snapshot() -> ProcSnapshot {
    let (mut tcp, warnings) = parse_proc_net_tcp(PROC_NET_TCP);
    assert!(warnings.is_empty(), "{warnings:?}");
    let (tcp6, warnings) = parse_proc_net_tcp(PROC_NET_TCP6);
    assert!(warnings.is_empty(), "{warnings:?}");
    tcp.extend(tcp6);
    let (unix, warnings) = parse_proc_net_unix(PROC_NET_UNIX);
    assert!(warnings.is_empty(), "{warnings:?}");
    let process = |pid: u32, comm: &str, cmdline: &[&str], inodes: &[u64]| ProcessInfo {
        pid,
        comm: comm.to_owned(),
        cmdline: cmdline.iter().map(|s| (*s).to_owned()).collect(),
        socket_inodes: inodes.to_vec(),
    };
    ProcSnapshot {
        tcp,
        unix,
        processes: vec![
            process(
                812,
                "postgres",
                &[
                    "/usr/lib/postgresql/15/bin/postgres",
                    "-D",
                    "/var/lib/postgresql/15/main",
                ],
                &[31337, 31339, 31345],
            ),
            process(900, "mariadbd", &["/usr/sbin/mariadbd"], &[31338, 31340]),
            // A child that inherited the listening socket: the lowest pid owns it.
            process(901, "mariadbd", &["/usr/sbin/mariadbd"], &[31338]),
            process(
                1200,
                "docker-proxy",
                &["/usr/bin/docker-proxy", "-proto", "tcp"],
                &[31350],
            ),
            process(1300, "sshd", &["sshd: /usr/sbin/sshd -D"], &[1603]),
            process(1400, "php-fpm8.2", &["php-fpm: master process"], &[31360]),
        ],
        warnings: Vec::new(),
    }
}

fn render(candidates: &[Candidate]) -> String {
    candidates
        .iter()
        .map(|candidate| {
            let others: Vec<String> = candidate
                .other_endpoints
                .iter()
                .map(ToString::to_string)
                .collect();
            format!(
                "{:?} {} others={:?} by={:?} process={:?} container={:?}\n",
                candidate.engine,
                candidate.endpoint,
                others,
                candidate.discovered_by,
                candidate.process.as_ref().map(|p| (p.pid, p.name.as_str())),
                candidate.container.as_ref().map(|c| c.image.as_str()),
            )
        })
        .collect()
}

#[track_caller]
fn check_discover(snapshot: &ProcSnapshot, containers: &[ContainerPorts], expect: Expect) {
    expect.assert_eq(&render(&discover(snapshot, containers)));
}

#[test]
fn tcp_listeners() {
    let (listeners, warnings) = parse_proc_net_tcp(PROC_NET_TCP);
    assert!(warnings.is_empty());
    let rendered: Vec<String> = listeners
        .iter()
        .map(|l| format!("{}:{} inode {}", l.address, l.port, l.inode))
        .collect();
    assert_eq!(
        rendered,
        [
            "127.0.0.1:5432 inode 31337",
            "0.0.0.0:3306 inode 31338",
            "0.0.0.0:16379 inode 31350",
            "0.0.0.0:22 inode 1603",
            "0.0.0.0:9000 inode 31360",
        ]
    );
    let (listeners, _) = parse_proc_net_tcp(PROC_NET_TCP6);
    assert_eq!(listeners[0].address, "::1".parse::<IpAddr>().unwrap());
    assert_eq!(listeners[0].port, 5432);
    assert_eq!(listeners[1].address, "::".parse::<IpAddr>().unwrap());
    assert_eq!(listeners[1].port, 6379);
}

#[test]
fn tcp_bad_lines_are_warnings() {
    let (listeners, warnings) = parse_proc_net_tcp(
        "   0: 0100007F:1538 00000000:0000 0A\n   1: XYZ:1538 00000000:0000 0A 0 0 0 0 0 7\n",
    );
    assert!(listeners.is_empty());
    assert_eq!(warnings.len(), 2);
    assert_eq!(warnings[0].message, "too few columns");
    assert_eq!(warnings[1].line_number, Some(2));
}

#[test]
fn hex_addresses() {
    assert_eq!(
        parse_hex_socket_address("0100007F:0050"),
        Some(("127.0.0.1".parse().unwrap(), 80))
    );
    assert_eq!(
        parse_hex_socket_address("0000000000000000FFFF00000100007F:1538"),
        Some(("::ffff:127.0.0.1".parse().unwrap(), 5432))
    );
    assert_eq!(parse_hex_socket_address("0100007F"), None);
    assert_eq!(parse_hex_socket_address("0100007:0050"), None);
    assert_eq!(parse_hex_socket_address("é100007F:0050"), None);
}

#[test]
fn unix_listeners() {
    let (listeners, warnings) = parse_proc_net_unix(PROC_NET_UNIX);
    assert!(warnings.is_empty());
    let rendered: Vec<String> = listeners
        .iter()
        .map(|l| format!("{} {}", l.inode, l.path))
        .collect();
    assert_eq!(
        rendered,
        [
            "31339 /run/postgresql/.s.PGSQL.5432",
            "31340 /run/mysqld/mysqld.sock",
            "31344 /run/my redis/redis-server.sock",
        ]
    );
}

#[test]
fn fd_links_comm_cmdline() {
    assert_eq!(parse_socket_link("socket:[31337]"), Some(31337));
    assert_eq!(parse_socket_link("pipe:[31337]"), None);
    assert_eq!(parse_socket_link("socket:[]"), None);
    assert_eq!(parse_socket_link("/dev/null"), None);
    assert_eq!(parse_comm("redis-server\n"), "redis-server");
    assert_eq!(
        parse_cmdline(b"/usr/sbin/mariadbd\0--port=3306\0"),
        ["/usr/sbin/mariadbd", "--port=3306"]
    );
    assert_eq!(
        parse_cmdline(b"redis-server 127.0.0.1:6379"),
        ["redis-server 127.0.0.1:6379"]
    );
    assert!(parse_cmdline(b"").is_empty());
    assert!(parse_cmdline(b"\0").is_empty());
}

#[test]
fn process_names() {
    let engine = |comm: &str, cmdline: &[&str]| {
        let cmdline: Vec<String> = cmdline.iter().map(|s| (*s).to_owned()).collect();
        engine_for_process(comm, &cmdline)
    };
    assert_eq!(engine("postgres", &[]), Some(DatabaseEngine::Postgres));
    assert_eq!(engine("mariadbd", &[]), Some(DatabaseEngine::Mariadb));
    assert_eq!(engine("mysqld", &[]), Some(DatabaseEngine::Mysql));
    assert_eq!(
        engine("redis-server", &["redis-server 127.0.0.1:6379"]),
        Some(DatabaseEngine::Redis)
    );
    // comm is cut at 15 bytes and renamed threads exist: the program name also counts.
    assert_eq!(
        engine("bin", &["/opt/mongodb/bin/mongod", "--config", "x"]),
        Some(DatabaseEngine::Mongodb)
    );
    assert_eq!(
        engine("minio", &["minio", "server", "/data"]),
        Some(DatabaseEngine::Minio)
    );
    assert_eq!(engine("nginx", &["nginx: master process"]), None);
}

#[test]
fn images() {
    for (image, port, engine) in [
        ("postgres:16", 5432, Some(DatabaseEngine::Postgres)),
        (
            "docker.io/library/postgres:16-alpine@sha256:abc",
            5432,
            Some(DatabaseEngine::Postgres),
        ),
        ("bitnami/postgresql", 5432, Some(DatabaseEngine::Postgres)),
        (
            "registry.local:5000/mariadb:11",
            3306,
            Some(DatabaseEngine::Mariadb),
        ),
        ("mysql:8.4", 3306, Some(DatabaseEngine::Mysql)),
        ("valkey/valkey:8", 6379, Some(DatabaseEngine::Redis)),
        ("mongo:7", 27017, Some(DatabaseEngine::Mongodb)),
        (
            "quay.io/minio/minio:latest",
            9000,
            Some(DatabaseEngine::Minio),
        ),
        (
            "ghcr.io/acme/custom-db",
            5432,
            Some(DatabaseEngine::Postgres),
        ),
        ("nginx:1.27", 80, None),
    ] {
        assert_eq!(engine_for_image(image, port), engine, "{image}");
    }
}

#[test]
fn discovery_from_proc() {
    check_discover(
        &snapshot(),
        &[],
        expect![[r#"
            Mariadb 0.0.0.0:3306 others=["unix:/run/mysqld/mysqld.sock"] by=[ListeningSocket, ProcessName, WellKnownPort] process=Some((900, "mariadbd")) container=None
            Minio 0.0.0.0:9000 others=[] by=[WellKnownPort] process=Some((1400, "php-fpm8.2")) container=None
            Postgres 127.0.0.1:5432 others=["[::1]:5432", "unix:/run/postgresql/.s.PGSQL.5432"] by=[ListeningSocket, ProcessName, WellKnownPort] process=Some((812, "postgres")) container=None
            Redis [::]:6379 others=[] by=[WellKnownPort] process=None container=None
            Redis unix:/run/my redis/redis-server.sock others=[] by=[ListeningSocket] process=None container=None
        "#]],
    );
}

#[test]
fn discovery_from_containers() {
    let containers = [
        // Published through docker-proxy (pid 1200 listens on 0.0.0.0:16379).
        ContainerPorts {
            name: Some("cache".to_owned()),
            image: "redis:7.2".to_owned(),
            published: vec![PublishedPort {
                host_ip: None,
                host_port: 16379,
                container_port: 6379,
                protocol: PortProtocol::Tcp,
            }],
        },
        // Not (yet) visible in /proc: added from the container alone.
        ContainerPorts {
            name: Some("objects".to_owned()),
            image: "minio/minio".to_owned(),
            published: vec![
                PublishedPort {
                    host_ip: Some("127.0.0.1".parse().unwrap()),
                    host_port: 19000,
                    container_port: 9000,
                    protocol: PortProtocol::Tcp,
                },
                PublishedPort {
                    host_ip: None,
                    host_port: 19001,
                    container_port: 9001,
                    protocol: PortProtocol::Udp,
                },
            ],
        },
        // Not a database.
        ContainerPorts {
            name: None,
            image: "nginx".to_owned(),
            published: vec![PublishedPort {
                host_ip: None,
                host_port: 8080,
                container_port: 80,
                protocol: PortProtocol::Tcp,
            }],
        },
    ];
    let only_docker = ProcSnapshot {
        processes: snapshot()
            .processes
            .into_iter()
            .filter(|p| p.comm == "docker-proxy")
            .collect(),
        tcp: snapshot()
            .tcp
            .into_iter()
            .filter(|l| l.port == 16379)
            .collect(),
        ..ProcSnapshot::default()
    };
    check_discover(
        &only_docker,
        &containers,
        expect![[r#"
            Redis 0.0.0.0:16379 others=[] by=[Container] process=None container=Some("redis:7.2")
            Minio 127.0.0.1:19000 others=[] by=[Container] process=None container=Some("minio/minio")
        "#]],
    );
}

#[test]
fn discovery_of_nothing() {
    check_discover(&ProcSnapshot::default(), &[], expect![[""]]);
}

#[test]
fn endpoint_matching_and_parsing() {
    let tcp = |text: &str| parse_endpoint(text).unwrap();
    assert_eq!(
        tcp("[::1]:6379"),
        DatabaseEndpoint::Tcp {
            host: "::1".to_owned(),
            port: 6379
        }
    );
    assert_eq!(
        tcp("/run/postgresql/.s.PGSQL.5432"),
        DatabaseEndpoint::Unix {
            path: "/run/postgresql/.s.PGSQL.5432".to_owned()
        }
    );
    assert_eq!(parse_endpoint("localhost:5432"), None);
    assert_eq!(parse_endpoint("5432"), None);
    assert!(endpoints_match(
        &tcp("0.0.0.0:5432"),
        &tcp("127.0.0.1:5432")
    ));
    assert!(endpoints_match(&tcp("127.0.0.1:5432"), &tcp("[::1]:5432")));
    assert!(endpoints_match(&tcp("[::]:5432"), &tcp("192.168.1.5:5432")));
    assert!(!endpoints_match(
        &tcp("127.0.0.1:5432"),
        &tcp("127.0.0.1:5433")
    ));
    assert!(!endpoints_match(
        &tcp("10.0.0.1:5432"),
        &tcp("10.0.0.2:5432")
    ));
    assert!(!endpoints_match(
        &tcp("127.0.0.1:5432"),
        &tcp("/tmp/.s.PGSQL.5432")
    ));
}

#[test]
fn config_from_toml() {
    let raw: RawDatabasesConfig = toml::from_str(
        r#"
        timeout = "2s"
        [[instances]]
        engine = "redis"
        endpoint = "127.0.0.1:6379"
        credentials = { password_file = "/etc/unity/redis.pass" }
        [[instances]]
        engine = "postgres"
        endpoint = "/run/postgresql/.s.PGSQL.5432"
        "#,
    )
    .unwrap();
    let config = DatabasesConfig::from_raw(raw).unwrap();
    assert!(config.discover);
    assert_eq!(config.timeout, std::time::Duration::from_secs(2));
    assert_eq!(config.targets.len(), 2);
    assert_eq!(config.targets[0].engine, DatabaseEngine::Redis);
    assert_eq!(
        config.targets[0]
            .credentials
            .as_ref()
            .unwrap()
            .password_file,
        Some("/etc/unity/redis.pass".into())
    );

    let unknown_field = toml::from_str::<RawDatabasesConfig>("password = \"x\"");
    assert!(unknown_field.is_err());
    let bad_endpoint = RawDatabasesConfig {
        instances: vec![super::run::RawDatabaseTarget {
            engine: DatabaseEngine::Redis,
            endpoint: "redis.local:6379".to_owned(),
            credentials: None,
        }],
        ..RawDatabasesConfig::default()
    };
    let error = DatabasesConfig::from_raw(bad_endpoint).unwrap_err();
    assert!(error.to_string().contains("redis.local:6379"), "{error}");
    let zero = RawDatabasesConfig {
        timeout: "0s".to_owned(),
        ..RawDatabasesConfig::default()
    };
    assert!(DatabasesConfig::from_raw(zero).is_err());
}

#[test]
fn plan_merges_configured_and_remembered() {
    let discovered = discover(&snapshot(), &[]);
    let targets = [
        DatabaseTarget {
            engine: DatabaseEngine::Postgres,
            endpoint: parse_endpoint("127.0.0.1:5432").unwrap(),
            credentials: Some(DatabaseCredentials {
                user: Some("monitor".to_owned()),
                database: None,
                password_file: None,
                password_secret: None,
            }),
        },
        DatabaseTarget {
            engine: DatabaseEngine::Mongodb,
            endpoint: parse_endpoint("10.0.0.7:27017").unwrap(),
            credentials: None,
        },
    ];
    let gone = DatabaseInstance {
        engine: DatabaseEngine::Redis,
        endpoint: parse_endpoint("127.0.0.1:16380").unwrap(),
        other_endpoints: Vec::new(),
        discovered_by: vec![DiscoveryMethod::ListeningSocket],
        process: None,
        container: None,
        version: Some("7.0.15".to_owned()),
        reachable: true,
        auth_required: Some(false),
        tls_offered: None,
        latency_ms: Some(0.3),
        error: None,
        health: None,
    };
    // Still there: not added twice.
    let still_there = DatabaseInstance {
        endpoint: parse_endpoint("0.0.0.0:3306").unwrap(),
        ..gone.clone()
    };
    let planned = plan(discovered, &targets, &[gone, still_there]);
    let rendered: Vec<String> = planned
        .iter()
        .map(|p| {
            format!(
                "{:?} {} {:?} credentials={}",
                p.candidate.engine,
                p.candidate.endpoint,
                p.candidate.discovered_by,
                p.credentials.is_some()
            )
        })
        .collect();
    expect![[r#"
        [
            "Mariadb 0.0.0.0:3306 [ListeningSocket, ProcessName, WellKnownPort] credentials=false",
            "Minio 0.0.0.0:9000 [WellKnownPort] credentials=false",
            "Postgres 127.0.0.1:5432 [ListeningSocket, ProcessName, WellKnownPort, Configured] credentials=true",
            "Redis [::]:6379 [WellKnownPort] credentials=false",
            "Redis unix:/run/my redis/redis-server.sock [ListeningSocket] credentials=false",
            "Mongodb 10.0.0.7:27017 [Configured] credentials=false",
            "Redis 127.0.0.1:16380 [Remembered] credentials=false",
        ]
    "#]]
    .assert_debug_eq(&rendered);
}

#[test]
fn secrets_are_redacted() {
    let credentials = Credentials {
        user: Some("monitor".to_owned()),
        database: None,
        password: Some(Secret::new("hunter2-very-secret".to_owned())),
    };
    let debug = format!("{credentials:?} {credentials:#?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(debug.contains("<redacted>"));
    assert!(debug.contains("monitor"));
    assert_eq!(
        credentials.password.as_ref().unwrap().expose(),
        "hunter2-very-secret"
    );
    assert_eq!(
        password_from_file_contents("pw\r\n".to_owned()).expose(),
        "pw"
    );
    assert_eq!(
        password_from_file_contents("pw\n\n".to_owned()).expose(),
        "pw\n"
    );
    assert_eq!(password_from_file_contents("pw".to_owned()).expose(), "pw");
}

#[tokio::test]
async fn missing_password_file_names_the_file_only() {
    let credentials = DatabaseCredentials {
        user: None,
        database: None,
        password_file: Some("/nonexistent/unity/redis.pass".into()),
        password_secret: None,
    };
    let error = credentials.load().await.unwrap_err().to_string();
    assert!(error.contains("/nonexistent/unity/redis.pass"), "{error}");
}

#[test]
fn reads_this_hosts_proc() {
    // The test binary itself listens on a port: it must show up, mapped to this process.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let snapshot = super::proc_net::read_snapshot(std::path::Path::new("/proc"));
    let socket = snapshot
        .tcp
        .iter()
        .find(|l| l.port == port)
        .expect("own listener in /proc/net/tcp");
    let me = snapshot
        .processes
        .iter()
        .find(|p| p.pid == std::process::id())
        .expect("own process mapped");
    assert!(me.socket_inodes.contains(&socket.inode));
}

proptest! {
    #[test]
    fn proc_parsers_never_panic(text in ".{0,300}", bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse_proc_net_tcp(&text);
        let _ = parse_proc_net_unix(&text);
        let _ = parse_hex_socket_address(&text);
        let _ = parse_socket_link(&text);
        let _ = parse_cmdline(&bytes);
        let lossy = String::from_utf8_lossy(&bytes);
        let _ = parse_proc_net_tcp(&lossy);
        let _ = parse_proc_net_unix(&lossy);
    }

    #[test]
    fn proc_lines_with_mutations_never_panic(cut in 0usize..400, junk in "[ 0-9A-Fa-f:]{0,40}") {
        for fixture in [PROC_NET_TCP, PROC_NET_TCP6, PROC_NET_UNIX] {
            let cut = cut.min(fixture.len());
            let mut text = fixture.get(..cut).unwrap_or(fixture).to_owned();
            text.push_str(&junk);
            let _ = parse_proc_net_tcp(&text);
            let _ = parse_proc_net_unix(&text);
        }
    }
}
