//! The forges' recorded release lists parsed, the releases between two tags picked, bodies cut,
//! warning words found.

use super::*;

const GITHUB: &[u8] = include_bytes!("../testdata/github-releases.json");
const GITLAB: &[u8] = include_bytes!("../testdata/gitlab-releases.json");
const GITEA: &[u8] = include_bytes!("../testdata/gitea-releases.json");

fn tags(releases: &[Release]) -> Vec<&str> {
    releases
        .iter()
        .map(|release| release.tag.as_str())
        .collect()
}

#[test]
fn issue_17_recorded_release_lists_parse() {
    let github = parse(Provider::Github, GITHUB, 16 * 1024).unwrap();
    assert_eq!(
        tags(&github),
        ["v2.0.0", "v1.2.0", "v1.2.0-rc.1", "v1.1.0", "v1.0.0"],
        "draft left out"
    );
    assert_eq!(
        github[1].url.as_deref(),
        Some("https://github.com/octocat/Hello-World/releases/v1.2.0")
    );
    assert!(github[2].prerelease);
    let gitlab = parse(Provider::Gitlab, GITLAB, 16 * 1024).unwrap();
    assert_eq!(tags(&gitlab), ["v0.2", "v0.1"]);
    assert_eq!(gitlab[0].name.as_deref(), Some("Awesome app v0.2 beta"));
    assert!(gitlab[0].body.starts_with("## CHANGELOG"));
    assert_eq!(
        gitlab[0].url.as_deref(),
        Some("https://gitlab.example.com/root/awesome-app/-/releases/v0.2")
    );
    let gitea = parse(Provider::Gitea, GITEA, 16 * 1024).unwrap();
    assert_eq!(tags(&gitea), ["v1.21.4-0", "v1.21.3-0", "v1.21.2-0"]);
    assert!(parse(Provider::Github, b"{\"message\":\"Not Found\"}", 100).is_err());
    assert!(parse(Provider::Gitlab, b"<html>", 100).is_err());
}

#[track_caller]
fn check(current: Option<&str>, candidate: &str, expect: &[&str]) {
    let github = parse(Provider::Github, GITHUB, 16 * 1024).unwrap();
    assert_eq!(
        tags(&between(&github, current, candidate, 20)),
        expect,
        "{current:?} -> {candidate}"
    );
}

#[test]
fn issue_17_releases_between_the_running_tag_and_the_candidate() {
    check(Some("1.0.0"), "1.2.0", &["v1.2.0", "v1.1.0"]);
    check(Some("1.0"), "1.2", &["v1.2.0", "v1.1.0"]);
    check(Some("1.0.0-alpine"), "1.2.0-alpine", &["v1.2.0", "v1.1.0"]);
    check(Some("1.1.0"), "2.0.0", &["v2.0.0", "v1.2.0"]);
    check(Some("1.0.0"), "1.2.0-rc.1", &["v1.2.0-rc.1", "v1.1.0"]);
    check(Some("latest"), "latest", &[]);
    check(None, "v1.1.0", &["v1.1.0", "v1.0.0"]);
    // A digest update (the same tag, rebuilt): that tag's release.
    check(Some("2.0.0"), "2.0.0", &["v2.0.0"]);
    let github = parse(Provider::Github, GITHUB, 16 * 1024).unwrap();
    assert_eq!(
        tags(&between(&github, Some("1.0.0"), "2.0.0", 2)),
        ["v2.0.0", "v1.2.0"]
    );
    let gitea = parse(Provider::Gitea, GITEA, 16 * 1024).unwrap();
    assert_eq!(
        tags(&between(&gitea, Some("1.21.2"), "1.21.4", 20)),
        ["v1.21.4-0", "v1.21.3-0"]
    );
}

#[test]
fn issue_17_huge_bodies_are_cut_at_a_character_boundary() {
    let huge = "é".repeat(3_000_000);
    let (kept, from) = truncate(&huge, 16 * 1024);
    assert_eq!(from, Some(6_000_000));
    assert!(kept.len() <= 16 * 1024 && kept.len() >= 16 * 1024 - 1);
    assert!(kept.chars().all(|c| c == 'é'));
    assert_eq!(truncate("short", 10), ("short".to_owned(), None));
}

#[test]
fn issue_17_warning_words_are_found_per_release() {
    let github = parse(Provider::Github, GITHUB, 16 * 1024).unwrap();
    let picked = between(&github, Some("1.0.0"), "2.0.0", 20);
    let found: Vec<(String, String)> = flags(&picked)
        .into_iter()
        .map(|flag| (flag.word, flag.release))
        .collect();
    let expect = [
        ("breaking", "v2.0.0"),
        ("migration", "v1.2.0"),
        ("deprecated", "v1.1.0"),
    ];
    assert_eq!(found, expect.map(|(a, b)| (a.to_owned(), b.to_owned())));
    // Whole words only: "unbreakingly" and "emigration" are not warnings.
    let release = Release {
        tag: "v1".into(),
        name: None,
        body: "unbreakingly fast; emigration".into(),
        url: None,
        published_at: None,
        truncated_from: None,
        prerelease: false,
    };
    assert!(flags(&[release]).is_empty());
}
