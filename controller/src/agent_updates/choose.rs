//! Which build an agent is sent (pure): the architecture from its hello, the kind from how
//! it was installed, and the version: the one asked for, or the newest; newer than the running
//! one unless the operator asks for a rollback (then older, the newest older one by default).

use unity_shared::model::agent_build::{BuildArch, BuildKind};
use unity_shared::proto::InstallKind;

/// What the controller knows of the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentFacts {
    /// `uname -m` as its hello says (`x86_64`).
    pub arch: String,
    pub install: InstallKind,
    /// The version its last hello said.
    pub version: String,
}

/// A build in the store, as far as choosing goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub name: String,
    pub version: String,
    pub arch: BuildArch,
    pub kind: BuildKind,
}

/// What the operator asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wanted {
    /// Exactly this version; default: the newest (or, for a rollback, the newest older).
    pub version: Option<String>,
    /// Go back to an older version.
    pub rollback: bool,
}

/// Why no build is sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoBuild {
    /// The hello names an architecture builds are not made for.
    #[error("the agent runs on {0:?}, an architecture agent builds are not made for")]
    UnknownArch(String),
    /// The agent's version is not semver (an agentless host, a very old agent).
    #[error("the agent reports version {0:?}, which is not a semver version")]
    UnknownVersion(String),
    /// `--version` is not semver.
    #[error("--version {0:?} is not a semver version")]
    BadVersion(String),
    /// No build of that architecture and kind at all.
    #[error("no {kind} build for {arch} in the store (unity-controller agent-builds add)")]
    NoneForAgent {
        arch: &'static str,
        kind: &'static str,
    },
    /// No build of the version asked for.
    #[error("no {kind} build of version {version} for {arch} in the store")]
    NoSuchVersion {
        version: String,
        arch: &'static str,
        kind: &'static str,
    },
    /// The version asked for is not newer (without `--rollback`).
    #[error("the agent runs {running}; {version} is not newer (use --rollback to go back)")]
    NotNewer { running: String, version: String },
    /// A rollback to a version that is not older.
    #[error("the agent runs {running}; a rollback goes to an older version, not {version}")]
    NotOlder { running: String, version: String },
    /// Nothing newer (or, for a rollback, older) than what runs.
    #[error("the agent runs {running}, and the store has no {direction} {kind} build for {arch}")]
    NothingToDo {
        running: String,
        direction: &'static str,
        arch: &'static str,
        kind: &'static str,
    },
}

/// The kind of build that installs on an agent installed as `install`.
pub fn kind_for(install: InstallKind) -> BuildKind {
    match install {
        InstallKind::Deb => BuildKind::Deb,
        InstallKind::Rpm => BuildKind::Rpm,
        InstallKind::File | InstallKind::Unknown => BuildKind::Binary,
    }
}

/// The build to send to `agent`, or why none.
pub fn choose<'a>(
    agent: &AgentFacts,
    builds: &'a [Candidate],
    wanted: &Wanted,
) -> Result<&'a Candidate, NoBuild> {
    let arch =
        BuildArch::parse(&agent.arch).ok_or_else(|| NoBuild::UnknownArch(agent.arch.clone()))?;
    let kind = kind_for(agent.install);
    let running = semver::Version::parse(agent.version.trim())
        .map_err(|_| NoBuild::UnknownVersion(agent.version.clone()))?;
    let fitting: Vec<(semver::Version, &Candidate)> = builds
        .iter()
        .filter(|build| build.arch == arch && build.kind == kind)
        .filter_map(|build| Some((semver::Version::parse(&build.version).ok()?, build)))
        .collect();
    if fitting.is_empty() {
        return Err(NoBuild::NoneForAgent {
            arch: arch.name(),
            kind: kind.name(),
        });
    }
    if let Some(asked) = &wanted.version {
        let asked =
            semver::Version::parse(asked.trim()).map_err(|_| NoBuild::BadVersion(asked.clone()))?;
        let (version, build) = fitting
            .iter()
            .find(|(version, _)| *version == asked)
            .ok_or_else(|| NoBuild::NoSuchVersion {
                version: asked.to_string(),
                arch: arch.name(),
                kind: kind.name(),
            })?;
        return match (wanted.rollback, *version > running, *version < running) {
            (false, true, _) | (true, _, true) => Ok(*build),
            (false, false, _) => Err(NoBuild::NotNewer {
                running: running.to_string(),
                version: version.to_string(),
            }),
            (true, _, false) => Err(NoBuild::NotOlder {
                running: running.to_string(),
                version: version.to_string(),
            }),
        };
    }
    let chosen = match wanted.rollback {
        false => fitting
            .iter()
            .filter(|(version, _)| *version > running)
            .max_by(|a, b| a.0.cmp(&b.0)),
        true => fitting
            .iter()
            .filter(|(version, _)| *version < running)
            .max_by(|a, b| a.0.cmp(&b.0)),
    };
    chosen
        .map(|(_, build)| *build)
        .ok_or_else(|| NoBuild::NothingToDo {
            running: running.to_string(),
            direction: if wanted.rollback { "older" } else { "newer" },
            arch: arch.name(),
            kind: kind.name(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(version: &str, arch: BuildArch, kind: BuildKind) -> Candidate {
        Candidate {
            name: format!("{}-{}-{version}", arch.name(), kind.name()),
            version: version.into(),
            arch,
            kind,
        }
    }

    fn store() -> Vec<Candidate> {
        vec![
            build("0.1.0", BuildArch::X86_64, BuildKind::Binary),
            build("0.3.0", BuildArch::X86_64, BuildKind::Binary),
            build("0.2.0", BuildArch::X86_64, BuildKind::Binary),
            build("0.9.0", BuildArch::Aarch64, BuildKind::Binary),
            build("0.8.0", BuildArch::X86_64, BuildKind::Deb),
        ]
    }

    fn agent(arch: &str, install: InstallKind, version: &str) -> AgentFacts {
        AgentFacts {
            arch: arch.into(),
            install,
            version: version.into(),
        }
    }

    fn newest() -> Wanted {
        Wanted::default()
    }

    #[test]
    fn the_newest_build_of_the_agents_arch_and_kind() {
        let builds = store();
        let x86 = agent("x86_64", InstallKind::File, "0.1.0");
        assert_eq!(choose(&x86, &builds, &newest()).unwrap().version, "0.3.0");
        // Unknown install (an agent before protocol 11) gets the binary, amd64 is x86_64.
        let unknown = agent("amd64", InstallKind::Unknown, "0.1.0");
        assert_eq!(
            choose(&unknown, &builds, &newest()).unwrap().version,
            "0.3.0"
        );
        let deb = agent("x86_64", InstallKind::Deb, "0.1.0");
        let chosen = choose(&deb, &builds, &newest()).unwrap();
        assert_eq!(
            (chosen.kind, chosen.version.as_str()),
            (BuildKind::Deb, "0.8.0")
        );
        let arm = agent("aarch64", InstallKind::File, "0.1.0");
        assert_eq!(
            choose(&arm, &builds, &newest()).unwrap().arch,
            BuildArch::Aarch64
        );
        let rpm = agent("x86_64", InstallKind::Rpm, "0.1.0");
        assert_eq!(
            choose(&rpm, &builds, &newest()).unwrap_err(),
            NoBuild::NoneForAgent {
                arch: "x86_64",
                kind: "rpm"
            }
        );
        let riscv = agent("riscv64", InstallKind::File, "0.1.0");
        assert!(matches!(
            choose(&riscv, &builds, &newest()),
            Err(NoBuild::UnknownArch(_))
        ));
    }

    #[test]
    fn only_newer_unless_rollback() {
        let builds = store();
        let current = agent("x86_64", InstallKind::File, "0.3.0");
        assert!(matches!(
            choose(&current, &builds, &newest()),
            Err(NoBuild::NothingToDo {
                direction: "newer",
                ..
            })
        ));
        let asked = |version: &str, rollback| Wanted {
            version: Some(version.into()),
            rollback,
        };
        assert!(matches!(
            choose(&current, &builds, &asked("0.2.0", false)),
            Err(NoBuild::NotNewer { .. })
        ));
        assert!(matches!(
            choose(&current, &builds, &asked("0.3.0", false)),
            Err(NoBuild::NotNewer { .. })
        ));
        assert_eq!(
            choose(&current, &builds, &asked("0.2.0", true))
                .unwrap()
                .version,
            "0.2.0"
        );
        assert!(matches!(
            choose(&current, &builds, &asked("0.3.0", true)),
            Err(NoBuild::NotOlder { .. })
        ));
        // A rollback without a version: the newest older build.
        let rollback = Wanted {
            version: None,
            rollback: true,
        };
        assert_eq!(
            choose(&current, &builds, &rollback).unwrap().version,
            "0.2.0"
        );
        let oldest = agent("x86_64", InstallKind::File, "0.1.0");
        assert!(matches!(
            choose(&oldest, &builds, &rollback),
            Err(NoBuild::NothingToDo {
                direction: "older",
                ..
            })
        ));
        assert_eq!(
            choose(&oldest, &builds, &asked("0.2.0", false))
                .unwrap()
                .version,
            "0.2.0"
        );
        assert!(matches!(
            choose(&oldest, &builds, &asked("0.7.0", false)),
            Err(NoBuild::NoSuchVersion { .. })
        ));
        assert!(matches!(
            choose(&oldest, &builds, &asked("latest", false)),
            Err(NoBuild::BadVersion(_))
        ));
    }

    #[test]
    fn semver_order_not_text_order_and_odd_versions() {
        let builds = vec![
            build("0.9.0", BuildArch::X86_64, BuildKind::Binary),
            build("0.10.0", BuildArch::X86_64, BuildKind::Binary),
            build("not-a-version", BuildArch::X86_64, BuildKind::Binary),
            build("0.11.0-rc.1", BuildArch::X86_64, BuildKind::Binary),
        ];
        let old = agent("x86_64", InstallKind::File, "0.8.0");
        assert_eq!(
            choose(&old, &builds, &newest()).unwrap().version,
            "0.11.0-rc.1"
        );
        let agentless = agent("x86_64", InstallKind::Unknown, "agentless via nas");
        assert!(matches!(
            choose(&agentless, &builds, &newest()),
            Err(NoBuild::UnknownVersion(_))
        ));
    }
}
