//! A local check's run into a [`CheckResult`] (pure), following the Nagios plugin convention:
//! exit code 0, 1, 2, 3 is ok, warning, critical, unknown; the first line of output is the
//! message (up to a `|`, after which Nagios plugins put performance data); the lines after it
//! may be Prometheus text, and become series of `source="check/<name>"`. Anything else (another
//! exit code, a signal, a timeout, a script that cannot run) is unknown, with the reason.
//!
//! Also which files of the checks directory are checks, and which of those may run.

use super::batch::BatchBuilder;
use super::limits::Caps;
use super::parse::Format;
use super::samples::{self, Origin};
use unity_shared::model::plugin::{CheckResult, CheckStatus, SourceKind};

/// The longest message kept, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 1024;

/// How a check's run ended.
#[derive(Debug, Clone, Copy)]
pub enum Run<'a> {
    /// It ran and exited (or was killed by a signal).
    Exited {
        exit_code: Option<i32>,
        signal: Option<i32>,
        stdout: &'a [u8],
        stdout_truncated: bool,
        stderr: &'a [u8],
    },
    /// It could not be started, or did not finish in time: why.
    Failed(&'a str),
}

/// The facts about a run that are not its output.
#[derive(Debug, Clone, Copy)]
pub struct Meta<'a> {
    pub name: &'a str,
    pub started_at_ms: i64,
    pub duration_ms: u64,
    pub interval_ms: u64,
}

/// The `source` label of a check's series.
pub fn source_of(name: &str) -> String {
    format!("{}/{name}", SourceKind::Check.as_str())
}

fn first_line(bytes: &[u8]) -> String {
    let line = bytes
        .split(|&byte| byte == b'\n')
        .next()
        .unwrap_or_default();
    let mut text = String::from_utf8_lossy(line).trim().to_owned();
    if text.len() > MAX_MESSAGE_BYTES {
        let mut cut = MAX_MESSAGE_BYTES;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}

/// The result of one run; its series go into `batch` (a `check_status` series with the status
/// as 0 to 3, then the ones its output gives).
pub fn result(batch: &mut BatchBuilder, meta: Meta<'_>, run: Run<'_>, caps: &Caps) -> CheckResult {
    let source = source_of(meta.name);
    let mut result = CheckResult {
        name: meta.name.to_owned(),
        status: CheckStatus::Unknown,
        message: String::new(),
        exit_code: None,
        started_at_ms: meta.started_at_ms,
        duration_ms: meta.duration_ms,
        interval_ms: meta.interval_ms,
        error: None,
        n_series: 0,
        n_dropped: 0,
        errors: Vec::new(),
    };
    match run {
        Run::Failed(why) => {
            result.message = format!("no result: {why}");
            result.error = Some(why.to_owned());
        }
        Run::Exited {
            exit_code,
            signal,
            stdout,
            stdout_truncated,
            stderr,
        } => {
            result.exit_code = exit_code;
            let (first, rest) = match stdout.iter().position(|&byte| byte == b'\n') {
                Some(at) => (&stdout[..at], &stdout[at + 1..]),
                None => (stdout, &b""[..]),
            };
            let line = first_line(first);
            let message = line.split('|').next().unwrap_or_default().trim();
            result.message = message.to_owned();
            let status = exit_code.and_then(CheckStatus::from_exit_code);
            let why = match (status, exit_code, signal) {
                (Some(_), _, _) => None,
                (None, Some(code), _) => Some(format!("exit code {code} is not 0 to 3")),
                (None, None, Some(signal)) => Some(format!("killed by signal {signal}")),
                (None, None, None) => Some("no exit status".to_owned()),
            };
            result.status = status.unwrap_or(CheckStatus::Unknown);
            if let Some(why) = why {
                let stderr = first_line(stderr);
                result.error = Some(if stderr.is_empty() {
                    why
                } else {
                    format!("{why}: {stderr}")
                });
            }
            if result.message.is_empty() {
                result.message = match &result.error {
                    Some(error) => format!("no result: {error}"),
                    None => "(no output)".to_owned(),
                };
            }
            let origin = Origin {
                kind: SourceKind::Check,
                source: &source,
                location: meta.name,
                line_offset: 1,
            };
            let status = samples::ingest(
                batch,
                origin,
                rest,
                Format::Prometheus,
                caps,
                meta.started_at_ms,
            );
            result.n_series = status.n_series;
            result.n_dropped = status.n_dropped;
            result.errors = status.errors;
            if stdout_truncated {
                result.errors.push(format!(
                    "{}: output over {} bytes was cut",
                    meta.name, caps.max_bytes
                ));
            }
        }
    }
    let no_labels: [(&str, &str); 0] = [];
    batch.push(
        &source,
        "check_status",
        &no_labels,
        meta.started_at_ms,
        result.status.value(),
    );
    batch.push(
        &source,
        "check_duration_seconds",
        &no_labels,
        meta.started_at_ms,
        meta.duration_ms as f64 / 1000.0,
    );
    result
}

/// Whether a directory entry is a check at all: not hidden, not a backup or package manager
/// leftover, not a half-written file.
pub fn is_check_name(name: &str) -> bool {
    const LEFTOVERS: &[&str] = &[
        "~",
        ".tmp",
        ".swp",
        ".bak",
        ".orig",
        ".dpkg-old",
        ".dpkg-new",
        ".dpkg-dist",
        ".rpmnew",
        ".rpmsave",
        ".disabled",
    ];
    !name.is_empty()
        && !name.starts_with('.')
        && !LEFTOVERS.iter().any(|suffix| name.ends_with(suffix))
}

/// Why an executable may not run, from its mode bits and owner: a check another user can
/// change would run that user's code as the check user (or as the agent).
pub fn refusal(mode: u32, owner_uid: u32, agent_uid: u32) -> Option<String> {
    if mode & 0o022 != 0 {
        return Some(format!(
            "refusing to run: writable by group or others (mode {:o}; chmod go-w)",
            mode & 0o7777
        ));
    }
    if owner_uid != 0 && owner_uid != agent_uid {
        return Some(format!(
            "refusing to run: owned by uid {owner_uid}, not root (chown root)"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> Meta<'static> {
        Meta {
            name: "backup_age",
            started_at_ms: 1000,
            duration_ms: 25,
            interval_ms: 60_000,
        }
    }

    fn exited<'a>(code: Option<i32>, signal: Option<i32>, stdout: &'a str) -> Run<'a> {
        Run::Exited {
            exit_code: code,
            signal,
            stdout: stdout.as_bytes(),
            stdout_truncated: false,
            stderr: b"python3: not found\n",
        }
    }

    fn check(run: Run<'_>) -> (CheckResult, usize) {
        let mut batch = BatchBuilder::default();
        let result = result(&mut batch, meta(), run, &Caps::default());
        (result, batch.len())
    }

    #[test]
    fn exit_codes_are_the_status_and_the_first_line_the_message() {
        for (code, status) in [
            (0, CheckStatus::Ok),
            (1, CheckStatus::Warning),
            (2, CheckStatus::Critical),
            (3, CheckStatus::Unknown),
        ] {
            let (result, _) = check(exited(
                Some(code),
                None,
                "BACKUP OK - 2 h old | age=7200s\n",
            ));
            assert_eq!(result.status, status);
            assert_eq!(result.message, "BACKUP OK - 2 h old");
            assert_eq!(result.error, None);
        }
    }

    #[test]
    fn lines_after_the_first_are_series_and_their_errors_name_the_line() {
        let (result, n_samples) = check(exited(
            Some(0),
            None,
            "fine\nbackup_age_seconds 7200\nbackup_size_bytes{set=\"home\"} 1e9\nnot a sample\n",
        ));
        assert_eq!(result.n_series, 2);
        assert_eq!(
            n_samples, 4,
            "two series, check_status and check_duration_seconds"
        );
        assert_eq!(
            result.errors,
            vec!["backup_age:4: invalid value \"a\"".to_owned()]
        );
    }

    #[test]
    fn no_answer_is_unknown_with_the_reason() {
        let (result, _) = check(exited(Some(127), None, ""));
        assert_eq!(result.status, CheckStatus::Unknown);
        assert_eq!(
            result.error.as_deref(),
            Some("exit code 127 is not 0 to 3: python3: not found")
        );
        assert_eq!(
            result.message,
            "no result: exit code 127 is not 0 to 3: python3: not found"
        );
        let (result, _) = check(exited(None, Some(9), "half a line"));
        assert_eq!(result.status, CheckStatus::Unknown);
        assert_eq!(result.message, "half a line");
        assert!(result.error.unwrap().starts_with("killed by signal 9"));
        let (result, n) = check(Run::Failed("did not finish within 10s and was killed"));
        assert_eq!(result.status, CheckStatus::Unknown);
        assert_eq!(result.exit_code, None);
        assert_eq!(n, 2, "the status series still says unknown");
        let (result, _) = check(exited(Some(0), None, ""));
        assert_eq!(result.message, "(no output)");
        let long = "x".repeat(5000);
        let (result, _) = check(exited(Some(0), None, &long));
        assert!(result.message.len() <= MAX_MESSAGE_BYTES + 3);
    }

    #[test]
    fn which_files_are_checks_and_which_may_run() {
        assert!(is_check_name("disk_free"));
        assert!(is_check_name("backup.sh"));
        for name in [
            ".hidden",
            "x~",
            "x.tmp",
            "x.dpkg-old",
            "x.rpmnew",
            "x.disabled",
            "",
        ] {
            assert!(!is_check_name(name), "{name}");
        }
        assert_eq!(refusal(0o755, 0, 0), None);
        assert_eq!(refusal(0o700, 1000, 1000), None);
        assert!(refusal(0o775, 0, 0).unwrap().contains("writable by group"));
        assert!(refusal(0o757, 0, 0).unwrap().contains("mode 757"));
        assert!(refusal(0o755, 1000, 0)
            .unwrap()
            .contains("owned by uid 1000"));
    }
}
