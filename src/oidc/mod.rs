//! The OpenID Connect face: discovery, JWKS, authorization (sign-in, SSO session,
//! access gate), token, userinfo, introspection, revocation, RP-initiated and
//! back-channel logout, signing-key rotation.
//! Each endpoint parses, decides (pure functions) and renders; protocol state lives in
//! the face's own trees; directory data is only read, through the core.

mod authorize;
pub mod backchannel;
mod claims;
mod client;
mod discovery;
mod grants;
mod handlers;
pub mod jws;
pub mod keys;
mod logout;
mod memo;
mod pages;
mod params;
mod pending;
mod reply;
mod resource;
mod rotation;
mod rs256;
mod signin;
mod token;
mod tokens;
mod watch;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRef};
use axum::routing::{get, post};
use openidconnect::IssuerUrl;

pub use crate::auth::browser::{ACR, AMR_PASSWORD};
pub use crate::auth::cookie::cookie;
pub use claims::{ApexClaims, ApexIdToken, UserClaims};
pub use discovery::{ApexProviderMetadata, ApexProviderMetadataDocument, path};
pub use tokens::AccessClaims;

use crate::auth::Browser;
use crate::auth::browser::{EndedSessions, Lifetimes, SsoSession};
use crate::config::OidcConfig;
use crate::directory::Directory;
use crate::http::client::TrustedProxies;
use crate::metrics::Metrics;
use crate::store::table::Table;
use backchannel::Courier;
use client::SecretCache;
use grants::Grants;
use pending::{Interactions, PendingLimits};
use rotation::Published;
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
    State(#[from] crate::store::table::StateError),
    /// Anything else, in a sentence.
    #[error("oidc: {0}")]
    Other(String),
}

/// The issuer: keys, rendered documents, protocol state.
pub struct Oidc {
    issuer: IssuerUrl,
    base: String,
    keys: std::sync::RwLock<Arc<Published>>,
    keys_table: Table<keys::KeyRecord>,
    refreshing: std::sync::Mutex<()>,
    discovery: Bytes,
    config: OidcConfig,
    grants: Grants,
    browser: Arc<Browser>,
    ended: std::sync::Mutex<Option<EndedSessions>>,
    interactions: Interactions,
    secrets: SecretCache,
    courier: Courier,
    verified: memo::Verified,
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
        let state = directory.face_state();
        let keys_table: Table<keys::KeyRecord> = state.table(keys::TREE)?;
        let now = directory.now();
        let retention = rotation::retention(&config);
        let table = keys_table.clone();
        let published = tokio::task::spawn_blocking(move || {
            keys::load_or_generate(&table, now)?;
            Published::load(&table, now, retention)
        })
        .await
        .map_err(|e| OidcError::Other(e.to_string()))??;
        let discovery = discovery::metadata(&issuer).map_err(OidcError::Other)?;
        let lifetimes = Lifetimes {
            idle: i64::from(config.session_idle_minutes) * 60,
            absolute: i64::from(config.session_max_hours) * 3600,
        };
        let secure = base.starts_with("https://");
        let (browser, ended) = Browser::open(&state, lifetimes, secure)?;
        let oidc = Oidc {
            grants: Grants::open(&state)?,
            browser: Arc::new(browser),
            ended: std::sync::Mutex::new(Some(ended)),
            interactions: Interactions::open(
                &state,
                PendingLimits {
                    per_source: config.pending_sign_ins_per_address,
                    total: config.pending_sign_ins_total,
                },
            )?,
            issuer,
            base,
            keys: std::sync::RwLock::new(Arc::new(published)),
            keys_table,
            refreshing: std::sync::Mutex::new(()),
            discovery: Bytes::from(discovery),
            config,
            secrets: SecretCache::new(),
            courier: Courier::new(),
            verified: memo::Verified::default(),
        };
        oidc.purge(now)?;
        Ok(oidc)
    }

    /// The issuer identifier (`public_url`).
    pub fn issuer(&self) -> &str {
        &self.base
    }

    /// The browser's sign-in, shared with the web space: one SSO session for both.
    pub fn browser(&self) -> Arc<Browser> {
        Arc::clone(&self.browser)
    }

    /// Forgets expired codes, grants, sessions and pending requests, and drops the
    /// retired keys whose tokens have all expired.
    pub fn purge(&self, now: i64) -> Result<usize, OidcError> {
        self.refresh_keys(now)?;
        Ok(self.grants.purge(now)? + self.browser.purge(now)? + self.interactions.purge(now)?)
    }
}

/// Seconds between two looks at the audit log for accounts that left or changed their
/// password.
const WATCH_SECONDS: u64 = 2;

/// Seconds between two readings of the signing keys by a node that shares its database.
const KEYS_RELOAD_SECONDS: u64 = 30;

/// Purges expired protocol state every ten minutes; every two seconds, ends the SSO
/// sessions that no longer stand (their account can no longer sign in, or its password
/// changed since); tells the clients of every session that ends, wherever it ended.
pub async fn run_housekeeping(oidc: Arc<Oidc>, directory: Arc<Directory>) {
    let ended = oidc
        .ended
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    let Some(mut ended) = ended else {
        tracing::error!("oidc: housekeeping runs once per issuer");
        return;
    };
    let mut purge = tokio::time::interval(std::time::Duration::from_secs(600));
    // Nodes sharing one database: a rotation made through any node is published here
    // within this period, well within the shortest rotation delay (the JWKS cache
    // lifetime), so every node signs with the new keys from the same moment.
    let mut reload = tokio::time::interval(std::time::Duration::from_secs(KEYS_RELOAD_SECONDS));
    let shared = directory.shares_its_store();
    let mut look = tokio::time::interval(std::time::Duration::from_secs(WATCH_SECONDS));
    // Looks stay a whole period apart even after a slow one: the session that changed
    // a password has that long to take the new stamp before its event is acted on.
    look.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    oidc.end_sessions_that_no_longer_stand_at_start(&directory);
    let mut watch = match watch::AccountWatch::new(&directory) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::error!(error = %e, "oidc: accounts are not watched");
            None
        }
    };
    loop {
        tokio::select! {
            _ = purge.tick() => {
                if let Err(e) = oidc.purge(directory.now()) {
                    tracing::warn!(error = %e, "oidc housekeeping");
                }
            }
            _ = look.tick() => {
                if let Some(w) = watch.as_mut() {
                    oidc.end_sessions_that_no_longer_stand(w, &directory);
                }
            }
            _ = reload.tick(), if shared => {
                let o = Arc::clone(&oidc);
                let now = directory.now();
                match tokio::task::spawn_blocking(move || o.refresh_keys(now)).await {
                    Ok(Err(e)) => tracing::warn!(error = %e, "oidc: keys not reloaded"),
                    Err(e) => tracing::warn!(error = %e, "oidc: keys not reloaded"),
                    Ok(Ok(())) => {}
                }
            }
            Some(session) = ended.recv() => {
                oidc.session_ended(&directory.catalogue(), &session, directory.now());
            }
        }
    }
}

impl Oidc {
    /// Ends the sessions of the accounts that left or changed their password that no
    /// longer stand: a new password ends every session opened with the old one, the one
    /// that set it excepted (it took the new password's stamp).
    fn end_sessions_that_no_longer_stand(
        &self,
        watch: &mut watch::AccountWatch,
        directory: &Directory,
    ) {
        let changed = match watch.changed_accounts(directory) {
            Ok(a) if a.is_empty() => return,
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "oidc: reading the audit log");
                return;
            }
        };
        self.end_sessions_where(|s| {
            changed
                .get(&s.authentication.account_id)
                .is_some_and(|now| no_longer_stands(s, now.as_ref()))
        });
    }

    /// At start, ends every session that no longer stands: a change the watch of the
    /// previous run read but did not act on (a stop right after a password change)
    /// still ends the sessions it should, and their clients are told.
    fn end_sessions_that_no_longer_stand_at_start(&self, directory: &Directory) {
        self.end_sessions_where(|s| {
            match directory.account(&s.authentication.account_id) {
                Ok(a) => no_longer_stands(s, Some(&a)),
                Err(crate::directory::DirError::NotFound { .. }) => no_longer_stands(s, None),
                // Unreadable now: kept, the watch looks again at the next change.
                Err(_) => false,
            }
        });
    }

    /// Ends the sessions `ends` picks (their clients are told as each ends).
    fn end_sessions_where(&self, ends: impl Fn(&SsoSession) -> bool) {
        if let Err(e) = self.browser.end_where(ends) {
            tracing::warn!(error = %e, "oidc: ending sessions");
        }
    }
}

/// Whether a session no longer stands, given its account as it is now (None: gone).
fn no_longer_stands(session: &SsoSession, account: Option<&crate::domain::Account>) -> bool {
    !account.is_some_and(|a| session.authentication.valid_for(a))
}

/// What the issuer's handlers share.
pub struct OidcState {
    /// The core.
    pub directory: Arc<Directory>,
    /// The issuer.
    pub oidc: Arc<Oidc>,
    /// Counters.
    pub metrics: Arc<Metrics>,
}

/// The OIDC routes, for any application state that holds the issuer's and the trusted
/// proxies (see `server`, which composes the faces).
pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<OidcState>: FromRef<S>,
    TrustedProxies: FromRef<S>,
{
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
