//! A database's logical dump, taken inside its container before an update: the commands of
//! `dump_plan.rs` run through the engine's exec API, their output streamed into
//! `<backup dir>/<stamp>-dump.<ext>` (through a `.partial` file, fsynced, renamed only when
//! complete), checked complete, and measured. Redis: `BGSAVE`, wait until `LASTSAVE` moves,
//! then the RDB file is streamed out. Anything that fails (the tool, the check, a full disk)
//! removes the partial file and says why; the update is then refused.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bollard::models::ContainerInspectResponse;
use tokio::io::AsyncWrite;
use unity_shared::model::database_image::DatabaseKind;
use unity_shared::model::update::DatabaseDump;

use super::container_exec::{ExecEnd, ExecError};
use super::dump_plan::{self, ExecCommand};
use super::engine::Engine;
use crate::clock;

/// The longest one dump may take.
const DUMP_TIMEOUT: Duration = Duration::from_secs(3600);
/// A short command (`redis-cli LASTSAVE`).
const SHORT_TIMEOUT: Duration = Duration::from_secs(30);
/// How much of the start and the end of a dump is kept for the completeness check.
const KEPT: usize = 4096;

/// A dump on disk, with where a Redis RDB goes back to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taken {
    pub dump: DatabaseDump,
    /// Redis: the server's directory and file name (`/data`, `dump.rdb`).
    pub rdb_target: Option<(String, String)>,
}

/// The container's `Config.Env`.
pub fn container_env(container: &ContainerInspectResponse) -> Vec<String> {
    container
        .config
        .as_ref()
        .and_then(|config| config.env.clone())
        .unwrap_or_default()
}

/// Takes the dump of `container` (a `kind` database) into `dir` as `<stamp>-dump.<ext>`.
pub async fn take<E: Engine>(
    engine: &E,
    container: &ContainerInspectResponse,
    kind: DatabaseKind,
    dir: &Path,
    stamp: u64,
) -> Result<Taken, String> {
    let name = container
        .name
        .as_deref()
        .unwrap_or_default()
        .trim_start_matches('/')
        .to_owned();
    let env = container_env(container);
    let file = format!("{stamp}-dump.{}", kind.dump_extension());
    let target = dir.join(&file);
    let partial = dir.join(format!("{file}.partial"));
    let started = clock::now_ms();
    let result = match kind {
        DatabaseKind::Redis => redis(engine, &name, &env, &partial).await.map(Some),
        _ => {
            let commands = dump_plan::dump_commands(kind, &env);
            stream(engine, &name, &commands, &partial)
                .await
                .map(|_| None)
        }
    };
    let checked = match result {
        Ok(rdb_target) => check(kind, &partial).await.map(|size| (size, rdb_target)),
        Err(error) => Err(error),
    };
    let (size_bytes, rdb_target) = match checked {
        Ok(done) => done,
        Err(error) => {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(error);
        }
    };
    if let Err(error) = tokio::fs::rename(&partial, &target).await {
        let _ = tokio::fs::remove_file(&partial).await;
        return Err(format!("{}: {error}", target.display()));
    }
    let duration_ms = u64::try_from(clock::now_ms().saturating_sub(started)).unwrap_or(0);
    Ok(Taken {
        dump: DatabaseDump {
            kind,
            file,
            size_bytes,
            duration_ms,
        },
        rdb_target,
    })
}

/// Runs the first of `commands` whose program exists, its stdout into `path` (0600, fsynced).
async fn stream<E: Engine>(
    engine: &E,
    container: &str,
    commands: &[ExecCommand],
    path: &Path,
) -> Result<(), String> {
    let mut last = "no dump command for this database".to_owned();
    for command in commands {
        let program = command.cmd.first().cloned().unwrap_or_default();
        let end = to_file(engine, container, command, path).await?;
        if end.succeeded() {
            return Ok(());
        }
        last = failed(&program, &end);
        if !end.not_found() {
            break;
        }
    }
    Err(last)
}

fn failed(program: &str, end: &ExecEnd) -> String {
    let code = end
        .exit_code
        .map_or_else(|| "?".to_owned(), |code| code.to_string());
    let stderr = end.stderr.lines().last().unwrap_or_default();
    format!(
        "{program} exited with {code} after {} bytes: {stderr}",
        end.stdout_bytes
    )
}

/// One command's stdout into a fresh `path`.
async fn to_file<E: Engine>(
    engine: &E,
    container: &str,
    command: &ExecCommand,
    path: &Path,
) -> Result<ExecEnd, String> {
    let io = |error: std::io::Error| format!("{}: {error}", path.display());
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true).mode(0o600);
    let mut file = options.open(path).await.map_err(io)?;
    let program = command.cmd.first().cloned().unwrap_or_default();
    let end = engine
        .exec_in(container, command, None, &mut file, DUMP_TIMEOUT)
        .await
        .map_err(|error| match error {
            ExecError::Write(error) => format!("writing the dump to {}: {error}", path.display()),
            other => format!("{program}: {other}"),
        })?;
    file.sync_all().await.map_err(io)?;
    Ok(end)
}

/// The size of a finished dump, when it is complete.
async fn check(kind: DatabaseKind, path: &Path) -> Result<u64, String> {
    let path = path.to_owned();
    let read = tokio::task::spawn_blocking(move || head_and_tail(&path)).await;
    let (size, head, tail) = match read {
        Ok(Ok(read)) => read,
        Ok(Err(error)) => return Err(format!("reading the dump: {error}")),
        Err(error) => return Err(format!("reading the dump: {error}")),
    };
    match dump_plan::incomplete(kind, size, &head, &tail) {
        Some(why) => Err(format!("the dump is incomplete: {why}")),
        None => Ok(size),
    }
}

/// The size and the first and last [`KEPT`] bytes of a file. Note that this uses blocking I/O.
fn head_and_tail(path: &Path) -> std::io::Result<(u64, Vec<u8>, Vec<u8>)> {
    use std::io::{Read as _, Seek as _, SeekFrom};
    let mut file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    let mut head = Vec::new();
    (&mut file).take(KEPT as u64).read_to_end(&mut head)?;
    let from = size.saturating_sub(KEPT as u64);
    file.seek(SeekFrom::Start(from))?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail)?;
    Ok((size, head, tail))
}

/// A short command's stdout, as text.
async fn output<E: Engine>(
    engine: &E,
    container: &str,
    command: &ExecCommand,
) -> Result<String, String> {
    let mut out = Capped(Vec::new());
    let program = command.cmd.join(" ");
    let end = engine
        .exec_in(container, command, None, &mut out, SHORT_TIMEOUT)
        .await
        .map_err(|error| format!("{program}: {error}"))?;
    if !end.succeeded() {
        return Err(failed(&program, &end));
    }
    Ok(String::from_utf8_lossy(&out.0).trim().to_owned())
}

/// Redis: `BGSAVE`, wait for it, then stream the RDB file into `path`; returns the server's
/// directory and file name.
async fn redis<E: Engine>(
    engine: &E,
    container: &str,
    env: &[String],
    path: &Path,
) -> Result<(String, String), String> {
    let cli = |args: &[&str]| dump_plan::redis_cli(env, args);
    let config = |key: &'static str, default: &'static str| {
        let command = cli(&["CONFIG", "GET", key]);
        async move {
            let answer = output(engine, container, &command)
                .await
                .unwrap_or_default();
            answer
                .lines()
                .nth(1)
                .map(str::to_owned)
                .filter(|value| !value.is_empty())
                .unwrap_or_else(|| default.to_owned())
        }
    };
    let dir = config("dir", "/data").await;
    let name = config("dbfilename", "dump.rdb").await;
    let before = output(engine, container, &cli(&["LASTSAVE"])).await?;
    let saves_before = rdb_saves(&output(engine, container, &cli(&["INFO", "persistence"])).await?);
    let answer = output(engine, container, &cli(&["BGSAVE"])).await?;
    if answer.starts_with("ERR") && !answer.contains("in progress") {
        return Err(format!("BGSAVE: {answer}"));
    }
    let deadline = clock::now_ms() + i64::try_from(DUMP_TIMEOUT.as_millis()).unwrap_or(i64::MAX);
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let info = output(engine, container, &cli(&["INFO", "persistence"])).await?;
        let in_progress = info.contains("rdb_bgsave_in_progress:1");
        let moved = output(engine, container, &cli(&["LASTSAVE"])).await? != before
            || rdb_saves(&info) > saves_before;
        if moved && !in_progress {
            if !info.contains("rdb_last_bgsave_status:ok") {
                return Err("BGSAVE failed (rdb_last_bgsave_status is not ok)".to_owned());
            }
            break;
        }
        if clock::now_ms() > deadline {
            return Err(format!("BGSAVE did not finish within {DUMP_TIMEOUT:?}"));
        }
    }
    let rdb = format!("{}/{name}", dir.trim_end_matches('/'));
    let command = ExecCommand {
        cmd: vec!["cat".to_owned(), rdb],
        env: Vec::new(),
    };
    let end = to_file(engine, container, &command, path).await?;
    if !end.succeeded() {
        return Err(failed("cat", &end));
    }
    Ok((dir, name))
}

/// `rdb_saves:N` of `INFO persistence` (Redis 7), 0 when absent. Pure.
fn rdb_saves(info: &str) -> u64 {
    info.lines()
        .find_map(|line| line.trim().strip_prefix("rdb_saves:"))
        .and_then(|count| count.parse().ok())
        .unwrap_or(0)
}

/// A small in-memory writer for short answers: keeps at most 64 KiB.
struct Capped(Vec<u8>);

impl AsyncWrite for Capped {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let room = (64 * 1024usize).saturating_sub(self.0.len());
        let kept = buf.get(..room.min(buf.len())).unwrap_or_default();
        self.0.extend_from_slice(kept);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Runs `command` in `container` with the file `input` as its stdin; its stdout is dropped.
pub async fn feed<E: Engine>(
    engine: &E,
    container: &str,
    command: &ExecCommand,
    input: &Path,
) -> Result<ExecEnd, String> {
    let mut sink = Capped(Vec::new());
    let program = command.cmd.first().cloned().unwrap_or_default();
    engine
        .exec_in(container, command, Some(input), &mut sink, DUMP_TIMEOUT)
        .await
        .map_err(|error| format!("{program}: {error}"))
}

/// Waits until the server in `container` answers (`pg_isready`, `mariadb-admin ping`), for at
/// most `within`.
pub async fn wait_ready<E: Engine>(
    engine: &E,
    container: &str,
    kind: DatabaseKind,
    env: &[String],
    within: Duration,
) -> Result<(), String> {
    let Some(command) = dump_plan::ready_command(kind, env) else {
        return Ok(());
    };
    let deadline = clock::now_ms() + i64::try_from(within.as_millis()).unwrap_or(i64::MAX);
    loop {
        let mut sink = Capped(Vec::new());
        let answer = engine
            .exec_in(container, &command, None, &mut sink, SHORT_TIMEOUT)
            .await;
        if matches!(&answer, Ok(end) if end.succeeded()) {
            return Ok(());
        }
        if clock::now_ms() > deadline {
            return Err(format!("{} does not answer", kind.word()));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The path of a backup's dump file.
pub fn path(dir: &Path, file: &str) -> PathBuf {
    dir.join(file)
}

#[cfg(test)]
mod tests {
    #[test]
    fn rdb_saves_are_read_from_info() {
        assert_eq!(super::rdb_saves("# Persistence\r\nrdb_saves:3\r\n"), 3);
        assert_eq!(super::rdb_saves("loading:0"), 0);
    }

    #[tokio::test]
    async fn capped_keeps_at_most_64_kib() {
        use tokio::io::AsyncWriteExt as _;
        let mut capped = super::Capped(Vec::new());
        capped.write_all(&vec![1u8; 100 * 1024]).await.unwrap();
        assert_eq!(capped.0.len(), 64 * 1024);
    }
}
