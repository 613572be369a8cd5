//! HTTP-01 through the host's own web server: the key authorization is written to
//! `<webroot>/.well-known/acme-challenge/<token>` (token checked: base64url only) and removed
//! when the challenge's lifetime ends.

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

/// Writes the challenge file and schedules its removal. Returns the file's path.
pub async fn serve(
    webroot: &str,
    token: &str,
    key_authorization: &str,
    lifetime: Duration,
) -> std::io::Result<String> {
    let root = Path::new(webroot);
    if !root.is_absolute()
        || root
            .components()
            .any(|part| matches!(part, Component::ParentDir))
    {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("webroot {webroot:?} must be an absolute path without '..'"),
        ));
    }
    let directory = root.join(".well-known").join("acme-challenge");
    let path: PathBuf = directory.join(token);
    let contents = key_authorization.as_bytes().to_vec();
    let written = path.clone();
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        std::fs::create_dir_all(&directory)?;
        let temporary = directory.join(format!(".{}.tmp", token_of(&written)));
        std::fs::write(&temporary, &contents)?;
        #[cfg(unix)]
        std::fs::set_permissions(
            &temporary,
            std::os::unix::fs::PermissionsExt::from_mode(0o644),
        )?;
        std::fs::rename(&temporary, &written)
    })
    .await
    .map_err(std::io::Error::other)??;
    let removed = path.clone();
    tokio::spawn(async move {
        tokio::time::sleep(lifetime).await;
        match tokio::fs::remove_file(&removed).await {
            Ok(()) => tracing::info!(path = %removed.display(), "HTTP-01 file removed."),
            Err(error) => {
                tracing::warn!(path = %removed.display(), %error, "HTTP-01 file not removed.")
            }
        }
    });
    Ok(path.display().to_string())
}

fn token_of(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}
