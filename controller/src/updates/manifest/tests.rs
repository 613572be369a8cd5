//! Manifest parsing and platform selection.

use super::*;

fn platform(os: &str, architecture: &str, variant: Option<&str>) -> Platform {
    Platform {
        os: os.into(),
        architecture: architecture.into(),
        variant: variant.map(Into::into),
    }
}

const INDEX: &str = r#"{
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.index.v1+json",
  "manifests": [
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:aa", "size": 1,
     "platform": {"architecture": "amd64", "os": "linux"}},
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:bb", "size": 1,
     "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}},
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:cc", "size": 1,
     "platform": {"architecture": "arm", "os": "linux", "variant": "v6"}},
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:dd", "size": 1,
     "platform": {"architecture": "unknown", "os": "unknown"}}
  ]
}"#;

#[track_caller]
fn check_select(wanted: Platform, expect: Option<&str>) {
    let Manifest::Index(entries) = parse(None, INDEX.as_bytes()).unwrap() else {
        panic!("not an index");
    };
    let selected = select_platform(&entries, &wanted).map(|entry| entry.digest.as_str());
    assert_eq!(selected, expect, "{wanted}");
}

#[test]
fn selects_platforms() {
    check_select(platform("linux", "amd64", None), Some("sha256:aa"));
    check_select(platform("linux", "x86_64", None), Some("sha256:aa"));
    check_select(platform("linux", "arm64", None), Some("sha256:bb"));
    check_select(platform("linux", "aarch64", None), Some("sha256:bb"));
    check_select(platform("linux", "arm64", Some("v8")), Some("sha256:bb"));
    check_select(platform("linux", "arm", Some("v6")), Some("sha256:cc"));
    check_select(platform("linux", "arm", None), None);
    check_select(platform("linux", "riscv64", None), None);
    check_select(platform("windows", "amd64", None), None);
}

#[test]
fn parses_each_media_type() {
    let image = r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
        "config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:cf","size":1},"layers":[]}"#;
    assert_eq!(
        parse(None, image.as_bytes()).unwrap(),
        Manifest::Image {
            config_digest: "sha256:cf".into()
        }
    );
    // OCI manifests may omit mediaType; the Content-Type header names it.
    let oci = r#"{"schemaVersion":2,"config":{"digest":"sha256:cf","size":1},"layers":[]}"#;
    assert!(matches!(
        parse(Some(OCI_MANIFEST), oci.as_bytes()).unwrap(),
        Manifest::Image { .. }
    ));
    let list = r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json",
        "manifests":[{"digest":"sha256:aa","platform":{"architecture":"amd64","os":"linux"}}]}"#;
    assert!(matches!(parse(None, list.as_bytes()).unwrap(), Manifest::Index(e) if e.len() == 1));
    let schema1 = r#"{"schemaVersion":1,"mediaType":"application/vnd.docker.distribution.manifest.v1+prettyjws"}"#;
    assert!(matches!(
        parse(None, schema1.as_bytes()),
        Err(ManifestError::Unsupported(_))
    ));
    assert!(parse(None, b"{").is_err());
    assert!(parse(None, b"{}").is_err());
}

#[test]
fn created_times() {
    let created = config_created(br#"{"created":"2024-05-01T12:00:00.123456789Z"}"#).unwrap();
    assert_eq!(
        created
            .unwrap()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
        1_714_564_800
    );
    let offset = config_created(br#"{"created":"2024-05-01T14:00:00+02:00"}"#).unwrap();
    assert_eq!(
        offset,
        created.map(|c| c - Duration::from_nanos(123_456_789))
    );
    assert_eq!(
        config_created(br#"{"created":"1970-01-01T00:00:00Z"}"#).unwrap(),
        None
    );
    assert_eq!(
        config_created(br#"{"created":"0001-01-01T00:00:00Z"}"#).unwrap(),
        None
    );
    assert_eq!(
        config_created(br#"{"architecture":"amd64"}"#).unwrap(),
        None
    );
    assert_eq!(config_created(br#"{"created":"yesterday"}"#).unwrap(), None);
    assert!(config_created(b"[").is_err());
}

#[test]
fn issue_17_config_labels_name_the_source() {
    let config = br#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/bin"],"Labels":{"org.opencontainers.image.version":"1.2.0","org.opencontainers.image.source":"https://github.com/o/r"}},"rootfs":{"type":"layers","diff_ids":[]}}"#;
    assert_eq!(
        config_labels(config).unwrap(),
        [
            (
                "org.opencontainers.image.source".to_owned(),
                "https://github.com/o/r".to_owned()
            ),
            (
                "org.opencontainers.image.version".to_owned(),
                "1.2.0".to_owned()
            ),
        ]
    );
    assert!(config_labels(br#"{"config":{"Labels":null}}"#)
        .unwrap()
        .is_empty());
    assert!(config_labels(br#"{"os":"linux"}"#).unwrap().is_empty());
    assert!(config_labels(b"[").is_err());
}
