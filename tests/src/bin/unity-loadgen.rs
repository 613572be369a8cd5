//! Load generator and footprint benchmarks, printing their figures (see BENCHMARKS.md).
//!
//! `unity-loadgen ingest --agents N`: simulates N agents over real QUIC (each enrolled with its
//! own certificate) against a controller child process; prints samples/s durably ingested, ack
//! latency p50/p99, controller RSS and bytes on disk per stored sample.
//!
//! `unity-loadgen agent-footprint`: runs the real `unity-agent` daemon and Debian's
//! `prometheus-node-exporter` side by side at the same interval; prints RSS and CPU time per
//! collection cycle of each.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::unwrap_used,
    clippy::expect_used
)]
#![allow(clippy::disallowed_methods)] // A benchmark driver spawns the processes it measures.

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use unity_agent::identity::Identity;
use unity_controller::admin::{AdminRequest, AdminResponse};
use unity_shared::proto::{
    AgentMessage, ControllerMessage, Hello, HostFacts, Report, Sample, PROTOCOL_VERSION,
};
use unity_tests::{free_tcp_port, free_udp_address, ControllerProcess};

#[derive(Parser)]
#[command(about = "Unity load generator and footprint benchmarks")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Simulated agents over real QUIC against a controller process.
    Ingest {
        /// Number of simulated agents.
        #[arg(long, default_value_t = 10)]
        agents: usize,
        /// Series per agent (node_exporter-like host: 300).
        #[arg(long, default_value_t = 300)]
        series: usize,
        /// Scrapes carried per report (1 = live; more = replay of a backlog).
        #[arg(long, default_value_t = 1)]
        scrapes_per_report: usize,
        /// Unacknowledged reports per agent, at most.
        #[arg(long, default_value_t = 64)]
        window: usize,
        /// How long to send.
        #[arg(long, default_value = "20s")]
        duration: String,
    },
    /// Agent idle RSS and CPU per cycle next to prometheus-node-exporter.
    AgentFootprint {
        /// Collection / scrape interval.
        #[arg(long, default_value = "15s")]
        interval: String,
        /// How long to observe.
        #[arg(long, default_value = "3m")]
        duration: String,
        /// The agent binary to measure [default: target/agent/unity-agent, the packaged build
        /// from `cargo build --profile agent -p unity-agent`].
        #[arg(long)]
        agent: Option<PathBuf>,
    },
}

fn sibling_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().join(name)
}

fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|line| line.starts_with(field))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0)
}

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + fields
            .get(12)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0);
    ticks / 100.0
}

fn dir_size(path: &Path) -> u64 {
    let mut total = 0;
    if let Ok(entries) = std::fs::read_dir(path) {
        for entry in entries.flatten() {
            let meta = match entry.metadata() {
                Ok(meta) => meta,
                Err(_) => continue,
            };
            total += if meta.is_dir() {
                dir_size(&entry.path())
            } else {
                meta.len()
            };
        }
    }
    total
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

async fn enroll_in_memory(process: &ControllerProcess, ca_hash: &str, host: usize) -> Identity {
    let token = match process
        .call(AdminRequest::CreateToken { ttl_secs: 600 })
        .await
    {
        AdminResponse::Token(token) => token.token,
        other => panic!("{other:?}"),
    };
    let facts = HostFacts {
        hostname: format!("load-{host}"),
        ..HostFacts::default()
    };
    let address = process.address.to_string();
    let (enrolled, key) = unity_agent::transport::enroll(&address, &token, ca_hash, facts)
        .await
        .expect("enrollment");
    Identity {
        agent_id: enrolled.agent_id,
        controller: address,
        ca_der: enrolled.ca_certificate_der.into(),
        certificate_der: enrolled.certificate_der.into(),
        key_der: key.serialize_der(),
    }
}

struct Totals {
    samples_acked: AtomicU64,
    latencies: std::sync::Mutex<Vec<Duration>>,
}

/// What each simulated agent sends.
#[derive(Clone, Copy)]
struct LoadShape {
    duration: Duration,
    series: usize,
    scrapes_per_report: usize,
    window: usize,
}

/// One simulated agent: hello, then reports as fast as the window allows until `deadline`.
async fn simulated_agent(
    endpoint: quinn::Endpoint,
    identity: Identity,
    address: std::net::SocketAddr,
    shape: LoadShape,
    totals: Arc<Totals>,
    handshakes: Arc<tokio::sync::Semaphore>,
    start: Arc<tokio::sync::Barrier>,
) -> anyhow::Result<()> {
    let LoadShape {
        duration,
        series,
        scrapes_per_report,
        window,
    } = shape;
    let config = unity_agent::transport::client_config(&identity)?;
    let connection = {
        // A thousand agents do not all shake hands in the same instant in real life either.
        let _permit = handshakes.acquire().await?;
        unity_agent::transport::connect(&endpoint, config, address).await?
    };
    let (mut send, mut recv) = connection.open_bi().await?;
    let hello = AgentMessage::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        agent_version: "loadgen".into(),
        host: HostFacts::default(),
        capabilities: vec![],
    });
    unity_agent::wire::write(&mut send, &hello, 1 << 24).await?;
    let welcome: Option<ControllerMessage> = unity_agent::wire::read(&mut recv, 1 << 24).await?;
    anyhow::ensure!(
        matches!(welcome, Some(ControllerMessage::Welcome(_))),
        "no welcome"
    );

    let names: Vec<(String, Vec<(String, String)>)> = (0..series)
        .map(|i| {
            let metric = format!("node_metric_{}", i % 40);
            let labels = vec![("instance".to_owned(), format!("{}", i / 40))];
            (metric, labels)
        })
        .collect();
    let sent_at: Arc<std::sync::Mutex<HashMap<u64, (Instant, usize)>>> = Arc::default();
    let (permits_tx, mut permits) = tokio::sync::mpsc::channel::<()>(window);
    for _ in 0..window {
        permits_tx.send(()).await?;
    }
    let reader_sent = sent_at.clone();
    let reader_totals = totals.clone();
    let reader = tokio::spawn(async move {
        while let Ok(Some(message)) =
            unity_agent::wire::read::<ControllerMessage>(&mut recv, 1 << 24).await
        {
            if let ControllerMessage::Ack(ack) = message {
                let entry = reader_sent.lock().unwrap().remove(&ack.seq);
                if let Some((at, n_samples)) = entry {
                    reader_totals.latencies.lock().unwrap().push(at.elapsed());
                    reader_totals
                        .samples_acked
                        .fetch_add(n_samples as u64, Ordering::Relaxed);
                }
                if permits_tx.send(()).await.is_err() {
                    break;
                }
            }
        }
    });
    let start_ms: i64 = 1_704_067_200_000;
    let mut values: Vec<f64> = (0..series).map(|i| (i * 37 % 1000) as f64).collect();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15 ^ identity.agent_id.as_str().len() as u64;
    let mut seq = 0u64;
    let mut scrape = 0i64;
    // Every agent is connected before anyone sends: measure ingest, not handshakes.
    start.wait().await;
    let deadline = Instant::now() + duration;
    while Instant::now() < deadline {
        if permits.recv().await.is_none() {
            break;
        }
        seq += 1;
        let mut samples = Vec::with_capacity(series * scrapes_per_report);
        for _ in 0..scrapes_per_report {
            let timestamp_ms = start_ms + scrape * 15_000;
            scrape += 1;
            for (i, (metric, labels)) in names.iter().enumerate() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                // Counters creep up in whole units, gauges wander with two decimals.
                values[i] += if i % 3 == 0 {
                    (state % 100) as f64
                } else {
                    ((state % 21) as f64 - 10.0) / 100.0
                };
                samples.push(Sample {
                    metric: metric.clone(),
                    labels: labels.clone(),
                    timestamp_ms,
                    value: (values[i] * 100.0).round() / 100.0,
                });
            }
        }
        let n_samples = samples.len();
        let report = AgentMessage::Report(Report {
            seq,
            collected_at_ms: start_ms + scrape * 15_000,
            samples,
            dropped_reports: 0,
            storage: None,
            databases: None,
            containers: None,
        });
        sent_at
            .lock()
            .unwrap()
            .insert(seq, (Instant::now(), n_samples));
        unity_agent::wire::write(&mut send, &report, 1 << 24).await?;
    }
    // Wait for the outstanding acks.
    let drain = Instant::now() + Duration::from_secs(30);
    while !sent_at.lock().unwrap().is_empty() && Instant::now() < drain {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    reader.abort();
    connection.close(0u32.into(), b"done");
    Ok(())
}

async fn ingest(
    agents: usize,
    series: usize,
    scrapes_per_report: usize,
    window: usize,
    duration: Duration,
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let controller_dir = dir.path().join("controller");
    let address = free_udp_address();
    let binary = sibling_binary("unity-e2e-controller");
    anyhow::ensure!(
        binary.exists(),
        "{} missing: cargo build --release -p unity-tests --bins",
        binary.display()
    );
    let mut process = ControllerProcess::start(&binary, &controller_dir, address).await;
    let ca_hash = unity_tests::ca_hash_of(&controller_dir);
    let pid = process.child.id();
    let mut identities = Vec::with_capacity(agents);
    for host in 0..agents {
        identities.push(enroll_in_memory(&process, &ca_hash, host).await);
    }
    let rss_idle = proc_status_kib(pid, "VmRSS:");
    // Real agents each have their own UDP socket; one client endpoint per 25 simulated agents
    // spreads the datagram work over the runtime's threads instead of one endpoint driver.
    let endpoints = (0..agents.div_ceil(25))
        .map(|_| unity_agent::transport::client_endpoint(address))
        .collect::<Result<Vec<_>, _>>()?;
    let totals = Arc::new(Totals {
        samples_acked: AtomicU64::new(0),
        latencies: std::sync::Mutex::new(Vec::new()),
    });
    let handshakes = Arc::new(tokio::sync::Semaphore::new(32));
    let start = Arc::new(tokio::sync::Barrier::new(agents + 1));
    let mut tasks = Vec::new();
    for (index, identity) in identities.into_iter().enumerate() {
        tasks.push(tokio::spawn(simulated_agent(
            endpoints[index / 25].clone(),
            identity,
            address,
            LoadShape {
                duration,
                series,
                scrapes_per_report,
                window,
            },
            totals.clone(),
            handshakes.clone(),
            start.clone(),
        )));
    }
    start.wait().await;
    let started = Instant::now();
    let deadline = started + duration;
    let mut peak_rss = 0;
    while Instant::now() < deadline {
        peak_rss = peak_rss.max(proc_status_kib(pid, "VmRSS:"));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let acked_while_sending = totals.samples_acked.load(Ordering::Relaxed);
    for task in tasks {
        task.await?.context("simulated agent")?;
    }
    let elapsed = started.elapsed();
    let acked = totals.samples_acked.load(Ordering::Relaxed);
    let mut latencies = std::mem::take(&mut *totals.latencies.lock().unwrap());
    latencies.sort();
    let hwm = proc_status_kib(pid, "VmHWM:");
    let cpu = cpu_seconds(pid);
    // Graceful stop: the controller checkpoints, so the WAL is folded into chunks.
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()?;
    let _ = process.child.wait();
    let sled_bytes = dir_size(&controller_dir.join("db"));
    let wal_bytes = dir_size(&controller_dir.join("db-wal"));
    let chunk_bytes = dir_size(&controller_dir.join("db-chunks"));
    let bytes = sled_bytes + wal_bytes + chunk_bytes;
    println!("agents                 {agents}");
    println!("series per agent       {series}");
    println!("scrapes per report     {scrapes_per_report}");
    println!("duration               {:.1} s", elapsed.as_secs_f64());
    println!("samples acknowledged   {acked}");
    println!(
        "samples/s durable      {:.0}",
        acked as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  while sending        {:.0} (acked in the first {:.0} s; the rest is the drain)",
        acked_while_sending as f64 / duration.as_secs_f64(),
        duration.as_secs_f64()
    );
    println!("reports acknowledged   {}", latencies.len());
    println!(
        "ack latency p50        {:.2} ms",
        percentile(&latencies, 0.50).as_secs_f64() * 1000.0
    );
    println!(
        "ack latency p99        {:.2} ms",
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0
    );
    println!("controller RSS idle    {:.1} MiB", rss_idle as f64 / 1024.0);
    println!(
        "controller RSS peak    {:.1} MiB (VmHWM {:.1} MiB)",
        peak_rss as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
    println!("controller CPU         {cpu:.1} s");
    println!(
        "bytes on disk          {bytes} (sled {sled_bytes}, WAL {wal_bytes}, chunk files {chunk_bytes})"
    );
    println!(
        "bytes/sample on disk   {:.3}",
        bytes as f64 / acked.max(1) as f64
    );
    Ok(())
}

/// A raw HTTP GET, enough to scrape node_exporter.
fn http_get(address: &str, path: &str) -> usize {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(address) else {
        return 0;
    };
    let request = format!("GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n");
    let _ = stream.write_all(request.as_bytes());
    let mut body = Vec::new();
    let _ = stream.read_to_end(&mut body);
    body.len()
}

/// `target/agent/unity-agent` beside this binary's `target/release/`: the size-built agent that
/// packages ship.
fn packaged_agent_binary() -> PathBuf {
    let release = sibling_binary("unity-agent");
    release
        .parent()
        .and_then(Path::parent)
        .map(|target| target.join("agent").join("unity-agent"))
        .unwrap_or(release)
}

async fn agent_footprint(
    interval: Duration,
    duration: Duration,
    agent_bin: PathBuf,
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let controller_dir = dir.path().join("controller");
    let address = free_udp_address();
    let process = ControllerProcess::start(
        &sibling_binary("unity-e2e-controller"),
        &controller_dir,
        address,
    )
    .await;
    let ca_hash = unity_tests::ca_hash_of(&controller_dir);
    let token = match process
        .call(AdminRequest::CreateToken { ttl_secs: 600 })
        .await
    {
        AdminResponse::Token(token) => token.token,
        other => panic!("{other:?}"),
    };
    anyhow::ensure!(
        agent_bin.exists(),
        "{} missing: cargo build --profile agent -p unity-agent",
        agent_bin.display()
    );
    let agent_dir = dir.path().join("agent");
    let status = std::process::Command::new(&agent_bin)
        .args(["--config", "/dev/null", "--data-dir"])
        .arg(&agent_dir)
        .args([
            "enroll",
            "--controller",
            &address.to_string(),
            "--token",
            &token,
            "--ca-hash",
            &ca_hash,
        ])
        .status()?;
    anyhow::ensure!(status.success(), "agent enrollment failed");
    let mut agent = std::process::Command::new(&agent_bin)
        .args(["--config", "/dev/null", "--data-dir"])
        .arg(&agent_dir)
        .args([
            "run",
            "--interval",
            &humantime::format_duration(interval).to_string(),
        ])
        .env("UNITY_LOG", "warn")
        .spawn()?;
    let exporter_address = format!("127.0.0.1:{}", free_tcp_port());
    let exporter = std::process::Command::new("prometheus-node-exporter")
        .arg(format!("--web.listen-address={exporter_address}"))
        .stderr(std::process::Stdio::null())
        .spawn();
    let mut exporter = match exporter {
        Ok(child) => Some(child),
        Err(error) => {
            eprintln!("prometheus-node-exporter not available ({error}); apt-get install prometheus-node-exporter");
            None
        }
    };
    let agent_pid = agent.id();
    let exporter_pid = exporter.as_ref().map(|child| child.id());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let agent_cpu_start = cpu_seconds(agent_pid);
    let exporter_cpu_start = exporter_pid.map(cpu_seconds).unwrap_or(0.0);
    let started = Instant::now();
    let mut cycles = 0u32;
    let mut scrape_bytes = 0;
    let (mut agent_rss_max, mut exporter_rss_max) = (0, 0);
    while started.elapsed() < duration {
        if exporter_pid.is_some() {
            let address = exporter_address.clone();
            scrape_bytes =
                tokio::task::spawn_blocking(move || http_get(&address, "/metrics")).await?;
        }
        cycles += 1;
        let until = Instant::now() + interval;
        while Instant::now() < until {
            agent_rss_max = agent_rss_max.max(proc_status_kib(agent_pid, "VmRSS:"));
            if let Some(pid) = exporter_pid {
                exporter_rss_max = exporter_rss_max.max(proc_status_kib(pid, "VmRSS:"));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    let agent_cpu = cpu_seconds(agent_pid) - agent_cpu_start;
    let exporter_cpu = exporter_pid.map(cpu_seconds).unwrap_or(0.0) - exporter_cpu_start;
    let agent_rss = proc_status_kib(agent_pid, "VmRSS:");
    let agent_rss_anon = proc_status_kib(agent_pid, "RssAnon:");
    let agent_rss_file = proc_status_kib(agent_pid, "RssFile:");
    let exporter_rss = exporter_pid
        .map(|pid| proc_status_kib(pid, "VmRSS:"))
        .unwrap_or(0);
    let _ = agent.kill();
    if let Some(exporter) = exporter.as_mut() {
        let _ = exporter.kill();
    }
    drop(process);
    println!(
        "interval                       {}",
        humantime::format_duration(interval)
    );
    println!(
        "observed                       {:.0} s, {cycles} cycles",
        started.elapsed().as_secs_f64()
    );
    println!(
        "unity-agent RSS end / max      {:.1} / {:.1} MiB",
        agent_rss as f64 / 1024.0,
        agent_rss_max as f64 / 1024.0
    );
    println!(
        "unity-agent RSS heap / code    {:.1} / {:.1} MiB (RssAnon / RssFile at the end)",
        agent_rss_anon as f64 / 1024.0,
        agent_rss_file as f64 / 1024.0
    );
    println!(
        "unity-agent CPU per cycle      {:.1} ms",
        agent_cpu * 1000.0 / f64::from(cycles.max(1))
    );
    println!(
        "unity-agent binary             {:.1} MiB",
        std::fs::metadata(&agent_bin)?.len() as f64 / 1048576.0
    );
    if exporter_pid.is_some() {
        println!(
            "node_exporter RSS end / max    {:.1} / {:.1} MiB",
            exporter_rss as f64 / 1024.0,
            exporter_rss_max as f64 / 1024.0
        );
        println!(
            "node_exporter CPU per scrape   {:.1} ms",
            exporter_cpu * 1000.0 / f64::from(cycles.max(1))
        );
        println!("node_exporter scrape size      {scrape_bytes} bytes");
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match args.command {
            Command::Ingest {
                agents,
                series,
                scrapes_per_report,
                window,
                duration,
            } => {
                ingest(
                    agents,
                    series,
                    scrapes_per_report,
                    window,
                    humantime::parse_duration(&duration)?,
                )
                .await
            }
            Command::AgentFootprint {
                interval,
                duration,
                agent,
            } => {
                agent_footprint(
                    humantime::parse_duration(&interval)?,
                    humantime::parse_duration(&duration)?,
                    agent.unwrap_or_else(packaged_agent_binary),
                )
                .await
            }
        }
    })
}
