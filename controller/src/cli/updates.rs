//! `unity-controller updates …`: pending updates as the Updates page shows them, from the
//! command line: each with its recommendation and reasons, the vulnerability gate's verdict,
//! why it waits, and (with `show`) its release notes and machine-generated summary. The
//! daemon answers with the same JSON documents as `GET /api/v1/updates`; the text is
//! rendered from them here.

use super::{admin_call, print_json, unexpected};
use crate::admin::{AdminRequest, AdminResponse};
use crate::config::Config;
use clap::Subcommand;
use serde_json::Value;
use unity_shared::outln;

#[derive(Debug, Subcommand)]
pub enum UpdatesCommand {
    /// Containers with a newer image: host, container, current → candidate, the
    /// recommendation, the vulnerability gate and why it waits.
    List {
        /// `update` (pending updates, the default), `error` (failed checks) or `all`.
        #[arg(long)]
        status: Option<String>,
        /// The API's JSON documents instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// One container's pending update in full: the recommendation's reasons, the
    /// vulnerability gate, the cooldown, release notes and the machine-generated summary.
    Show {
        /// The host's agent id (as `updates list` shows it).
        host: String,
        container: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(command: UpdatesCommand, config: &Config) -> anyhow::Result<()> {
    let status = match &command {
        UpdatesCommand::List { status, .. } => status.clone(),
        UpdatesCommand::Show { .. } => Some("all".to_owned()),
    };
    let checks = match admin_call(config, AdminRequest::UpdateChecks { status }).await? {
        AdminResponse::UpdateChecks(checks) => checks,
        other => return unexpected(other),
    };
    match command {
        UpdatesCommand::List { json: true, .. } => print_json(&checks),
        UpdatesCommand::List { json: false, .. } => {
            outln!("{}", render_list(&checks));
            Ok(())
        }
        UpdatesCommand::Show {
            host,
            container,
            json,
        } => {
            let Some(check) = checks.iter().find(|check| {
                text(&check["agent_id"]) == host && text(&check["container"]) == container
            }) else {
                anyhow::bail!(
                    "no update check for {container} on {host} (see `updates list --status all`)"
                );
            };
            if json {
                return print_json(check);
            }
            outln!("{}", render_show(check));
            Ok(())
        }
    }
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or("")
}

/// `1.27 → 1.28`, or the check's outcome when it found no update.
fn change(check: &Value) -> String {
    let outcome = &check["outcome"];
    let update = &outcome["update"];
    if update.is_object() {
        let from = update["current_tag"].as_str().unwrap_or("?");
        let to = text(&update["candidate_tag"]);
        let kind = text(&update["kind"]);
        return format!("{from} → {to} ({kind})");
    }
    match outcome {
        Value::String(word) => word.replace('_', " "),
        Value::Object(map) => match map.iter().next() {
            Some((word, detail)) => {
                let why = detail["reason"]
                    .as_str()
                    .or(detail["message"].as_str())
                    .unwrap_or("");
                format!("{word}: {why}")
            }
            None => String::new(),
        },
        _ => String::new(),
    }
}

fn verdict_words(verdict: &str) -> String {
    verdict.replace('_', " ")
}

/// The table of `updates list`: one line per check.
pub fn render_list(checks: &[Value]) -> String {
    if checks.is_empty() {
        return "No pending updates (`--status all` lists every check).".to_owned();
    }
    let mut out = format!(
        "{:<20} {:<20} {:<28} {:<10} {:<34} WAITING",
        "HOST", "CONTAINER", "CHANGE", "ADVICE", "VULNERABILITIES"
    );
    for check in checks {
        let advice = check["insight"]["recommendation"]["verdict"]
            .as_str()
            .map_or_else(|| "-".to_owned(), verdict_words);
        let gate = check["vulnerability_gate"]["summary"]
            .as_str()
            .unwrap_or("-");
        let waiting = check["waiting"].as_str().unwrap_or("-");
        out.push_str(&format!(
            "\n{:<20} {:<20} {:<28} {:<10} {:<34} {}",
            text(&check["agent_id"]),
            text(&check["container"]),
            change(check),
            advice,
            gate,
            waiting
        ));
    }
    out
}

/// `updates show`: one check in full, as lines for people.
pub fn render_show(check: &Value) -> String {
    let mut lines = vec![
        format!(
            "{} on {}: {}",
            text(&check["container"]),
            text(&check["agent_id"]),
            change(check)
        ),
        format!("image        {}", text(&check["image"])),
    ];
    if let Some(waiting) = check["waiting"].as_str() {
        lines.push(format!("waiting      {waiting}"));
    }
    if let Some(failed) = check["failed"].as_object() {
        let why = failed
            .get("reason")
            .and_then(Value::as_str)
            .unwrap_or("see the operation");
        lines.push(format!("failed here  {why}"));
    }
    if let Some(cooldown) = check["cooldown"]["text"].as_str() {
        lines.push(format!("cooldown     {cooldown}"));
    }
    let gate = &check["vulnerability_gate"];
    if gate.is_object() {
        lines.push(format!(
            "gate         {} (scanner: {})",
            text(&gate["summary"]),
            text(&gate["scanner"])
        ));
    }
    let recommendation = &check["insight"]["recommendation"];
    if let Some(verdict) = recommendation["verdict"].as_str() {
        lines.push(format!("advice       {}", verdict_words(verdict)));
        for reason in recommendation["reasons"].as_array().into_iter().flatten() {
            lines.push(format!(
                "  - {} ({})",
                text(&reason["text"]),
                verdict_words(text(&reason["verdict"]))
            ));
        }
    }
    let notes = &check["insight"]["release_notes"];
    if let Some(error) = notes["error"].as_str() {
        lines.push(format!("notes        not read: {error}"));
    }
    for release in notes["releases"].as_array().into_iter().flatten() {
        lines.push(format!(
            "release      {} {}",
            text(&release["tag"]),
            text(&release["url"])
        ));
        for line in text(&release["body"]).lines().take(20) {
            lines.push(format!("  | {line}"));
        }
    }
    let summary = &notes["summary"];
    if summary.is_object() {
        match summary["summary"].as_str() {
            Some(said) => lines.push(format!(
                "summary      (machine-generated by {}) {said}",
                text(&summary["model"])
            )),
            None => lines.push(format!(
                "summary      not made: {}",
                summary["error"].as_str().unwrap_or("no answer")
            )),
        }
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pending() -> Value {
        json!({
            "agent_id": "nas-1a2b3c",
            "container": "web",
            "image": "nginx:1.27",
            "checked_at_ms": 1,
            "outcome": { "update": {
                "kind": "minor", "current_tag": "1.27", "candidate_tag": "1.28",
                "candidate_digest": "sha256:bb", "offered": false
            }},
            "waiting": "cooldown (minimum image age): eligible in 2h 13m",
            "cooldown": { "text": "eligible in 2h 13m" },
            "vulnerability_gate": { "scanner": "trivy", "summary": "fixes 1 critical" },
            "insight": {
                "recommendation": { "verdict": "apply_now", "reasons": [
                    { "kind": "cve", "verdict": "apply_now", "text": "fixes 1 critical" }
                ]},
                "release_notes": {
                    "releases": [{ "tag": "v1.28.0", "url": "https://x/r", "body": "Fixes.\n<b>bold</b>" }],
                    "summary": { "model": "m", "summary": "Nothing breaks." }
                }
            }
        })
    }

    #[test]
    fn issue_17_the_list_says_change_advice_gate_and_wait() {
        let table = render_list(&[
            pending(),
            json!({
                "agent_id": "pi", "container": "dns", "image": "x",
                "outcome": { "error": { "message": "registry unreachable" } }
            }),
        ]);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("HOST"));
        for wanted in [
            "nas-1a2b3c",
            "web",
            "1.27 → 1.28 (minor)",
            "apply now",
            "fixes 1 critical",
            "eligible in 2h 13m",
        ] {
            assert!(lines[1].contains(wanted), "{wanted}: {table}");
        }
        assert!(lines[2].contains("error: registry unreachable"), "{table}");
        assert!(render_list(&[]).starts_with("No pending updates"));
    }

    #[test]
    fn issue_17_show_gives_reasons_notes_and_the_labelled_summary() {
        let text = render_show(&pending());
        for wanted in [
            "web on nas-1a2b3c: 1.27 → 1.28 (minor)",
            "advice       apply now",
            "  - fixes 1 critical (apply now)",
            "gate         fixes 1 critical (scanner: trivy)",
            "release      v1.28.0 https://x/r",
            "  | <b>bold</b>",
            "summary      (machine-generated by m) Nothing breaks.",
        ] {
            assert!(text.contains(wanted), "{wanted}:\n{text}");
        }
        // A check without any of the optional parts still renders.
        let bare =
            render_show(&json!({ "agent_id": "a", "container": "c", "outcome": "up_to_date" }));
        assert_eq!(bare.lines().next(), Some("c on a: up to date"));
    }
}
