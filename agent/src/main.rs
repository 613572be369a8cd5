//! `unity-agent`: wires arguments, configuration and logging to [`unity_agent::cli`].

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = unity_agent::cli::Args::parse();
    unity_agent::cli::init_tracing();
    // One thread drives all I/O; blocking reads (sysinfo, spool files) get a small pool. This
    // keeps the agent's memory footprint small on a Raspberry Pi.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .max_blocking_threads(2)
        .thread_keep_alive(std::time::Duration::from_secs(10))
        .enable_all()
        .build();
    match runtime {
        Ok(runtime) => runtime.block_on(unity_agent::cli::main(args)),
        Err(error) => {
            tracing::error!(%error, "Cannot start the async runtime.");
            ExitCode::from(70)
        }
    }
}
