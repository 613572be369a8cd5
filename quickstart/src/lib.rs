//! Unity on one machine in one command: a controller and an enrolled local agent in one
//! process, all data under one directory, the dashboard URL and a first login printed.
//!
//! A crate of its own so that neither daemon carries the other: the packaged controller has no
//! agent inside, and the packaged agent no controller. Run it from a source checkout with
//! `cargo run --release -p unity-quickstart`.

#![allow(clippy::print_stderr)] // Errors go to stderr; output goes through `outln!`.

mod run;

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use unity_controller::config::{RawConfig, DEFAULT_CONFIG_PATH};

pub use run::{config, run, DEFAULT_LISTEN};

/// Exit code for a configuration that cannot be used (as the controller's).
const EXIT_CONFIG: u8 = 64;

#[derive(Debug, Parser)]
#[command(
    name = "unity-quickstart",
    version,
    about = "Unity on one machine: a controller and an enrolled local agent in one process",
    long_about = "Unity on one machine: a controller and an enrolled local agent in one process, for \
trying Unity out. Prints the dashboard URL and a first admin login. Data goes under --dir; the \
controller's configuration file applies as for `unity-controller run` (dashboard address, TLS, \
metrics token, alerts), except its data_dir."
)]
pub struct Args {
    /// The controller's configuration file (TOML). Missing is fine at the default path.
    #[arg(short, long, env = "UNITY_CONTROLLER_CONFIG", default_value = DEFAULT_CONFIG_PATH)]
    pub config: PathBuf,
    /// Where to keep the quickstart's data (controller/ and agent/ inside).
    #[arg(long, default_value = "unity-quickstart")]
    pub dir: PathBuf,
    /// UDP address for the controller; default the file's `listen`, else 127.0.0.1:7443.
    #[arg(long)]
    pub listen: Option<String>,
    /// Collection interval of the local agent.
    #[arg(long, default_value = "5s")]
    pub interval: String,
}

/// Runs the quickstart until Ctrl-C; the result is the process exit code.
pub async fn main(args: Args) -> ExitCode {
    let required = args.config.as_path() != std::path::Path::new(DEFAULT_CONFIG_PATH);
    let config = RawConfig::load(&args.config, required)
        .map_err(anyhow::Error::from)
        .and_then(|raw| Ok(config(raw, &args.dir, args.listen.as_deref())?));
    let config = match config {
        Ok(config) => config,
        Err(error) => {
            eprintln!("unity-quickstart: configuration error: {error:#}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    match run(config, args.dir, &args.interval).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("unity-quickstart: {error:#}");
            ExitCode::FAILURE
        }
    }
}
