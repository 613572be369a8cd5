//! The package manager, through [`crate::exec`]: a package file's own fields
//! (`dpkg-deb --show`, `rpm -qp`), the installed `unity-agent` package's version
//! (`dpkg-query -W`, `rpm -q`) and the install (`dpkg -i`, `rpm -U`). The sandboxed agent only
//! reads (the fields, for an early refusal; the installed version, at a start on trial); only
//! the root `apply-upgrade` installs.

use super::package::{parse_fields, PackageFields, PACKAGE_NAME};
use crate::exec::{self, CommandSpec, ExecError, Output};
use std::path::{Path, PathBuf};
use std::time::Duration;
use unity_shared::model::agent_build::BuildKind;

/// How long a query may take.
const QUERY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long an install may take (the package's scripts restart the agent).
const INSTALL_TIMEOUT: Duration = Duration::from_secs(600);

/// The dpkg or rpm of this host. `root`, for tests only, points the package manager at a
/// scratch root with its own database (`--root`); `None` in production.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageTool {
    pub kind: BuildKind,
    pub root: Option<PathBuf>,
}

/// Why the package manager did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The command could not run or timed out.
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// It ran and failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    Failed {
        command: String,
        status: String,
        stderr: String,
    },
    /// Its answer does not read.
    #[error("`{0}` printed something unexpected")]
    Unreadable(String),
    /// Not a package kind.
    #[error("a binary build has no package manager")]
    NotAPackage,
}

impl PackageTool {
    /// The real package manager for `kind`.
    pub fn system(kind: BuildKind) -> PackageTool {
        PackageTool { kind, root: None }
    }

    /// `program` with the scratch root's options first, if any: `--root=R` (plus
    /// `--force-not-root` for dpkg itself, so tests need not run as root).
    fn spec(&self, program: &str, args: &[&str]) -> CommandSpec {
        let mut all: Vec<String> = Vec::new();
        if let Some(root) = &self.root {
            all.push(format!("--root={}", root.display()));
            if program == "dpkg" {
                all.push("--force-not-root".to_owned());
            }
        }
        all.extend(args.iter().map(|arg| (*arg).to_owned()));
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        CommandSpec::new(program, &all).clear_env()
    }

    /// The file's name, version and architecture.
    pub async fn fields(&self, file: &Path) -> Result<PackageFields, ToolError> {
        let path = file.to_string_lossy();
        let spec = match self.kind {
            // The file only: no database, no root.
            BuildKind::Deb => CommandSpec::new(
                "dpkg-deb",
                &[
                    "--show",
                    "--showformat=${Package}\\n${Version}\\n${Architecture}\\n",
                    &path,
                ],
            )
            .clear_env(),
            BuildKind::Rpm => self.spec(
                "rpm",
                &[
                    "-qp",
                    "--nosignature",
                    "--nodigest",
                    "--queryformat",
                    "%{NAME}\\n%{VERSION}\\n%{ARCH}\\n",
                    &path,
                ],
            ),
            BuildKind::Binary => return Err(ToolError::NotAPackage),
        };
        let output = checked(&spec, exec::run(&spec, QUERY_TIMEOUT).await?)?;
        parse_fields(&output.stdout_lossy()).ok_or_else(|| ToolError::Unreadable(spec.display()))
    }

    /// The installed `unity-agent` package's version; `None` when it is not installed.
    pub async fn installed_version(&self) -> Result<Option<String>, ToolError> {
        let spec = match self.kind {
            BuildKind::Deb => self.spec(
                "dpkg-query",
                &["--show", "--showformat=${Version}", PACKAGE_NAME],
            ),
            BuildKind::Rpm => {
                self.spec("rpm", &["-q", "--queryformat", "%{VERSION}", PACKAGE_NAME])
            }
            BuildKind::Binary => return Err(ToolError::NotAPackage),
        };
        let output = exec::run(&spec, QUERY_TIMEOUT).await?;
        if output.exit_code != Some(0) {
            return Ok(None);
        }
        let version = output.stdout_lossy().trim().to_owned();
        Ok((!version.is_empty()).then_some(version))
    }

    /// Installs `file`; `downgrade` allows an older version (a rollback).
    pub async fn install(&self, file: &Path, downgrade: bool) -> Result<(), ToolError> {
        let path = file.to_string_lossy();
        let spec = match (self.kind, downgrade) {
            // dpkg -i installs an older version as readily as a newer one.
            (BuildKind::Deb, _) => self.spec("dpkg", &["--install", &path]),
            (BuildKind::Rpm, false) => self.spec("rpm", &["--upgrade", &path]),
            (BuildKind::Rpm, true) => self.spec("rpm", &["--upgrade", "--oldpackage", &path]),
            (BuildKind::Binary, _) => return Err(ToolError::NotAPackage),
        };
        checked(&spec, exec::run(&spec, INSTALL_TIMEOUT).await?).map(|_| ())
    }
}

fn checked(spec: &CommandSpec, output: Output) -> Result<Output, ToolError> {
    if output.exit_code == Some(0) {
        return Ok(output);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
    Err(ToolError::Failed {
        command: spec.display(),
        status: match (output.exit_code, output.signal) {
            (Some(code), _) => format!("exit {code}"),
            (None, Some(signal)) => format!("signal {signal}"),
            (None, None) => "no status".to_owned(),
        },
        stderr: tail.into_iter().rev().collect::<Vec<_>>().join(" / "),
    })
}
