//! "Mes applications": the portal of the applications the person may open.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;

use super::visit::{Signed, menu};
use crate::web::AppState;

/// `GET /applications`
pub async fn applications(State(st): State<Arc<AppState>>, signed: Signed) -> Response {
    let dir = &st.directory;
    let apps = match dir.applications_of(&signed.actor, &signed.account.id) {
        Ok(a) => a,
        Err(e) => return signed.refusal(e, None, ("/", "Revenir à l'accueil")),
    };
    let body = html! {
        @if apps.is_empty() {
            p { "Aucune application ne vous est ouverte pour l'instant." }
            p {
                "Pour obtenir une habilitation, adressez-vous au responsable de votre service "
                "ou à un administrateur de votre structure."
            }
        } @else {
            p { "Les applications de la DGFiP auxquelles vous êtes habilité. Vous y êtes connecté sans ressaisir votre mot de passe." }
            ul class="applications" {
                @for app in &apps {
                    li {
                        h2 { (app.name) }
                        @if !app.profiles.is_empty() {
                            p class="aide" {
                                @if app.profiles.len() == 1 { "Profil : " } @else { "Profils : " }
                                @for (i, p) in app.profiles.iter().enumerate() {
                                    @if i > 0 { ", " }
                                    (dir.catalogue().profile_label(p).unwrap_or(p.profile()))
                                }
                            }
                        }
                        p { a href=(app.url) { "Ouvrir " (app.name) } }
                    }
                }
            }
        }
        p class="aide" { "Les profils des applications sont décrits dans " a href=(menu::ME) { "Mes données personnelles" } "." }
    };
    signed.page(
        StatusCode::OK,
        "Mes applications",
        Some(menu::APPLICATIONS),
        false,
        body,
    )
}
