//! The OpenID Connect face: discovery, JWKS, authorization (sign-in, SSO session,
//! access gate), token, userinfo, introspection, revocation and RP-initiated logout.
//! Each endpoint parses, decides (pure functions) and renders; protocol state lives in
//! the face's own trees; directory data is only read, through the core.

mod authorize;
mod claims;
mod client;
mod discovery;
mod grants;
mod handlers;
pub mod jws;
pub mod keys;
mod logout;
mod pages;
mod params;
mod reply;
mod resource;
mod session;
mod signin;
mod table;
mod token;
mod tokens;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use openidconnect::IssuerUrl;

pub use claims::{ApexClaims, ApexIdToken, UserClaims};
pub use discovery::{ApexProviderMetadata, ApexProviderMetadataDocument, path};
pub use tokens::AccessClaims;

use crate::config::OidcConfig;
use crate::directory::Directory;
use crate::web::AppState;
use client::SecretCache;
use grants::Grants;
use keys::KeyRing;
use session::{Lifetimes, Sessions};

/// The authentication context class of a password sign-in.
pub const ACR: &str = "eidas1";
/// The authentication method of a password sign-in (RFC 8176).
pub const AMR_PASSWORD: &str = "pwd";
/// Largest request body of the OIDC endpoints.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// Why the issuer could not start.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// Signing keys.
    #[error("{0}")]
    Keys(#[from] keys::KeyError),
    /// Protocol state.
    #[error("{0}")]
    State(#[from] table::StateError),
    /// Anything else, in a sentence.
    #[error("oidc: {0}")]
    Other(String),
}

/// The issuer: keys, rendered documents, protocol state.
pub struct Oidc {
    issuer: IssuerUrl,
    base: String,
    keys: KeyRing,
    discovery: Bytes,
    jwks: Bytes,
    config: OidcConfig,
    grants: Grants,
    sessions: Sessions,
    secrets: SecretCache,
}

impl Oidc {
    /// Opens the issuer over the core's store: loads the signing keys, generating the
    /// missing ones (first start), and renders discovery and JWKS.
    pub async fn open(directory: &Directory, config: OidcConfig) -> Result<Oidc, OidcError> {
        let base = directory
            .settings()
            .public_url
            .trim_end_matches('/')
            .to_owned();
        let issuer = IssuerUrl::new(base.clone())
            .map_err(|e| OidcError::Other(format!("server.public_url = {base}: {e}")))?;
        let store = Arc::clone(directory.store());
        let tree = store
            .face_tree(keys::TREE)
            .map_err(table::StateError::from)?;
        let now = directory.now();
        let keys = tokio::task::spawn_blocking(move || keys::load_or_generate(&tree, now))
            .await
            .map_err(|e| OidcError::Other(e.to_string()))??;
        let discovery = discovery::metadata(&issuer).map_err(OidcError::Other)?;
        let jwks = discovery::jwks(&keys).map_err(OidcError::Other)?;
        let lifetimes = Lifetimes {
            idle: i64::from(config.session_idle_minutes) * 60,
            absolute: i64::from(config.session_max_hours) * 3600,
        };
        let secure = base.starts_with("https://");
        let oidc = Oidc {
            grants: Grants::open(&store)?,
            sessions: Sessions::open(&store, lifetimes, secure)?,
            issuer,
            base,
            keys,
            discovery: Bytes::from(discovery),
            jwks: Bytes::from(jwks),
            config,
            secrets: SecretCache::new(),
        };
        oidc.purge(now)?;
        Ok(oidc)
    }

    /// The issuer identifier (`public_url`).
    pub fn issuer(&self) -> &str {
        &self.base
    }

    /// Forgets expired codes, grants, sessions and pending requests.
    pub fn purge(&self, now: i64) -> Result<usize, OidcError> {
        Ok(self.grants.purge(now)? + self.sessions.purge(now)?)
    }
}

/// Purges expired protocol state every ten minutes.
pub async fn run_housekeeping(oidc: Arc<Oidc>, directory: Arc<Directory>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        tick.tick().await;
        if let Err(e) = oidc.purge(directory.now()) {
            tracing::warn!(error = %e, "oidc housekeeping");
        }
    }
}

/// The OIDC routes, merged into the HTTP application.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route(path::DISCOVERY, get(handlers::discovery))
        .route(path::JWKS, get(handlers::jwks))
        .route(
            path::AUTHORIZE,
            get(signin::authorize).post(signin::authorize),
        )
        .route(path::SIGN_IN, post(signin::sign_in))
        .route(path::RENEW, post(signin::renew))
        .route(path::TOKEN, post(token::token))
        .route(
            path::USERINFO,
            get(resource::userinfo).post(resource::userinfo),
        )
        .route(path::INTROSPECT, post(resource::introspect))
        .route(path::REVOKE, post(resource::revoke))
        .route(path::LOGOUT, get(logout::logout).post(logout::logout))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}
