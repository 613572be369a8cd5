//! Which user a child runs as: a name looked up in the text of `/etc/passwd` (pure; the caller
//! reads the file) or `UID:GID` numbers. No NSS: a user that exists only in LDAP can still be
//! named by its numbers.

/// A user and group to run a child as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAs {
    /// As the operator named it, for messages.
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

/// Why a user cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    /// No line of the passwd file names the user.
    #[error("user {0:?} not found in /etc/passwd (name a system user, or give UID:GID)")]
    NotFound(String),
    /// `UID:GID` with something that is not a number.
    #[error("user {0:?}: expected a user name or UID:GID")]
    BadNumbers(String),
    /// Root is what the option exists to avoid.
    #[error("user {0:?} is root; name an unprivileged user, or leave the user empty to run as the agent")]
    Root(String),
}

/// Finds `user` (a name, or `UID:GID`) in the text of a passwd file.
pub fn lookup_user(user: &str, passwd: &str) -> Result<RunAs, UserError> {
    let user = user.trim();
    let found = if let Some((uid, gid)) = user.split_once(':') {
        match (uid.trim().parse(), gid.trim().parse()) {
            (Ok(uid), Ok(gid)) => RunAs {
                name: user.to_owned(),
                uid,
                gid,
            },
            _ => return Err(UserError::BadNumbers(user.to_owned())),
        }
    } else {
        passwd
            .lines()
            .filter_map(|line| {
                let mut fields = line.split(':');
                let name = fields.next()?;
                let _password = fields.next()?;
                let uid = fields.next()?.parse().ok()?;
                let gid = fields.next()?.parse().ok()?;
                (name == user).then(|| RunAs {
                    name: name.to_owned(),
                    uid,
                    gid,
                })
            })
            .next()
            .ok_or_else(|| UserError::NotFound(user.to_owned()))?
    };
    if found.uid == 0 || found.gid == 0 {
        return Err(UserError::Root(user.to_owned()));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\n\
        daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
        # a comment\n\
        broken line\n\
        nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";

    #[test]
    fn names_and_numbers() {
        assert_eq!(
            lookup_user("nobody", PASSWD),
            Ok(RunAs {
                name: "nobody".into(),
                uid: 65534,
                gid: 65534
            })
        );
        assert_eq!(
            lookup_user(" 1000:100 ", PASSWD).map(|u| (u.uid, u.gid)),
            Ok((1000, 100))
        );
        assert_eq!(
            lookup_user("ghost", PASSWD),
            Err(UserError::NotFound("ghost".into()))
        );
        assert_eq!(
            lookup_user("a:b", PASSWD),
            Err(UserError::BadNumbers("a:b".into()))
        );
        assert_eq!(
            lookup_user("root", PASSWD),
            Err(UserError::Root("root".into()))
        );
        assert_eq!(
            lookup_user("0:0", PASSWD),
            Err(UserError::Root("0:0".into()))
        );
        assert!(lookup_user("nobody", "").is_err());
    }
}
