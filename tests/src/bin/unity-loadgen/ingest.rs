//! `unity-loadgen ingest`: simulated agents over real QUIC against a controller process.

use anyhow::Context as _;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use unity_agent::identity::Identity;
use unity_shared::proto::{
    AgentMessage, ControllerMessage, Hello, HostFacts, Report, Sample, PROTOCOL_VERSION,
};
use unity_tests::{free_udp_address, ControllerProcess};

use crate::{cpu_seconds, dir_size, proc_status_kib, sibling_binary};

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

pub(crate) async fn enroll_in_memory(
    process: &ControllerProcess,
    ca_hash: &str,
    host: usize,
) -> Identity {
    let token = process.create_token(Duration::from_secs(600)).await;
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

pub(crate) struct Totals {
    samples_acked: AtomicU64,
    latencies: std::sync::Mutex<Vec<Duration>>,
}

/// What each simulated agent sends.
#[derive(Clone, Copy)]
pub(crate) struct LoadShape {
    duration: Duration,
    series: usize,
    scrapes_per_report: usize,
    window: usize,
}

/// One simulated agent: hello, then reports as fast as the window allows until `deadline`.
pub(crate) async fn simulated_agent(
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
        instance_id: unity_shared::proto::InstanceId::from_bytes([1; 16]),
        install: unity_shared::proto::InstallKind::File,
    });
    unity_shared::wire::write(
        &mut send,
        &hello,
        unity_shared::proto::frame::DEFAULT_MAX_FRAME_LEN,
    )
    .await?;
    let welcome: Option<ControllerMessage> =
        unity_shared::wire::read(&mut recv, unity_shared::proto::frame::DEFAULT_MAX_FRAME_LEN)
            .await?;
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
        while let Ok(Some(message)) = unity_shared::wire::read::<ControllerMessage>(
            &mut recv,
            unity_shared::proto::frame::DEFAULT_MAX_FRAME_LEN,
        )
        .await
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
            plugin_series: None,
            plugin_sources: None,
            checks: None,
            certificates: None,
            image_scans: None,
            service_checks: None,
        });
        sent_at
            .lock()
            .unwrap()
            .insert(seq, (Instant::now(), n_samples));
        unity_shared::wire::write(
            &mut send,
            &report,
            unity_shared::proto::frame::DEFAULT_MAX_FRAME_LEN,
        )
        .await?;
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

pub(crate) async fn run(
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
