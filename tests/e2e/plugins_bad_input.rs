//! Issue 22, bad input: the real agent binary (a child process, so its RSS is its own) reads a
//! 500 MB `.prom` file, binary garbage and a file with broken lines, and scrapes an exporter
//! that gives 100,000 series and one that never answers. Each is capped and counted with a
//! clear error naming the file and line; the good textfile still arrives every time; the
//! agent's memory stays bounded across many collections.

use std::io::Write as _;
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use unity_tests::*;

use crate::api::controller_with_admin;
use crate::plugins::{open_dir, write_textfile, Child};

/// The agent binary: the e2e build, or another (the packaged `target/agent/unity-agent`, for
/// BENCHMARKS.md) named by `UNITY_E2E_AGENT_BINARY`.
fn agent_binary() -> String {
    std::env::var("UNITY_E2E_AGENT_BINARY")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_unity-e2e-agent").to_owned())
}

/// Serves `body` as `/metrics` to every connection.
async fn serve(listener: tokio::net::TcpListener, body: std::sync::Arc<Vec<u8>>) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            return;
        };
        let body = body.clone();
        tokio::spawn(async move {
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request).await;
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(&body).await;
        });
    }
}

/// Accepts and reads, and never answers.
async fn hang(listener: tokio::net::TcpListener) {
    let mut held = Vec::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        held.push(stream);
    }
}

/// A deterministic stream of bytes that is not text.
fn garbage(n: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// VmRSS and VmHWM of a process, in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn huge_file(path: &Path) {
    // 500 MB: real lines first, then a hole (sparse, so the test costs no disk).
    let mut file = std::fs::File::create(path).unwrap();
    for n in 0..1000 {
        writeln!(file, "huge_series{{n=\"{n}\"}} {n}").unwrap();
    }
    file.set_len(500 * 1000 * 1000).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_22_bad_input_is_capped_counted_and_the_agent_stays_small() {
    let dir = tempfile::tempdir().unwrap();
    let (controller, password) = controller_with_admin(dir.path()).await;
    let textfiles = open_dir(&dir.path().join("textfile"));
    write_textfile(&textfiles, "good.prom", "backup_ok{job=\"nightly\"} 1\n");
    write_textfile(
        &textfiles,
        "broken.prom",
        "ok_metric 1\nbroken_metric{a=\"unterminated} 1\nanother_ok 2\nno_value_here\n",
    );
    std::fs::write(textfiles.join("garbage.prom"), garbage(1 << 20)).unwrap();
    huge_file(&textfiles.join("huge.prom"));

    // 100,000 series from one exporter, ~4 MB: under the byte cap, over the series cap.
    let mut flood = String::new();
    flood.push_str("# TYPE flood_value gauge\n");
    for n in 0..100_000 {
        flood.push_str(&format!(
            "flood_value{{shard=\"{}\",n=\"{n}\"}} {n}\n",
            n % 16
        ));
    }
    let flood_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let flood_port = flood_listener.local_addr().unwrap().port();
    tokio::spawn(serve(
        flood_listener,
        std::sync::Arc::new(flood.into_bytes()),
    ));
    let hang_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hang_port = hang_listener.local_addr().unwrap().port();
    tokio::spawn(hang(hang_listener));

    let agent_dir = dir.path().join("agent");
    let agent_id = enroll_agent(&controller, &agent_dir).await;
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            r#"data_dir = "{data}"
controller = "{controller}"
interval = "1s"

[storage]
enabled = false

[databases]
discover = false

[containers]
enabled = false

[plugins]
interval = "500ms"
timeout = "1s"
textfile_dirs = ["{textfiles}"]
checks_dir = "{data}/no-checks"

[[plugins.exporters]]
url = "http://127.0.0.1:{flood_port}/metrics"
name = "flood"

[[plugins.exporters]]
url = "http://127.0.0.1:{hang_port}/metrics"
name = "hang"
"#,
            data = agent_dir.display(),
            controller = controller.local_addr,
            textfiles = textfiles.display(),
        ),
    )
    .unwrap();
    #[allow(clippy::disallowed_methods)]
    let agent = Child(
        std::process::Command::new(agent_binary())
            .arg("--config")
            .arg(&config)
            .arg("run")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = agent.0.id();
    let mut admin = logged_in_client(&controller, "ada", &password).await;
    let path = format!("/api/v1/hosts/{agent_id}/plugins");

    let sources = eventually_explained("all six sources", Duration::from_secs(60), || {
        let mut admin = admin.clone();
        let path = path.clone();
        async move {
            let json = admin.get(&path).await.json();
            let sources = json["sources"]["state"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if sources.len() == 6 {
                Ok(sources)
            } else {
                Err(format!("{json}"))
            }
        }
    })
    .await;
    let source = |name: &str| {
        sources
            .iter()
            .find(|s| s["source"] == name)
            .unwrap_or_else(|| panic!("no {name}: {sources:?}"))
            .clone()
    };
    let location = |name: &str| textfiles.join(name).display().to_string();

    let huge = source("textfile/huge.prom");
    assert_eq!(
        huge["failure"], "the file is 500000000 bytes, over the cap of 8388608 bytes; not read",
        "{huge}"
    );
    assert_eq!(huge["n_series"], 0);

    let garbage = source("textfile/garbage.prom");
    assert!(garbage["n_errors"].as_u64().unwrap() > 10, "{garbage}");
    // The first 10 kept, each naming the file and line, then how many more.
    let kept = garbage["errors"].as_array().unwrap();
    assert_eq!(kept.len(), 11, "{garbage}");
    let more = format!(
        "{}: {} more lines with errors",
        location("garbage.prom"),
        garbage["n_errors"].as_u64().unwrap() - 10
    );
    assert_eq!(kept[10], more.as_str());
    let first = kept[0].as_str().unwrap();
    assert!(
        first.starts_with(&format!("{}:1: ", location("garbage.prom"))),
        "names the file and line: {first}"
    );

    let broken = source("textfile/broken.prom");
    assert_eq!(broken["n_series"], 2, "{broken}");
    assert_eq!(broken["n_errors"], 2, "{broken}");
    let errors: Vec<&str> = broken["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(
        errors[0].starts_with(&format!("{}:2: ", location("broken.prom")))
            && errors[1].starts_with(&format!("{}:4: ", location("broken.prom"))),
        "{errors:?}"
    );

    let flood = source("exporter/flood");
    assert_eq!(flood["n_series"], 10_000, "{flood}");
    assert_eq!(flood["n_dropped"], 90_000, "{flood}");
    assert!(flood["failure"].is_null(), "{flood}");

    let hang = source("exporter/hang");
    assert!(
        hang["failure"].as_str().unwrap().contains("within"),
        "{hang}"
    );
    assert_eq!(source("textfile/good.prom")["n_series"], 1);

    // The good textfile keeps arriving while the others misbehave: no source stalls another.
    let series_path = format!("/api/v1/hosts/{agent_id}/query?metric=backup_ok&range=1h");
    let n_points =
        |json: serde_json::Value| json["series"][0]["points"].as_array().map_or(0, Vec::len);
    let before = n_points(admin.get(&series_path).await.json());

    // Memory: once the allocator has settled (10 s, ~20 collections), another 20
    // collections of the same bad input add (almost) nothing.
    let mut rss = Vec::new();
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_secs(2)).await;
        rss.push(memory_kib(pid).0);
    }
    let (_, peak) = memory_kib(pid);
    let after = n_points(admin.get(&series_path).await.json());
    eprintln!(
        "agent RSS every 2 s (KiB): {rss:?}, peak {peak} KiB; backup_ok points {before} -> {after}"
    );
    assert!(
        after >= before + 5,
        "the good textfile stalled: {before} -> {after}"
    );
    let settled = rss[4];
    let last = rss[9];
    assert!(
        last < settled + 8 * 1024,
        "RSS grew from {settled} to {last} KiB over 10 s"
    );
    assert!(peak < 256 * 1024, "peak RSS {peak} KiB");

    // The host page shows what was dropped and why.
    let html = admin.get(&format!("/hosts/{agent_id}")).await.text();
    assert!(html.contains("90000"), "dropped count on the host page");
    assert!(html.contains("over the cap of 8388608 bytes"));
    drop(agent);
    controller.shutdown().await.unwrap();
}
