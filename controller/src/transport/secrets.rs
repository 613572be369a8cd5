//! Answers an agent's `SecretRequest` (and the controller's requests on behalf of a proxy
//! agent): each name through the context's [`Context::deliver_secret`], the secrets store's
//! one delivery path (scope, revocation, audit), which the transport layer reaches through
//! the context because it may not import the domain.

use crate::context::Context;
use unity_shared::model::secret::{SecretAnswer, SecretName};
use unity_shared::proto::AgentId;

/// What the agent asked for (`purpose` in the audit log).
pub const AGENT_REQUEST: &str = "agent request";

/// The answers to `host`'s request for `names`, in order: each value when the store gives it
/// to the host, else `None` (a failure inside the controller is logged, and the agent told
/// nothing more). Note that this uses blocking I/O.
pub fn answer(ctx: &Context, host: &AgentId, names: Vec<SecretName>) -> Vec<SecretAnswer> {
    names
        .into_iter()
        .map(|name| {
            let value =
                (ctx.deliver_secret)(ctx, &name, host, AGENT_REQUEST).unwrap_or_else(|error| {
                    tracing::error!(%error, secret = %name, %host, "Delivering a secret failed.");
                    None
                });
            SecretAnswer { name, value }
        })
        .collect()
}
