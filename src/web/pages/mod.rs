//! The web space: server-rendered pages in French (RGAA), every one usable without
//! JavaScript, over the core and the issuer's SSO session. Each handler parses, asks
//! the core, renders; a refusal of the core is shown as its sentence.

pub use crate::http::layout;
mod refusal;
mod text;
mod visit;

mod accounts;
mod audit;
mod grants;
mod info;
mod invitation;
mod me;
mod password;
mod portal;
mod services;
mod signin;
mod structure;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use axum::routing::{get, post};

use super::AppState;

/// Largest form body (a transfer of many accounts stays well below).
const MAX_FORM_BYTES: usize = 256 * 1024;

/// The routes of the pages and of their static files.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(signin::form).post(signin::sign_in))
        .route("/sign-out", post(signin::sign_out))
        .route(
            "/invitations/{token}",
            get(invitation::form).post(invitation::complete),
        )
        .route(
            "/password-resets",
            get(password::request_form).post(password::request),
        )
        .route(
            "/password-resets/{token}",
            get(password::reset_form).post(password::reset),
        )
        .route(
            "/email-confirmations/{token}",
            get(me::confirmation_form).post(me::confirm),
        )
        .route(visit::menu::APPLICATIONS, get(portal::applications))
        .route(visit::menu::ME, get(me::show).post(me::update))
        .route("/me/export", get(me::export))
        .route(
            visit::RENEWAL,
            get(password::change_form).post(password::change),
        )
        .route(
            visit::menu::STRUCTURE,
            get(structure::consult).post(structure::search),
        )
        .route(
            "/structure/services",
            get(services::list).post(services::create),
        )
        .route("/structure/services/{id}", get(services::show))
        .route("/structure/services/{id}/rename", post(services::rename))
        .route("/structure/services/{id}/delete", post(services::delete))
        .route("/structure/services/{id}/merge", post(services::merge))
        .route(
            "/structure/services/{id}/transfer",
            post(services::transfer),
        )
        .route(
            "/structure/accounts/new",
            get(accounts::new_form).post(accounts::pre_create),
        )
        .route("/structure/pending", get(accounts::pending))
        .route("/structure/accounts/{id}", get(accounts::show))
        .route(
            "/structure/accounts/{id}/validate",
            post(accounts::validate),
        )
        .route("/structure/accounts/{id}/reject", post(accounts::reject))
        .route(
            "/structure/accounts/{id}/resend-identifier",
            post(accounts::resend_identifier),
        )
        .route(
            "/structure/accounts/{id}/transfer",
            post(accounts::transfer),
        )
        .route(
            "/structure/accounts/{id}/deletion-request",
            get(accounts::deletion_form).post(accounts::request_deletion),
        )
        .route(
            "/structure/accounts/{id}/habilitations",
            post(grants::habilitate),
        )
        .route(
            "/structure/accounts/{id}/habilitations/remove",
            post(grants::remove_habilitation),
        )
        .route(
            "/structure/accounts/{id}/delegations",
            post(grants::delegate),
        )
        .route(
            "/structure/accounts/{id}/delegations/remove",
            post(grants::remove_delegation),
        )
        .route("/structure/profiles", get(grants::profiles))
        .route("/structure/audit", get(audit::log))
        .route("/accessibilite", get(info::accessibility))
        .route("/plan-du-site", get(info::site_map))
        .route(
            layout::STYLESHEET_PATH,
            get(|| async { layout::asset("text/css; charset=utf-8", layout::STYLESHEET) }),
        )
        .route(
            layout::FORM_POST_SCRIPT_PATH,
            get(|| async {
                layout::asset("text/javascript; charset=utf-8", layout::FORM_POST_SCRIPT)
            }),
        )
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
}

/// The HTML page of an unknown address.
pub fn not_found() -> Response {
    visit::plain_error(
        StatusCode::NOT_FOUND,
        "Page introuvable",
        "Cette page n'existe pas. Vérifiez l'adresse, ou repartez de la page d'accueil.",
    )
}

/// The id in a page's path; one that does not decode is an unknown page.
pub struct Id(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(id)) => Ok(Id(id)),
            Err(_) => Err(not_found()),
        }
    }
}

/// The status messages shown after an action, by the code a redirect carries in `?ok=`
/// (a code, never personal data).
const NOTICES: &[(&str, &str)] = &[
    ("deconnexion", "Vous êtes déconnecté."),
    ("donnees", "Vos données personnelles sont enregistrées."),
    (
        "courriel",
        "Un lien de confirmation a été envoyé à la nouvelle adresse : elle sera prise en compte une fois confirmée.",
    ),
    ("mot-de-passe", "Votre nouveau mot de passe est enregistré."),
    ("service-cree", "Le service est créé."),
    ("service-renomme", "Le service est renommé."),
    ("service-supprime", "Le service est supprimé."),
    (
        "service-fusionne",
        "Les services sont fusionnés : leurs comptes sont réunis dans ce service.",
    ),
    ("transfert", "Les comptes sont transférés."),
    (
        "invitation",
        "Le compte est pré-créé : son titulaire a reçu par courriel le lien pour compléter sa création.",
    ),
    (
        "valide",
        "La création est validée : l'identifiant a été envoyé par courriel à son titulaire.",
    ),
    (
        "refuse",
        "La création est refusée ; le compte n'existe plus.",
    ),
    ("identifiant", "L'identifiant a été renvoyé par courriel."),
    (
        "suppression",
        "La suppression est demandée : le compte ne peut plus se connecter.",
    ),
    ("habilitation", "L'habilitation est accordée."),
    ("habilitation-retiree", "L'habilitation est retirée."),
    ("delegation", "Le profil est délégué."),
    (
        "delegation-retiree",
        "La délégation est retirée ; les habilitations déjà accordées restent en place.",
    ),
];

/// The message of a `?ok=` code in a query string.
pub fn notice(query: Option<&str>) -> Option<&'static str> {
    let code = url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "ok")
        .map(|(_, v)| v.into_owned())?;
    NOTICES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, message)| *message)
}

/// A path with a `?ok=` code.
pub fn with_notice(path: &str, code: &str) -> String {
    format!("{path}?ok={code}")
}
