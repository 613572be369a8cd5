//! Who may do what on which host: the one check every face makes.
//!
//! A user's rights come from their groups: each user group holds a [`Right`] per host group
//! (hosts by label selector or by list, or the built-in `all`). On a host a user has the
//! greatest right any of their groups holds on a host group containing it. An API token
//! carries a subset of its user's rights: at most its scope's right, and only on the hosts of
//! its host group when it has one. The local command line (root on the controller's machine)
//! is the operator, who may do everything.
//!
//! Every route of both HTTP faces declares a [`Need`]; `http::routes` resolves the caller's
//! [`Access`] and calls [`check`] once per request, before any handler runs. The admin socket
//! calls [`check`] with [`Access::operator`]. Lists (hosts, alerts, updates, operations) are
//! filtered through [`Visible`].

use super::error::DomainError;
use crate::context::Context;
use crate::storage::access::{HostGroupRecord, ALL_HOSTS};
use crate::storage::auth::{TokenScope, UserRecord};
use std::collections::BTreeMap;
use unity_shared::proto::AgentId;

pub use crate::storage::access::Right;

/// What a route or an operator action needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Anyone, signed in or not (logging in, assets, the OpenAPI document, `/metrics` with its
    /// own token).
    Public,
    /// Any signed-in user; what they see is filtered by their rights on each host.
    SignedIn,
    /// This right on the host the path names (`{agent_id}`).
    Host(Right),
    /// This right on the host of the container operation the path names (`{id}`).
    OperationHost(Right),
    /// This right on every host (the built-in host group `all`).
    AllHosts(Right),
}

impl Need {
    /// How the route table and the tests print it, e.g. `host:operate`.
    pub fn describe(self) -> String {
        match self {
            Need::Public => "public".into(),
            Need::SignedIn => "signed-in".into(),
            Need::Host(right) => format!("host:{right}"),
            Need::OperationHost(right) => format!("operation-host:{right}"),
            Need::AllHosts(right) => format!("all-hosts:{right}"),
        }
    }
}

/// A set of hosts a right applies to.
#[derive(Debug, Clone)]
enum HostSet {
    All,
    Group(HostGroupRecord),
}

impl HostSet {
    fn contains(&self, agent_id: &AgentId, labels: &[(String, String)]) -> bool {
        match self {
            HostSet::All => true,
            HostSet::Group(group) => group.contains(agent_id, labels),
        }
    }
}

/// What the token in use limits, for messages that say why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// A session (or the operator): the user's own rights.
    Own,
    /// An API token with this scope.
    Token(TokenScope),
}

/// Everything a caller may do, resolved once per request.
#[derive(Debug, Clone)]
pub struct Access {
    /// The user's name, or `cli` for the operator.
    pub actor: String,
    grants: Vec<(HostSet, Right)>,
    cap: Right,
    limit: Limit,
    /// A token's host group: nothing outside it.
    only: Option<HostSet>,
}

impl Access {
    /// The local command line: every right on every host.
    pub fn operator() -> Access {
        Access {
            actor: "cli".into(),
            grants: vec![(HostSet::All, Right::Administer)],
            cap: Right::Administer,
            limit: Limit::Own,
            only: None,
        }
    }

    /// A user with no rights at all.
    pub fn nobody(actor: &str) -> Access {
        Access {
            actor: actor.to_owned(),
            grants: vec![],
            cap: Right::View,
            limit: Limit::Own,
            only: None,
        }
    }

    /// The right held on one host (with its labels), if any.
    pub fn right_on(&self, agent_id: &AgentId, labels: &[(String, String)]) -> Option<Right> {
        if let Some(only) = &self.only {
            if !only.contains(agent_id, labels) {
                return None;
            }
        }
        self.grants
            .iter()
            .filter(|(hosts, _)| hosts.contains(agent_id, labels))
            .map(|(_, right)| *right)
            .max()
            .map(|right| right.min(self.cap))
    }

    /// The right held on every host, present and future (through the group `all`).
    pub fn on_all_hosts(&self) -> Option<Right> {
        if self.only.is_some() {
            return None;
        }
        self.grants
            .iter()
            .filter(|(hosts, _)| matches!(hosts, HostSet::All))
            .map(|(_, right)| *right)
            .max()
            .map(|right| right.min(self.cap))
    }

    /// Administer on every host: what the `admin` role was.
    pub fn is_admin(&self) -> bool {
        self.on_all_hosts() == Some(Right::Administer)
    }

    /// The old role's word for this access: `admin` (administer on all hosts), `viewer`
    /// (view on all hosts and nothing more), or `member` (rights on some hosts).
    pub fn role_word(&self) -> &'static str {
        let only_view =
            self.cap == Right::View || self.grants.iter().all(|(_, right)| *right == Right::View);
        match self.on_all_hosts() {
            Some(Right::Administer) => "admin",
            Some(_) if only_view => "viewer",
            _ => "member",
        }
    }

    /// Why `right` is refused, in words that say what to do.
    fn refusal(&self, right: Right, place: &str) -> DomainError {
        let message = match self.limit {
            Limit::Token(scope) if scope.right() < right => format!(
                "this API token has the {} scope and cannot {right} {place}; that needs a token with a wider scope",
                scope.as_str()
            ),
            _ if right > Right::View && self.role_word() == "viewer" => {
                format!("viewers cannot change anything: {} has view, not {right}, on {place}; ask an admin", self.actor)
            }
            _ => format!("{} may not {right} {place}; ask an admin for that right", self.actor),
        };
        DomainError::Forbidden(message)
    }
}

/// Reads a host group, with the built-in `all`; an unknown name matches no host.
fn host_set(ctx: &Context, name: &str) -> Result<Option<HostSet>, DomainError> {
    if name == ALL_HOSTS {
        return Ok(Some(HostSet::All));
    }
    Ok(ctx.store.access.host_group(name)?.map(HostSet::Group))
}

/// Everything `user` may do, capped by an API token's `scope` and host group when given.
/// Note that this uses blocking I/O.
pub fn of_user(
    ctx: &Context,
    user: &UserRecord,
    token: Option<(TokenScope, Option<&str>)>,
) -> Result<Access, DomainError> {
    let mut grants = Vec::new();
    for group_name in &user.groups {
        let Some(group) = ctx.store.access.group(group_name)? else {
            continue;
        };
        for grant in group.grants {
            if let Some(hosts) = host_set(ctx, &grant.host_group)? {
                grants.push((hosts, grant.right));
            }
        }
    }
    let (cap, limit, only) = match token {
        None => (Right::Administer, Limit::Own, None),
        Some((scope, host_group)) => {
            let only = match host_group {
                // A token whose host group is gone reaches no host.
                Some(name) => Some(host_set(ctx, name)?.unwrap_or(HostSet::Group(
                    HostGroupRecord {
                        name: name.to_owned(),
                        labels: vec![],
                        hosts: vec![],
                        created_at_ms: 0,
                    },
                ))),
                None => None,
            };
            (scope.right(), Limit::Token(scope), only)
        }
    };
    Ok(Access {
        actor: user.name.clone(),
        grants,
        cap,
        limit,
        only,
    })
}

/// Checks `need` for `access`; `host` is the host the request names (for `Host` and
/// `OperationHost` needs). Returns the right held on that host. Note that this uses blocking
/// I/O.
pub fn check(
    ctx: &Context,
    access: &Access,
    need: Need,
    host: Option<&AgentId>,
) -> Result<Option<Right>, DomainError> {
    match need {
        Need::Public | Need::SignedIn => Ok(None),
        Need::AllHosts(right) => match access.on_all_hosts() {
            Some(held) if held >= right => Ok(Some(held)),
            _ => Err(access.refusal(right, "every host")),
        },
        Need::Host(right) | Need::OperationHost(right) => {
            let Some(agent_id) = host else {
                return Err(DomainError::Invalid("this request names no host".into()));
            };
            let labels = ctx.store.access.labels(agent_id)?;
            match access.right_on(agent_id, &labels) {
                Some(held) if held >= right => Ok(Some(held)),
                // Someone who may not even see a host learns nothing about it.
                None => Err(DomainError::no_host(agent_id)),
                Some(_) => Err(access.refusal(right, &format!("host {agent_id}"))),
            }
        }
    }
}

/// Which hosts a caller sees, for filtering lists: the access with every host's labels.
#[derive(Debug, Clone)]
pub struct Visible {
    access: Access,
    labels: BTreeMap<AgentId, Vec<(String, String)>>,
}

impl Visible {
    /// The right held on `agent_id`.
    pub fn right(&self, agent_id: &AgentId) -> Option<Right> {
        let labels = self.labels.get(agent_id).map_or(&[][..], Vec::as_slice);
        self.access.right_on(agent_id, labels)
    }

    /// Whether the caller holds at least `right` on `agent_id`.
    pub fn can(&self, agent_id: &AgentId, right: Right) -> bool {
        self.right(agent_id).is_some_and(|held| held >= right)
    }

    /// Whether the caller sees `agent_id` at all.
    pub fn sees(&self, agent_id: &AgentId) -> bool {
        self.right(agent_id).is_some()
    }
}

/// The hosts `access` sees. Note that this uses blocking I/O.
pub fn visible(ctx: &Context, access: &Access) -> Result<Visible, DomainError> {
    Ok(Visible {
        access: access.clone(),
        labels: ctx.store.access.all_labels()?.into_iter().collect(),
    })
}

#[cfg(test)]
mod tests;
