//! Manifests and image indexes (pure): media types, parsing, picking the manifest for a
//! platform, and the `created` time from an image config blob.

use serde::Deserialize;
use std::time::{Duration, SystemTime};
use unity_shared::model::container::Platform;

/// Docker image manifest, schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list (multi-platform).
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index (multi-platform).
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// The `Accept` header for manifest requests: every single- and multi-platform type.
pub const ACCEPT_MANIFESTS: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.v2+json";

/// A parsed manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manifest {
    /// An OCI index or Docker manifest list.
    Index(Vec<IndexEntry>),
    /// A single-platform image manifest.
    Image {
        /// Digest of the config blob (the local image id on Docker and Podman).
        config_digest: String,
    },
}

/// One manifest of an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    pub digest: String,
    pub media_type: Option<String>,
    /// `None` when the entry has no platform (some attestation or artifact entries).
    pub platform: Option<Platform>,
}

/// Why manifest or config bytes could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// Not JSON, or JSON of an unexpected shape.
    #[error("invalid manifest JSON: {0}")]
    Json(String),
    /// A media type this client does not handle (schema 1, artifacts).
    #[error("unsupported manifest media type {0:?}")]
    Unsupported(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawManifest {
    media_type: Option<String>,
    manifests: Option<Vec<RawEntry>>,
    config: Option<RawDescriptor>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEntry {
    digest: String,
    media_type: Option<String>,
    platform: Option<RawPlatform>,
}

#[derive(Deserialize)]
struct RawDescriptor {
    digest: String,
}

#[derive(Deserialize)]
struct RawPlatform {
    os: String,
    architecture: String,
    variant: Option<String>,
}

/// Parses manifest bytes; `content_type` is the response's `Content-Type`, used when the
/// document does not name its own media type.
pub fn parse(content_type: Option<&str>, bytes: &[u8]) -> Result<Manifest, ManifestError> {
    let raw: RawManifest =
        serde_json::from_slice(bytes).map_err(|error| ManifestError::Json(error.to_string()))?;
    let media_type = raw
        .media_type
        .clone()
        .or_else(|| content_type.map(|value| value.split(';').next().unwrap_or("").trim().into()));
    match (media_type.as_deref(), raw.manifests, raw.config) {
        (Some(DOCKER_MANIFEST_LIST | OCI_INDEX) | None, Some(entries), _) => Ok(Manifest::Index(
            entries
                .into_iter()
                .map(|entry| IndexEntry {
                    digest: entry.digest,
                    media_type: entry.media_type,
                    platform: entry.platform.map(|p| Platform {
                        os: p.os,
                        architecture: p.architecture,
                        variant: p.variant.filter(|v| !v.is_empty()),
                    }),
                })
                .collect(),
        )),
        (Some(DOCKER_MANIFEST | OCI_MANIFEST) | None, None, Some(config)) => Ok(Manifest::Image {
            config_digest: config.digest,
        }),
        (Some(other), _, _) => Err(ManifestError::Unsupported(other.to_string())),
        (None, _, _) => Err(ManifestError::Json(
            "neither \"manifests\" nor \"config\"".into(),
        )),
    }
}

/// Normalises a platform as containerd does: architecture aliases (`aarch64` → `arm64`,
/// `x86_64` → `amd64`) and default variants (`arm64` → `v8`, `arm` → `v7`, `amd64` → `v1`), so
/// that `linux/arm64` and `linux/arm64/v8` are the same platform.
pub fn normalize_platform(platform: &Platform) -> Platform {
    let os = platform.os.to_ascii_lowercase();
    let mut variant = platform.variant.clone().filter(|v| !v.is_empty());
    let architecture = match platform.architecture.to_ascii_lowercase().as_str() {
        "aarch64" | "arm64" => {
            if variant.as_deref() == Some("8") {
                variant = None;
            }
            variant.get_or_insert_with(|| "v8".into());
            "arm64".to_string()
        }
        "armhf" => {
            variant = Some("v7".into());
            "arm".to_string()
        }
        "armel" => {
            variant = Some("v6".into());
            "arm".to_string()
        }
        "arm" => {
            variant.get_or_insert_with(|| "v7".into());
            "arm".to_string()
        }
        "x86_64" | "x86-64" | "amd64" => {
            variant.get_or_insert_with(|| "v1".into());
            "amd64".to_string()
        }
        "i386" | "i686" | "386" => "386".to_string(),
        other => other.to_string(),
    };
    Platform {
        os,
        architecture,
        variant,
    }
}

/// The entry of an index for `platform` (after normalising both sides), or `None`.
pub fn select_platform<'a>(
    entries: &'a [IndexEntry],
    platform: &Platform,
) -> Option<&'a IndexEntry> {
    let wanted = normalize_platform(platform);
    entries.iter().find(|entry| {
        entry
            .platform
            .as_ref()
            .is_some_and(|candidate| normalize_platform(candidate) == wanted)
    })
}

#[derive(Deserialize)]
struct RawConfig {
    created: Option<String>,
}

/// Images built "reproducibly" (ko, nix, Bazel) claim the Unix epoch or year 1; anything before
/// this is treated as unknown.
const PLAUSIBLE_SINCE: Duration = Duration::from_secs(946_684_800); // 2000-01-01

/// The `created` time of an image config blob; `None` when absent or implausibly old.
pub fn config_created(bytes: &[u8]) -> Result<Option<SystemTime>, ManifestError> {
    let raw: RawConfig =
        serde_json::from_slice(bytes).map_err(|error| ManifestError::Json(error.to_string()))?;
    let Some(text) = raw.created else {
        return Ok(None);
    };
    let format = time::format_description::well_known::Rfc3339;
    let Ok(parsed) = time::OffsetDateTime::parse(&text, &format) else {
        return Ok(None);
    };
    let created = SystemTime::from(parsed);
    Ok((created >= SystemTime::UNIX_EPOCH + PLAUSIBLE_SINCE).then_some(created))
}

#[derive(Deserialize)]
struct RawLabelled {
    config: Option<RawLabels>,
}

#[derive(Deserialize)]
struct RawLabels {
    #[serde(rename = "Labels")]
    labels: Option<std::collections::BTreeMap<String, String>>,
}

/// The labels of an image config blob (`config.Labels`, where `LABEL` and the OCI
/// annotations a build copies land), sorted by name; empty when there are none.
pub fn config_labels(bytes: &[u8]) -> Result<Vec<(String, String)>, ManifestError> {
    let raw: RawLabelled =
        serde_json::from_slice(bytes).map_err(|error| ManifestError::Json(error.to_string()))?;
    Ok(raw
        .config
        .and_then(|config| config.labels)
        .unwrap_or_default()
        .into_iter()
        .collect())
}

#[cfg(test)]
mod tests;
