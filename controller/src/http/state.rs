//! What every HTTP handler shares, the REST API's and the pages' alike: the context, the login
//! limiter, whether cookies are `Secure`, and the decoy password hash.

use super::login_limit::LoginLimiter;
use crate::context::Context;
use std::sync::Arc;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub ctx: Arc<Context>,
    pub limiter: Arc<LoginLimiter>,
    /// Whether cookies get `Secure` and responses `Strict-Transport-Security` (the server
    /// speaks HTTPS).
    pub secure_cookies: bool,
    /// A valid argon2 hash checked against when the user does not exist, so a login for an
    /// unknown name takes as long as one with a wrong password.
    pub decoy_hash: Arc<String>,
}
