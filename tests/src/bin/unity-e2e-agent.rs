//! The agent binary, built inside the e2e package so tests can run the real CLI through
//! `CARGO_BIN_EXE_unity-e2e-agent`.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = unity_agent::cli::Args::parse();
    unity_agent::cli::init_tracing();
    match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime.block_on(unity_agent::cli::main(args)),
        Err(_) => ExitCode::from(70),
    }
}
