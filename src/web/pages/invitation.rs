//! The pre-creation form of the invitation mail: who invites whom, for which structure
//! and service, with which role; the person confirms his data and sets his own password.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;

use super::layout::{self, FieldError, Input};
use super::password::{check_new_password, new_password_fields, tied};
use super::visit::{Posted, Visitor, unavailable};
use super::{Id, refusal, text};
use crate::directory::{DirError, InvitationView, NameCorrection};
use crate::domain::AccountState;
use crate::web::AppState;

/// The page of an unusable invitation link, and what to do.
fn gone(visitor: &Visitor, days: u32) -> Response {
    visitor.page(
        StatusCode::GONE,
        "Lien invalide ou expiré",
        true,
        html! {
            (layout::alert("Ce lien de pré-création est invalide, a déjà servi ou a expiré.", &[]))
            p { "Un lien de pré-création ne sert qu'une fois et reste valable " (days) " jours." }
            h2 { "Que faire ?" }
            ul {
                li {
                    strong { "Vous n'avez pas encore complété le formulaire : " }
                    "demandez une nouvelle invitation à la personne qui vous a invité – son nom figure dans le courriel "
                    "d'invitation ; c'est un administrateur ou un responsable de votre structure."
                }
                li {
                    strong { "Vous l'avez déjà complété : " }
                    "votre demande attend la validation d'un administrateur de votre structure ; "
                    "vous recevrez votre identifiant par courriel."
                }
                li {
                    strong { "Votre compte est déjà actif : " }
                    a href="/" { "connectez-vous" } ", ou "
                    a href="/password-resets" { "choisissez un nouveau mot de passe" } " si vous l'avez oublié."
                }
            }
        },
    )
}

fn form_page(
    st: &AppState,
    visitor: &Visitor,
    token: &str,
    v: &InvitationView,
    names: (&str, &str),
    status: StatusCode,
    errors: &[FieldError],
) -> Response {
    let action = format!("/invitations/{token}");
    let (given, family) = names;
    visitor.page(
        status,
        "Création de votre compte",
        !errors.is_empty(),
        html! {
            div class="info" {
                p {
                    strong { (v.inviter) } " vous invite à rejoindre "
                    strong { (v.structure) } " (SIRET " (text::siret(&v.siret)) ")"
                    @if let Some(s) = &v.service { ", service " strong { (s) } }
                    ", en tant que " strong { (text::role(v.role)) } "."
                }
                p { "Ce lien est valable jusqu'au " (text::rfc3339_fr(&v.expires_at)) " et ne sert qu'une fois." }
            }
            (layout::summary(errors))
            form method="post" action=(action) novalidate class="etroit" {
                (layout::csrf_field(&visitor.csrf))
                (layout::required_note())
                fieldset {
                    legend { h2 { "Vos données personnelles" } }
                    p { "Vérifiez-les et corrigez-les si besoin." }
                    (Input::new("given_name", "Prénom").value(given).autocomplete("given-name").render(errors))
                    (Input::new("family_name", "Nom").value(family).autocomplete("family-name").render(errors))
                    p {
                        "Adresse électronique : " strong { (v.email) }
                        br;
                        span class="aide" { "Vous pourrez la changer une fois votre compte créé, dans « Mes données personnelles »." }
                    }
                }
                fieldset {
                    legend { h2 { "Votre mot de passe" } }
                    p { "Vous seul le choisissez et le connaissez : personne d'autre ne le verra." }
                    (new_password_fields(&st.directory.settings().policy, errors))
                }
                button type="submit" { "Créer mon compte" }
            }
        },
    )
}

/// `GET /invitations/{token}`
pub async fn form(State(st): State<Arc<AppState>>, visitor: Visitor, Id(token): Id) -> Response {
    let dir = &st.directory;
    match dir.invitation(&token) {
        Ok(v) => {
            let names = (v.given_name.clone(), v.family_name.clone());
            form_page(
                &st,
                &visitor,
                &token,
                &v,
                (&names.0, &names.1),
                StatusCode::OK,
                &[],
            )
        }
        Err(DirError::LinkInvalid) => gone(&visitor, dir.settings().invitation_days),
        Err(e) => unavailable(e),
    }
}

/// `POST /invitations/{token}`: fields `given_name`, `family_name`, `password`,
/// `password_confirm`.
pub async fn complete(
    State(st): State<Arc<AppState>>,
    visitor: Visitor,
    Id(token): Id,
    Posted(fields): Posted,
) -> Response {
    let dir = &st.directory;
    let view = match dir.invitation(&token) {
        Ok(v) => v,
        Err(DirError::LinkInvalid) => return gone(&visitor, dir.settings().invitation_days),
        Err(e) => return unavailable(e),
    };
    let names = (fields.get("given_name"), fields.get("family_name"));
    let again = |status, errors: &[FieldError]| {
        form_page(&st, &visitor, &token, &view, names, status, errors)
    };
    let errors = check_new_password(fields.get("password"), fields.get("password_confirm"));
    if !errors.is_empty() {
        return again(StatusCode::BAD_REQUEST, &errors);
    }
    let correction = NameCorrection {
        given_name: Some(names.0.to_owned()),
        family_name: Some(names.1.to_owned()),
    };
    match dir
        .complete_invitation(&token, fields.get("password"), &correction)
        .await
    {
        Ok(account) => done(&visitor, account.state, &account.person.email),
        Err(DirError::LinkInvalid) => gone(&visitor, dir.settings().invitation_days),
        Err(e) => match tied(
            &e,
            &[
                ("password", "password"),
                ("given_name", "given_name"),
                ("family_name", "family_name"),
            ],
        ) {
            Some(fe) => again(refusal::status(&e), &[fe]),
            None => unavailable(e),
        },
    }
}

/// What happens next, once the form is complete.
fn done(visitor: &Visitor, state: AccountState, email: &str) -> Response {
    if state == AccountState::Active {
        visitor.page(
            StatusCode::OK,
            "Votre compte est actif",
            false,
            html! {
                (layout::notice("Votre compte est créé et actif."))
                p { "Votre identifiant vient de vous être envoyé par courriel à " strong { (email) } "." }
                p { a href="/" { "Se connecter" } }
            },
        )
    } else {
        visitor.page(
            StatusCode::OK,
            "Création en attente de validation",
            false,
            html! {
                (layout::notice("Votre demande de création est enregistrée."))
                p {
                    "Un administrateur de votre structure doit maintenant la valider. "
                    "Vous recevrez alors votre identifiant par courriel à " strong { (email) } "."
                }
            },
        )
    }
}
