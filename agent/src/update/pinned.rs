//! The image an update request names, split into what is pulled and what is run. Pure.
//!
//! The controller sends the candidate it checked (and gated) as `repo:tag@sha256:…` (or
//! `repo@sha256:…`): the agent pulls `repo@sha256:…`, so that a re-push of the tag between the
//! check and the apply cannot change what is installed, checks that the pulled image is that
//! digest ([`Pinned::matches`]), and runs it under `repo:tag` (tagged locally to that image) so
//! the container keeps naming its tag. A plain `repo:tag` is pulled and run as it is.

use bollard::models::ImageInspect;
use std::path::{Path, PathBuf};

/// An update request's image reference, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pinned {
    /// `registry/path/name`, without tag or digest.
    pub repository: String,
    pub tag: Option<String>,
    /// `sha256:…`, when the request names one.
    pub digest: Option<String>,
}

impl Pinned {
    /// Splits `repo[:tag][@digest]`; a colon before the last `/` is a registry port.
    pub fn parse(reference: &str) -> Pinned {
        let (name, digest) = match reference.split_once('@') {
            Some((name, digest)) => (name, Some(digest.to_owned())),
            None => (reference, None),
        };
        let name_start = name.rfind('/').map_or(0, |slash| slash + 1);
        let (repository, tag) = match name[name_start..].rfind(':') {
            Some(colon) => (
                &name[..name_start + colon],
                Some(name[name_start + colon + 1..].to_owned()),
            ),
            None => (name, None),
        };
        Pinned {
            repository: repository.to_owned(),
            tag,
            digest,
        }
    }

    /// What to pull: `repo@digest` when a digest is named, else the reference as sent.
    pub fn pull_ref(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(digest), _) => format!("{}@{digest}", self.repository),
            (None, Some(tag)) => format!("{}:{tag}", self.repository),
            (None, None) => self.repository.clone(),
        }
    }

    /// What the container is created from: `repo:tag` when a tag is named (for a digest, the
    /// agent tags the pulled image so first), else `repo@digest`.
    pub fn run_ref(&self) -> String {
        match (&self.tag, &self.digest) {
            (Some(tag), _) => format!("{}:{tag}", self.repository),
            (None, Some(digest)) => format!("{}@{digest}", self.repository),
            (None, None) => self.repository.clone(),
        }
    }

    /// The first 12 hex digits of the digest, for Unity-owned tags (`unity-<digest12>`).
    pub fn digest12(&self) -> Option<String> {
        let digest = self.digest.as_deref()?;
        let hex = digest.split_once(':').map_or(digest, |(_, hex)| hex);
        Some(hex.chars().take(12).collect())
    }

    /// Whether `image` is the named digest: one of its repo digests is `…@digest`, or its id is
    /// the digest (an engine that stores the manifest as the id). True when no digest is named.
    pub fn matches(&self, image: &ImageInspect) -> bool {
        let Some(digest) = &self.digest else {
            return true;
        };
        let suffix = format!("@{digest}");
        image.id.as_deref() == Some(digest.as_str())
            || image
                .repo_digests
                .iter()
                .flatten()
                .any(|repo_digest| repo_digest.ends_with(&suffix))
    }
}

/// Where the agent keeps its compose override for one service:
/// `<data dir>/compose/<project>/<service>.yml`.
pub fn override_path(data_dir: &Path, project: &str, service: &str) -> PathBuf {
    data_dir
        .join("compose")
        .join(project)
        .join(format!("{service}.yml"))
}

/// Why a compose service that runs from the agent's override (an earlier update by digest
/// without a tag) is not updated to `wanted`, which is not a digest of the same repository
/// (a digest rewrites the override), and exactly what its owner does: the override pins
/// `image_ref` by digest, the owner's files still name the old image, and the agent never
/// writes the owner's files.
pub fn override_refusal(
    container: &str,
    service: &str,
    override_file: &Path,
    owner_files: &[PathBuf],
    image_ref: &str,
    wanted: &str,
) -> String {
    let files: Vec<String> = owner_files
        .iter()
        .map(|file| format!("-f {}", file.display()))
        .collect();
    format!(
        "{container} runs {image_ref} from Unity's compose override {override_file} (written \
         by an earlier update by digest); Unity updates it through that override only to \
         another digest of the same repository. To update it to {wanted}: set the image of service {service} in your \
         compose file to the tag you want, delete {override_file}, and run `docker compose {} \
         up -d {service}`; later updates then go through your file",
        files.join(" "),
        override_file = override_file.display(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn issue_17_a_tag_with_the_checked_digest_is_pulled_by_digest_and_run_by_tag() {
        let pinned = Pinned::parse(&format!("127.0.0.1:5000/lab/app:2@{D}"));
        assert_eq!(pinned.repository, "127.0.0.1:5000/lab/app");
        assert_eq!(pinned.tag.as_deref(), Some("2"));
        assert_eq!(pinned.pull_ref(), format!("127.0.0.1:5000/lab/app@{D}"));
        assert_eq!(pinned.run_ref(), "127.0.0.1:5000/lab/app:2");
        assert_eq!(pinned.digest12().as_deref(), Some("0123456789ab"));
    }

    #[test]
    fn issue_17_a_service_running_from_the_override_is_told_what_to_do() {
        let file = override_path(Path::new("/var/lib/unity"), "lab", "web");
        assert_eq!(file, Path::new("/var/lib/unity/compose/lab/web.yml"));
        let message = override_refusal(
            "lab-web-1",
            "web",
            &file,
            &[PathBuf::from("/srv/lab/compose.yml")],
            &format!("r/app@{D}"),
            "r/app:2",
        );
        assert!(
            message.contains("from Unity's compose override /var/lib/unity/compose/lab/web.yml"),
            "{message}"
        );
        assert!(
            message.contains("delete /var/lib/unity/compose/lab/web.yml"),
            "{message}"
        );
        assert!(
            message.contains("`docker compose -f /srv/lab/compose.yml up -d web`"),
            "{message}"
        );
    }

    #[test]
    fn issue_17_plain_references_stay_as_sent() {
        let tag = Pinned::parse("127.0.0.1:5000/lab/app:2");
        assert_eq!(tag.pull_ref(), "127.0.0.1:5000/lab/app:2");
        assert_eq!(tag.run_ref(), "127.0.0.1:5000/lab/app:2");
        let bare = Pinned::parse("127.0.0.1:5000/lab/app");
        assert_eq!((bare.tag, bare.digest), (None, None));
        let digest = Pinned::parse(&format!("nginx@{D}"));
        assert_eq!(digest.pull_ref(), format!("nginx@{D}"));
        assert_eq!(digest.run_ref(), format!("nginx@{D}"));
    }

    #[test]
    fn issue_17_only_the_named_digest_matches() {
        let pinned = Pinned::parse(&format!("r/app:2@{D}"));
        let image = |digests: &[&str], id: &str| ImageInspect {
            id: Some(id.to_owned()),
            repo_digests: Some(digests.iter().map(|d| (*d).to_owned()).collect()),
            ..ImageInspect::default()
        };
        assert!(pinned.matches(&image(&[&format!("r/app@{D}")], "sha256:1")));
        assert!(pinned.matches(&image(&[], D)));
        assert!(!pinned.matches(&image(&["r/app@sha256:ff"], "sha256:1")));
        assert!(Pinned::parse("r/app:2").matches(&image(&[], "sha256:1")));
    }
}
