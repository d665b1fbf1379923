//! The HTTP face: JSON API, health, metrics (and, later, pages and OIDC).

pub mod api;
pub mod client;
pub mod extract;
pub mod listener;
pub mod metrics;
pub mod operator_tokens;
pub mod pages;
pub mod problem;
pub mod routes;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

use crate::directory::Directory;
use metrics::Metrics;
use operator_tokens::OperatorTokens;
use problem::Problem;

/// What every handler shares.
pub struct AppState {
    /// The core.
    pub directory: Arc<Directory>,
    /// Operator token hashes.
    pub operator_tokens: OperatorTokens,
    /// Counters.
    pub metrics: Metrics,
    /// The OpenID Connect issuer.
    pub oidc: Arc<crate::oidc::Oidc>,
    /// Peers whose forwarding headers name the client (`http.trusted_proxies`).
    pub trusted_proxies: Vec<crate::auth::addr::Cidr>,
}

/// What a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Faces {
    /// Everything (no `[management] listen`).
    All,
    /// Everything but `/metrics` and the operator API.
    Public,
    /// `/metrics`, the operator API, `/healthz` and `/readyz` only.
    Management,
}

/// The HTTP application of one listener.
pub fn router(
    state: Arc<AppState>,
    max_body_bytes: usize,
    request_timeout: Duration,
    faces: Faces,
) -> Router {
    let mut api = Router::new();
    for e in routes::ENDPOINTS {
        let operator = e.access == routes::Access::Operator;
        let served = match faces {
            Faces::All => true,
            Faces::Public => !operator,
            Faces::Management => operator,
        };
        if served {
            api = api.route(e.path, (e.route)());
        }
    }
    let api = api
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));
    let https = state.oidc.issuer().starts_with("https://");
    let mut app = Router::new()
        .nest("/api/v1", api)
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz));
    if faces != Faces::Public {
        app = app.route("/metrics", get(render_metrics));
    }
    if faces != Faces::Management {
        app = app
            .route("/api/openapi.json", get(openapi))
            .merge(crate::oidc::router())
            .merge(pages::router());
    }
    let app = app
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        // A request has this long to be read (its body included) and answered.
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            request_timeout,
        ))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
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
    // Under TLS, browsers are told never to come back over plain HTTP.
    let app = if https {
        app.layer(SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        ))
    } else {
        app
    };
    app.with_state(state)
}

/// An unknown address: a page for a browser, a problem document for anything else.
async fn not_found(headers: axum::http::HeaderMap) -> Response {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if wants_html {
        return pages::not_found();
    }
    Problem::new(StatusCode::NOT_FOUND, "not-found", "no such resource").into_response()
}

/// A known path with another method: a problem too (axum keeps the `Allow` header).
async fn method_not_allowed() -> Response {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "this resource does not answer this method",
    )
    .into_response()
}

async fn openapi() -> Response {
    axum::Json(routes::openapi()).into_response()
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(st): State<Arc<AppState>>) -> Response {
    match st.directory.check_store() {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("store unavailable: {e}\n"),
        )
            .into_response(),
    }
}

async fn render_metrics(State(st): State<Arc<AppState>>) -> Response {
    let depth = st.directory.mail_queue_depth();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        st.metrics.render(depth),
    )
        .into_response()
}
