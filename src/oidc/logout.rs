//! RP-Initiated Logout 1.0: ends the SSO session, then returns to a
//! `post_logout_redirect_uri` registered by the client — never elsewhere. Without a
//! valid `id_token_hint` of the signed-in person, the person confirms first. The
//! clients of the ended session are told by back-channel.

use std::sync::Arc;

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;

use super::OidcState;
use super::pages;
use super::params::Params;
use super::reply;
use crate::catalogue::Catalogue;

fn refused(message: &str) -> Response {
    pages::respond(
        StatusCode::BAD_REQUEST,
        pages::error("Déconnexion refusée", message),
    )
}

/// Whether `uri` is one of the client's post-logout redirect URIs; the client is known
/// from the `id_token_hint` or from `client_id`, without which no URI can be trusted.
fn registered_return(
    catalogue: &Catalogue,
    client_id: Option<&str>,
    uri: &str,
) -> Result<(), &'static str> {
    let Some(client_id) = client_id else {
        return Err(
            "Le jeton d'identité (id_token_hint) manque : l'adresse de retour demandée après la déconnexion ne peut pas être vérifiée.",
        );
    };
    let registered = catalogue
        .by_client_id(client_id)
        .and_then(|a| a.oidc.as_ref())
        .is_some_and(|c| c.post_logout_redirect_uris.iter().any(|u| u == uri));
    if registered {
        Ok(())
    } else {
        Err(
            "L'adresse de retour demandée après la déconnexion n'est pas enregistrée pour cette application.",
        )
    }
}

/// `GET|POST /oidc/logout`
pub async fn logout(
    State(st): State<Arc<OidcState>>,
    method: Method,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let Ok(Form(fields)) = form else {
        return refused("La demande de déconnexion est illisible.");
    };
    let params = Params(fields);
    let (oidc, directory) = (&st.oidc, &st.directory);
    let Ok(hint) = params.get("id_token_hint") else {
        return refused("Le paramètre id_token_hint est répété.");
    };
    let hint = match hint.map(|h| oidc.id_token_hint(h)) {
        None => None,
        Some(Some(h)) => Some(h),
        Some(None) => {
            return refused(
                "Le jeton fourni (id_token_hint) n'a pas été émis et signé par APEX Partenaires.",
            );
        }
    };
    let (Ok(client_id), Ok(uri), Ok(state)) = (
        params.get("client_id"),
        params.get("post_logout_redirect_uri"),
        params.get("state"),
    ) else {
        return refused("Un paramètre de la demande est répété.");
    };
    let client_id = match (hint.as_ref().and_then(|h| h.aud.first()), client_id) {
        (Some(aud), Some(c)) if aud != c => {
            return refused("Le client_id ne correspond pas au jeton fourni.");
        }
        (Some(aud), _) => Some(aud.as_str()),
        (None, c) => c,
    };
    if let Some(uri) = uri
        && let Err(message) = registered_return(&directory.catalogue(), client_id, uri)
    {
        return refused(message);
    }
    let now = directory.now();
    let session = match oidc.browser.current(&headers, now) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "oidc logout");
            return refused("Le service rencontre un problème. Réessayez dans quelques instants.");
        }
    };
    let confirmed = method == Method::POST
        && params.get("confirm") == Ok(Some("oui"))
        && params
            .get("csrf")
            .ok()
            .flatten()
            .is_some_and(|c| oidc.browser.csrf_ok(&headers, c));
    let vouched = match (&session, &hint) {
        (Some(s), Some(h)) => s.authentication.account_id == h.sub,
        (None, _) => true,
        (Some(_), None) => false,
    };
    if !vouched && !confirmed {
        let (csrf, set_csrf) = oidc.browser.csrf(&headers);
        let mut carried = Vec::new();
        for (name, value) in [
            ("client_id", client_id),
            ("post_logout_redirect_uri", uri),
            ("state", state),
        ] {
            if let Some(v) = value {
                carried.push((name, v.to_owned()));
            }
        }
        let mut r = pages::respond(StatusCode::OK, pages::logout_confirm(&csrf, &carried));
        if let Some(c) = set_csrf {
            r.headers_mut().append(header::SET_COOKIE, c);
        }
        return r;
    }
    let clear = match oidc.browser.close(&headers) {
        Ok((clear, ended)) => {
            if let Some(sub) = ended {
                crate::logging::logout("oidc", &sub);
            }
            clear
        }
        Err(e) => {
            tracing::error!(error = %e, "oidc logout");
            return refused("Le service rencontre un problème. Réessayez dans quelques instants.");
        }
    };
    let mut r = match uri {
        Some(uri) => {
            let fields: Vec<(&'static str, String)> =
                state.map(|s| ("state", s.to_owned())).into_iter().collect();
            reply::redirect_with(uri, &fields)
        }
        None => pages::respond(StatusCode::OK, pages::logged_out()),
    };
    r.headers_mut().append(header::SET_COOKIE, clear);
    r
}
