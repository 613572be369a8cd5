//! Policies: label parsing, precedence, tag versions and the newest allowed tag.

use super::*;

fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn policy(pairs: &[(&str, &str)]) -> Policy {
    let layer = PolicyLayer::from_labels(&labels(pairs)).unwrap();
    Policy::resolve(&[&layer])
}

const TAGS: [&str; 12] = [
    "1.0.0",
    "1.0.1",
    "1.1.0",
    "2.0.0",
    "latest",
    "1.2.0-rc1",
    "v1.3.0",
    "1.4",
    "0.9.0",
    "1.0.2-alpine",
    "1.5.0-alpine",
    "3.0.0-alpine",
];

#[track_caller]
fn check(pairs: &[(&str, &str)], current: &str, expect: &[&str]) {
    let tags: Vec<String> = TAGS.iter().map(|t| t.to_string()).collect();
    let found: Vec<&str> = newer_tags(&policy(pairs), current, &tags)
        .into_iter()
        .map(|(tag, _)| tag)
        .collect();
    assert_eq!(found, expect, "{pairs:?} from {current}");
}

#[test]
fn levels() {
    check(&[("unity.update.level", "digest")], "1.0.0", &[]);
    check(&[("unity.update.level", "patch")], "1.0.0", &["1.0.1"]);
    check(&[], "1.0.0", &["v1.3.0", "1.1.0", "1.0.1"]);
    check(
        &[("unity.update.level", "major")],
        "1.0.0",
        &["2.0.0", "v1.3.0", "1.1.0", "1.0.1"],
    );
    check(&[("unity.update.level", "MAJOR")], "2.0.0", &[]);
}

#[test]
fn shapes_and_prereleases() {
    // `latest` has no version: no tag updates.
    check(&[("unity.update.level", "major")], "latest", &[]);
    // A two-number tag only compares with two-number tags.
    check(&[("unity.update.level", "major")], "1.3", &["1.4"]);
    // A prerelease current tag may move to releases and newer prereleases.
    // (Without a transform, `-alpine` reads as a prerelease too: see docs/updates.md.)
    check(&[], "1.2.0-rc0", &["1.5.0-alpine", "v1.3.0", "1.2.0-rc1"]);
}

#[test]
fn include_exclude_transform() {
    check(
        &[
            ("unity.update.level", "major"),
            ("unity.update.include", r"^1\."),
        ],
        "1.0.0",
        &["1.1.0", "1.0.1"],
    );
    check(
        &[("unity.update.exclude", r"^v")],
        "1.0.0",
        &["1.1.0", "1.0.1"],
    );
    let alpine = r"^v?(\d+\.\d+\.\d+)-alpine$";
    check(
        &[("unity.update.transform", alpine)],
        "1.0.0-alpine",
        &["1.5.0-alpine", "1.0.2-alpine"],
    );
    check(
        &[
            ("unity.update.transform", alpine),
            ("unity.update.level", "major"),
        ],
        "1.0.0-alpine",
        &["3.0.0-alpine", "1.5.0-alpine", "1.0.2-alpine"],
    );
}

#[test]
fn precedence() {
    let mut controller = PolicyLayer::default();
    controller.set("level", "major").unwrap();
    controller.set("cooldown", "3d").unwrap();
    controller.set("include", "^1").unwrap();
    let mut host = PolicyLayer::default();
    host.set("mode", "auto").unwrap();
    let container_labels = labels(&[
        ("unity.update.level", "patch"),
        ("unity.update.include", ""),
    ]);
    let mut explicit = PolicyLayer::default();
    explicit.set("pin", "true").unwrap();
    let resolved = Policy::for_container(&controller, &host, &container_labels, &explicit).unwrap();
    assert_eq!(resolved.mode, UpdateMode::Auto);
    assert_eq!(resolved.level, Level::Patch);
    assert!(
        resolved.include.is_none(),
        "an empty label clears the include"
    );
    assert_eq!(resolved.cooldown, Duration::from_secs(3 * 86400));
    assert!(resolved.pinned);
    let defaults = Policy::resolve(&[]);
    assert_eq!(
        (defaults.mode, defaults.level, defaults.pinned),
        (UpdateMode::Notify, Level::Minor, false)
    );
}

#[track_caller]
fn check_label_error(key: &str, value: &str, expect: &str) {
    let error = PolicyLayer::from_labels(&labels(&[(key, value)])).unwrap_err();
    assert_eq!(error.to_string(), expect);
}

#[test]
fn bad_labels() {
    check_label_error(
        "unity.update.level",
        "mjor",
        "unity.update.level: unknown level \"mjor\" (expected digest, patch, minor or major)",
    );
    check_label_error(
        "unity.update.mode",
        "sometimes",
        "unity.update.mode: unknown mode \"sometimes\" (expected auto, notify or off)",
    );
    check_label_error(
        "unity.update.pin",
        "maybe",
        "unity.update.pin: expected true or false, not \"maybe\"",
    );
    assert!(PolicyLayer::from_labels(&labels(&[("unity.update.include", "(")])).is_err());
    assert!(PolicyLayer::from_labels(&labels(&[("unity.update.cooldown", "soon")])).is_err());
    assert!(PolicyLayer::from_labels(&labels(&[("unity.update.levle", "patch")])).is_err());
    // Other labels are ignored.
    assert!(PolicyLayer::from_labels(&labels(&[("com.example", "x")])).is_ok());
}

#[test]
fn tag_versions() {
    let v = |t: &str| TagVersion::parse(t);
    assert_eq!(v("v1.2.3").unwrap().version, semver::Version::new(1, 2, 3));
    assert_eq!(v("16").unwrap().components, 1);
    assert!(v("latest").is_none());
    assert!(v("1.2.3.4").is_none());
    assert!(v("1..2").is_none());
    assert!(v("").is_none());
    let jump = |a: &str, b: &str| v(a).unwrap().jump_to(&v(b).unwrap());
    assert_eq!(jump("1.0.0", "1.0.1"), Some(Jump::Patch));
    assert_eq!(jump("1.0.0", "1.1.0"), Some(Jump::Minor));
    assert_eq!(jump("1.9.9", "2.0.0"), Some(Jump::Major));
    assert_eq!(jump("1.0.0", "1.0.0"), None);
    assert_eq!(jump("1.0.0", "0.9.0"), None);
    assert_eq!(jump("1.0.0", "1.1.0-rc1"), None);
}

#[test]
fn probes_parse_from_labels_and_bad_ones_are_errors() {
    use unity_shared::model::update::Probe;
    let labels = |value: &str| vec![("unity.update.probe".to_string(), value.to_string())];
    let policy = |value: &str| {
        Policy::for_container(
            &PolicyLayer::default(),
            &PolicyLayer::default(),
            &labels(value),
            &PolicyLayer::default(),
        )
    };
    assert_eq!(
        policy("http://127.0.0.1:8080/health").unwrap().probe,
        Some(Probe::Http {
            host: "127.0.0.1".into(),
            port: 8080,
            path: "/health".into()
        })
    );
    assert_eq!(
        policy("tcp://[::1]:5432").unwrap().probe,
        Some(Probe::Tcp {
            host: "::1".into(),
            port: 5432
        })
    );
    assert_eq!(policy("").unwrap().probe, None);
    for bad in [
        "udp://x:1",
        "http://nohost",
        "tcp://h:99999",
        "tcp://h:1/path",
    ] {
        let error = policy(bad).unwrap_err().to_string();
        assert!(error.contains("unity.update.probe"), "{bad}: {error}");
    }
}

#[test]
fn issue_17_the_changelog_label_is_not_a_policy_typo() {
    let layer = PolicyLayer::from_labels(&labels(&[
        ("unity.update.changelog", "https://github.com/o/r"),
        ("unity.update.level", "patch"),
    ]))
    .unwrap();
    assert_eq!(Policy::resolve(&[&layer]).level, Level::Patch);
    assert!(PolicyLayer::from_labels(&labels(&[("unity.update.changelgo", "x")])).is_err());
}

#[test]
fn issue_17_vulnerability_gate_layers() {
    use unity_shared::model::scan::GateThreshold;
    assert_eq!(
        Policy::default().vulnerabilities,
        Some(GateThreshold::Critical)
    );
    assert_eq!(
        policy(&[("unity.update.vulnerabilities", "high")]).vulnerabilities,
        Some(GateThreshold::High)
    );
    let mut host = PolicyLayer::default();
    host.set("vulnerabilities", "off").unwrap();
    let container =
        PolicyLayer::from_labels(&labels(&[("unity.update.vulnerabilities", "HIGH")])).unwrap();
    assert_eq!(Policy::resolve(&[&host]).vulnerabilities, None);
    assert_eq!(
        Policy::resolve(&[&host, &container]).vulnerabilities,
        Some(GateThreshold::High)
    );
    let error = PolicyLayer::from_labels(&labels(&[("unity.update.vulnerabilities", "medium")]))
        .unwrap_err()
        .to_string();
    assert!(error.contains("expected critical, high or off"), "{error}");
}

#[test]
fn issue_17_the_dependency_label_is_not_a_policy_typo() {
    let layer = PolicyLayer::from_labels(&labels(&[
        ("unity.update.after", "db,redis"),
        ("unity.update.mode", "auto"),
    ]))
    .unwrap();
    assert_eq!(layer.mode, Some(UpdateMode::Auto));
    check_label_error(
        "unity.update.aftr",
        "db",
        &format!(
            "unity.update.aftr: unknown key (expected one of {})",
            LABELS.join(", ")
        ),
    );
}
