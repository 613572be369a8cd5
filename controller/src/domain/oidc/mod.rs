//! Sign-in with an OpenID Connect provider (`[auth.oidc]`): the authorization-code flow with
//! PKCE, `state` and `nonce`, through the `openidconnect` crate.
//!
//! [`start`] discovers the provider, stores what the callback will need (nonce and PKCE
//! verifier) under the SHA-256 of a fresh `state`, and returns the provider's URL. [`finish`]
//! takes that record once (a replayed callback finds nothing), exchanges the code, checks the
//! ID token (signature against the provider's keys, issuer, audience, expiry with the
//! configured clock skew, nonce), then finds the user by (issuer, `sub`), never by e-mail or
//! name, creating one when there is none, sets their groups from the token's `groups` claim
//! through the configured mapping, and opens a session. The provider is discovered on each
//! login, so rotated signing keys are picked up.

use super::audit::{self, AuditAction};
use super::error::DomainError;
use super::sessions::{self, NewSession};
use super::users::check_name;
use crate::clock::now_ms;
use crate::config::auth::OidcConfig;
use crate::context::Context;
use crate::domain::actor::Actor;
use crate::storage::auth::{self as store_auth, OidcLink, OidcPendingRecord, Role, UserRecord};
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType,
    CoreGenderClaim, CoreJsonWebKey, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EmptyExtraTokenFields,
    IdTokenFields, IdTokenVerifier, IssuerUrl, LogoutRequest, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, PostLogoutRedirectUrl, ProviderMetadataWithLogout, RedirectUrl, Scope,
    StandardErrorResponse, StandardTokenResponse, TokenResponse,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

mod http;

/// How long a login may take at the provider.
pub const PENDING_TTL_MS: i64 = 10 * 60 * 1000;

/// The claims Unity reads beyond the standard ones: the user's groups at the provider.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct GroupsClaim {
    #[serde(default)]
    pub groups: Vec<String>,
}

impl AdditionalClaims for GroupsClaim {}

/// An ID token with the groups claim.
pub type IdToken = openidconnect::IdToken<
    GroupsClaim,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

type Tokens = StandardTokenResponse<
    IdTokenFields<
        GroupsClaim,
        EmptyExtraTokenFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    CoreTokenType,
>;

type Client = openidconnect::Client<
    GroupsClaim,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    Tokens,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// Who the provider says signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub issuer: String,
    pub subject: String,
    /// `preferred_username`, for naming a new user.
    pub preferred_username: Option<String>,
    pub groups: Vec<String>,
}

fn failed(what: &str, error: impl std::fmt::Display) -> DomainError {
    DomainError::Unavailable(format!("OpenID Connect {what}: {error}"))
}

fn refused(message: impl Into<String>) -> DomainError {
    DomainError::Forbidden(message.into())
}

async fn discover(
    config: &OidcConfig,
) -> Result<(ProviderMetadataWithLogout, reqwest::Client), DomainError> {
    let http = http::client().map_err(|error| failed("HTTP client", error))?;
    let issuer = IssuerUrl::new(config.issuer.clone())
        .map_err(|error| DomainError::Invalid(format!("bad issuer URL: {error}")))?;
    let sender = http::sender(http.clone());
    let metadata = ProviderMetadataWithLogout::discover_async(issuer, &sender)
        .await
        .map_err(|error| failed("discovery", error_chain(&error)))?;
    Ok((metadata, http))
}

fn client(
    config: &OidcConfig,
    metadata: ProviderMetadataWithLogout,
) -> Result<Client, DomainError> {
    let redirect = RedirectUrl::new(config.redirect_url.clone())
        .map_err(|error| DomainError::Invalid(format!("bad redirect URL: {error}")))?;
    Ok(Client::from_provider_metadata(
        metadata,
        ClientId::new(config.client_id.clone()),
        Some(ClientSecret::new(config.client_secret.0.clone())),
    )
    .set_redirect_uri(redirect))
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A login to start at the provider: where to send the browser, and the `state` it carries
/// (also kept in a cookie, so only this browser can finish it).
#[derive(Clone)]
pub struct Start {
    pub url: String,
    pub state: String,
}

impl std::fmt::Debug for Start {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Start { <redacted> }")
    }
}

/// Starts a login: discovers the provider and remembers the nonce and PKCE verifier under the
/// new state. Note that this uses the network and blocking I/O.
pub async fn start(ctx: &Arc<Context>, config: &OidcConfig) -> Result<Start, DomainError> {
    let (metadata, _) = discover(config).await?;
    let (url, state, nonce, verifier) = authorize_url(config, metadata)?;
    let now = now_ms();
    let record = OidcPendingRecord {
        nonce: nonce.secret().clone(),
        pkce_verifier: verifier.secret().clone(),
        created_at_ms: now,
        expires_at_ms: now + PENDING_TTL_MS,
    };
    let state_hash = store_auth::secret_hash(state.secret());
    let store_ctx = ctx.clone();
    tokio::task::spawn_blocking(move || store_ctx.store.auth.put_oidc_pending(state_hash, &record))
        .await
        .map_err(|error| DomainError::Internal(format!("blocking task failed: {error}")))??;
    Ok(Start {
        url,
        state: state.secret().clone(),
    })
}

/// The provider's URL for a new login, with its state, nonce and PKCE verifier.
fn authorize_url(
    config: &OidcConfig,
    metadata: ProviderMetadataWithLogout,
) -> Result<(String, CsrfToken, Nonce, PkceCodeVerifier), DomainError> {
    let client = client(config, metadata)?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client.authorize_url(
        CoreAuthenticationFlow::AuthorizationCode,
        CsrfToken::new_random,
        Nonce::new_random,
    );
    for scope in config.scopes.iter().filter(|scope| *scope != "openid") {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
    Ok((url.to_string(), state, nonce, verifier))
}

/// Checks an ID token against the provider's `keys` at `now_s` (Unix seconds) and the
/// `nonce` of this login: signature, issuer, audience (this client only), expiry with the
/// configured clock skew. Pure.
pub fn verify(
    config: &OidcConfig,
    keys: CoreJsonWebKeySet,
    token: &IdToken,
    nonce: &Nonce,
    now_s: i64,
) -> Result<Identity, DomainError> {
    let issuer = IssuerUrl::new(config.issuer.clone())
        .map_err(|error| DomainError::Invalid(format!("bad issuer URL: {error}")))?;
    let skew_s = i64::try_from(config.clock_skew.as_secs()).unwrap_or(i64::MAX);
    let checked_at =
        chrono::DateTime::from_timestamp(now_s.saturating_sub(skew_s), 0).unwrap_or_default();
    let verifier: IdTokenVerifier<'_, CoreJsonWebKey> = IdTokenVerifier::new_confidential_client(
        ClientId::new(config.client_id.clone()),
        ClientSecret::new(config.client_secret.0.clone()),
        issuer,
        keys,
    )
    .set_time_fn(move || checked_at)
    .set_issue_time_verifier_fn(move |issued| {
        let latest = now_s.saturating_add(skew_s);
        if issued.timestamp() > latest {
            Err(format!("issued in the future ({issued})"))
        } else {
            Ok(())
        }
    });
    let claims = token
        .claims(&verifier, nonce)
        .map_err(|error| refused(format!("the provider's ID token was refused: {error}")))?;
    Ok(Identity {
        issuer: claims.issuer().to_string(),
        subject: claims.subject().to_string(),
        preferred_username: claims.preferred_username().map(|name| name.to_string()),
        groups: claims.additional_claims().groups.clone(),
    })
}

/// What a finished login came to.
pub struct Finished {
    pub session: NewSession,
}

/// Finishes a login when the provider sends the browser back with `code` for `state`;
/// `cookie_state` is the state this browser started with. Note that this uses the network
/// and blocking I/O.
pub async fn finish(
    ctx: &Arc<Context>,
    config: &OidcConfig,
    state: &str,
    cookie_state: Option<&str>,
    code: &str,
    ttl_ms: i64,
) -> Result<Finished, DomainError> {
    let same_browser = cookie_state
        .is_some_and(|cookie| store_auth::constant_time_eq(cookie.as_bytes(), state.as_bytes()));
    if !same_browser {
        return Err(refused(
            "this sign-in was not started in this browser (or its cookie expired); start again",
        ));
    }
    let state_hash = store_auth::secret_hash(state);
    let take_ctx = ctx.clone();
    let pending = tokio::task::spawn_blocking(move || {
        take_ctx.store.auth.take_oidc_pending(state_hash, now_ms())
    })
    .await
    .map_err(|error| DomainError::Internal(format!("blocking task failed: {error}")))??
    .ok_or_else(|| refused("unknown, used or expired sign-in state; start the sign-in again"))?;
    let (metadata, http) = discover(config).await?;
    let keys = metadata.jwks().clone();
    let tokens = exchange(
        config,
        metadata,
        http,
        code.to_owned(),
        pending.pkce_verifier.clone(),
    )
    .await?;
    let token = tokens
        .id_token()
        .ok_or_else(|| refused("the provider sent no ID token"))?;
    let identity = verify(
        config,
        keys,
        token,
        &Nonce::new(pending.nonce.clone()),
        now_ms() / 1000,
    )?;
    let config = config.clone();
    let ctx = ctx.clone();
    tokio::task::spawn_blocking(move || sign_in(&ctx, &config, &identity, ttl_ms))
        .await
        .map_err(|error| DomainError::Internal(format!("blocking task failed: {error}")))?
}

/// Exchanges the code (with the PKCE verifier) for the provider's tokens.
async fn exchange(
    config: &OidcConfig,
    metadata: ProviderMetadataWithLogout,
    http: reqwest::Client,
    code: String,
    pkce_verifier: String,
) -> Result<Tokens, DomainError> {
    let client = client(config, metadata)?;
    let sender = http::sender(http);
    let request = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|error| failed("token endpoint", error))?
        .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier));
    request.request_async(&sender).await.map_err(|error| {
        refused(format!(
            "the provider refused the code: {}",
            error_chain(&error)
        ))
    })
}

/// The Unity groups an identity's provider groups map to (plus the defaults), keeping only
/// groups that exist. Note that this uses blocking I/O.
fn mapped_groups(
    ctx: &Context,
    config: &OidcConfig,
    identity: &Identity,
) -> Result<Vec<String>, DomainError> {
    let mut groups: Vec<String> = identity
        .groups
        .iter()
        .filter_map(|group| config.groups.get(group).cloned())
        .chain(config.default_groups.iter().cloned())
        .collect();
    groups.sort();
    groups.dedup();
    let mut existing = Vec::new();
    for group in groups {
        if ctx.store.access.group(&group)?.is_some() {
            existing.push(group);
        } else {
            tracing::warn!(group = %group, "An [auth.oidc] group mapping names a Unity group that does not exist.");
        }
    }
    Ok(existing)
}

/// A free user name for a new OIDC user: their `preferred_username` when it is a valid
/// name and free, else with a number, else from the subject. Note that this uses blocking I/O.
fn new_name(ctx: &Context, identity: &Identity) -> Result<String, DomainError> {
    let digest = hex::encode(store_auth::secret_hash(&format!(
        "{}\n{}",
        identity.issuer, identity.subject
    )));
    let fallback = format!("oidc-{}", &digest[..12]);
    let base = identity
        .preferred_username
        .clone()
        .filter(|name| check_name("user", name).is_ok() && name.len() <= 60)
        .unwrap_or_else(|| fallback.clone());
    for n in 1..100 {
        let name = if n == 1 {
            base.clone()
        } else {
            format!("{base}-{n}")
        };
        if ctx.store.auth.user(&name)?.is_none() {
            return Ok(name);
        }
    }
    Ok(fallback)
}

/// Finds (by issuer and subject) or creates the user, sets their groups from the provider's
/// and opens a session. Note that this uses blocking I/O.
pub fn sign_in(
    ctx: &Context,
    config: &OidcConfig,
    identity: &Identity,
    ttl_ms: i64,
) -> Result<Finished, DomainError> {
    let groups = mapped_groups(ctx, config, identity)?;
    let link = OidcLink {
        issuer: identity.issuer.clone(),
        subject: identity.subject.clone(),
    };
    let existing = ctx
        .store
        .auth
        .users()?
        .into_iter()
        .find(|user| user.oidc.as_ref() == Some(&link));
    let user = match existing {
        Some(mut user) => {
            user.groups = groups;
            ctx.store.auth.put_user(&user)?;
            user
        }
        None => {
            let user = UserRecord {
                name: new_name(ctx, identity)?,
                legacy_role: Role::Viewer,
                // An empty hash matches no password: this user signs in at the provider.
                password_hash: String::new(),
                created_at_ms: now_ms(),
                groups,
                oidc: Some(link),
            };
            if !ctx.store.auth.create_user(&user)? {
                return Err(DomainError::Conflict(format!(
                    "a user named {:?} appeared meanwhile; sign in again",
                    user.name
                )));
            }
            audit::record(
                ctx,
                &Actor::user(&user.name),
                AuditAction::OidcUserCreate,
                &format!(
                    "{} ({} at {})",
                    user.name, identity.subject, identity.issuer
                ),
            )?;
            user
        }
    };
    let session = sessions::open_session(ctx, &user, ttl_ms, AuditAction::OidcLogin)?;
    ctx.store.flush()?;
    Ok(Finished { session })
}

/// Where the browser goes after logging out of Unity: the provider's end-session endpoint
/// (RP-initiated logout) when it has one, back to `after` (the login page). Note that this
/// uses the network.
pub async fn logout_url(config: &OidcConfig, after: &str) -> Result<Option<String>, DomainError> {
    let (metadata, _) = discover(config).await?;
    let Some(end_session) = metadata.additional_metadata().end_session_endpoint.clone() else {
        return Ok(None);
    };
    // The page links to it: only a web address, never `javascript:` or the like.
    if !matches!(end_session.url().scheme(), "https" | "http") {
        return Ok(None);
    }
    let mut request =
        LogoutRequest::from(end_session).set_client_id(ClientId::new(config.client_id.clone()));
    if let Ok(after) = PostLogoutRedirectUrl::new(after.to_owned()) {
        request = request.set_post_logout_redirect_uri(after);
    }
    Ok(Some(request.http_get_url().to_string()))
}

/// The provider's keys and metadata are fetched with this timeout.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests;
