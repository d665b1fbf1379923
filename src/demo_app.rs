//! The demo's application: a small OpenID Connect relying party that `apex-idp demo`
//! serves beside the issuer, at the catalogue's URL of DEMO, so that the portal's
//! "Ouvrir Application de démonstration" shows single sign-on end to end. It signs in
//! with the code flow, PKCE (S256), a state and a nonce; verifies the ID token with the
//! `openidconnect` crate against the issuer's JWKS; reads userinfo with the access
//! token; and signs out through the issuer's RP-initiated logout.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::{DOCTYPE, Markup, html};
use openidconnect::core::{CoreIdTokenVerifier, CoreJsonWebKey};
use openidconnect::{ClientId, ClientSecret, IssuerUrl, JsonWebKeySet, Nonce, PkceCodeChallenge};
use serde::Deserialize;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::oidc::ApexIdToken;

/// The DEMO client of the shipped catalogue.
const CLIENT_ID: &str = "demo";
/// The session cookie of the demo application.
const COOKIE: &str = "demo_app";
/// Sign-ins started and not finished, at most (the oldest are forgotten beyond).
const MAX_PENDING: usize = 1024;

/// The relying party.
struct DemoApp {
    /// The issuer (`server.public_url`).
    issuer: String,
    /// This application's base URL (`http://<its address>`).
    base: String,
    secret: String,
    http: reqwest::Client,
    /// The issuer's discovery document, once read.
    metadata: tokio::sync::OnceCell<Value>,
    /// Sign-ins under way, by state: the PKCE verifier and the nonce.
    pending: Mutex<Vec<(String, Pending)>>,
    /// Signed-in browsers, by cookie.
    sessions: Mutex<HashMap<String, Signed>>,
}

struct Pending {
    verifier: String,
    nonce: String,
}

#[derive(Clone)]
struct Signed {
    id_token: String,
    claims: Value,
    userinfo: Value,
}

/// Serves the demo application on `listener` until `stop` turns true. `issuer` is the
/// server's public URL; `secret` the DEMO client's secret.
pub fn spawn(
    listener: TcpListener,
    issuer: &str,
    secret: &str,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<JoinHandle<()>> {
    let addr = listener.local_addr()?;
    let app = Arc::new(DemoApp {
        issuer: issuer.trim_end_matches('/').to_owned(),
        base: base_of(addr),
        secret: secret.to_owned(),
        http: reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(std::io::Error::other)?,
        metadata: tokio::sync::OnceCell::new(),
        pending: Mutex::new(Vec::new()),
        sessions: Mutex::new(HashMap::new()),
    });
    let router = Router::new()
        .route("/", get(home))
        .route("/login", get(login))
        .route("/callback", get(callback))
        .route("/logout", get(logout))
        .with_state(app);
    Ok(tokio::spawn(async move {
        let stopped = async move {
            while !*stop.borrow() {
                if stop.changed().await.is_err() {
                    break;
                }
            }
        };
        if let Err(e) = axum::serve(listener, router)
            .with_graceful_shutdown(stopped)
            .await
        {
            tracing::error!(error = %e, "demo application");
        }
    }))
}

/// The base URL of an application listening on `addr`.
pub fn base_of(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

type St = State<Arc<DemoApp>>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn cookie_of(headers: &HeaderMap) -> Option<String> {
    crate::oidc::cookie(headers, COOKIE).map(str::to_owned)
}

fn page(title: &str, body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="fr" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — Application de démonstration" }
            }
            body {
                header { p { "Application de démonstration (relying party d'apex-idp)" } }
                main { h1 { (title) } (body) }
            }
        }
    };
    (
        [(header::CACHE_CONTROL, "no-store")],
        axum::response::Html(markup.into_string()),
    )
        .into_response()
}

fn failure(status: StatusCode, message: &str) -> Response {
    let mut r = page(
        "La connexion a échoué",
        html! { p { (message) } p { a href="/" { "Revenir à l'accueil" } } },
    );
    *r.status_mut() = status;
    r
}

/// `/`: who signed in, the ID token's claims, the userinfo answer and the profiles.
async fn home(State(app): St, headers: HeaderMap) -> Response {
    let signed = cookie_of(&headers).and_then(|c| lock(&app.sessions).get(&c).cloned());
    let Some(s) = signed else {
        return page(
            "Bienvenue",
            html! {
                p { "Vous n'êtes pas connecté." }
                p { a href="/login" { "Se connecter avec Mon espace APEX Partenaires" } }
            },
        );
    };
    let who = text(&s.userinfo, "preferred_username").unwrap_or("?");
    let profiles: Vec<&str> = s
        .userinfo
        .get("profiles")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default();
    page(
        "Vous êtes connecté",
        html! {
            p { "Identifiant : " strong { (who) } }
            h2 { "Profils pour cette application" }
            @if profiles.is_empty() { p { "Aucun." } }
            ul { @for p in &profiles { li { (p) } } }
            h2 { "Jeton d'identité (revendications vérifiées)" }
            pre { (pretty(&s.claims)) }
            h2 { "Réponse de userinfo" }
            pre { (pretty(&s.userinfo)) }
            p { a href="/logout" { "Se déconnecter" } }
        },
    )
}

/// The issuer's discovery document.
/// The issuer's discovery document, read once.
async fn discovery(app: &DemoApp) -> Result<&Value, String> {
    app.metadata
        .get_or_try_init(|| async {
            let url = format!("{}/.well-known/openid-configuration", app.issuer);
            fetch_json(app.http.get(url)).await
        })
        .await
}

async fn fetch_json(request: reqwest::RequestBuilder) -> Result<Value, String> {
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let bytes = response.bytes().await.map_err(|e| e.to_string())?;
    let body: Value = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
    match status.is_success() {
        true => Ok(body),
        false => Err(format!("{status}: {body}")),
    }
}

/// A string member of a JSON object.
fn text<'v>(v: &'v Value, name: &str) -> Option<&'v str> {
    v.get(name).and_then(Value::as_str)
}

fn endpoint(meta: &Value, name: &str) -> Result<String, String> {
    text(meta, name)
        .map(str::to_owned)
        .ok_or_else(|| format!("the issuer announces no {name}"))
}

/// `/login`: to the issuer's authorization endpoint, with PKCE, a state and a nonce.
async fn login(State(app): St) -> Response {
    let meta = match discovery(&app).await {
        Ok(m) => m,
        Err(e) => return failure(StatusCode::BAD_GATEWAY, &e),
    };
    let Ok(authorize) = endpoint(meta, "authorization_endpoint") else {
        return failure(StatusCode::BAD_GATEWAY, "no authorization endpoint");
    };
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let state = crate::auth::token::random_secret();
    let nonce = crate::auth::token::random_secret();
    let mut url = match url::Url::parse(&authorize) {
        Ok(u) => u,
        Err(e) => return failure(StatusCode::BAD_GATEWAY, &e.to_string()),
    };
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", CLIENT_ID)
        .append_pair("redirect_uri", &format!("{}/callback", app.base))
        .append_pair("scope", "openid profile email apex")
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", challenge.as_str())
        .append_pair("code_challenge_method", "S256");
    let mut pending = lock(&app.pending);
    if pending.len() >= MAX_PENDING {
        pending.remove(0);
    }
    pending.push((
        state,
        Pending {
            verifier: verifier.secret().clone(),
            nonce,
        },
    ));
    Redirect::to(url.as_str()).into_response()
}

#[derive(Deserialize)]
struct Answer {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `/callback`: the code exchanged, the ID token verified, userinfo read.
async fn callback(State(app): St, Query(answer): Query<Answer>) -> Response {
    if let Some(error) = &answer.error {
        let why = answer.error_description.as_deref().unwrap_or_default();
        return failure(StatusCode::FORBIDDEN, &format!("{error} : {why}"));
    }
    let (Some(code), Some(state)) = (answer.code, answer.state) else {
        return failure(StatusCode::BAD_REQUEST, "réponse sans code ni état");
    };
    let pending = {
        let mut all = lock(&app.pending);
        let at = all.iter().position(|(s, _)| *s == state);
        at.map(|i| all.remove(i).1)
    };
    let Some(pending) = pending else {
        return failure(StatusCode::BAD_REQUEST, "état inconnu ou déjà utilisé");
    };
    match finish(&app, &code, &pending).await {
        Ok(signed) => {
            let cookie = crate::auth::token::random_secret();
            lock(&app.sessions).insert(cookie.clone(), signed);
            let mut r = Redirect::to("/").into_response();
            let value = format!("{COOKIE}={cookie}; Path=/; HttpOnly; SameSite=Lax");
            if let Ok(v) = HeaderValue::from_str(&value) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Err(e) => failure(StatusCode::BAD_GATEWAY, &e),
    }
}

async fn finish(app: &DemoApp, code: &str, pending: &Pending) -> Result<Signed, String> {
    let meta = discovery(app).await?;
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", code)
        .append_pair("redirect_uri", &format!("{}/callback", app.base))
        .append_pair("code_verifier", &pending.verifier)
        .finish();
    let tokens = fetch_json(
        app.http
            .post(endpoint(meta, "token_endpoint")?)
            .basic_auth(CLIENT_ID, Some(&app.secret))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form),
    )
    .await?;
    let id_token = text(&tokens, "id_token").ok_or("no ID token")?.to_owned();
    let access_token = text(&tokens, "access_token").ok_or("no access token")?;
    let jwks: JsonWebKeySet<CoreJsonWebKey> =
        serde_json::from_value(fetch_json(app.http.get(endpoint(meta, "jwks_uri")?)).await?)
            .map_err(|e| e.to_string())?;
    let issuer = IssuerUrl::new(app.issuer.clone()).map_err(|e| e.to_string())?;
    let verifier = CoreIdTokenVerifier::new_confidential_client(
        ClientId::new(CLIENT_ID.to_owned()),
        ClientSecret::new(app.secret.clone()),
        issuer,
        jwks,
    );
    let token: ApexIdToken = id_token.parse().map_err(|e| format!("ID token: {e}"))?;
    let claims = token
        .claims(&verifier, &Nonce::new(pending.nonce.clone()))
        .map_err(|e| format!("ID token: {e}"))?;
    let claims = serde_json::to_value(claims).map_err(|e| e.to_string())?;
    let userinfo = fetch_json(
        app.http
            .get(endpoint(meta, "userinfo_endpoint")?)
            .bearer_auth(access_token),
    )
    .await?;
    Ok(Signed {
        id_token,
        claims,
        userinfo,
    })
}

/// `/logout`: this application's session ends, then the issuer's (RP-initiated
/// logout), which comes back here.
async fn logout(State(app): St, headers: HeaderMap) -> Response {
    let signed = cookie_of(&headers).and_then(|c| lock(&app.sessions).remove(&c));
    let clear = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    let target = match (signed, discovery(&app).await) {
        (Some(s), Ok(meta)) => match endpoint(meta, "end_session_endpoint")
            .ok()
            .and_then(|e| url::Url::parse(&e).ok())
        {
            Some(mut url) => {
                url.query_pairs_mut()
                    .append_pair("id_token_hint", &s.id_token)
                    .append_pair("post_logout_redirect_uri", &format!("{}/", app.base))
                    .append_pair("client_id", CLIENT_ID);
                url.to_string()
            }
            None => "/".to_owned(),
        },
        _ => "/".to_owned(),
    };
    let mut r = Redirect::to(&target).into_response();
    if let Ok(v) = HeaderValue::from_str(&clear) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}
