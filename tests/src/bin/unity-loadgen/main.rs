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

mod footprint;
mod ingest;

use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};

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

pub(crate) fn sibling_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().join(name)
}

pub(crate) fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|line| line.starts_with(field))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0)
}

/// utime + stime of a process, in seconds.
pub(crate) fn cpu_seconds(pid: u32) -> f64 {
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

pub(crate) fn dir_size(path: &Path) -> u64 {
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
                ingest::run(
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
                footprint::run(
                    humantime::parse_duration(&interval)?,
                    humantime::parse_duration(&duration)?,
                    agent.unwrap_or_else(footprint::packaged_agent_binary),
                )
                .await
            }
        }
    })
}
