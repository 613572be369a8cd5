//! `unity-quickstart`: wires arguments and logging to [`unity_quickstart::main`].

use clap::Parser;
use std::process::ExitCode;

/// mimalloc, as the packaged controller uses (see `controller/src/main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = unity_quickstart::Args::parse();
    unity_controller::cli::init_tracing();
    match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime.block_on(unity_quickstart::main(args)),
        Err(error) => {
            tracing::error!(%error, "Cannot start the async runtime.");
            ExitCode::from(70)
        }
    }
}
