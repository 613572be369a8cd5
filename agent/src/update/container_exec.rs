//! Commands run inside a container through the engine's exec API (no host process: `docker
//! exec` over the socket), with stdout streamed into a writer as it arrives (a dump never sits
//! in memory whole) and stdin optionally streamed from a file; and one file copied into a
//! container (running or not) through the archive API, streamed as a one-entry tar. The
//! [`super::engine::Bollard`] engine calls these (this file imports nothing of the engine's).

use std::path::Path;
use std::time::Duration;

use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::query_parameters::UploadToContainerOptions;
use bollard::Docker;
use bytes::Bytes;
use futures_util::StreamExt as _;
use tokio::io::{AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

use super::dump_plan::ExecCommand;

/// Stderr kept from one exec (the end of it).
const STDERR_CAP: usize = 8 * 1024;

/// How an exec ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecEnd {
    /// `None`: the engine did not say.
    pub exit_code: Option<i64>,
    /// The end of its stderr, lossily decoded.
    pub stderr: String,
    /// Bytes it wrote to stdout.
    pub stdout_bytes: u64,
}

impl ExecEnd {
    pub fn succeeded(&self) -> bool {
        self.exit_code == Some(0)
    }

    /// The program was not found (the shell's 127, the runtime's 126 / "executable file not
    /// found").
    pub fn not_found(&self) -> bool {
        matches!(self.exit_code, Some(126 | 127))
            || self.stderr.contains("executable file not found")
    }
}

/// Why an exec could not be run to its end.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The engine refused or broke off.
    #[error("{operation}: {source}")]
    Api {
        operation: String,
        #[source]
        source: bollard::errors::Error,
    },
    /// The engine cannot do it (no exec, no attach).
    #[error("{0}")]
    Unsupported(String),
    /// Writing its output failed (a full disk): the command was abandoned.
    #[error("writing the output: {0}")]
    Write(#[source] std::io::Error),
    /// Reading its input failed.
    #[error("reading the input: {0}")]
    Read(#[source] std::io::Error),
    /// It did not finish in time.
    #[error("did not finish within {0:?}")]
    Timeout(Duration),
}

fn api(operation: &str) -> impl FnOnce(bollard::errors::Error) -> ExecError + '_ {
    move |source| ExecError::Api {
        operation: operation.to_owned(),
        source,
    }
}

/// Runs `command` in the running `container`, stdout into `stdout`, stdin from `stdin` (then
/// closed), within `timeout`.
pub async fn exec(
    docker: &Docker,
    container: &str,
    command: &ExecCommand,
    stdin: Option<&Path>,
    stdout: &mut (dyn AsyncWrite + Unpin + Send),
    timeout: Duration,
) -> Result<ExecEnd, ExecError> {
    match tokio::time::timeout(timeout, run(docker, container, command, stdin, stdout)).await {
        Ok(result) => result,
        Err(_) => Err(ExecError::Timeout(timeout)),
    }
}

async fn run(
    docker: &Docker,
    container: &str,
    command: &ExecCommand,
    stdin: Option<&Path>,
    stdout: &mut (dyn AsyncWrite + Unpin + Send),
) -> Result<ExecEnd, ExecError> {
    let operation = format!("exec {} in {container}", command.cmd.join(" "));
    let options = CreateExecOptions {
        cmd: Some(command.cmd.clone()),
        env: Some(command.env.clone()),
        attach_stdin: Some(stdin.is_some()),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        ..CreateExecOptions::default()
    };
    let created = docker
        .create_exec(container, options)
        .await
        .map_err(api(&operation))?;
    let start = StartExecOptions {
        detach: false,
        tty: false,
        output_capacity: None,
    };
    let started = docker
        .start_exec(&created.id, Some(start))
        .await
        .map_err(api(&operation))?;
    let StartExecResults::Attached { mut output, input } = started else {
        return Err(ExecError::Unsupported(format!(
            "{operation}: the engine did not attach"
        )));
    };
    let mut stderr = Vec::new();
    let mut stdout_bytes = 0u64;
    let feed = async move {
        let mut input = input;
        if let Some(path) = stdin {
            let mut file = tokio::fs::File::open(path).await.map_err(ExecError::Read)?;
            let mut buffer = vec![0u8; 64 * 1024];
            loop {
                let read = file.read(&mut buffer).await.map_err(ExecError::Read)?;
                let Some(chunk) = buffer.get(..read).filter(|chunk| !chunk.is_empty()) else {
                    break;
                };
                // The process may exit early (an error): its output says why.
                if input.write_all(chunk).await.is_err() {
                    break;
                }
            }
        }
        let _ = input.shutdown().await;
        Ok::<(), ExecError>(())
    };
    let drain = async {
        while let Some(item) = output.next().await {
            match item.map_err(api(&operation))? {
                bollard::container::LogOutput::StdOut { message } => {
                    stdout.write_all(&message).await.map_err(ExecError::Write)?;
                    stdout_bytes += message.len() as u64;
                }
                bollard::container::LogOutput::StdErr { message } => {
                    stderr.extend_from_slice(&message);
                    if stderr.len() > STDERR_CAP {
                        stderr.drain(..stderr.len() - STDERR_CAP);
                    }
                }
                _ => {}
            }
        }
        stdout.flush().await.map_err(ExecError::Write)?;
        Ok::<(), ExecError>(())
    };
    let (fed, drained) = tokio::join!(feed, drain);
    drained?;
    fed?;
    let inspected = docker
        .inspect_exec(&created.id)
        .await
        .map_err(api(&operation))?;
    Ok(ExecEnd {
        exit_code: inspected.exit_code,
        stderr: String::from_utf8_lossy(&stderr).trim().to_owned(),
        stdout_bytes,
    })
}

/// The 512-byte ustar header of one regular file (mode 0600, owned by root). Pure.
pub fn tar_header(name: &str, size: u64) -> Option<[u8; 512]> {
    let mut header = [0u8; 512];
    let name = name.as_bytes();
    if name.len() > 99 || size >= 8u64.pow(11) {
        return None;
    }
    header.get_mut(..name.len())?.copy_from_slice(name);
    fn field(header: &mut [u8; 512], at: usize, text: &str) -> Option<()> {
        header
            .get_mut(at..at + text.len())?
            .copy_from_slice(text.as_bytes());
        Some(())
    }
    field(&mut header, 100, "0000600\0")?;
    field(&mut header, 108, "0000000\0")?;
    field(&mut header, 116, "0000000\0")?;
    field(&mut header, 124, &format!("{size:011o}\0"))?;
    field(&mut header, 136, "00000000000\0")?;
    field(&mut header, 156, "0")?;
    field(&mut header, 257, "ustar\0")?;
    field(&mut header, 263, "00")?;
    // The checksum counts its own field as spaces.
    field(&mut header, 148, "        ")?;
    let sum: u32 = header.iter().map(|byte| u32::from(*byte)).sum();
    field(&mut header, 148, &format!("{sum:06o}\0 "))?;
    Some(header)
}

/// Copies the file `source` into `container` as `dir/name`, streamed as a one-entry tar.
pub async fn upload(
    docker: &Docker,
    container: &str,
    dir: &str,
    name: &str,
    source: &Path,
) -> Result<(), ExecError> {
    let operation = format!("copy {name} into {container}:{dir}");
    let file = tokio::fs::File::open(source)
        .await
        .map_err(ExecError::Read)?;
    let size = file.metadata().await.map_err(ExecError::Read)?.len();
    let Some(header) = tar_header(name, size) else {
        return Err(ExecError::Read(std::io::Error::other(
            "the file name or size does not fit a tar header",
        )));
    };
    let padding = usize::try_from((512 - size % 512) % 512).unwrap_or(0);
    let body = futures_util::stream::once(async move { Ok(Bytes::copy_from_slice(&header)) })
        .chain(tokio_util_like::chunks(file))
        .chain(futures_util::stream::once(async move {
            Ok(Bytes::from(vec![0u8; padding + 1024]))
        }));
    let options = UploadToContainerOptions {
        path: dir.to_owned(),
        ..UploadToContainerOptions::default()
    };
    docker
        .upload_to_container(container, Some(options), bollard::body_try_stream(body))
        .await
        .map_err(api(&operation))
}

/// A file read as a stream of chunks.
mod tokio_util_like {
    use bytes::Bytes;
    use futures_util::Stream;
    use tokio::io::AsyncReadExt as _;

    pub fn chunks(file: tokio::fs::File) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
        futures_util::stream::unfold(Some(file), |state| async move {
            let mut file = state?;
            let mut buffer = vec![0u8; 64 * 1024];
            match file.read(&mut buffer).await {
                Ok(0) => None,
                Ok(read) => {
                    buffer.truncate(read);
                    Some((Ok(Bytes::from(buffer)), Some(file)))
                }
                Err(error) => Some((Err(error), None)),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tar_headers_have_a_valid_checksum() {
        let header = tar_header("dump.rdb", 1234).unwrap();
        let stored = std::str::from_utf8(&header[148..154]).unwrap();
        let mut copy = header;
        copy[148..156].copy_from_slice(b"        ");
        let sum: u32 = copy.iter().map(|byte| u32::from(*byte)).sum();
        assert_eq!(u32::from_str_radix(stored, 8).unwrap(), sum);
        assert_eq!(&header[124..135], b"00000002322");
        assert!(tar_header(&"x".repeat(100), 1).is_none());
    }
}
