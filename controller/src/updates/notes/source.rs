//! Where an image's release notes are (pure): the `unity.update.changelog` label, the OCI
//! labels of the candidate's config (`org.opencontainers.image.source`, then `…url`), the same
//! labels on the running container, then the known-repositories table
//! ([`super::known::KNOWN_REPOSITORIES`]). A URL on GitHub, a GitLab host or a Gitea host
//! becomes a [`NotesSource`] whose releases can be fetched; any other changelog URL is only
//! linked.

use super::settings::NotesSettings;

/// The forges whose release APIs are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Provider {
    Github,
    Gitlab,
    Gitea,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Github => "GitHub",
            Provider::Gitlab => "GitLab",
            Provider::Gitea => "Gitea",
        }
    }
}

/// A repository whose releases can be fetched.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NotesSource {
    pub provider: Provider,
    /// The API's base URL without a trailing slash (`https://api.github.com`,
    /// `https://gitlab.com/api/v4`, `https://codeberg.org/api/v1`).
    pub api_base: String,
    /// `owner/repo` (GitLab: the full group path).
    pub project: String,
    /// The repository's page, for people.
    pub web_url: String,
}

impl NotesSource {
    /// The key the release cache and the rate limits use.
    pub fn cache_key(&self) -> String {
        format!("{}\0{}", self.api_base, self.project)
    }
}

/// What was found, and from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// Releases can be fetched.
    Source { source: NotesSource, from: String },
    /// A changelog to link to; not a forge whose releases we read.
    Link { url: String, from: String },
    /// Nothing names a repository.
    Nothing,
}

/// The label an owner sets to name the changelog.
pub const CHANGELOG_LABEL: &str = "unity.update.changelog";
const OCI_SOURCE: &str = "org.opencontainers.image.source";
const OCI_URL: &str = "org.opencontainers.image.url";

/// Finds the notes for `repository` (normalised, `library/nginx`, in `registry`) from the
/// container's labels, the candidate config's labels and the known-repositories table.
pub fn find(
    container_labels: &[(String, String)],
    candidate_labels: &[(String, String)],
    registry: &str,
    repository: &str,
    settings: &NotesSettings,
) -> Found {
    let label = |labels: &[(String, String)], name: &str| {
        labels
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.trim().to_owned())
            .filter(|value| !value.is_empty())
    };
    if let Some(url) = label(container_labels, CHANGELOG_LABEL) {
        let from = format!("label {CHANGELOG_LABEL}");
        return match parse_url(&url, settings) {
            Some(source) => Found::Source { source, from },
            None => Found::Link { url, from },
        };
    }
    let labelled = [
        (candidate_labels, OCI_SOURCE, "the candidate's"),
        (candidate_labels, OCI_URL, "the candidate's"),
        (container_labels, OCI_SOURCE, "the container's"),
        (container_labels, OCI_URL, "the container's"),
    ];
    for (labels, name, whose) in labelled {
        if let Some(source) = label(labels, name).and_then(|url| parse_url(&url, settings)) {
            let from = format!("{whose} label {name}");
            return Found::Source { source, from };
        }
    }
    let image = match registry {
        "docker.io" => repository.to_owned(),
        other => format!("{other}/{repository}"),
    };
    for (known_image, url) in super::known::KNOWN_REPOSITORIES {
        if *known_image == image {
            if let Some(source) = parse_url(url, settings) {
                let from = "the known-repositories table".to_owned();
                return Found::Source { source, from };
            }
        }
    }
    Found::Nothing
}

/// A forge repository from its web URL (`https://github.com/o/r`, `git+https://…/r.git`,
/// `https://gitlab.com/group/sub/project/-/releases`); `None` for other hosts and shapes.
pub fn parse_url(url: &str, settings: &NotesSettings) -> Option<NotesSource> {
    let url = url.trim().strip_prefix("git+").unwrap_or(url.trim());
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let (host, path) = rest.split_once('/')?;
    let host = host.to_ascii_lowercase();
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let path = path.split("/-/").next().unwrap_or_default();
    let parts: Vec<&str> = path
        .split('/')
        .filter(|part| !part.is_empty())
        .map(|part| part.strip_suffix(".git").unwrap_or(part))
        .collect();
    let safe = |part: &&str| {
        part.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            && *part != ".."
            && *part != "."
    };
    if parts.len() < 2 || !parts.iter().all(safe) {
        return None;
    }
    let web = |project: &str| format!("{scheme}://{host}/{project}");
    if host == "github.com" || host == "www.github.com" {
        let project = format!("{}/{}", parts[0], parts[1]);
        return Some(NotesSource {
            provider: Provider::Github,
            api_base: settings.github_api_url.trim_end_matches('/').to_owned(),
            web_url: web(&project),
            project,
        });
    }
    if settings.gitlab_hosts.contains(&host) {
        let project = parts.join("/");
        return Some(NotesSource {
            provider: Provider::Gitlab,
            api_base: format!("{scheme}://{host}/api/v4"),
            web_url: web(&project),
            project,
        });
    }
    if settings.gitea_hosts.contains(&host) {
        let project = format!("{}/{}", parts[0], parts[1]);
        return Some(NotesSource {
            provider: Provider::Gitea,
            api_base: format!("{scheme}://{host}/api/v1"),
            web_url: web(&project),
            project,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[track_caller]
    fn check(url: &str, expect: Option<(Provider, &str, &str)>) {
        let settings = NotesSettings::default();
        let found = parse_url(url, &settings)
            .map(|source| (source.provider, source.api_base, source.project));
        let expect = expect.map(|(p, base, project)| (p, base.to_owned(), project.to_owned()));
        assert_eq!(found, expect, "{url}");
    }

    #[test]
    fn issue_17_source_urls_become_forge_repositories() {
        use Provider::*;
        check(
            "https://github.com/traefik/traefik",
            Some((Github, "https://api.github.com", "traefik/traefik")),
        );
        check(
            "git+https://github.com/o/r.git",
            Some((Github, "https://api.github.com", "o/r")),
        );
        check(
            "https://github.com/o/r/tree/main/docker",
            Some((Github, "https://api.github.com", "o/r")),
        );
        check(
            "https://gitlab.com/group/sub/project/-/releases",
            Some((Gitlab, "https://gitlab.com/api/v4", "group/sub/project")),
        );
        check(
            "https://codeberg.org/forgejo/forgejo",
            Some((Gitea, "https://codeberg.org/api/v1", "forgejo/forgejo")),
        );
        check("https://example.org/changelog", None);
        check("https://github.com/onlyowner", None);
        check("https://github.com/o/../etc", None);
        check("ftp://github.com/o/r", None);
        check("javascript:alert(1)", None);
    }

    #[test]
    fn issue_17_changelog_label_then_candidate_then_container_then_table() {
        let settings = NotesSettings::default();
        let candidate = labels(&[(OCI_SOURCE, "https://github.com/new/place")]);
        let container = labels(&[(OCI_SOURCE, "https://github.com/old/place")]);
        let found = find(&container, &candidate, "ghcr.io", "x/y", &settings);
        assert!(
            matches!(&found, Found::Source { source, from } if source.project == "new/place" && from.contains("candidate")),
            "{found:?}"
        );
        let found = find(&container, &[], "ghcr.io", "x/y", &settings);
        assert!(matches!(&found, Found::Source { source, .. } if source.project == "old/place"));
        let mut labelled = container.clone();
        labelled.push((
            CHANGELOG_LABEL.into(),
            "https://wiki.home.arpa/changes".into(),
        ));
        assert_eq!(
            find(&labelled, &candidate, "ghcr.io", "x/y", &settings),
            Found::Link {
                url: "https://wiki.home.arpa/changes".into(),
                from: "label unity.update.changelog".into()
            }
        );
        let found = find(&[], &[], "docker.io", "library/traefik", &settings);
        assert!(
            matches!(&found, Found::Source { source, from } if source.project == "traefik/traefik" && from.contains("known")),
            "{found:?}"
        );
        assert_eq!(
            find(&[], &[], "registry.home.arpa", "app", &settings),
            Found::Nothing
        );
    }
}
