//! The files around a compose update: the refusal of an image the owner's compose file does
//! not name (which file and line to change), and Unity's own override file for a service
//! updated by digest (`<data dir>/compose/<project>/<service>.yml`). The owner's files are
//! only read, never written. `compose_update.rs` uses them; a manual restore of a service the
//! override pins rewrites it for the restored version ([`restore_change`]).

use std::path::PathBuf;

use bollard::models::ContainerInspectResponse;

use super::compose::{project, ComposeService, OverrideChange};
use super::context::OperationContext;
use super::engine::Engine;
use super::pinned::override_path;

/// The refusal of an image the compose file does not name: which file and line to change.
pub(super) async fn new_tag_message(
    container: &str,
    files: &[PathBuf],
    image_ref: &str,
    wanted: &str,
) -> String {
    for file in files {
        let Ok(text) = tokio::fs::read_to_string(file).await else {
            continue;
        };
        if let Some(line) = image_line(&text, image_ref) {
            return format!(
                "{container} is managed by docker-compose ({}): change its image to {wanted} \
                 there (line {line}: `image: {image_ref}`), or update by digest",
                file.display()
            );
        }
    }
    let file = files.first().map(|file| file.display().to_string());
    format!(
        "{container} is managed by docker-compose ({}): change its image to {wanted} there, \
         or update by digest",
        file.unwrap_or_default()
    )
}

/// The 1-based number of the line `image: <image_ref>` (quoted or not). Pure.
pub fn image_line(text: &str, image_ref: &str) -> Option<usize> {
    text.lines()
        .position(|line| {
            line.trim()
                .strip_prefix("image:")
                .map(|value| value.trim().trim_matches(|c| c == '"' || c == '\''))
                == Some(image_ref)
        })
        .map(|index| index + 1)
}

/// Writes the agent's compose override for `service` (`<data dir>/compose/<project>/
/// <service>.yml`): only `image: <repo@digest>`, with the `version:` of the first file (v1
/// refuses files of different versions). The owner's files are never written.
pub(super) async fn write_override<E: Engine>(
    ctx: &OperationContext<'_, E>,
    service: &ComposeService,
    first_file: &std::path::Path,
    image: &str,
) -> std::io::Result<PathBuf> {
    let owner = tokio::fs::read_to_string(first_file).await?;
    let file = override_path(ctx.data_dir, &service.project, &service.service);
    if let Some(dir) = file.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    let text = override_yaml(&owner, &service.service, image);
    // Atomically (a temporary file renamed over it, fsynced): a crash mid-write leaves the
    // earlier text, which the journal also holds.
    crate::fsutil::replace_file(&file, text.as_bytes(), 0o644)?;
    Ok(file)
}

/// The most of Unity's override file the journal keeps. The agent writes a `version:` line
/// and one image (a few hundred bytes); a bigger file is not what it wrote.
pub const OVERRIDE_MAX_BYTES: u64 = 64 * 1024;

/// Unity's override's text before an update rewrites it, for the journal: `None` when there is
/// no file. An error (which refuses the update before anything changes) when it cannot be read
/// whole, is bigger than [`OVERRIDE_MAX_BYTES`], or is not UTF-8: a rollback must write back
/// exactly these bytes, so a guess (such as "there was none", which would delete the file) is
/// never journaled. Note that this uses blocking file I/O (one small file).
pub fn read_override_before(file: &std::path::Path) -> Result<Option<String>, String> {
    let cannot = |why: String| format!("compose override {}: {why}", file.display());
    let metadata = match std::fs::metadata(file) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(cannot(error.to_string())),
    };
    if !metadata.is_file() {
        return Err(cannot("not a regular file".to_owned()));
    }
    let too_big = |size: u64| {
        cannot(format!(
            "{size} bytes, more than the {OVERRIDE_MAX_BYTES} Unity writes; \
             it is not Unity's override, so it is not rewritten"
        ))
    };
    if metadata.len() > OVERRIDE_MAX_BYTES {
        return Err(too_big(metadata.len()));
    }
    let bytes = std::fs::read(file).map_err(|error| cannot(error.to_string()))?;
    let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if size > OVERRIDE_MAX_BYTES {
        return Err(too_big(size));
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| cannot("not UTF-8 text; it is not Unity's override".to_owned()))
}

/// The override's text: the first file's top-level `version:` line, then the service's image
/// (quoted as JSON strings, which YAML reads as they are). Pure.
pub fn override_yaml(owner_file: &str, service: &str, image: &str) -> String {
    let version = owner_file
        .lines()
        .find(|line| line.starts_with("version:"))
        .map(|line| format!("{}\n", line.trim_end()))
        .unwrap_or_default();
    let quote = |text: &str| serde_json::Value::String(text.to_owned()).to_string();
    format!(
        "{version}services:\n  {}:\n    image: {}\n",
        quote(service),
        quote(image)
    )
}

/// The override's text for a restored version of the service: that version's image when it
/// ran from the override (`repo@digest`, as the override named it then), else no image at all
/// (an empty `services:`), so that compose runs the owner's tag, and a command that names the
/// override still finds it. The `version:` line is kept. Pure.
pub fn override_after_restore(current: &str, service: &str, restored: Option<&str>) -> String {
    match restored {
        Some(image) => override_yaml(current, service, image),
        None => {
            let version = current
                .lines()
                .find(|line| line.starts_with("version:"))
                .map(|line| format!("{}\n", line.trim_end()))
                .unwrap_or_default();
            format!("{version}services: {{}}\n")
        }
    }
}

/// What a manual restore of `current` to `saved` (a backup's inspect, run as `image_ref`)
/// does to Unity's override: `None` when the service has none (Unity does not pin it) or its
/// text already fits. The restored version ran from the override when its compose files
/// included it and its image was a digest. Note that this uses blocking file I/O.
pub fn restore_change(
    data_dir: &std::path::Path,
    current: &ContainerInspectResponse,
    saved: &ContainerInspectResponse,
    image_ref: &str,
) -> std::io::Result<Option<OverrideChange>> {
    let Some(current_project) = project(current).or_else(|| project(saved)) else {
        return Ok(None);
    };
    let file = override_path(data_dir, &current_project.project, &current_project.service);
    let before = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    let ran_from_override = project(saved).is_some_and(|saved| {
        saved.project == current_project.project
            && saved.service == current_project.service
            && saved.config_files.contains(&file)
    }) && image_ref.contains('@');
    let after = override_after_restore(
        &before,
        &current_project.service,
        ran_from_override.then_some(image_ref),
    );
    Ok((after != before).then_some(OverrideChange {
        file,
        before,
        after,
    }))
}

/// Settles a journaled override change: `after` when the restore was kept, `before` when it
/// was undone (atomically: a temporary file renamed over it, fsynced). Note that this uses
/// blocking file I/O.
pub fn settle(change: &OverrideChange, kept: bool) -> std::io::Result<()> {
    let text = match kept {
        true => &change.after,
        false => &change.before,
    };
    crate::fsutil::replace_file(&change.file, text.as_bytes(), 0o644)
}
