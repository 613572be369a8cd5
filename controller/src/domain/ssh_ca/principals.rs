//! Which names SSH certificates carry, decided without I/O: a host certificate's principals
//! (host name, agent id, configured extra names), a login user's principals file on a host
//! (the login name and its host-scoped form), a user certificate's principals (host-scoped
//! with `--host`), the key id, and the TTL a caller may ask for.

use crate::domain::actor::Actor;
use std::time::Duration;
use unity_shared::model::ssh::{Principal, UnixUser, UserPrincipals};

/// The principal that is valid for `user` on the host `agent_id` only: `user@agent_id`. A
/// certificate signed with `--host` carries this instead of the bare login name, and only that
/// host's principals file for `user` lists it.
pub fn host_scoped(user: &str, agent_id: &str) -> String {
    format!("{user}@{agent_id}")
}

/// A host certificate's principals: the host name, the agent id when it differs, then the
/// extra names; each once, in that order, lower case.
pub fn host_principals(hostname: &str, agent_id: &str, extra_names: &[String]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for name in [hostname, agent_id]
        .into_iter()
        .chain(extra_names.iter().map(String::as_str))
    {
        let name = name.trim().to_ascii_lowercase();
        if !name.is_empty() && Principal::new(name.clone()).is_ok() && !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// The principals files of a host: for each login user, the login name (certificates signed
/// without `--host`) and its host-scoped form.
pub fn principals_files(users: &[String], agent_id: &str) -> Result<Vec<UserPrincipals>, String> {
    users
        .iter()
        .map(|user| {
            let unix_user = UnixUser::new(user.clone()).map_err(|error| error.to_string())?;
            let principals = [user.clone(), host_scoped(user, agent_id)]
                .into_iter()
                .map(|name| Principal::new(name).map_err(|error| error.to_string()))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(UserPrincipals {
                user: unix_user,
                principals,
            })
        })
        .collect()
}

/// A user certificate's principals: as asked, or scoped to `host` when one is named.
pub fn user_principals(asked: &[String], host: Option<&str>) -> Result<Vec<String>, String> {
    if asked.is_empty() {
        return Err("name at least one principal (--principal root)".into());
    }
    let mut principals = Vec::new();
    for name in asked {
        let name = match host {
            Some(host) => host_scoped(name, host),
            None => name.clone(),
        };
        Principal::new(name.clone()).map_err(|error| error.to_string())?;
        if !principals.contains(&name) {
            principals.push(name);
        }
    }
    Ok(principals)
}

/// The TTL a user certificate gets: `asked` (or `default`), at least 1 s, at most `max`.
pub fn user_ttl(
    asked: Option<Duration>,
    default: Duration,
    max: Duration,
) -> Result<Duration, String> {
    let ttl = asked.unwrap_or(default);
    if ttl < Duration::from_secs(1) {
        return Err("the TTL must be at least 1s".into());
    }
    if ttl > max {
        return Err(format!(
            "the TTL {} is longer than [ssh_ca] max_user_ttl {}",
            humantime::format_duration(ttl),
            humantime::format_duration(max)
        ));
    }
    Ok(ttl)
}

/// A user certificate's key id (sshd logs it on every login): for whom, who signed, when.
pub fn user_key_id(for_user: &str, actor: &Actor, signed_at: &str, serial: u64) -> String {
    format!("unity user {for_user} signed by {actor} at {signed_at} serial {serial}")
}

/// A host certificate's key id.
pub fn host_key_id(agent_id: &str, key_path: &str, signed_at: &str, serial: u64) -> String {
    format!("unity host {agent_id} {key_path} signed at {signed_at} serial {serial}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_principals_are_unique_and_lower_case() {
        assert_eq!(
            host_principals(
                "NAS",
                "nas",
                &["nas.home.arpa".into(), "192.168.1.5".into()]
            ),
            ["nas", "nas.home.arpa", "192.168.1.5"]
        );
        assert_eq!(
            host_principals("nas", "a1b2", &["bad name".into()]),
            ["nas", "a1b2"]
        );
    }

    #[test]
    fn principals_files_and_user_principals() {
        let files = principals_files(&["root".into()], "nas").unwrap();
        assert_eq!(files[0].user.as_str(), "root");
        let names: Vec<&str> = files[0].principals.iter().map(|p| p.as_str()).collect();
        assert_eq!(names, ["root", "root@nas"]);
        assert!(principals_files(&["../etc".into()], "nas").is_err());

        assert_eq!(user_principals(&["root".into()], None).unwrap(), ["root"]);
        assert_eq!(
            user_principals(&["root".into(), "root".into()], Some("nas")).unwrap(),
            ["root@nas"]
        );
        assert!(user_principals(&[], None).is_err());
        assert!(user_principals(&["a,b".into()], None).is_err());
    }

    #[test]
    fn ttl_limits() {
        let hour = Duration::from_secs(3600);
        assert_eq!(user_ttl(None, 8 * hour, 24 * hour).unwrap(), 8 * hour);
        assert_eq!(
            user_ttl(Some(Duration::from_secs(5)), hour, hour).unwrap(),
            Duration::from_secs(5)
        );
        assert!(user_ttl(Some(25 * hour), hour, 24 * hour).is_err());
        assert!(user_ttl(Some(Duration::ZERO), hour, hour).is_err());
    }
}
