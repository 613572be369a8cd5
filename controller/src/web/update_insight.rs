//! Beside each pending update on the updates page: the recommendation (apply now, wait, hold)
//! with its reasons, the release notes between the running version and the candidate, and
//! the language model's summary, labelled as machine-generated with its prompt and answer.
//! Release bodies are shown as text (escaped by maud, never as HTML); only `http(s)` links
//! are made links.

use super::format::{ago, datetime};
use crate::storage::release_notes::{NotesRecord, Release, SummaryRecord};
use crate::updates::insight::Insight;
use crate::updates::recommend::Verdict;
use maud::{html, Markup};

/// A link target from a forge or a label: only `http://` and `https://` (no `javascript:`).
fn safe_href(url: &str) -> Option<&str> {
    (url.starts_with("https://") || url.starts_with("http://")).then_some(url)
}

fn link(url: &str, text: &str) -> Markup {
    html! {
        @match safe_href(url) {
            Some(href) => a href=(href) rel="noopener noreferrer nofollow" target="_blank" { (text) },
            None => (text),
        }
    }
}

fn verdict_class(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::ApplyNow => "verdict-apply",
        Verdict::Wait => "verdict-wait",
        Verdict::Hold => "verdict-hold",
    }
}

fn release(release: &Release) -> Markup {
    html! {
        div.release data-release=(release.tag) {
            strong {
                @match &release.url {
                    Some(url) => (link(url, &release.tag)),
                    None => (release.tag),
                }
            }
            @if let Some(name) = release.name.as_deref().filter(|name| *name != release.tag) { " " (name) }
            @if let Some(published) = &release.published_at { " " span.sub { (published) } }
            @if release.prerelease { " " span.sub { "prerelease" } }
            pre.release-notes { (release.body) }
            @if let Some(from) = release.truncated_from {
                p.sub.truncated { "Cut here: the notes are " (from) " bytes; the rest is on the release page." }
            }
        }
    }
}

fn summary(summary: &SummaryRecord, now: i64) -> Markup {
    html! {
        div.machine-summary data-machine-generated {
            p { strong { "Machine-generated summary" } " by " code { (summary.model) } ", " (ago(summary.at_ms, now))
                " — written by a language model from the notes below; it can be wrong." }
            @if let Some(text) = &summary.summary { p { "What changes for you: " (text) } }
            @if !summary.breaking.is_empty() {
                p { "Breaking changes it flagged:" }
                ul { @for item in &summary.breaking { li { (item) } } }
            }
            @if let Some(error) = &summary.error { p.sub.summary-error { "No summary: " (error) } }
            details { summary { "Prompt and answer" }
                p.sub { "Prompt sent:" } pre { (summary.prompt) }
                p.sub { "Answer received:" } pre { (summary.answer.as_deref().unwrap_or("(none)")) }
            }
        }
    }
}

fn notes(notes: &NotesRecord, now: i64) -> Markup {
    html! {
        @if let Some(origin) = &notes.origin {
            p.sub { "Release notes from " (origin.provider) ": " (link(&origin.url, &origin.url))
                " (found by " (origin.found_by) "), fetched " (datetime(notes.fetched_at_ms)) "." }
        }
        @if let Some(error) = &notes.error { p.sub.notes-error { "Release notes: " (error) } }
        @if let Some(record) = &notes.summary { (summary(record, now)) }
        @if !notes.releases.is_empty() {
            details.release-list {
                summary { (notes.releases.len()) " release(s) since the running version" }
                @for item in &notes.releases { (release(item)) }
            }
        }
    }
}

/// The row under an update: recommendation, reasons, notes, summary.
pub fn row(insight: &Insight, columns: usize, now: i64) -> Markup {
    let recommendation = &insight.recommendation;
    html! {
        tr.insight data-verdict=(recommendation.verdict.as_str()) {
            td colspan=(columns) {
                span class={ "badge " (verdict_class(recommendation.verdict)) } { "Recommended: " (recommendation.verdict.as_str()) }
                ul.reasons {
                    @for reason in &recommendation.reasons {
                        li data-verdict=(reason.verdict.as_str()) { (reason.verdict.as_str()) ": " (reason.text) }
                    }
                }
                @if let Some(record) = &insight.release_notes { (notes(record, now)) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::containers::UpdateKind;
    use crate::updates::recommend::{recommend, FleetHistory, Inputs, Thresholds};
    use unity_shared::proto::AgentId;

    fn insight(body: &str, url: &str) -> Insight {
        let releases = vec![Release {
            tag: "v1.2.0".into(),
            name: Some("<b>Big</b>".into()),
            body: body.into(),
            url: Some(url.into()),
            published_at: None,
            truncated_from: Some(2_000_000),
            prerelease: false,
        }];
        let inputs = Inputs {
            kind: UpdateKind::Major,
            age: None,
            cve: None,
            fleet: FleetHistory::default(),
            notes: Some(crate::updates::notes::releases::flags(&releases)),
            database_major: None,
        };
        Insight {
            recommendation: recommend(&inputs, Thresholds::default()),
            release_notes: Some(NotesRecord {
                agent_id: AgentId::new("nas-1").unwrap(),
                container: "app".into(),
                candidate_digest: "sha256:b".into(),
                fetched_at_ms: 0,
                origin: None,
                releases,
                error: None,
                summary: Some(SummaryRecord {
                    model: "llama3.1".into(),
                    at_ms: 0,
                    prompt: "Summarise <notes>".into(),
                    answer: Some("{\"summary\": \"<script>x</script>\"}".into()),
                    summary: Some("<script>x</script> changes".into()),
                    breaking: vec!["<i>flag</i> removed".into()],
                    error: None,
                }),
            }),
        }
    }

    #[test]
    fn issue_17_notes_are_text_links_only_http_and_the_summary_is_labelled() {
        let body = "## Breaking\n<script>alert(1)</script><img src=x onerror=alert(1)>";
        let html = row(&insight(body, "javascript:alert(1)"), 10, 0).into_string();
        assert!(
            !html.contains("<script>")
                && !html.contains("<img")
                && !html.contains("<b>")
                && !html.contains("<i>"),
            "{html}"
        );
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(!html.contains("href=\"javascript:"), "{html}");
        assert!(html.contains("Recommended: wait"), "{html}");
        assert!(
            html.contains("release notes say &quot;breaking&quot; (v1.2.0)"),
            "{html}"
        );
        assert!(html.contains("Machine-generated summary"), "{html}");
        assert!(html.contains("data-machine-generated"), "{html}");
        assert!(
            html.contains("Summarise &lt;notes&gt;"),
            "the prompt is shown: {html}"
        );
        assert!(
            html.contains("Cut here: the notes are 2000000 bytes"),
            "{html}"
        );
        let html = row(
            &insight("notes", "https://github.com/o/r/releases/v1.2.0"),
            10,
            0,
        )
        .into_string();
        assert!(
            html.contains("href=\"https://github.com/o/r/releases/v1.2.0\""),
            "{html}"
        );
    }
}
