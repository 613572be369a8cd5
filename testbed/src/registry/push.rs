//! Building and pushing real images through the registry HTTP API (blob upload, manifest
//! `PUT`): single-platform OCI or Docker v2 manifests and multi-platform OCI indexes.
//!
//! Each image has a gzip tar layer with `/etc/unity-marker` (its text makes a rebuild differ)
//! and, with [`ImageSpec::busybox`], a layer with Debian's static `/bin/busybox` and `sh`,
//! `sleep`, `true` links, so dockerd can pull and run it (`CMD ["/bin/sleep", "3600"]`). The
//! config's `rootfs.diff_ids` are the uncompressed layer digests.

use super::Registry;
use anyhow::{bail, Context};
use sha2::{Digest, Sha256};
use std::io::Write;

/// Manifest format of a single-platform image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Oci,
    DockerV2,
}

/// One image to build.
#[derive(Debug, Clone)]
pub struct ImageSpec {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
    /// The config's `created` (RFC 3339).
    pub created: String,
    /// Content of `/etc/unity-marker`; a different marker is a different image.
    pub marker: String,
    /// Add a static busybox layer so the image runs (only meaningful for the host's arch).
    pub busybox: bool,
    pub format: Format,
}

impl ImageSpec {
    /// A linux/amd64 OCI image with this marker, created at `created`.
    pub fn new(marker: &str, created: &str) -> ImageSpec {
        ImageSpec {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
            created: created.into(),
            marker: marker.into(),
            busybox: false,
            format: Format::Oci,
        }
    }

    pub fn platform(mut self, architecture: &str, variant: Option<&str>) -> ImageSpec {
        self.architecture = architecture.into();
        self.variant = variant.map(Into::into);
        self
    }

    pub fn with_busybox(mut self) -> ImageSpec {
        self.busybox = true;
        self
    }

    pub fn format(mut self, format: Format) -> ImageSpec {
        self.format = format;
        self
    }
}

/// A pushed single-platform image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// Manifest digest (what `docker pull` records as the repo digest for a plain image).
    pub digest: String,
    /// Config digest (the image id on Docker and Podman).
    pub config_digest: String,
    pub media_type: String,
    pub size: usize,
}

/// A pushed index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedIndex {
    pub digest: String,
    pub manifests: Vec<Pushed>,
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// A gzip tar layer from `(path, mode, content or symlink target)`; returns (gzip, diff_id).
fn layer(entries: &[(&str, u32, Entry)]) -> anyhow::Result<(Vec<u8>, String)> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, mode, entry) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_mode(*mode);
        header.set_mtime(0);
        match entry {
            Entry::File(content) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(content.len() as u64);
                builder.append_data(&mut header, path, content.as_slice())?;
            }
            Entry::Dir => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_size(0);
                builder.append_data(&mut header, path, std::io::empty())?;
            }
            Entry::Link(target) => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_size(0);
                builder.append_link(&mut header, path, target)?;
            }
        }
    }
    let tar = builder.into_inner()?;
    let diff_id = sha256(&tar);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar)?;
    Ok((gz.finish()?, diff_id))
}

enum Entry {
    File(Vec<u8>),
    Dir,
    Link(&'static str),
}

fn busybox_layer() -> anyhow::Result<(Vec<u8>, String)> {
    let busybox = std::fs::read("/bin/busybox")
        .context("/bin/busybox: apt-get install -y --no-install-recommends busybox-static")?;
    layer(&[
        ("bin", 0o755, Entry::Dir),
        ("bin/busybox", 0o755, Entry::File(busybox)),
        ("bin/sh", 0o777, Entry::Link("busybox")),
        ("bin/sleep", 0o777, Entry::Link("busybox")),
        ("bin/true", 0o777, Entry::Link("busybox")),
        ("tmp", 0o1777, Entry::Dir),
    ])
}

impl Registry {
    /// Builds and pushes `spec` as `repository:tag`.
    pub async fn push_image(
        &self,
        repository: &str,
        tag: &str,
        spec: &ImageSpec,
    ) -> anyhow::Result<Pushed> {
        let (pushed, manifest) = self.push_platform_image(repository, spec).await?;
        self.put_manifest(repository, tag, &pushed.media_type, &manifest)
            .await?;
        Ok(pushed)
    }

    /// Builds and pushes each spec, then an OCI index of them as `repository:tag`.
    pub async fn push_index(
        &self,
        repository: &str,
        tag: &str,
        specs: &[ImageSpec],
    ) -> anyhow::Result<PushedIndex> {
        let mut manifests = Vec::new();
        let mut entries = Vec::new();
        for spec in specs {
            let (pushed, _) = self.push_platform_image(repository, spec).await?;
            let mut platform =
                serde_json::json!({"os": spec.os, "architecture": spec.architecture});
            if let Some(variant) = &spec.variant {
                platform["variant"] = variant.clone().into();
            }
            entries.push(serde_json::json!({
                "mediaType": pushed.media_type, "digest": pushed.digest, "size": pushed.size,
                "platform": platform,
            }));
            manifests.push(pushed);
        }
        let index = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": entries,
        }))?;
        let media_type = "application/vnd.oci.image.index.v1+json";
        self.put_manifest(repository, tag, media_type, &index)
            .await?;
        Ok(PushedIndex {
            digest: sha256(&index),
            manifests,
        })
    }

    /// Pushes the blobs and the manifest by digest, without tagging; returns it and its bytes.
    async fn push_platform_image(
        &self,
        repository: &str,
        spec: &ImageSpec,
    ) -> anyhow::Result<(Pushed, Vec<u8>)> {
        let manifest = self.blob_manifest(repository, spec).await?;
        let media_type = match spec.format {
            Format::Oci => "application/vnd.oci.image.manifest.v1+json",
            Format::DockerV2 => "application/vnd.docker.distribution.manifest.v2+json",
        };
        let digest = sha256(&manifest);
        self.put_manifest(repository, &digest, media_type, &manifest)
            .await?;
        let parsed: serde_json::Value = serde_json::from_slice(&manifest)?;
        let pushed = Pushed {
            digest,
            config_digest: parsed["config"]["digest"]
                .as_str()
                .unwrap_or_default()
                .into(),
            media_type: media_type.into(),
            size: manifest.len(),
        };
        Ok((pushed, manifest))
    }

    /// Uploads the layers and config of `spec`; returns the manifest bytes.
    async fn blob_manifest(&self, repository: &str, spec: &ImageSpec) -> anyhow::Result<Vec<u8>> {
        let mut layers = Vec::new();
        if spec.busybox {
            layers.push(busybox_layer()?);
        }
        let marker = spec.marker.clone().into_bytes();
        layers.push(layer(&[
            ("etc", 0o755, Entry::Dir),
            ("etc/unity-marker", 0o644, Entry::File(marker)),
        ])?);
        let (config_type, layer_type) = match spec.format {
            Format::Oci => (
                "application/vnd.oci.image.config.v1+json",
                "application/vnd.oci.image.layer.v1.tar+gzip",
            ),
            Format::DockerV2 => (
                "application/vnd.docker.container.image.v1+json",
                "application/vnd.docker.image.rootfs.diff.tar.gzip",
            ),
        };
        let mut config = serde_json::json!({
            "architecture": spec.architecture,
            "os": spec.os,
            "created": spec.created,
            "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sleep", "3600"],
                       "Labels": {"org.unity.marker": spec.marker}},
            "rootfs": {"type": "layers",
                       "diff_ids": layers.iter().map(|(_, diff_id)| diff_id.clone()).collect::<Vec<_>>()},
            "history": layers.iter().map(|_| serde_json::json!({"created": spec.created, "created_by": "unity-testbed"})).collect::<Vec<_>>(),
        });
        if let Some(variant) = &spec.variant {
            config["variant"] = variant.clone().into();
        }
        let config = serde_json::to_vec(&config)?;
        let mut layer_descriptors = Vec::new();
        for (gz, _) in &layers {
            let digest = self.upload_blob(repository, gz).await?;
            layer_descriptors.push(
                serde_json::json!({"mediaType": layer_type, "digest": digest, "size": gz.len()}),
            );
        }
        let config_digest = self.upload_blob(repository, &config).await?;
        let mut manifest = serde_json::json!({
            "schemaVersion": 2,
            "config": {"mediaType": config_type, "digest": config_digest, "size": config.len()},
            "layers": layer_descriptors,
        });
        manifest["mediaType"] = match spec.format {
            Format::Oci => "application/vnd.oci.image.manifest.v1+json",
            Format::DockerV2 => "application/vnd.docker.distribution.manifest.v2+json",
        }
        .into();
        Ok(serde_json::to_vec(&manifest)?)
    }

    fn request(
        &self,
        method: reqwest::Method,
        url: &str,
        repository: &str,
    ) -> reqwest::RequestBuilder {
        let mut request = self.http().request(method, url);
        if let Some(value) = self.push_authorization(repository) {
            request = request.header("Authorization", value);
        }
        request
    }

    /// Uploads a blob (monolithic, skipped when present); returns its digest.
    pub async fn upload_blob(&self, repository: &str, bytes: &[u8]) -> anyhow::Result<String> {
        let digest = sha256(bytes);
        let base = format!("http://{}", self.host());
        let head = self
            .request(
                reqwest::Method::HEAD,
                &format!("{base}/v2/{repository}/blobs/{digest}"),
                repository,
            )
            .send()
            .await?;
        if head.status().is_success() {
            return Ok(digest);
        }
        let start = self
            .request(
                reqwest::Method::POST,
                &format!("{base}/v2/{repository}/blobs/uploads/"),
                repository,
            )
            .send()
            .await?;
        if start.status() != reqwest::StatusCode::ACCEPTED {
            bail!(
                "starting a blob upload: {} {}",
                start.status(),
                start.text().await.unwrap_or_default()
            );
        }
        let location = start
            .headers()
            .get("location")
            .and_then(|value| value.to_str().ok())
            .context("blob upload without Location")?;
        let location = if location.starts_with('/') {
            format!("{base}{location}")
        } else {
            location.to_string()
        };
        let separator = if location.contains('?') { '&' } else { '?' };
        let done = self
            .request(
                reqwest::Method::PUT,
                &format!("{location}{separator}digest={digest}"),
                repository,
            )
            .header("Content-Type", "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .await?;
        if done.status() != reqwest::StatusCode::CREATED {
            bail!(
                "finishing a blob upload: {} {}",
                done.status(),
                done.text().await.unwrap_or_default()
            );
        }
        Ok(digest)
    }

    /// `PUT /v2/<repository>/manifests/<reference>`.
    pub async fn put_manifest(
        &self,
        repository: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> anyhow::Result<()> {
        let url = format!(
            "http://{}/v2/{repository}/manifests/{reference}",
            self.host()
        );
        let response = self
            .request(reqwest::Method::PUT, &url, repository)
            .header("Content-Type", media_type)
            .body(bytes.to_vec())
            .send()
            .await?;
        if response.status() != reqwest::StatusCode::CREATED {
            bail!(
                "pushing manifest {repository}:{reference}: {} {}",
                response.status(),
                response.text().await.unwrap_or_default()
            );
        }
        Ok(())
    }
}
