//! What the two HTTP faces share, below both: the client's address behind trusted
//! proxies, the page layout of the French pages, the request counters, and the port
//! through which the operator API rotates the issuer's signing keys. The web space
//! and the OpenID Connect issuer depend on this layer, on `auth` and on `directory`,
//! never on each other; `server` composes their routers over one state with `FromRef`.

pub mod client;
pub mod keys;
pub mod layout;
pub mod metrics;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

/// The policy every answer of a listener follows, whatever face gives it.
pub struct Policy {
    /// A request has this long to be read (its body included) and answered.
    pub request_timeout: Duration,
    /// Served under TLS: browsers are told never to come back over plain HTTP.
    pub https: bool,
    /// Counters of every request.
    pub metrics: Arc<metrics::Metrics>,
}

/// Wraps a listener's application in the policy: the request timeout, the request
/// counters, and the security headers of every answer.
pub fn guard(app: Router, policy: Policy) -> Router {
    let app = app
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            policy.request_timeout,
        ))
        .layer(axum::middleware::from_fn_with_state(
            policy.metrics,
            metrics::measure,
        ))
        // JSON answers are never documents: they load nothing and frame nowhere. Pages
        // set their own policy, which stays.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ));
    if policy.https {
        app.layer(SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        ))
    } else {
        app
    }
}
