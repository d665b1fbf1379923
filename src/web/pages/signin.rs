//! Sign-in to the web space at `/` (the address of the identifier mail) and sign-out.
//! Both act on the issuer's SSO session: one sign-in for the portal and the applications.

use std::sync::Arc;

use crate::http::client::ClientAddr;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use maud::html;

use super::layout::{self, FieldError, Input};
use super::refusal;
use super::visit::{HOME, Posted, RENEWAL, Visitor, see_other, unavailable};
use crate::auth::browser::SsoSession;
use crate::directory::DirError;
use crate::web::AppState;

fn page(
    visitor: &Visitor,
    status: StatusCode,
    login: &str,
    errors: &[FieldError],
    notice: Option<&str>,
) -> Response {
    let body = html! {
        div class="etroit" {
            @if let Some(n) = notice { (layout::notice(n)) }
            p { "Connectez-vous avec l'identifiant reçu par courriel lors de la validation de votre compte." }
            (layout::summary(errors))
            form method="post" action="/" novalidate {
                (layout::csrf_field(&visitor.csrf))
                (Input::new("login", "Identifiant").value(login).autocomplete("username").render(errors))
                (Input::new("password", "Mot de passe").kind("password").autocomplete("current-password").render(errors))
                button type="submit" { "Se connecter" }
            }
            p { a href="/password-resets" { "Mot de passe oublié ?" } }
            p class="aide" {
                "Vous n'avez pas encore de compte ? L'administrateur ou le responsable de votre structure "
                "vous invite : vous recevez alors un courriel pour créer le vôtre."
            }
        }
    };
    visitor.page(status, "Connexion", !errors.is_empty(), body)
}

/// `GET /`: the sign-in form, or the portal for a signed-in person.
pub async fn form(
    State(st): State<Arc<AppState>>,
    visitor: Visitor,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let dir = &st.directory;
    match st.browser.session(dir.as_ref(), &headers) {
        Ok(Some(s)) => {
            return see_other(if s.password_expired { RENEWAL } else { HOME });
        }
        Ok(None) => {}
        Err(e) => return unavailable(e),
    }
    page(
        &visitor,
        StatusCode::OK,
        "",
        &[],
        super::notice(query.as_deref()),
    )
}

/// `POST /`: fields `login`, `password`.
pub async fn sign_in(
    State(st): State<Arc<AppState>>,
    ClientAddr(client): ClientAddr,
    visitor: Visitor,
    headers: HeaderMap,
    Posted(fields): Posted,
) -> Response {
    let dir = &st.directory;
    let (login, password) = (fields.get("login"), fields.get("password"));
    let again = |status, field, message: &str| {
        page(
            &visitor,
            status,
            login,
            &[FieldError::new(field, message)],
            None,
        )
    };
    if login.trim().is_empty() {
        return again(
            StatusCode::BAD_REQUEST,
            "login",
            "Saisissez votre identifiant.",
        );
    }
    if password.is_empty() {
        return again(
            StatusCode::BAD_REQUEST,
            "password",
            "Saisissez votre mot de passe.",
        );
    }
    // A browser that holds this login's device cookie is let through the limit on the
    // login across all sources; the per-source ones hold for it as for anyone.
    let known = st.browser.known_device(&headers, login, dir.now());
    let signed = match dir
        .authenticate_from(login, password, Some(client), known)
        .await
    {
        Ok(s) => s,
        Err(e @ DirError::BadCredentials) => {
            st.metrics.sign_in_failure();
            return again(
                refusal::status(&e),
                "password",
                "Identifiant ou mot de passe incorrect.",
            );
        }
        Err(ref e @ DirError::TooManyAttempts { retry_after }) => {
            let mut r = again(
                refusal::status(e),
                "password",
                &format!(
                    "Trop de tentatives infructueuses : réessayez dans {retry_after} seconde{}.",
                    if retry_after > 1 { "s" } else { "" }
                ),
            );
            if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return r;
        }
        Err(e) => return unavailable(e),
    };
    let session = SsoSession::password(&signed.account, signed.password_expired, dir.now());
    let cookie = match st.browser.open_session(&headers, session) {
        Ok(opened) => opened.cookie,
        Err(e) => return unavailable(e),
    };
    let mut r = see_other(if signed.password_expired {
        RENEWAL
    } else {
        HOME
    });
    r.headers_mut().append(header::SET_COOKIE, cookie);
    r.headers_mut().append(
        header::SET_COOKIE,
        st.browser.device_cookie(login, dir.now()),
    );
    r
}

/// `POST /sign-out`: ends the session (and the applications' sessions).
pub async fn sign_out(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Posted(_): Posted,
) -> Response {
    let clear = match st.browser.close(&headers) {
        Ok((c, ended)) => {
            if let Some(sub) = ended {
                crate::logging::logout("web", &sub);
            }
            c
        }
        Err(e) => return unavailable(e),
    };
    let mut r = see_other(&super::with_notice("/", "deconnexion"));
    r.headers_mut().append(header::SET_COOKIE, clear);
    r
}
