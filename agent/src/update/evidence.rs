//! The evidence a failed candidate leaves behind, made safe to send (pure): its last log lines
//! and the engine's health check runs, bounded ([`EVIDENCE_LOG_LINES`] lines and
//! [`EVIDENCE_LOG_BYTES`] bytes of log, [`EVIDENCE_HEALTH_OUTPUT_BYTES`] per check output),
//! decoded as UTF-8 with invalid bytes replaced. The container's output is hostile text: it is
//! only cut and decoded here; the controller escapes it wherever it shows it.
//! `swap.rs` reads the logs and the inspect before the rollback removes the container.

use serde_json::Value;
use unity_shared::model::update::{
    FailureEvidence, HealthCheckRun, EVIDENCE_HEALTH_OUTPUT_BYTES, EVIDENCE_LOG_BYTES,
    EVIDENCE_LOG_LINES,
};

/// At most this many health check runs are kept (the engine keeps 5).
pub const EVIDENCE_HEALTH_RUNS: usize = 10;

/// The newest `max_bytes` of `text` (cut at a character boundary), and whether anything was
/// cut.
pub fn newest_bytes(text: &str, max_bytes: usize) -> (&str, bool) {
    if text.len() <= max_bytes {
        return (text, false);
    }
    let mut start = text.len() - max_bytes;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    (text.get(start..).unwrap_or_default(), true)
}

/// The log's last lines within the bounds: raw bytes (stdout and stderr as the engine
/// returned them) → (text, cut).
pub fn log_tail(raw: &[u8]) -> (String, bool) {
    let text = String::from_utf8_lossy(raw);
    let mut cut = false;
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let kept = match lines.len().checked_sub(EVIDENCE_LOG_LINES) {
        Some(skip) if skip > 0 => {
            cut = true;
            lines.get(skip..).unwrap_or_default().concat()
        }
        _ => text.clone().into_owned(),
    };
    let (newest, bytes_cut) = newest_bytes(&kept, EVIDENCE_LOG_BYTES);
    (newest.to_owned(), cut || bytes_cut)
}

/// The engine's health check runs (`State.Health.Log` of a container inspect as JSON), oldest
/// first, the newest [`EVIDENCE_HEALTH_RUNS`], each output bounded. Missing fields are empty.
pub fn health_checks(inspect: &Value) -> Vec<HealthCheckRun> {
    let Some(runs) = inspect
        .pointer("/State/Health/Log")
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    let skip = runs.len().saturating_sub(EVIDENCE_HEALTH_RUNS);
    runs.iter()
        .skip(skip)
        .map(|run| {
            let text = |key: &str| run.get(key).and_then(Value::as_str).unwrap_or_default();
            let output = text("Output");
            let (output, _) = newest_bytes(output, EVIDENCE_HEALTH_OUTPUT_BYTES);
            HealthCheckRun {
                start: newest_bytes(text("Start"), 64).0.to_owned(),
                end: newest_bytes(text("End"), 64).0.to_owned(),
                exit_code: run.get("ExitCode").and_then(Value::as_i64).unwrap_or(-1),
                output: output.to_owned(),
            }
        })
        .collect()
}

/// The evidence from what was read: the gate's reason, the raw log (or why it could not be
/// read), the container's inspect as JSON and the probe's last failure.
pub fn assemble(
    reason: &str,
    logs: Result<Vec<u8>, String>,
    inspect: Option<&Value>,
    probe_failure: Option<String>,
) -> FailureEvidence {
    let (log_tail, log_truncated, capture_error) = match logs {
        Ok(raw) => {
            let (tail, cut) = log_tail(&raw);
            (tail, cut, None)
        }
        Err(error) => (String::new(), false, Some(error)),
    };
    FailureEvidence {
        reason: reason.to_owned(),
        log_tail,
        log_truncated,
        health_checks: inspect.map(health_checks).unwrap_or_default(),
        probe_failure,
        capture_error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn issue_17_the_log_keeps_the_newest_lines_within_the_bounds() {
        let raw: String = (0..500).map(|n| format!("line {n}\n")).collect();
        let (tail, cut) = log_tail(raw.as_bytes());
        assert!(cut);
        assert_eq!(tail.lines().count(), EVIDENCE_LOG_LINES);
        assert!(tail.starts_with("line 300\n") && tail.ends_with("line 499\n"));

        let long = "é".repeat(EVIDENCE_LOG_BYTES); // two bytes each
        let (tail, cut) = log_tail(long.as_bytes());
        assert!(cut && tail.len() <= EVIDENCE_LOG_BYTES && tail.chars().all(|c| c == 'é'));

        let (tail, cut) = log_tail(b"short\n");
        assert_eq!((tail.as_str(), cut), ("short\n", false));
    }

    #[test]
    fn issue_17_invalid_utf8_and_markup_stay_text() {
        let (tail, _) = log_tail(b"bad \xff\xfe byte <script>alert(1)</script>\n");
        assert_eq!(
            tail,
            "bad \u{fffd}\u{fffd} byte <script>alert(1)</script>\n"
        );
    }

    #[test]
    fn issue_17_health_runs_come_from_the_inspect_bounded() {
        let inspect = json!({ "State": { "Health": { "Status": "unhealthy", "Log": [
            { "Start": "2026-12-07T09:00:00Z", "End": "2026-12-07T09:00:01Z", "ExitCode": 1,
              "Output": "x".repeat(EVIDENCE_HEALTH_OUTPUT_BYTES + 10) },
            { "Start": "2026-12-07T09:00:02Z", "ExitCode": 2 },
        ] } } });
        let runs = health_checks(&inspect);
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].exit_code, 1);
        assert_eq!(runs[0].output.len(), EVIDENCE_HEALTH_OUTPUT_BYTES);
        assert_eq!((runs[1].end.as_str(), runs[1].exit_code), ("", 2));
        assert!(health_checks(&json!({ "State": {} })).is_empty());
    }

    #[test]
    fn issue_17_unreadable_logs_are_said() {
        let evidence = assemble("exited with code 1", Err("gone".into()), None, None);
        assert_eq!(evidence.capture_error.as_deref(), Some("gone"));
        assert!(evidence.log_tail.is_empty());
    }
}
