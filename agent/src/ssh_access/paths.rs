//! Where a user's managed keys live (pure): the account from the text of a passwd file, the
//! `authorized_keys_file` pattern (`%h` home, `%u` user, `%%` a percent sign) and the per-user
//! file of the `File` mode, and the allow-list that keeps a hostile controller away from
//! system accounts.

use std::path::{Path, PathBuf};

/// A user's entry in the passwd database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
}

/// The entry of `user` in the text of a passwd file (`name:x:uid:gid:gecos:home:shell`).
pub fn account(passwd: &str, user: &str) -> Option<Account> {
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        if fields.len() < 7 || fields[0] != user {
            return None;
        }
        Some(Account {
            uid: fields[2].parse().ok()?,
            gid: fields[3].parse().ok()?,
            home: PathBuf::from(fields[5]),
        })
    })
}

/// Checks an `authorized_keys_file` pattern: absolute once expanded, only `%h`, `%u`, `%%`.
pub fn check_pattern(pattern: &str) -> Result<(), String> {
    let expanded = expand(pattern, Path::new("/home/x"), "x")?;
    if !expanded.is_absolute() {
        return Err("must be absolute (or start with %h)".into());
    }
    if expanded.components().any(|part| part.as_os_str() == "..") {
        return Err("must not contain '..'".into());
    }
    Ok(())
}

/// The pattern with `%h` and `%u` replaced.
pub fn expand(pattern: &str, home: &Path, user: &str) -> Result<PathBuf, String> {
    let mut out = String::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('h') => out.push_str(&home.to_string_lossy()),
            Some('u') => out.push_str(user),
            Some('%') => out.push('%'),
            other => {
                return Err(format!(
                    "unknown token %{} (only %h, %u and %% are known)",
                    other.map(String::from).unwrap_or_default()
                ))
            }
        }
    }
    Ok(PathBuf::from(out))
}

/// Whether the controller may manage `user` (uid `uid`): named in `users`, or at or above
/// `min_uid`.
pub fn allowed(user: &str, uid: u32, users: &[String], min_uid: u32) -> bool {
    users.iter().any(|name| name == user) || uid >= min_uid
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_16_passwd_entries_and_patterns() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n# comment\nbad line\nalice:x:1000:1000:Alice,,,:/home/alice:/bin/zsh\n";
        assert_eq!(
            account(passwd, "alice"),
            Some(Account {
                uid: 1000,
                gid: 1000,
                home: PathBuf::from("/home/alice")
            })
        );
        assert_eq!(account(passwd, "bob"), None);
        assert_eq!(
            expand("%h/.ssh/authorized_keys", Path::new("/root"), "root").unwrap(),
            PathBuf::from("/root/.ssh/authorized_keys")
        );
        assert_eq!(
            expand("/srv/keys/%u/100%%", Path::new("/root"), "ops").unwrap(),
            PathBuf::from("/srv/keys/ops/100%")
        );
        assert!(expand("/k/%x", Path::new("/"), "u").is_err());
        assert!(check_pattern("%h/.ssh/authorized_keys").is_ok());
        assert!(check_pattern(".ssh/authorized_keys").is_err());
        assert!(check_pattern("/a/../b/%u").is_err());
    }

    #[test]
    fn issue_16_the_allow_list_keeps_system_accounts_out() {
        let users = vec!["root".to_owned()];
        assert!(allowed("root", 0, &users, 1000));
        assert!(allowed("alice", 1000, &users, 1000));
        assert!(!allowed("daemon", 1, &users, 1000));
        assert!(!allowed("sshd", 105, &users, 1000));
    }
}
