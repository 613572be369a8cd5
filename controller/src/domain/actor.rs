//! Who did something, as the audit log and operations record it. A typed value rather than a
//! user name, so an API token's action is recorded as the token (and whose it is), never as
//! if its owner had clicked, and the controller's own command line and automatic actions are
//! named as such.

use std::fmt;
use unity_shared::proto::AgentId;

/// The one who asked for a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A person signed in to the dashboard (a session cookie).
    User(String),
    /// An API token (`Authorization: Bearer`), by its id, acting for `owner`.
    Token { id: String, owner: String },
    /// The controller's local command line (`unity-controller ...` as root on the host).
    Cli,
    /// An agent, asking for something itself (a secret) or reporting what it did.
    Agent(AgentId),
    /// The controller itself, doing the named task (`renewal`, `ssh-ca-renewal`, ...).
    Controller(&'static str),
}

impl Actor {
    /// A signed-in user.
    pub fn user(name: impl Into<String>) -> Actor {
        Actor::User(name.into())
    }

    /// The user on whose behalf this acts: the token's owner, `cli`, or the controller's
    /// task name. Rights and ownership follow this name; the audit log records [`Actor`]'s
    /// display, which names the token too.
    pub fn user_name(&self) -> &str {
        match self {
            Actor::User(name) => name,
            Actor::Token { owner, .. } => owner,
            Actor::Agent(_) => "agent",
            Actor::Cli => "cli",
            Actor::Controller(task) => task,
        }
    }

    /// The API token's id, when one acted.
    pub fn token_id(&self) -> Option<&str> {
        match self {
            Actor::Token { id, .. } => Some(id),
            _ => None,
        }
    }
}

/// As the audit log shows it: `ada`, `ada via API token 3f2a9c1d`, `cli`, `renewal`.
impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Token { id, owner } => write!(f, "{owner} via API token {id}"),
            Actor::Agent(id) => write!(f, "agent:{id}"),
            other => f.write_str(other.user_name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_17_a_token_is_named_apart_from_its_owner() {
        let token = Actor::Token {
            id: "3f2a9c1d".into(),
            owner: "ada".into(),
        };
        assert_eq!(token.to_string(), "ada via API token 3f2a9c1d");
        assert_eq!(token.user_name(), "ada");
        assert_eq!(token.token_id(), Some("3f2a9c1d"));
        assert_eq!(Actor::user("ada").to_string(), "ada");
        assert_ne!(token.to_string(), Actor::user("ada").to_string());
        assert_eq!(Actor::Cli.to_string(), "cli");
        assert_eq!(Actor::Controller("renewal").to_string(), "renewal");
    }
}
