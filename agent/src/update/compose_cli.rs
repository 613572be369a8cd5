//! The compose CLI, run through [`crate::exec`] against the agent's engine socket
//! (`DOCKER_HOST=unix://<socket>`): `docker compose` (the v2 plugin) when `docker compose
//! version` works, else `docker-compose` (v1), always with the project's name, its files and
//! its working directory.

use std::path::Path;
use std::time::Duration;

use super::compose::ComposeService;
use crate::exec::{self, CommandSpec, ExecError};

/// How long `version` may take.
const VERSION_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `pull` or `up` may take.
const RUN_TIMEOUT: Duration = Duration::from_secs(600);

/// A compose command that did not work.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    /// Neither `docker compose` nor `docker-compose` runs here.
    #[error(
        "neither `docker compose` nor `docker-compose` works on this host ({0}); install one \
         (Debian: apt-get install docker-compose)"
    )]
    Missing(String),
    /// The engine has no socket the CLI could use.
    #[error("the engine has no socket for the compose CLI")]
    NoSocket,
    /// The command could not run.
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// The command ran and failed.
    #[error("`{command}` exited with {code:?}: {stderr}")]
    Exit {
        command: String,
        code: Option<i32>,
        stderr: String,
    },
}

/// The compose CLI found on this host, bound to one engine socket.
#[derive(Debug, Clone)]
pub struct Cli {
    /// `docker` (v2: the first argument is `compose`) or `docker-compose`.
    program: &'static str,
    docker_host: String,
}

impl Cli {
    /// `docker compose` if `docker compose version` works, else `docker-compose`.
    pub async fn detect(socket: &Path) -> Result<Cli, ComposeError> {
        let docker_host = format!("unix://{}", socket.display());
        let mut why = Vec::new();
        for program in ["docker", "docker-compose"] {
            let cli = Cli {
                program,
                docker_host: docker_host.clone(),
            };
            let spec = cli.spec(&["version".to_owned()]);
            match exec::run(&spec, VERSION_TIMEOUT).await {
                Ok(output) if output.exit_code == Some(0) => return Ok(cli),
                Ok(output) => why.push(format!(
                    "`{}`: {}",
                    spec.display(),
                    String::from_utf8_lossy(&output.stderr).trim()
                )),
                Err(error) => why.push(error.to_string()),
            }
        }
        Err(ComposeError::Missing(why.join("; ")))
    }

    /// `docker compose` or `docker-compose`, for messages.
    pub fn name(&self) -> &'static str {
        match self.program {
            "docker" => "docker compose",
            _ => "docker-compose",
        }
    }

    fn spec(&self, args: &[String]) -> CommandSpec {
        let mut spec = CommandSpec::new(self.program, &[]).env("DOCKER_HOST", &self.docker_host);
        if self.program == "docker" {
            spec.args.push("compose".to_owned());
        }
        spec.args.extend(args.iter().cloned());
        spec
    }

    /// `-p <project> -f <file>...` then `args`, in the project's working directory.
    fn project_spec(&self, service: &ComposeService, args: &[String]) -> CommandSpec {
        let mut all = vec!["-p".to_owned(), service.project.clone()];
        for file in &service.files {
            all.push("-f".to_owned());
            all.push(file.display().to_string());
        }
        all.extend(args.iter().cloned());
        let spec = self.spec(&all);
        match &service.working_dir {
            Some(dir) => spec.current_dir(dir),
            None => spec,
        }
    }

    /// `up -d --no-deps <service>`.
    pub fn up_args(&self, service: &ComposeService) -> Vec<String> {
        ["up", "-d", "--no-deps", service.service.as_str()]
            .map(str::to_owned)
            .to_vec()
    }

    /// `up --no-start --no-deps <service>`: the container recreated, not started (its data
    /// goes back first).
    pub fn create_args(&self, service: &ComposeService) -> Vec<String> {
        ["up", "--no-start", "--no-deps", service.service.as_str()]
            .map(str::to_owned)
            .to_vec()
    }

    /// The command line for `args`, for messages (without the project's flags).
    pub fn display(&self, args: &[String]) -> String {
        format!("{} {}", self.name(), args.join(" "))
    }

    /// Runs `args` for the project; its stdout when it exits 0.
    pub async fn run(
        &self,
        service: &ComposeService,
        args: &[String],
    ) -> Result<String, ComposeError> {
        let spec = self.project_spec(service, args);
        tracing::info!(command = %spec.display(), "Running compose.");
        let output = exec::run(&spec, RUN_TIMEOUT).await?;
        if output.exit_code != Some(0) {
            return Err(ComposeError::Exit {
                command: spec.display(),
                code: output.exit_code,
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            });
        }
        Ok(output.stdout_lossy())
    }
}
