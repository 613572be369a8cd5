//! `unity-controller`: wires arguments, configuration and logging to [`unity_controller::cli`].

use clap::Parser;
use std::process::ExitCode;

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
