//! A PostgreSQL, MariaDB and Redis image without a registry: one Debian bookworm root file
//! system with all three servers from Debian's packages (built once by
//! `testbed/databases/build-rootfs.sh` with debootstrap and cached under
//! /var/cache/unity-ci, keyed by the package versions), imported as [`DATABASES`]. Its
//! entrypoint `unity-db postgres|mariadb|redis` (testbed/databases/entrypoint.sh) initialises
//! an empty data directory (PostgreSQL: database `app`, trust on the socket; MariaDB: database
//! `app`, root's password from `MARIADB_ROOT_PASSWORD`), starts the server, applies `MIGRATE`
//! through the server's client when set (what a new version's migration does), and touches
//! `/tmp/ready`.
//!
//! ```ignore
//! let engine = Dockerd::start();
//! databases::import(&engine)?;
//! engine.cli(&["run", "-d", "--name", "db", databases::DATABASES, "/usr/local/bin/unity-db", "redis"])?;
//! ```

use std::path::Path;

use anyhow::{bail, Context};

use crate::engine::{require, ContainerEngine};

/// The tag [`import`] gives the image.
pub const DATABASES: &str = "localhost/unity-db:base";

/// Builds the root file system when it is not cached (debootstrap, a few minutes, needs a
/// Debian mirror) and imports it into `engine` as [`DATABASES`].
pub fn import(engine: &(impl ContainerEngine + ?Sized)) -> anyhow::Result<()> {
    require("debootstrap", "debootstrap")?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("databases/build-rootfs.sh");
    let output = std::process::Command::new("sh")
        .arg(&script)
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    if !output.status.success() {
        bail!(
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let tarball = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    engine.cli(&[
        "import",
        "--change",
        r#"CMD ["/usr/local/bin/unity-db", "postgres"]"#,
        &tarball,
        DATABASES,
    ])?;
    Ok(())
}
