//! Who answers an agent's `SecretRequest`. The answer needs the secrets store's rules
//! (`domain::secrets::answer`), which the transport layer may not import; the service
//! installs that function here at start. Until then (and in tools without a service) every
//! name is answered with nothing.

use crate::context::Context;
use std::sync::OnceLock;
use unity_shared::model::secret::{SecretAnswer, SecretName};
use unity_shared::proto::AgentId;

/// Answers one request of `host` for `names`, in order.
pub type Answerer = fn(&Context, &AgentId, Vec<SecretName>) -> Vec<SecretAnswer>;

static ANSWERER: OnceLock<Answerer> = OnceLock::new();

/// Installs the answerer (once per process; later calls keep the first).
pub fn install(answerer: Answerer) {
    let _ = ANSWERER.set(answerer);
}

/// The answers to `host`'s request: the installed answerer's, or nothing for every name.
pub fn answer(ctx: &Context, host: &AgentId, names: Vec<SecretName>) -> Vec<SecretAnswer> {
    match ANSWERER.get() {
        Some(answerer) => answerer(ctx, host, names),
        None => names
            .into_iter()
            .map(|name| SecretAnswer { name, value: None })
            .collect(),
    }
}
