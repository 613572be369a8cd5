//! What the controller may ask of this agent for a managed certificate, decided on the words
//! alone (pure): a file path must be absolute, plain (no `.`, `..` or empty parts) and under
//! one of `[delivery] allowed_dirs`; a reload's `argv[0]` must be one of
//! `[delivery] reload_programs`. `install.rs` adds the checks that need the file system
//! (symlinks leading out of the allowed directories).

use std::path::{Component, Path, PathBuf};

/// Why a path or a reload was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("{0:?} is not an absolute path")]
    NotAbsolute(String),
    #[error("{0:?} has '.', '..' or empty parts")]
    NotPlain(String),
    #[error("{path:?} is not under an allowed directory ([delivery] allowed_dirs: {allowed})")]
    OutsideAllowed { path: String, allowed: String },
    #[error("the reload command is empty")]
    EmptyReload,
    #[error("reload program {program:?} is not allowed ([delivery] reload_programs: {allowed})")]
    ReloadNotAllowed { program: String, allowed: String },
}

fn list(paths: impl Iterator<Item = String>) -> String {
    let joined: Vec<String> = paths.collect();
    if joined.is_empty() {
        "none".into()
    } else {
        joined.join(", ")
    }
}

/// The path the controller named, if it is absolute, plain and strictly under an allowed
/// directory.
pub fn check_path(path: &str, allowed_dirs: &[PathBuf]) -> Result<PathBuf, PolicyError> {
    if !path.starts_with('/') {
        return Err(PolicyError::NotAbsolute(path.to_owned()));
    }
    let plain = !path.ends_with('/')
        && !path.contains("//")
        && !path.contains('\0')
        && Path::new(path)
            .components()
            .all(|part| matches!(part, Component::RootDir | Component::Normal(_)))
        && !path
            .split('/')
            .skip(1)
            .any(|part| part == "." || part == "..");
    if !plain {
        return Err(PolicyError::NotPlain(path.to_owned()));
    }
    let candidate = PathBuf::from(path);
    if allowed_dirs
        .iter()
        .any(|dir| candidate.starts_with(dir) && candidate != *dir)
    {
        Ok(candidate)
    } else {
        Err(PolicyError::OutsideAllowed {
            path: path.to_owned(),
            allowed: list(allowed_dirs.iter().map(|dir| dir.display().to_string())),
        })
    }
}

/// Refuses a reload whose program is not listed (exactly: `nginx` and `/usr/sbin/nginx` are
/// different entries).
pub fn check_reload(argv: &[String], reload_programs: &[String]) -> Result<(), PolicyError> {
    let program = argv.first().ok_or(PolicyError::EmptyReload)?;
    if program.is_empty() {
        return Err(PolicyError::EmptyReload);
    }
    if reload_programs.iter().any(|allowed| allowed == program) {
        Ok(())
    } else {
        Err(PolicyError::ReloadNotAllowed {
            program: program.clone(),
            allowed: list(reload_programs.iter().cloned()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Vec<PathBuf> {
        vec![PathBuf::from("/etc/nginx"), PathBuf::from("/etc/ssl/unity")]
    }

    #[test]
    fn issue_15_paths_outside_the_allowed_directories_are_refused() {
        for good in [
            "/etc/nginx/tls/nas.crt",
            "/etc/nginx/nas.key",
            "/etc/ssl/unity/nas.pem",
        ] {
            assert_eq!(check_path(good, &allowed()).unwrap(), PathBuf::from(good));
        }
        let cases = [
            ("etc/nginx/nas.crt", "absolute"),
            ("/etc/nginx/../shadow", "'..'"),
            ("/etc/nginx/./nas.crt", "'..'"),
            ("/etc/nginx//nas.crt", "'..'"),
            ("/etc/nginx/", "'..'"),
            ("/etc/nginx", "allowed"),
            ("/etc/nginxevil/nas.crt", "allowed"),
            ("/etc/shadow", "allowed"),
            ("/root/.ssh/authorized_keys", "allowed"),
            ("/", "empty parts"),
            ("", "absolute"),
        ];
        for (bad, why) in cases {
            let error = check_path(bad, &allowed()).unwrap_err().to_string();
            assert!(error.contains(why), "{bad:?}: {error}");
        }
        assert!(check_path("/etc/nginx/a", &[]).is_err());
    }

    #[test]
    fn issue_15_reload_programs_must_be_listed_exactly() {
        let programs = vec!["nginx".to_owned(), "/usr/bin/systemctl".to_owned()];
        let argv = |words: &[&str]| words.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>();
        check_reload(&argv(&["nginx", "-s", "reload"]), &programs).unwrap();
        check_reload(&argv(&["/usr/bin/systemctl", "reload", "nginx"]), &programs).unwrap();
        for bad in [
            argv(&["sh", "-c", "nginx -s reload"]),
            argv(&["/tmp/nginx", "-s", "reload"]),
            argv(&["systemctl", "reload", "nginx"]),
            argv(&["nginx2"]),
            argv(&[""]),
            argv(&[]),
        ] {
            assert!(check_reload(&bad, &programs).is_err(), "{bad:?}");
        }
    }
}
