//! `unity-controller`: wires arguments, configuration and logging to [`unity_controller::cli`].

use clap::Parser;
use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: ingest decodes and frees several small strings per
/// sample, and with 1000 agents glibc's `malloc`/`free`/`malloc_consolidate` took over a third
/// of the controller's CPU. Programs that run the controller in-process (the e2e controller,
/// the load generator, the benchmarks) declare it too, so they measure what ships.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = unity_controller::cli::Args::parse();
    unity_controller::cli::init_tracing();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "Cannot start the async runtime.");
            return ExitCode::from(70);
        }
    };
    runtime.block_on(unity_controller::cli::main(args))
}
