//! The server's log, on standard error: text or JSON lines (`[log] format`), filtered by
//! `APEX_LOG`. Security events go to the target `apex::security`, one line each, with
//! what an operator needs to follow an attack or a complaint, never a secret:
//!
//! | `event` | when | fields |
//! |---|---|---|
//! | `sign_in` | a person's password checked (web, API, OIDC form, LDAP bind) | `outcome` (`success`, `failure`, `throttled`), `login`, `client` |
//! | `client_auth` | an application's secret checked (OIDC client, LDAP service account) | `outcome`, `client_id`, `client` |
//! | `token` | tokens issued at the token endpoint | `grant_type`, `client_id` |
//! | `refresh_reuse` | a spent refresh token presented again: its family is revoked | `client_id` |
//! | `logout` | a browser session ends (sign-out, RP-initiated logout) | `face`, `sub` |
//! | `operator` | a request with an operator token | `outcome`, `client` |
//!
//! Inside an HTTP request, every line also carries the request's `request_id` (also
//! sent back in `X-Request-Id`); inside an LDAP connection, its `connection` id and
//! `peer`.

use serde::Deserialize;

/// `[log] format`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human lines.
    #[default]
    Text,
    /// JSON lines.
    Json,
}

/// The target of security events.
pub const SECURITY: &str = "apex::security";

/// Installs the log (once; later calls do nothing).
pub fn init(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("APEX_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}

/// Longest name written to the log: whatever was typed, a line stays a line.
const MAX_NAME: usize = 128;

/// A typed name as logged: at most [`MAX_NAME`] characters, control characters dropped.
fn name(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME)
        .collect()
}

/// A person's password was checked.
pub fn sign_in(outcome: &str, login: &str, client: Option<std::net::IpAddr>) {
    let client = client.map(|c| c.to_string()).unwrap_or_default();
    let login = name(login);
    tracing::info!(target: SECURITY, event = "sign_in", outcome, login, client);
}

/// An application's secret was checked.
pub fn client_auth(outcome: &str, client_id: &str, client: Option<std::net::IpAddr>) {
    let client = client.map(|c| c.to_string()).unwrap_or_default();
    let client_id = name(client_id);
    tracing::info!(target: SECURITY, event = "client_auth", outcome, client_id, client);
}

/// Tokens were issued.
pub fn token(grant_type: &str, client_id: &str) {
    tracing::info!(target: SECURITY, event = "token", grant_type, client_id);
}

/// A spent refresh token came back: its family is revoked.
pub fn refresh_reuse(client_id: &str) {
    tracing::warn!(target: SECURITY, event = "refresh_reuse", client_id);
}

/// A browser session ended by the person's own action.
pub fn logout(face: &str, sub: &str) {
    tracing::info!(target: SECURITY, event = "logout", face, sub);
}

/// The catalogue was read again (SIGHUP or the operator API): put in force, or kept
/// out with the number of problems found.
pub fn catalogue_reload(outcome: &str, source: &str, problems: usize) {
    tracing::info!(target: SECURITY, event = "catalogue_reload", outcome, source, problems);
}

/// A request carried an operator token.
pub fn operator(outcome: &str, client: std::net::IpAddr) {
    let client = client.to_string();
    tracing::info!(target: SECURITY, event = "operator", outcome, client);
}
