//! How this agent was installed: a file a package manager owns (a .deb or an .rpm) or a plain
//! file, asked of the package managers through [`crate::exec`] (`dpkg -S <exe>`, then
//! `rpm -qf <exe>`). Told to the controller in the hello; an agent update installs a package
//! where one owns the executable instead of replacing the file under the package manager.

use crate::exec::{CommandSpec, ExecError, Output, Runner};
use std::path::Path;
use std::time::Duration;
use unity_shared::proto::InstallKind;

/// How long one package-manager query may take.
const QUERY_TIMEOUT: Duration = Duration::from_secs(10);

/// What the package managers say about `exe`.
pub async fn detect(runner: &impl Runner, exe: &Path) -> InstallKind {
    let path = exe.to_string_lossy();
    let dpkg = runner
        .run(&CommandSpec::new("dpkg", &["-S", &path]), QUERY_TIMEOUT)
        .await;
    if owned(&dpkg) {
        return InstallKind::Deb;
    }
    let rpm = runner
        .run(&CommandSpec::new("rpm", &["-qf", &path]), QUERY_TIMEOUT)
        .await;
    classify(&dpkg, &rpm)
}

/// This running agent's kind, found out once per process.
pub async fn this_agent() -> InstallKind {
    static KIND: tokio::sync::OnceCell<InstallKind> = tokio::sync::OnceCell::const_new();
    *KIND
        .get_or_init(|| async {
            match std::env::current_exe() {
                Ok(exe) => detect(&crate::exec::Local, &exe).await,
                Err(error) => {
                    tracing::debug!(%error, "Cannot find the agent's executable; reporting a plain file.");
                    InstallKind::File
                }
            }
        })
        .await
}

/// Pure: the kind from the two queries' outcomes. A query that could not run (the tool is not
/// installed, or it timed out) owns nothing.
pub fn classify(dpkg: &Result<Output, ExecError>, rpm: &Result<Output, ExecError>) -> InstallKind {
    if owned(dpkg) {
        InstallKind::Deb
    } else if owned(rpm) {
        InstallKind::Rpm
    } else {
        InstallKind::File
    }
}

/// `dpkg -S` and `rpm -qf` exit 0 exactly when a package owns the path.
fn owned(query: &Result<Output, ExecError>) -> bool {
    matches!(query, Ok(output) if output.exit_code == Some(0) && !output.stdout.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::Local;

    fn exited(code: i32, stdout: &str) -> Result<Output, ExecError> {
        Ok(Output {
            exit_code: Some(code),
            stdout: stdout.as_bytes().to_vec(),
            ..Output::default()
        })
    }

    fn missing(program: &str) -> Result<Output, ExecError> {
        Err(ExecError::Spawn {
            program: program.into(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        })
    }

    #[test]
    fn the_owning_package_manager_decides() {
        let not_owned = exited(1, "");
        let deb = exited(0, "unity-agent: /usr/bin/unity-agent\n");
        let rpm = exited(0, "unity-agent-0.2.0-1.x86_64\n");
        assert_eq!(classify(&deb, &not_owned), InstallKind::Deb);
        assert_eq!(classify(&not_owned, &rpm), InstallKind::Rpm);
        assert_eq!(classify(&missing("dpkg"), &rpm), InstallKind::Rpm);
        assert_eq!(classify(&not_owned, &not_owned), InstallKind::File);
        assert_eq!(
            classify(&missing("dpkg"), &missing("rpm")),
            InstallKind::File
        );
        // Killed by a signal: no exit code, owns nothing.
        let killed = Ok(Output {
            signal: Some(9),
            ..Output::default()
        });
        assert_eq!(classify(&killed, &killed), InstallKind::File);
    }

    /// The real package managers of this Debian machine: dpkg owns its own executable, nothing
    /// owns a file just written.
    #[tokio::test]
    async fn asks_the_real_package_managers() {
        assert_eq!(
            detect(&Local, Path::new("/usr/bin/dpkg")).await,
            InstallKind::Deb
        );
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("unity-agent");
        std::fs::write(&exe, b"#!/bin/sh\n").unwrap();
        assert_eq!(detect(&Local, &exe).await, InstallKind::File);
    }
}
