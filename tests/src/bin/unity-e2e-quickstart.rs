//! The quickstart binary, built inside the e2e package so tests can run it as a real process
//! through `CARGO_BIN_EXE_unity-e2e-quickstart`.

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
        Err(_) => ExitCode::from(70),
    }
}
