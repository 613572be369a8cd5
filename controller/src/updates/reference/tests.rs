//! Reference parsing: Docker's normalisation table, invalid input, and a round-trip property.

use super::*;
use proptest::prelude::*;

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#[track_caller]
fn check(input: &str, expect: &str) {
    let parsed = ImageRef::parse(input).unwrap_or_else(|error| panic!("{input}: {error}"));
    assert_eq!(parsed.to_string(), expect, "{input}");
}

#[track_caller]
fn check_err(input: &str) {
    assert!(ImageRef::parse(input).is_err(), "{input} should not parse");
}

#[test]
fn docker_hub_short_names() {
    check("nginx", "docker.io/library/nginx:latest");
    check("nginx:1.27", "docker.io/library/nginx:1.27");
    check("library/nginx", "docker.io/library/nginx:latest");
    check("linuxserver/plex:1.40", "docker.io/linuxserver/plex:1.40");
    check("docker.io/nginx", "docker.io/library/nginx:latest");
    check("index.docker.io/nginx", "docker.io/library/nginx:latest");
    check(
        "registry-1.docker.io/library/nginx",
        "docker.io/library/nginx:latest",
    );
    check("Docker.IO/nginx", "docker.io/library/nginx:latest");
}

#[test]
fn other_registries() {
    check("ghcr.io/org/app:v1.2.3", "ghcr.io/org/app:v1.2.3");
    check(
        "lscr.io/linuxserver/plex",
        "lscr.io/linuxserver/plex:latest",
    );
    check("quay.io/a/b/c:1", "quay.io/a/b/c:1");
    check("127.0.0.1:5000/app:1.0.0", "127.0.0.1:5000/app:1.0.0");
    check("localhost/app", "localhost/app:latest");
    check("localhost:5000/lab/app", "localhost:5000/lab/app:latest");
    check("[::1]:5000/app:2", "[::1]:5000/app:2");
    check("myhost:5000/app", "myhost:5000/app:latest");
    // No dot, colon or "localhost": a Docker Hub user, not a host.
    check("myhost/app", "docker.io/myhost/app:latest");
}

#[test]
fn digests() {
    check(
        &format!("nginx@{DIGEST}"),
        &format!("docker.io/library/nginx@{DIGEST}"),
    );
    check(
        &format!("nginx:1.27@{DIGEST}"),
        &format!("docker.io/library/nginx:1.27@{DIGEST}"),
    );
    let parsed = ImageRef::parse(&format!("ghcr.io/a/b@{DIGEST}")).unwrap();
    assert_eq!(parsed.tag, None);
    assert_eq!(parsed.digest.as_deref(), Some(DIGEST));
}

#[test]
fn invalid() {
    check_err("");
    check_err("Nginx");
    check_err("nginx:");
    check_err("nginx:-bad");
    check_err("nginx@sha256:abc");
    check_err("a//b");
    check_err("-a/b");
    check_err("host:port/app");
    check_err("a/b-/c");
    check_err(&format!("a/{}", "b".repeat(300)));
    check_err(&format!("nginx:{}", "t".repeat(129)));
}

#[test]
fn hosts() {
    assert_eq!(ImageRef::parse("nginx").unwrap().api_host(), DOCKER_HUB_API);
    assert_eq!(
        ImageRef::parse("ghcr.io/a/b").unwrap().api_host(),
        "ghcr.io"
    );
    assert!(is_loopback("127.0.0.1:5000"));
    assert!(is_loopback("localhost"));
    assert!(is_loopback("[::1]:5000"));
    assert!(!is_loopback("ghcr.io"));
    assert!(!is_loopback("10.0.0.1:5000"));
    assert_eq!(normalize_registry("https://Index.Docker.io/"), "docker.io");
}

proptest! {
    #[test]
    fn round_trip(
        host in prop::option::of("[a-z][a-z0-9]{0,8}\\.[a-z]{2,4}(:[0-9]{2,5})?"),
        path in prop::collection::vec("[a-z0-9]{1,6}([._-][a-z0-9]{1,6})?", 1..4),
        tag in prop::option::of("[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}"),
    ) {
        let mut text = String::new();
        if let Some(host) = &host {
            text.push_str(host);
            text.push('/');
        }
        text.push_str(&path.join("/"));
        if let Some(tag) = &tag {
            text.push(':');
            text.push_str(tag);
        }
        let parsed = ImageRef::parse(&text).unwrap();
        // The normalised form parses to itself.
        let again = ImageRef::parse(&parsed.to_string()).unwrap();
        prop_assert_eq!(&again, &parsed);
        prop_assert_eq!(parsed.tag_or_latest(), tag.as_deref().unwrap_or("latest"));
    }

    #[test]
    fn never_panics(text in "\\PC{0,80}") {
        let _ = ImageRef::parse(&text);
    }
}
