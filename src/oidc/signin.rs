//! The authorization endpoint and its forms: sign-in on the core's credentials and
//! backoff, renewal of an expired password, then the access gate and the code.

use std::sync::Arc;

use crate::http::client::ClientAddr;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;

use super::OidcState;
use super::authorize::{self, AuthRequest, Refused, Step};
use super::grants::{Authentication, CODE_SECONDS, CodeRecord};
use super::pages::{self, FieldError, RenewView, SignInView};
use super::params::{OAuthError, Params};
use super::pending::WaitError;
use super::{Oidc, reply};
use crate::auth::browser::SsoSession;
use crate::directory::{DirError, Directory};

type Fields = Result<Form<Vec<(String, String)>>, FormRejection>;

fn params(form: Fields) -> Option<Params> {
    form.ok().map(|Form(v)| Params(v))
}

fn failure(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "oidc sign-in");
    pages::respond(
        StatusCode::INTERNAL_SERVER_ERROR,
        pages::error(
            "Service indisponible",
            "Le service rencontre un problème. Réessayez dans quelques instants.",
        ),
    )
}

fn bad_request(message: &str) -> Response {
    pages::respond(
        StatusCode::BAD_REQUEST,
        pages::error("Demande refusée", message),
    )
}

fn busy() -> Response {
    tracing::warn!("oidc: too many pending sign-ins, a new one was refused");
    let mut r = pages::respond(
        StatusCode::TOO_MANY_REQUESTS,
        pages::error(
            "Service très sollicité",
            "Trop de connexions sont en cours. Réessayez dans quelques minutes.",
        ),
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
    r
}

fn expired() -> Response {
    bad_request(
        "Cette page de connexion a expiré ou a déjà servi. Revenez à l'application pour vous connecter.",
    )
}

fn with_cookies(mut r: Response, cookies: &[HeaderValue]) -> Response {
    for c in cookies {
        r.headers_mut().append(header::SET_COOKIE, c.clone());
    }
    r
}

/// The session behind the request, if its account may still use it.
fn current_session(
    oidc: &Oidc,
    directory: &Directory,
    headers: &HeaderMap,
) -> Result<Option<SsoSession>, Box<Response>> {
    oidc.browser
        .live(directory, headers)
        .map_err(|e| Box::new(failure(e)))
}

/// `GET|POST /oidc/authorize`
pub async fn authorize(
    State(st): State<Arc<OidcState>>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    form: Fields,
) -> Response {
    let Some(params) = params(form) else {
        return bad_request("La demande d'authentification est illisible.");
    };
    let (oidc, directory) = (&st.oidc, &st.directory);
    let now = directory.now();
    let request = match authorize::parse(&params, &directory.catalogue(), |h| {
        oidc.id_token_hint(h).map(|hint| hint.sub)
    }) {
        Ok(r) => r,
        Err(Refused::Page(m)) => return bad_request(m),
        Err(Refused::Redirect(target, e)) => return reply::error(&target, oidc.issuer(), &e),
    };
    let session = match current_session(oidc, directory, &headers) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    match authorize::decide(&request, session.as_ref(), now) {
        Step::Refuse(e) => reply::error(&request.target, oidc.issuer(), &e),
        Step::Answer(authentication) => {
            let key = oidc.browser.key_of(&headers);
            answer(
                oidc,
                directory,
                &request,
                authentication,
                key.as_deref(),
                now,
            )
        }
        step @ (Step::SignIn | Step::Renew) => {
            let (csrf, set_csrf) = oidc.browser.csrf(&headers);
            let login = request.login_hint.clone().unwrap_or_default();
            let interaction = match oidc.interactions.wait(request.clone(), &csrf, client, now) {
                Ok(i) => i,
                Err(WaitError::Full) => return busy(),
                Err(WaitError::State(e)) => return failure(e),
            };
            let page = if step == Step::Renew {
                pages::renew(&RenewView {
                    interaction: &interaction,
                    csrf: &csrf,
                    error: None,
                })
            } else {
                pages::sign_in(&SignInView {
                    app_name: &app_name(directory, &request),
                    interaction: &interaction,
                    csrf: &csrf,
                    login: &login,
                    error: None,
                })
            };
            with_cookies(pages::respond(StatusCode::OK, page), set_csrf.as_slice())
        }
    }
}

fn app_name(directory: &Directory, request: &AuthRequest) -> String {
    directory
        .catalogue()
        .by_client_id(&request.client_id)
        .map_or_else(|| "inconnue".to_owned(), |a| a.name.clone())
}

/// The gate, then a code at the redirect URI; the client joins the SSO session under
/// `session_key` (it will be told when the session ends).
fn answer(
    oidc: &Oidc,
    directory: &Directory,
    request: &AuthRequest,
    authentication: Authentication,
    session_key: Option<&[u8]>,
    now: i64,
) -> Response {
    let catalogue = directory.catalogue();
    let Some(app) = catalogue.by_client_id(&request.client_id) else {
        return bad_request("Cette application n'est pas connue d'APEX.");
    };
    let account = match directory.account(&authentication.account_id) {
        Ok(a) => a,
        Err(DirError::NotFound { .. }) => {
            let e = OAuthError::new("access_denied", "ce compte n'existe plus");
            return reply::error(&request.target, oidc.issuer(), &e);
        }
        Err(e) => return failure(e),
    };
    if let Err(e) = authorize::gate(app, &account) {
        return reply::error(&request.target, oidc.issuer(), &e);
    }
    let record = CodeRecord {
        client_id: request.client_id.clone(),
        redirect_uri: request.target.redirect_uri.clone(),
        code_challenge: request.code_challenge.clone(),
        nonce: request.nonce.clone(),
        scope: request.scope.clone(),
        authentication,
        grant_id: uuid::Uuid::new_v4().to_string(),
        expires_at: now + CODE_SECONDS,
        used: false,
    };
    let code = match oidc.grants.issue_code(&record) {
        Ok(code) => code,
        Err(e) => return failure(e),
    };
    if let Some(key) = session_key
        && let Err(e) = oidc.browser.join(key, &request.client_id)
    {
        return failure(e);
    }
    reply::code(&request.target, oidc.issuer(), code)
}

/// The pending request a form continues, checked against the CSRF cookie.
fn continued(
    oidc: &Oidc,
    headers: &HeaderMap,
    params: &Params,
    now: i64,
) -> Option<(String, String, AuthRequest)> {
    let id = params.get("interaction").ok()??;
    let csrf = params.get("csrf").ok()??;
    if !oidc.browser.csrf_ok(headers, csrf) {
        return None;
    }
    let i = oidc.interactions.interaction(id, csrf, now).ok()??;
    Some((id.to_owned(), csrf.to_owned(), i.request))
}

/// `POST /oidc/authorize/sign-in`: fields `login`, `password`.
pub async fn sign_in(
    State(st): State<Arc<OidcState>>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    form: Fields,
) -> Response {
    let (oidc, directory) = (&st.oidc, &st.directory);
    let now = directory.now();
    let Some(params) = params(form) else {
        return expired();
    };
    let Some((interaction, csrf, request)) = continued(oidc, &headers, &params, now) else {
        return expired();
    };
    let login = params.get("login").ok().flatten().unwrap_or_default();
    let password = params.get("password").ok().flatten().unwrap_or_default();
    let again = |status: StatusCode, field: &'static str, message: String| {
        let page = pages::sign_in(&SignInView {
            app_name: &app_name(directory, &request),
            interaction: &interaction,
            csrf: &csrf,
            login,
            error: Some(FieldError { field, message }),
        });
        pages::respond(status, page)
    };
    if login.trim().is_empty() {
        return again(
            StatusCode::BAD_REQUEST,
            "login",
            "Saisissez votre identifiant.".into(),
        );
    }
    if password.is_empty() {
        return again(
            StatusCode::BAD_REQUEST,
            "password",
            "Saisissez votre mot de passe.".into(),
        );
    }
    // A browser that holds this login's device cookie is let through the limit on the
    // login across all sources; the per-source ones hold for it as for anyone.
    let known = oidc.browser.known_device(&headers, login, now);
    let signed = match directory
        .authenticate_from(login, password, Some(client), known)
        .await
    {
        Ok(s) => s,
        Err(DirError::BadCredentials) => {
            st.metrics.sign_in_failure();
            return again(
                StatusCode::UNAUTHORIZED,
                "password",
                "Identifiant ou mot de passe incorrect.".into(),
            );
        }
        Err(DirError::TooManyAttempts { retry_after }) => {
            let mut r = again(
                StatusCode::TOO_MANY_REQUESTS,
                "password",
                format!(
                    "Trop de tentatives infructueuses : réessayez dans {retry_after} seconde{}.",
                    if retry_after > 1 { "s" } else { "" }
                ),
            );
            if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return r;
        }
        Err(e) => return failure(e),
    };
    let session = SsoSession::password(&signed.account, signed.password_expired, now);
    let opened = match oidc.browser.open_session(&headers, session) {
        Ok(o) => o,
        Err(e) => return failure(e),
    };
    let response = if signed.password_expired {
        // The renewal form is posted within the session this answer opens.
        let csrf = match oidc
            .interactions
            .rebind(&oidc.browser, &headers, &opened, &interaction)
        {
            Ok(Some(token)) => token,
            Ok(None) => return expired(),
            Err(e) => return failure(e),
        };
        pages::respond(
            StatusCode::OK,
            pages::renew(&RenewView {
                interaction: &interaction,
                csrf: &csrf,
                error: None,
            }),
        )
    } else {
        if let Err(e) = oidc.interactions.done(&interaction) {
            return failure(e);
        }
        answer(
            oidc,
            directory,
            &request,
            opened.session.authentication,
            Some(&opened.key),
            now,
        )
    };
    with_cookies(
        response,
        &[opened.cookie, oidc.browser.device_cookie(login, now)],
    )
}

/// `POST /oidc/authorize/password`: fields `current_password`, `password`,
/// `password_confirm`.
pub async fn renew(
    State(st): State<Arc<OidcState>>,
    headers: HeaderMap,
    ClientAddr(client): ClientAddr,
    form: Fields,
) -> Response {
    let (oidc, directory) = (&st.oidc, &st.directory);
    let now = directory.now();
    let Some(params) = params(form) else {
        return expired();
    };
    let Some((interaction, csrf, request)) = continued(oidc, &headers, &params, now) else {
        return expired();
    };
    let mut session = match current_session(oidc, directory, &headers) {
        Ok(Some(s)) => s,
        Ok(None) => {
            let page = pages::sign_in(&SignInView {
                app_name: &app_name(directory, &request),
                interaction: &interaction,
                csrf: &csrf,
                login: "",
                error: Some(FieldError {
                    field: "login",
                    message: "Votre session a expiré : connectez-vous de nouveau.".into(),
                }),
            });
            return pages::respond(StatusCode::UNAUTHORIZED, page);
        }
        Err(r) => return *r,
    };
    if session.password_expired {
        let field = |name| params.get(name).ok().flatten().unwrap_or_default();
        let (current, new, confirm) = (
            field("current_password"),
            field("password"),
            field("password_confirm"),
        );
        let again = |status: StatusCode, field: &'static str, message: String| {
            let page = pages::renew(&RenewView {
                interaction: &interaction,
                csrf: &csrf,
                error: Some(FieldError { field, message }),
            });
            pages::respond(status, page)
        };
        if current.is_empty() {
            return again(
                StatusCode::BAD_REQUEST,
                "current_password",
                "Saisissez votre mot de passe actuel.".into(),
            );
        }
        if new.is_empty() {
            return again(
                StatusCode::BAD_REQUEST,
                "password",
                "Saisissez un nouveau mot de passe.".into(),
            );
        }
        if new != confirm {
            return again(
                StatusCode::BAD_REQUEST,
                "password_confirm",
                "La confirmation ne correspond pas au nouveau mot de passe.".into(),
            );
        }
        let account_id = &session.authentication.account_id;
        let account = match directory
            .change_password(account_id, current, new, client)
            .await
        {
            Ok(account) => account,
            Err(DirError::Invalid {
                field: "current", ..
            }) => {
                return again(
                    StatusCode::BAD_REQUEST,
                    "current_password",
                    "Le mot de passe actuel est incorrect.".into(),
                );
            }
            Err(DirError::Invalid { message, .. }) => {
                return again(StatusCode::BAD_REQUEST, "password", message);
            }
            Err(DirError::TooManyAttempts { retry_after }) => {
                return again(
                    StatusCode::TOO_MANY_REQUESTS,
                    "current_password",
                    format!("Trop de tentatives : réessayez dans {retry_after} secondes."),
                );
            }
            Err(e) => return failure(e),
        };
        // The code below is issued under the new password: the session carries its stamp.
        match oidc.browser.password_changed(&headers, &account) {
            Ok(Some(renewed)) => session.authentication = renewed,
            Ok(None) => return expired(),
            Err(e) => return failure(e),
        }
    }
    if let Err(e) = oidc.interactions.done(&interaction) {
        return failure(e);
    }
    let key = oidc.browser.key_of(&headers);
    answer(
        oidc,
        directory,
        &request,
        session.authentication,
        key.as_deref(),
        now,
    )
}
