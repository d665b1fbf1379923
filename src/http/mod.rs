//! What the two HTTP faces share, below both: the client's address behind trusted
//! proxies, the page layout of the French pages, the request counters, and the port
//! through which the operator API rotates the issuer's signing keys. The web space
//! and the OpenID Connect issuer depend on this layer, on `auth` and on `directory`,
//! never on each other; `server` composes their routers over one state with `FromRef`.

pub mod catalogue;
pub mod client;
pub mod keys;
pub mod layout;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tracing::Instrument;

use crate::metrics::Metrics;

/// The policy every answer of a listener follows, whatever face gives it.
pub struct Policy {
    /// A request has this long to be read (its body included) and answered.
    pub request_timeout: Duration,
    /// Served under TLS: browsers are told never to come back over plain HTTP.
    pub https: bool,
    /// Counters of every request.
    pub metrics: Arc<Metrics>,
}

/// Gives every request an id: the lines it logs carry it (`request_id`), and the answer
/// sends it back in `X-Request-Id`, for an operator to find a complaint in the log.
async fn request_id(req: Request, next: Next) -> Response {
    let id = uuid::Uuid::new_v4().simple().to_string();
    // At the highest level, so that the span is on whenever any line is logged: a
    // filter such as `warn,apex::security=info` still gives security events their id.
    let span = tracing::error_span!("request", request_id = %id);
    let mut response = next.run(req).instrument(span).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", v);
    }
    response
}

/// Wraps a listener's application in the policy: the request timeout, the request
/// counters, the security headers of every answer, and a request id.
pub fn guard(app: Router, policy: Policy) -> Router {
    let app = app
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            policy.request_timeout,
        ))
        .layer(axum::middleware::from_fn_with_state(
            policy.metrics,
            measure,
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
    let app = if policy.https {
        app.layer(SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        ))
    } else {
        app
    };
    app.layer(axum::middleware::from_fn(request_id))
}

/// Middleware that measures every request.
pub async fn measure(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let start = std::time::Instant::now();
    let response = next.run(req).await;
    metrics.http_request(response.status().as_u16(), start.elapsed().as_secs_f64());
    response
}
