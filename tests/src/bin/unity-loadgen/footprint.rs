//! `unity-loadgen agent-footprint`: the agent daemon next to prometheus-node-exporter.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use unity_tests::http::HttpClient;
use unity_tests::{free_port, free_udp_address, ControllerProcess};

use crate::{cpu_seconds, proc_status_kib, sibling_binary};

/// `target/agent/unity-agent` beside this binary's `target/release/`: the size-built agent that
/// packages ship.
pub(crate) fn packaged_agent_binary() -> PathBuf {
    let release = sibling_binary("unity-agent");
    release
        .parent()
        .and_then(Path::parent)
        .map(|target| target.join("agent").join("unity-agent"))
        .unwrap_or(release)
}

pub(crate) async fn run(
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
    let token = process.create_token(Duration::from_secs(600)).await;
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
    let exporter_address = SocketAddr::from(([127, 0, 0, 1], free_port()));
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
            // The body of one scrape (0 while the exporter is not listening yet).
            scrape_bytes = HttpClient::new(exporter_address)
                .request("GET", "/metrics", &[], None)
                .await
                .map_or(0, |response| response.body.len());
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
