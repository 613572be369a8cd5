//! The optional language-model summary of release notes (off by default): one request to an
//! OpenAI-compatible chat-completions endpoint (Ollama, llama.cpp's server, OpenAI, …) asking
//! for "what changes for you" and the breaking changes as JSON. The prompt and the answer are
//! kept with the update and shown as machine-generated. It never blocks anything: a tight
//! timeout, a bounded answer, and every failure (timeout, refusal, an answer that is not the
//! JSON asked for) recorded as the summary's error.

pub mod settings;

use crate::storage::release_notes::{Release, SummaryRecord};
use serde::Deserialize;
use settings::SummarySettings;

/// The instructions the model gets before the notes.
const SYSTEM: &str = "You summarise container image release notes for the person who runs \
the container. Answer with one JSON object only, no prose around it: \
{\"summary\": \"what changes for you, at most 5 short sentences\", \
\"breaking\": [\"each breaking change or required manual step, one sentence each\"]}. \
Use an empty list when nothing breaks. Do not invent changes that the notes do not state.";

/// The user message: the image, the two versions and the notes, cut to `max_bytes` (pure).
pub fn prompt(
    image: &str,
    current: &str,
    candidate: &str,
    releases: &[Release],
    max_bytes: usize,
) -> String {
    let mut text = format!(
        "Image {image}: update from {current} to {candidate}.\nRelease notes, newest first:\n"
    );
    for release in releases {
        let heading = match &release.name {
            Some(name) if *name != release.tag => format!("\n## {} ({name})\n", release.tag),
            _ => format!("\n## {}\n", release.tag),
        };
        text.push_str(&heading);
        text.push_str(release.body.trim());
        text.push('\n');
    }
    let (mut cut, truncated) = crate::updates::notes::releases::truncate(&text, max_bytes);
    if truncated.is_some() {
        cut.push_str("\n[notes cut here]\n");
    }
    cut
}

#[derive(Deserialize)]
struct Completion {
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    message: Message,
}

#[derive(Deserialize)]
struct Message {
    content: Option<String>,
}

#[derive(Deserialize)]
struct Answer {
    summary: String,
    #[serde(default)]
    breaking: Vec<String>,
}

/// The summary and breaking changes in the model's text (pure): a JSON object, possibly in a
/// Markdown code fence or with words around it.
pub fn parse_answer(content: &str) -> Result<(String, Vec<String>), String> {
    let start = content.find('{');
    let end = content.rfind('}');
    let json = match (start, end) {
        (Some(start), Some(end)) if start < end => &content[start..=end],
        _ => return Err("the model's answer holds no JSON object".into()),
    };
    let answer: Answer = serde_json::from_str(json)
        .map_err(|error| format!("the model's answer is not the JSON asked for: {error}"))?;
    if answer.summary.trim().is_empty() {
        return Err("the model's answer has an empty summary".into());
    }
    Ok((answer.summary.trim().to_owned(), answer.breaking))
}

/// Asks the model; always returns a record (with `error` on failure). `api_key` is sent as a
/// bearer token and never logged or stored.
pub async fn summarise(
    http: &reqwest::Client,
    settings: &SummarySettings,
    api_key: Option<&str>,
    user_prompt: String,
    now_ms: i64,
) -> SummaryRecord {
    let mut record = SummaryRecord {
        model: settings.model.clone(),
        at_ms: now_ms,
        prompt: format!("{SYSTEM}\n\n{user_prompt}"),
        answer: None,
        summary: None,
        breaking: Vec::new(),
        error: None,
    };
    match ask(http, settings, api_key, &user_prompt).await {
        Ok(content) => {
            let (content, _) =
                crate::updates::notes::releases::truncate(&content, settings.max_answer_bytes);
            match parse_answer(&content) {
                Ok((summary, breaking)) => {
                    record.summary = Some(summary);
                    record.breaking = breaking;
                }
                Err(error) => record.error = Some(error),
            }
            record.answer = Some(content);
        }
        Err(error) => record.error = Some(error),
    }
    record
}

async fn ask(
    http: &reqwest::Client,
    settings: &SummarySettings,
    api_key: Option<&str>,
    user_prompt: &str,
) -> Result<String, String> {
    let body = serde_json::json!({
        "model": settings.model,
        "temperature": 0,
        "max_tokens": (settings.max_answer_bytes / 3).max(64),
        "messages": [
            { "role": "system", "content": SYSTEM },
            { "role": "user", "content": user_prompt },
        ],
    });
    let mut request = http
        .post(&settings.url)
        .timeout(settings.timeout)
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(key) = api_key {
        request = request.bearer_auth(key);
    }
    let exchange = async {
        let mut response = request.send().await.map_err(|error| {
            format!(
                "no answer: {}",
                crate::updates::notes::fetch::innermost(&error)
            )
        })?;
        let status = response.status();
        // Read at most four times the answer's bound: the envelope is JSON around it.
        let limit = settings.max_answer_bytes.saturating_mul(4).max(16 * 1024);
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|error| {
            format!(
                "answer broken off: {}",
                crate::updates::notes::fetch::innermost(&error)
            )
        })? {
            bytes.extend_from_slice(&chunk);
            if bytes.len() > limit {
                return Err(format!("answer larger than {limit} bytes"));
            }
        }
        if !status.is_success() {
            return Err(format!("the endpoint answered {}", status.as_u16()));
        }
        let completion: Completion = serde_json::from_slice(&bytes)
            .map_err(|error| format!("not a chat-completions answer: {error}"))?;
        completion
            .choices
            .into_iter()
            .next()
            .and_then(|choice| choice.message.content)
            .ok_or_else(|| "the answer has no message".to_owned())
    };
    // reqwest's timeout covers the request; this covers a body that trickles.
    match tokio::time::timeout(settings.timeout, exchange).await {
        Ok(result) => result,
        Err(_) => Err(format!(
            "no answer within {}",
            humantime::format_duration(settings.timeout)
        )),
    }
}

#[cfg(test)]
mod tests;
