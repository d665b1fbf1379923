//! The web space and the JSON API: pages, routes, problems, health and metrics.

pub mod api;
pub mod extract;
pub mod listener;
pub mod pages;
pub mod problem;
pub mod routes;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::auth::Browser;
use crate::auth::operator::OperatorTokens;
use crate::directory::Directory;
use crate::http::client::TrustedProxies;
use crate::http::keys::KeyRotation;
use crate::metrics::Metrics;
use problem::Problem;

/// What every handler of the web space and the JSON API shares.
pub struct AppState {
    /// The core.
    pub directory: Arc<Directory>,
    /// Operator token hashes.
    pub operator_tokens: OperatorTokens,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// The browser's sign-in: the SSO session shared with the issuer, CSRF, devices.
    pub browser: Arc<Browser>,
    /// The issuer's signing keys, for the operator API.
    pub keys: Arc<dyn KeyRotation>,
    /// The catalogue's file, read again by the operator API.
    pub catalogue: Arc<dyn crate::http::catalogue::CatalogueReload>,
    /// Peers whose forwarding headers name the client (`http.trusted_proxies`).
    pub trusted_proxies: TrustedProxies,
}

impl FromRef<Arc<AppState>> for TrustedProxies {
    fn from_ref(state: &Arc<AppState>) -> TrustedProxies {
        state.trusted_proxies.clone()
    }
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

/// The routes of the web space and the JSON API for one listener, over their own
/// state; any application state can hold them (see `server`, which composes them with
/// the issuer's). Unknown paths and methods are answered here, for every face.
pub fn router<S>(state: Arc<AppState>, max_body_bytes: usize, faces: Faces) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
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
            .merge(pages::router());
    }
    app.method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .with_state(state)
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
