//! Release lists as the forges return them, made one shape (pure): GitHub's and Gitea's
//! `tag_name`/`body`/`html_url`, GitLab's `tag_name`/`description`/`_links.self`; the releases
//! between the running tag and the candidate; bodies cut to a bound with a note; and the
//! warning words a recommendation looks for.

use super::source::Provider;
pub use crate::storage::release_notes::Release;
use crate::updates::recommend::NoteFlag;
use serde::Deserialize;

#[derive(Deserialize)]
struct GithubRelease {
    tag_name: String,
    name: Option<String>,
    body: Option<String>,
    html_url: Option<String>,
    published_at: Option<String>,
    #[serde(default)]
    draft: bool,
    #[serde(default)]
    prerelease: bool,
}

#[derive(Deserialize)]
struct GitlabLinks {
    #[serde(rename = "self")]
    self_url: Option<String>,
}

#[derive(Deserialize)]
struct GitlabRelease {
    tag_name: String,
    name: Option<String>,
    description: Option<String>,
    released_at: Option<String>,
    #[serde(default)]
    upcoming_release: bool,
    #[serde(rename = "_links")]
    links: Option<GitlabLinks>,
}

/// The releases in a forge's answer, bodies cut to `max_body_bytes` (drafts and GitLab's
/// upcoming releases left out).
pub fn parse(
    provider: Provider,
    bytes: &[u8],
    max_body_bytes: usize,
) -> Result<Vec<Release>, String> {
    let releases = match provider {
        Provider::Github | Provider::Gitea => {
            let raw: Vec<GithubRelease> =
                serde_json::from_slice(bytes).map_err(|error| format!("release list: {error}"))?;
            raw.into_iter()
                .filter(|release| !release.draft)
                .map(|release| {
                    let (body, truncated_from) =
                        truncate(release.body.as_deref().unwrap_or_default(), max_body_bytes);
                    Release {
                        tag: release.tag_name,
                        name: release.name.filter(|name| !name.is_empty()),
                        body,
                        url: release.html_url,
                        published_at: release.published_at,
                        truncated_from,
                        prerelease: release.prerelease,
                    }
                })
                .collect()
        }
        Provider::Gitlab => {
            let raw: Vec<GitlabRelease> =
                serde_json::from_slice(bytes).map_err(|error| format!("release list: {error}"))?;
            raw.into_iter()
                .filter(|release| !release.upcoming_release)
                .map(|release| {
                    let (body, truncated_from) = truncate(
                        release.description.as_deref().unwrap_or_default(),
                        max_body_bytes,
                    );
                    Release {
                        tag: release.tag_name,
                        name: release.name.filter(|name| !name.is_empty()),
                        body,
                        url: release.links.and_then(|links| links.self_url),
                        published_at: release.released_at,
                        truncated_from,
                        prerelease: false,
                    }
                })
                .collect()
        }
    };
    Ok(releases)
}

/// `text` cut to at most `max_bytes` at a character boundary, and its original length when cut.
pub fn truncate(text: &str, max_bytes: usize) -> (String, Option<u64>) {
    if text.len() <= max_bytes {
        return (text.to_owned(), None);
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (text[..end].to_owned(), Some(text.len() as u64))
}

/// The numbers of a version in a tag (`v1.2.3`, `release-1.27.3`, `1.27.3-alpine`,
/// `2024.1`): `None` without a leading number.
fn numbers(tag: &str) -> Option<Vec<u64>> {
    let start = tag.find(|c: char| c.is_ascii_digit())?;
    // Only a short word may come before the number (`v`, `release-`, `nginx-`).
    if start > 16 {
        return None;
    }
    let core = tag[start..]
        .split(|c: char| c != '.' && !c.is_ascii_digit())
        .next()?;
    let parsed: Option<Vec<u64>> = core
        .split('.')
        .filter(|part| !part.is_empty())
        .map(|part| part.parse().ok())
        .collect();
    let mut parsed = parsed?;
    while parsed.last() == Some(&0) && parsed.len() > 1 {
        parsed.pop();
    }
    Some(parsed).filter(|parsed| !parsed.is_empty())
}

/// A tag without the word before its version (`v1.2.0`, `release-1.2.0` -> `1.2.0`).
fn bare(tag: &str) -> &str {
    tag.find(|c: char| c.is_ascii_digit())
        .map_or(tag, |start| &tag[start..])
}

/// The releases after `current_tag` up to and including `candidate_tag`, newest first, at most
/// `max`. Prereleases count only when they are the candidate; of the releases with the
/// candidate's numbers, the one tagged like the candidate is taken when there is one
/// (`1.2.0-rc.1` is not `v1.2.0`). When the tags have no versions (`latest`), only a release
/// tagged exactly like the candidate is taken.
pub fn between(
    releases: &[Release],
    current_tag: Option<&str>,
    candidate_tag: &str,
    max: usize,
) -> Vec<Release> {
    let to = numbers(candidate_tag);
    let from = current_tag.and_then(numbers);
    let exact = |release: &Release| {
        release.tag == candidate_tag || bare(&release.tag) == bare(candidate_tag)
    };
    let any_exact = releases.iter().any(exact);
    let mut chosen: Vec<(Vec<u64>, &Release)> = releases
        .iter()
        .filter_map(|release| {
            if exact(release) {
                return Some((numbers(&release.tag).unwrap_or_default(), release));
            }
            let version = numbers(&release.tag)?;
            let to = to.as_ref()?;
            let after_current = from.as_ref().is_none_or(|from| version > *from);
            let at_candidate = version == *to;
            let wanted = after_current
                && version <= *to
                && !release.prerelease
                && !(at_candidate && any_exact);
            wanted.then_some((version, release))
        })
        .collect();
    chosen.sort_by(|a, b| b.0.cmp(&a.0));
    chosen.dedup_by(|a, b| a.0 == b.0 && !a.0.is_empty());
    chosen
        .into_iter()
        .take(max)
        .map(|(_, release)| release.clone())
        .collect()
}

/// The warning words found in release notes (whole words, any case): `breaking`
/// (also "breaking change"), `migration` (also "migrate"), `deprecated` (also "deprecation").
pub fn flags(releases: &[Release]) -> Vec<NoteFlag> {
    let mut found = Vec::new();
    for release in releases {
        let text = format!(
            "{} {}",
            release.name.as_deref().unwrap_or_default(),
            release.body
        )
        .to_lowercase();
        let words: Vec<&str> = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|word| !word.is_empty())
            .collect();
        for (flag, stems) in [
            ("breaking", &["breaking"][..]),
            ("migration", &["migration", "migrations", "migrate"][..]),
            (
                "deprecated",
                &["deprecated", "deprecation", "deprecations", "deprecate"][..],
            ),
        ] {
            if words.iter().any(|word| stems.contains(word)) {
                found.push(NoteFlag {
                    word: flag.to_owned(),
                    release: release.tag.clone(),
                });
            }
        }
    }
    found
}

#[cfg(test)]
mod tests;
