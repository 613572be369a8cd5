//! `unity-agent`: wires arguments, configuration and logging to [`unity_agent::cli`].

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = unity_agent::cli::Args::parse();
    unity_agent::cli::init_tracing();
    // Two worker threads are plenty for the agent and keep its footprint small.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(4)
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
