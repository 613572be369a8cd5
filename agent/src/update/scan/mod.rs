//! Optional vulnerability scans of container images with Trivy or Grype (issue 17 §2; see
//! `docs/updates.md`, "Vulnerability gate"). Like smartctl, the scanners are optional tools:
//! with `[updates] vulnerability_scan = "auto"` the agent uses `trivy` (or else `grype`) when
//! it is on its `PATH`, runs it through [`crate::exec::run_limited`] (its own process group,
//! killed whole at the timeout; output capped), and keeps a summary per image id in
//! `<data_dir>/image-scans.json` ([`cache`]).
//!
//! Leaves: [`trivy`] and [`grype`] (pure parsers), [`parsed`] (what both give). [`gate`] is
//! the check an update makes before it applies a candidate.

pub mod cache;
pub mod gate;
pub mod grype;
pub mod parsed;
pub mod trivy;

#[cfg(test)]
mod tests;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use unity_shared::model::scan::{ImageScan, Scanner, ScannerState};

use crate::clock;
use crate::exec::{self, CommandSpec, Limits};

/// `[updates] vulnerability_scan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScanMode {
    /// Use a scanner when one is installed (the default).
    #[default]
    Auto,
    /// Never scan.
    Off,
}

/// How images are scanned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanSettings {
    pub mode: ScanMode,
    /// One scan may take this long; then the scanner's process group is killed.
    pub timeout: Duration,
    /// A scan newer than this is taken from the cache (the databases change daily).
    pub max_age: Duration,
    /// Output past this many bytes fails the scan.
    pub max_output_bytes: usize,
    /// Where the programs are looked for; `None`: the agent's `PATH` (tests give a directory).
    pub search_path: Option<OsString>,
    /// The cache file (`<data_dir>/image-scans.json`).
    pub cache_file: PathBuf,
}

impl ScanSettings {
    /// The defaults for an agent whose data lives in `data_dir`: auto, 10 minutes per scan
    /// (Trivy's first run downloads its database), rescanned after a day, 32 MiB of output.
    pub fn defaults(data_dir: &Path) -> ScanSettings {
        ScanSettings {
            mode: ScanMode::Auto,
            timeout: Duration::from_secs(600),
            max_age: Duration::from_secs(24 * 3600),
            max_output_bytes: 32 << 20,
            search_path: None,
            cache_file: data_dir.join("image-scans.json"),
        }
    }

    /// Scanning switched off (operations built without a configuration: tests).
    pub fn off(data_dir: &Path) -> ScanSettings {
        ScanSettings {
            mode: ScanMode::Off,
            ..ScanSettings::defaults(data_dir)
        }
    }
}

/// Why a scan gave no summary.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// No scanner, or scanning is off.
    #[error("no vulnerability scanner")]
    NoScanner,
    /// The scanner could not run or did not finish.
    #[error(transparent)]
    Exec(#[from] exec::ExecError),
    /// It exited non-zero.
    #[error("{program} exited with {status}: {stderr}")]
    Exit {
        program: &'static str,
        status: String,
        stderr: String,
    },
    /// Its output was cut at the cap.
    #[error("{program} wrote more than {cap} bytes")]
    TooLarge { program: &'static str, cap: usize },
    /// Its output is not a report.
    #[error("{program}: {source}")]
    Parse {
        program: &'static str,
        #[source]
        source: parsed::ParseError,
    },
}

/// The scanner this host uses: none when off, Trivy when both are installed.
pub fn scanner_state(settings: &ScanSettings) -> ScannerState {
    if settings.mode == ScanMode::Off {
        return ScannerState::Off;
    }
    [Scanner::Trivy, Scanner::Grype]
        .into_iter()
        .find(|scanner| locate(settings, scanner.program()).is_some())
        .map_or(ScannerState::NotInstalled, ScannerState::Available)
}

/// The program's path on the search path, when it is an executable file there.
fn locate(settings: &ScanSettings, program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    let path = settings
        .search_path
        .clone()
        .or_else(|| std::env::var_os("PATH"))?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        })
}

/// The command line for one scan of `reference`.
pub fn command(scanner: Scanner, program: PathBuf, reference: &str) -> CommandSpec {
    let args: &[&str] = match scanner {
        Scanner::Trivy => &[
            "image",
            "--format",
            "json",
            "--scanners",
            "vuln",
            "--quiet",
            reference,
        ],
        Scanner::Grype => &["-o", "json", "-q", reference],
    };
    CommandSpec::new(program, args)
}

/// Scans one image now (no cache): `reference` is what the scanner is given (a repo digest or
/// the image id), `image_id` what the summary is keyed by.
pub async fn scan_now(
    settings: &ScanSettings,
    image_id: &str,
    repo_digests: &[String],
    reference: &str,
) -> Result<ImageScan, ScanError> {
    let ScannerState::Available(scanner) = scanner_state(settings) else {
        return Err(ScanError::NoScanner);
    };
    let program = locate(settings, scanner.program()).ok_or(ScanError::NoScanner)?;
    // Their databases live beside the cache: under the packaged unit the home directory is
    // read-only (ProtectHome, ProtectSystem=strict) and the data directory is writable.
    let databases = settings
        .cache_file
        .parent()
        .map(|dir| dir.join("scanner-databases"))
        .unwrap_or_default();
    let spec = command(scanner, program, reference)
        .env(
            "TRIVY_CACHE_DIR",
            &databases.join("trivy").to_string_lossy(),
        )
        .env(
            "GRYPE_DB_CACHE_DIR",
            &databases.join("grype").to_string_lossy(),
        );
    let limits = Limits {
        timeout: settings.timeout,
        max_stdout: settings.max_output_bytes,
        max_stderr: 16 << 10,
    };
    let output = exec::run_limited(&spec, &limits).await?;
    let name = scanner.program();
    if output.exit_code != Some(0) {
        let status = match (output.exit_code, output.signal) {
            (Some(code), _) => format!("status {code}"),
            (None, Some(signal)) => format!("signal {signal}"),
            (None, None) => "an unknown status".to_owned(),
        };
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: String = stderr.trim().chars().rev().take(300).collect();
        return Err(ScanError::Exit {
            program: name,
            status,
            stderr: tail.chars().rev().collect(),
        });
    }
    if output.stdout_truncated {
        return Err(ScanError::TooLarge {
            program: name,
            cap: settings.max_output_bytes,
        });
    }
    let parsed = match scanner {
        Scanner::Trivy => trivy::parse(&output.stdout),
        Scanner::Grype => grype::parse(&output.stdout),
    }
    .map_err(|source| ScanError::Parse {
        program: name,
        source,
    })?;
    let mut scan = ImageScan::from_findings(
        scanner,
        image_id.to_owned(),
        clock::now_ms(),
        parsed.findings,
    );
    scan.scanner_version = parsed.version;
    scan.repo_digests = repo_digests.to_vec();
    Ok(scan)
}

/// The summary of `image_id`: from the cache when it is younger than `max_age`, else scanned
/// now and cached (a failure is cached too, so the controller sees why).
pub async fn scan(
    settings: &ScanSettings,
    image_id: &str,
    repo_digests: &[String],
    reference: &str,
) -> Result<ImageScan, ScanError> {
    let now = clock::now_ms();
    let max_age = i64::try_from(settings.max_age.as_millis()).unwrap_or(i64::MAX);
    if let Some(cached) = cache::load(&settings.cache_file).fresh(image_id, now, max_age) {
        return Ok(cached);
    }
    let scanned = scan_now(settings, image_id, repo_digests, reference).await;
    let mut stored = cache::load(&settings.cache_file);
    match &scanned {
        Ok(scan) => stored.put(scan.clone()),
        Err(ScanError::NoScanner) => return scanned,
        Err(error) => stored.fail(image_id, now, error.to_string()),
    }
    if let Err(error) = cache::save(&settings.cache_file, &stored) {
        tracing::warn!(%error, "Cannot keep the image scan cache.");
    }
    scanned
}
