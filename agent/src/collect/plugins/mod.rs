//! Plugins: the measurements a host already makes, taken as they are. Three sources:
//!
//! - **textfiles** ([`textfile`]): `*.prom` files in node_exporter's textfile directories,
//!   read at every collection;
//! - **exporters** ([`scrape`], [`exporters`]): Prometheus exporters on this host, scraped over
//!   loopback HTTP (configured, or found listening on a well-known port when discovery is on);
//! - **checks** ([`checks`]): executables in the checks directory, run on their own interval as
//!   an unprivileged user; exit code 0 to 3 is ok, warning, critical, unknown.
//!
//! The pure core: the exposition parser ([`parse`]), the caps ([`limits`]), the batch with
//! every string once ([`batch`]), one source into the batch ([`samples`]), a check's run into
//! its result ([`check_result`]), the HTTP bits ([`http`]) and the exporter list
//! ([`exporters`]). The shells ([`textfile`], [`scrape`], [`checks`], [`run`]) do the I/O.
//! Every series keeps its name and labels and gets `source="<kind>/<name>"`.

pub mod batch;
pub mod check_result;
pub mod checks;
pub mod exporters;
pub mod http;
pub mod limits;
pub mod parse;
pub mod run;
pub mod samples;
pub mod scrape;
pub mod textfile;

#[cfg(test)]
mod tests_parse;

use std::path::PathBuf;
use std::time::Duration;

pub use limits::Caps;

/// The default textfile directories: the agent's own, and node_exporter's Debian default.
pub const DEFAULT_TEXTFILE_DIRS: &[&str] = &[
    "/var/lib/unity-agent/textfile",
    "/var/lib/prometheus/node-exporter",
];

pub const DEFAULT_CHECKS_DIR: &str = "/etc/unity/checks.d";

/// The user checks run as unless configured otherwise.
pub const DEFAULT_CHECK_USER: &str = "nobody";

/// Typed `[plugins]` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginsConfig {
    pub enabled: bool,
    /// How often textfiles are read and exporters scraped.
    pub interval: Duration,
    /// The longest one exporter scrape may take.
    pub timeout: Duration,
    pub textfile_dirs: Vec<PathBuf>,
    pub exporters: Vec<exporters::Target>,
    /// Also scrape exporters found listening on well-known ports.
    pub discover_exporters: bool,
    pub checks_dir: PathBuf,
    pub checks_interval: Duration,
    pub checks_timeout: Duration,
    /// The user checks run as; `None` for the agent's own.
    pub check_user: Option<String>,
    pub max_concurrent_checks: usize,
    pub caps: Caps,
    /// Where users are looked up (tests point elsewhere).
    pub passwd_file: PathBuf,
    /// Where the listening sockets are read for discovery (tests point elsewhere).
    pub proc_dir: PathBuf,
}

impl Default for PluginsConfig {
    fn default() -> PluginsConfig {
        PluginsConfig {
            enabled: true,
            interval: Duration::from_secs(15),
            timeout: Duration::from_secs(5),
            textfile_dirs: DEFAULT_TEXTFILE_DIRS.iter().map(PathBuf::from).collect(),
            exporters: Vec::new(),
            discover_exporters: false,
            checks_dir: PathBuf::from(DEFAULT_CHECKS_DIR),
            checks_interval: Duration::from_secs(60),
            checks_timeout: Duration::from_secs(10),
            check_user: Some(DEFAULT_CHECK_USER.to_owned()),
            max_concurrent_checks: 4,
            caps: Caps::default(),
            passwd_file: PathBuf::from("/etc/passwd"),
            proc_dir: PathBuf::from("/proc"),
        }
    }
}
