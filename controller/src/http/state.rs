//! What every HTTP handler shares, the REST API's and the pages' alike: the context, the login
//! limiter, whether the server speaks TLS, and the decoy password hash.

use super::login_limit::LoginLimiter;
use crate::context::Context;
use std::sync::Arc;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub ctx: Arc<Context>,
    pub limiter: Arc<LoginLimiter>,
    /// The server speaks HTTPS itself (every request is then HTTPS; behind a proxy,
    /// `http::scheme` decides per request).
    pub speaks_tls: bool,
    /// A valid argon2 hash checked against when the user does not exist, so a login for an
    /// unknown name takes as long as one with a wrong password.
    pub decoy_hash: Arc<String>,
}
