//! The health gate: is the new container good? [`judge`] is a pure decision over the states
//! observed so far; [`watch`] is the thin poller that observes (inspect, Podman's on-demand
//! health check, the optional TCP/HTTP probe) until [`judge`] decides.
//!
//! The rules, in order:
//! 1. A container that exited with code 0, whose restart policy is `no` (or unset) and that has
//!    no HEALTHCHECK, is a one-shot job that did its work: healthy.
//! 2. Any other exit, a `restarting` or `dead` state, or a restart count above the first
//!    observation's: failed.
//! 3. With a HEALTHCHECK: `healthy` (and the probe passing, when there is one) is healthy;
//!    `unhealthy` fails once the start grace period is over (before it, it is tolerated).
//! 4. Without one: running without restarts for the stability period, and the probe passing.
//! 5. No verdict by the timeout: failed.

use std::time::Duration;

use bollard::models::{
    ContainerInspectResponse, ContainerStateStatusEnum, HealthStatusEnum, RestartPolicyNameEnum,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use unity_shared::model::update::{HealthPolicy, Probe};

use super::engine::{Engine, EngineError};

/// One look at the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// Since the container was started.
    pub at: Duration,
    pub state: State,
    pub restart_count: i64,
    /// `None` without a HEALTHCHECK.
    pub health: Option<Health>,
    /// The probe's result, `None` when there is no probe or it did not run.
    pub probe_ok: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Created,
    Running,
    Restarting,
    Exited(i64),
    Dead,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Starting,
    Healthy,
    Unhealthy,
}

/// The parts of the container and policy the decision needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gate {
    pub timeout: Duration,
    pub start_grace: Duration,
    pub stability: Duration,
    pub has_healthcheck: bool,
    /// Restart policy `no` or unset.
    pub runs_once: bool,
    pub has_probe: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Pending,
    Healthy(String),
    Failed(String),
}

/// The decision over everything observed so far (oldest first). Pure.
pub fn judge(gate: &Gate, observations: &[Observation]) -> Verdict {
    let (Some(first), Some(last)) = (observations.first(), observations.last()) else {
        return Verdict::Pending;
    };
    match last.state {
        State::Exited(0) if gate.runs_once && !gate.has_healthcheck => {
            return Verdict::Healthy("exited with code 0, as a one-shot container does".to_owned())
        }
        State::Exited(code) => return Verdict::Failed(format!("exited with code {code}")),
        State::Restarting => return Verdict::Failed("is restarting".to_owned()),
        State::Dead => return Verdict::Failed("is dead".to_owned()),
        State::Created | State::Running => {}
    }
    if last.restart_count > first.restart_count {
        return Verdict::Failed(format!(
            "restarted {} time(s)",
            last.restart_count - first.restart_count
        ));
    }
    let probe_ok = !gate.has_probe || last.probe_ok == Some(true);
    if gate.has_healthcheck {
        match last.health {
            Some(Health::Healthy) if probe_ok => {
                return Verdict::Healthy("reported healthy".to_owned())
            }
            Some(Health::Unhealthy) if last.at >= gate.start_grace => {
                return Verdict::Failed(
                    "reported unhealthy after the start grace period".to_owned(),
                )
            }
            _ => {}
        }
    } else if last.state == State::Running {
        let running_since = observations
            .iter()
            .rev()
            .take_while(|observation| observation.state == State::Running)
            .last()
            .map_or(last.at, |observation| observation.at);
        if last.at.saturating_sub(running_since) >= gate.stability && probe_ok {
            return Verdict::Healthy(format!("ran for {:?} without a restart", gate.stability));
        }
    }
    if last.at >= gate.timeout {
        let why = match (gate.has_healthcheck, probe_ok) {
            (_, false) => "the probe did not pass",
            (true, true) => "not healthy",
            (false, true) => "not stable",
        };
        return Verdict::Failed(format!("{why} within {:?}", gate.timeout));
    }
    Verdict::Pending
}

/// The gate for a container (from its inspect) under a policy. Pure.
pub fn gate(container: &ContainerInspectResponse, policy: &HealthPolicy) -> Gate {
    let healthcheck = container
        .config
        .as_ref()
        .and_then(|config| config.healthcheck.as_ref());
    let has_healthcheck = healthcheck
        .and_then(|check| check.test.as_ref())
        .and_then(|test| test.first())
        .is_some_and(|kind| kind != "NONE");
    let restart = container
        .host_config
        .as_ref()
        .and_then(|host| host.restart_policy.as_ref())
        .and_then(|policy| policy.name);
    Gate {
        timeout: Duration::from_millis(policy.timeout_ms),
        start_grace: Duration::from_millis(policy.start_grace_ms),
        stability: Duration::from_millis(policy.stability_ms),
        has_healthcheck,
        runs_once: matches!(
            restart,
            None | Some(RestartPolicyNameEnum::NO | RestartPolicyNameEnum::EMPTY)
        ),
        has_probe: policy.probe.is_some(),
    }
}

/// What an inspect says, at `at`. Pure.
pub fn observe(container: &ContainerInspectResponse, at: Duration) -> Observation {
    let state = container.state.as_ref();
    let exit_code = state.and_then(|state| state.exit_code).unwrap_or_default();
    let state_kind = match state.and_then(|state| state.status) {
        Some(ContainerStateStatusEnum::RUNNING | ContainerStateStatusEnum::PAUSED) => {
            State::Running
        }
        Some(ContainerStateStatusEnum::RESTARTING) => State::Restarting,
        Some(ContainerStateStatusEnum::EXITED | ContainerStateStatusEnum::STOPPING) => {
            State::Exited(exit_code)
        }
        Some(ContainerStateStatusEnum::DEAD | ContainerStateStatusEnum::REMOVING) => State::Dead,
        _ => State::Created,
    };
    let health = match state
        .and_then(|state| state.health.as_ref())
        .and_then(|health| health.status)
    {
        Some(HealthStatusEnum::HEALTHY) => Some(Health::Healthy),
        Some(HealthStatusEnum::UNHEALTHY) => Some(Health::Unhealthy),
        Some(HealthStatusEnum::STARTING) => Some(Health::Starting),
        _ => None,
    };
    Observation {
        at,
        state: state_kind,
        restart_count: container.restart_count.unwrap_or_default(),
        health,
        probe_ok: None,
    }
}

/// Watches the container `name` (just started) until the gate decides. Errors of single
/// observations end the watch as failed only when the container is gone.
pub async fn watch<E: Engine>(
    engine: &E,
    name: &str,
    policy: &HealthPolicy,
) -> Result<Verdict, EngineError> {
    Ok(watch_reporting(engine, name, policy).await?.0)
}

/// [`watch`], also saying why the probe's last run failed (when it has one that did not pass).
pub async fn watch_reporting<E: Engine>(
    engine: &E,
    name: &str,
    policy: &HealthPolicy,
) -> Result<(Verdict, Option<String>), EngineError> {
    let mut probe_failure = None;
    let started = tokio::time::Instant::now();
    let interval = Duration::from_millis(policy.poll_interval_ms.max(50));
    let mut observations = Vec::new();
    let mut gate_for = None;
    loop {
        let Some(container) = engine.inspect_container(name).await? else {
            let verdict = Verdict::Failed("the container disappeared".to_owned());
            return Ok((verdict, probe_failure));
        };
        let gate = gate_for
            .get_or_insert_with(|| gate(&container, policy))
            .clone();
        if gate.has_healthcheck {
            if let Err(error) = engine.run_healthcheck(name).await {
                tracing::debug!(container = name, %error, "Health check run failed.");
            }
        }
        let container = match gate.has_healthcheck {
            true => engine.inspect_container(name).await?.unwrap_or(container),
            false => container,
        };
        let mut observation = observe(&container, started.elapsed());
        if let (Some(probe_spec), State::Running) = (&policy.probe, observation.state) {
            let ran = probe_reporting(probe_spec, interval.max(Duration::from_secs(1))).await;
            observation.probe_ok = Some(ran.is_ok());
            probe_failure = ran.err();
        }
        observations.push(observation);
        match judge(&gate, &observations) {
            Verdict::Pending => tokio::time::sleep(interval).await,
            verdict => return Ok((verdict, probe_failure)),
        }
    }
}

/// Runs the probe once: a TCP connect, or an HTTP/1.0 `GET` answered with 2xx or 3xx.
pub async fn probe(probe: &Probe, timeout: Duration) -> bool {
    probe_reporting(probe, timeout).await.is_ok()
}

/// [`probe`], saying why it failed.
pub async fn probe_reporting(probe: &Probe, timeout: Duration) -> Result<(), String> {
    let attempt = async {
        match probe {
            Probe::Tcp { host, port } => tokio::net::TcpStream::connect((host.as_str(), *port))
                .await
                .map(|_| ())
                .map_err(|error| format!("TCP {host}:{port}: {error}")),
            Probe::Http { host, port, path } => match http_status(host, *port, path).await {
                Ok(status) if (200..400).contains(&status) => Ok(()),
                Ok(status) => Err(format!("GET http://{host}:{port}{path}: status {status}")),
                Err(error) => Err(format!("GET http://{host}:{port}{path}: {error}")),
            },
        }
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {timeout:?}")))
}

async fn http_status(host: &str, port: u16, path: &str) -> std::io::Result<u16> {
    let mut stream = tokio::net::TcpStream::connect((host, port)).await?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: unity-agent\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut head = vec![0; 64];
    let read = stream.read(&mut head).await?;
    let text = String::from_utf8_lossy(head.get(..read).unwrap_or_default());
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok());
    status
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "no HTTP status line"))
}
