//! Back-Channel Logout 1.0: when an SSO session ends, every client that received a
//! code during it and declared a `backchannel_logout_uri` gets a signed logout token by
//! a direct POST. Tokens are made at once (parse → decide); delivery runs in the
//! background with a timeout, so a slow or dead client never delays the browser.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Oidc;
use super::jws;
use crate::auth::browser::SsoSession;
use crate::catalogue::Catalogue;

/// The event of a logout token.
pub const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// Media type of logout tokens (explicit typing, Back-Channel Logout 1.0 §2.4).
pub const LOGOUT_TOKEN_TYP: &str = "logout+jwt";
/// Lifetime of a logout token, in seconds.
pub const LOGOUT_TOKEN_SECONDS: i64 = 120;
/// Longest wait for one client's answer, connection included.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);

/// The claims of a logout token: no `nonce`, an `events` member, `sid` and `sub`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogoutClaims {
    /// Issuer.
    pub iss: String,
    /// The client told.
    pub aud: String,
    /// Issue time.
    pub iat: i64,
    /// Expiry.
    pub exp: i64,
    /// Unique id (clients refuse replays).
    pub jti: String,
    /// The account whose session ended.
    pub sub: String,
    /// The session that ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// `{"http://schemas.openid.net/event/backchannel-logout": {}}`.
    pub events: Value,
}

/// The logout token claims for one client of an ended session.
pub fn logout_claims(iss: &str, client_id: &str, session: &SsoSession, now: i64) -> LogoutClaims {
    LogoutClaims {
        iss: iss.to_owned(),
        aud: client_id.to_owned(),
        iat: now,
        exp: now + LOGOUT_TOKEN_SECONDS,
        jti: uuid::Uuid::new_v4().to_string(),
        sub: session.authentication.account_id.clone(),
        sid: session.authentication.sid.clone(),
        events: json!({ EVENT: {} }),
    }
}

/// A logout token on its way to one client.
#[derive(Debug, Clone)]
pub struct Notice {
    /// The client.
    pub client_id: String,
    /// Its `backchannel_logout_uri`.
    pub uri: String,
    /// The signed logout token.
    pub token: String,
}

/// The HTTP client that carries logout tokens.
pub struct Courier {
    http: Option<reqwest::Client>,
}

impl Courier {
    /// A courier that never follows redirects and gives up after the timeout. Without
    /// a usable HTTP client (no TLS provider) it only logs what it would have sent.
    pub fn new() -> Courier {
        // Idempotent: the server installs the same provider at start.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let built = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(DELIVERY_TIMEOUT)
            .timeout(DELIVERY_TIMEOUT)
            .user_agent(concat!("apex-idp/", env!("CARGO_PKG_VERSION")))
            .build();
        let http = match built {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::error!(error = %e, "back-channel logout disabled: no HTTP client");
                None
            }
        };
        Courier { http }
    }

    /// Sends every notice in the background; returns at once.
    pub fn deliver(&self, notices: Vec<Notice>) {
        if notices.is_empty() {
            return;
        }
        let Some(http) = self.http.clone() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("back-channel logout: no runtime to deliver on");
            return;
        };
        runtime.spawn(async move {
            futures::future::join_all(notices.into_iter().map(|n| send(&http, n))).await;
        });
    }
}

impl Default for Courier {
    fn default() -> Self {
        Self::new()
    }
}

async fn send(http: &reqwest::Client, notice: Notice) {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("logout_token", &notice.token)
        .finish();
    let sent = http
        .post(&notice.uri)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(body)
        .send()
        .await;
    match sent {
        Ok(r) if r.status().is_success() => {
            tracing::info!(client_id = %notice.client_id, "back-channel logout delivered");
        }
        Ok(r) => tracing::warn!(
            client_id = %notice.client_id,
            status = r.status().as_u16(),
            "back-channel logout refused by the client"
        ),
        Err(e) => tracing::warn!(
            client_id = %notice.client_id,
            error = %e,
            "back-channel logout not delivered"
        ),
    }
}

impl Oidc {
    /// The logout tokens of an ended session, one per client that declared a
    /// `backchannel_logout_uri`.
    pub fn logout_notices(
        &self,
        catalogue: &Catalogue,
        session: &SsoSession,
        now: i64,
    ) -> Vec<Notice> {
        let mut out = Vec::new();
        for client_id in &session.clients {
            let Some(client) = catalogue
                .by_client_id(client_id)
                .and_then(|a| a.oidc.as_ref())
            else {
                continue;
            };
            let Some(uri) = &client.backchannel_logout_uri else {
                continue;
            };
            let claims = logout_claims(&self.base, client_id, session, now);
            let signed = self
                .signer_for(client, now)
                .map_err(|e| e.description)
                .and_then(|key| {
                    jws::encode(&key, LOGOUT_TOKEN_TYP, &claims).map_err(|e| e.to_string())
                });
            match signed {
                Ok(token) => out.push(Notice {
                    client_id: client_id.clone(),
                    uri: uri.clone(),
                    token,
                }),
                Err(e) => tracing::error!(client_id, error = %e, "logout token not signed"),
            }
        }
        out
    }

    /// Tells the clients of an ended session, in the background.
    pub fn session_ended(&self, catalogue: &Catalogue, session: &SsoSession, now: i64) {
        self.courier
            .deliver(self.logout_notices(catalogue, session, now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oidc::grants::Authentication;

    #[test]
    fn a_logout_token_names_the_session_and_the_event_and_has_no_nonce() {
        let session = SsoSession {
            authentication: Authentication {
                account_id: "acc".into(),
                auth_time: 10,
                amr: vec!["pwd".into()],
                acr: "eidas1".into(),
                sid: Some("s1".into()),
                stamp: None,
            },
            created_at: 10,
            last_seen: 20,
            password_expired: false,
            clients: vec!["demo".into()],
        };
        let c = logout_claims("https://idp.test", "demo", &session, 100);
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["aud"], "demo");
        assert_eq!(v["sub"], "acc");
        assert_eq!(v["sid"], "s1");
        assert_eq!(v["exp"], 100 + LOGOUT_TOKEN_SECONDS);
        assert_eq!(v["events"][EVENT], json!({}));
        assert!(v.get("nonce").is_none());
        assert_ne!(c.jti, logout_claims("i", "demo", &session, 100).jti);
    }
}
