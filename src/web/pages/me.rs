//! "Mes données personnelles": view, rectification (a new e-mail address is taken once
//! confirmed through the link sent to it), JSON export, habilitations and delegations,
//! and whom to contact for erasure.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::html;

use super::layout::{self, FieldError, Input};
use super::password::tied;
use super::visit::{Posted, Signed, Visitor, menu, see_other, unavailable};
use super::{Id, refusal, text};
use crate::auth::token::TokenKind;
use crate::directory::{DirError, NameCorrection};
use crate::http::client::ClientAddr;
use crate::web::AppState;

const BACK: (&str, &str) = (menu::ME, "Revenir à mes données personnelles");

fn me_page(
    st: &AppState,
    signed: &Signed,
    values: (&str, &str, &str),
    status: StatusCode,
    errors: &[FieldError],
    notice: Option<&str>,
) -> Response {
    let dir = &st.directory;
    let a = &match dir.personal_data(&signed.actor, &signed.account.id) {
        Ok(a) => a,
        Err(e) => return signed.refusal(e, None, ("/", "Revenir à l'accueil")),
    };
    let service = a
        .service_id
        .as_deref()
        .and_then(|s| dir.service(s).ok())
        .map(|s| s.name);
    let expires = dir.password_expires_at(a).map(text::date_time);
    let admins = dir.administrateurs_of(&signed.actor).unwrap_or_default();
    let catalogue = dir.catalogue();
    let (given, family, email) = values;
    let body = html! {
        @if let Some(n) = notice { (layout::notice(n)) }
        (layout::summary(errors))
        h2 { "Mon identité" }
        dl class="fiche" {
            dt { "Prénom" } dd { (a.person.given_name) }
            dt { "Nom" } dd { (a.person.family_name) }
            dt { "Adresse électronique" } dd { (a.person.email) }
            dt { "Identifiant" } dd { (a.login.as_deref().unwrap_or("–")) }
            dt { "Rôle" } dd { (text::role(a.role)) }
            dt { "Structure" } dd { (signed.structure.name) " (SIRET " (text::siret(&signed.structure.siret.to_string())) ")" }
            dt { "Service" } dd { (service.as_deref().unwrap_or("aucun")) }
            dt { "Expiration du mot de passe" } dd { (expires.as_deref().unwrap_or("jamais")) }
        }
        h2 { "Rectifier mes données" }
        form method="post" action=(menu::ME) novalidate class="etroit" {
            (layout::csrf_field(&signed.csrf))
            (layout::required_note())
            (Input::new("given_name", "Prénom").value(given).autocomplete("given-name").render(errors))
            (Input::new("family_name", "Nom").value(family).autocomplete("family-name").render(errors))
            (Input::new("email", "Adresse électronique").kind("email").value(email).autocomplete("email")
                .hint("Une nouvelle adresse n'est prise en compte qu'une fois confirmée par le lien envoyé à cette adresse ; l'adresse actuelle en est avertie.")
                .render(errors))
            (Input::new("current_password", "Mot de passe actuel").kind("password")
                .autocomplete("current-password")
                .hint("Demandé seulement pour changer d'adresse électronique.")
                .optional().render(errors))
            button type="submit" { "Enregistrer" }
        }
        h2 { "Mon mot de passe" }
        p { a href=(super::visit::RENEWAL) { "Changer mon mot de passe" } }
        h2 { "Mes habilitations" }
        @if a.habilitations.is_empty() {
            p { "Vous n'avez aucune habilitation." }
        } @else {
            ul {
                @for h in &a.habilitations {
                    li { (text::profile(&catalogue, &h.profile)) ", depuis le " (text::date_time(h.granted_at)) }
                }
            }
        }
        @if !a.delegations.is_empty() {
            h2 { "Mes délégations" }
            p { "Vous pouvez habiliter les collaborateurs de votre service avec ces profils :" }
            ul {
                @for d in &a.delegations {
                    li { (text::profile(&catalogue, &d.profile)) ", depuis le " (text::date_time(d.delegated_at)) }
                }
            }
        }
        h2 { "Exporter mes données" }
        p {
            "Toutes vos données et l'historique des actions qui vous concernent, au format JSON. "
            a href="/me/export" download="mes-donnees-apex.json" { "Télécharger mes données (JSON)" }
        }
        h2 { "Effacement de mes données" }
        p {
            "L'effacement de vos données passe par la suppression de votre compte : adressez votre demande à un "
            "administrateur de votre structure, qui retirera vos habilitations puis demandera la suppression. "
            "Votre compte est alors bloqué aussitôt, puis effacé après " (dir.settings().retention_days) " jours ; "
            "le journal d'audit garde la trace des actions."
        }
        @if admins.is_empty() {
            p { "Votre structure n'a pas d'administrateur actif : contactez la DGFiP." }
        } @else {
            p { "Administrateurs de votre structure :" }
            ul {
                @for ad in &admins {
                    li { (ad.given_name) " " (ad.family_name) " – " a href={ "mailto:" (ad.email) } { (ad.email) } }
                }
            }
        }
    };
    signed.page(
        status,
        "Mes données personnelles",
        Some(menu::ME),
        !errors.is_empty(),
        body,
    )
}

/// `GET /me`
pub async fn show(
    State(st): State<Arc<AppState>>,
    signed: Signed,
    RawQuery(query): RawQuery,
) -> Response {
    let p = signed.account.person.clone();
    me_page(
        &st,
        &signed,
        (&p.given_name, &p.family_name, &p.email),
        StatusCode::OK,
        &[],
        super::notice(query.as_deref()),
    )
}

/// `POST /me`: fields `given_name`, `family_name`, `email`.
pub async fn update(
    State(st): State<Arc<AppState>>,
    signed: Signed,
    ClientAddr(client): ClientAddr,
    Posted(fields): Posted,
) -> Response {
    let (given, family, email) = (
        fields.get("given_name"),
        fields.get("family_name"),
        fields.get("email"),
    );
    let email_change = email.trim().to_lowercase() != signed.account.person.email.to_lowercase();
    let names = NameCorrection {
        given_name: Some(given.to_owned()),
        family_name: Some(family.to_owned()),
    };
    let current = Some(fields.get("current_password"));
    let result = st
        .directory
        .update_personal_data(
            &signed.actor,
            &signed.account.id,
            &names,
            Some(email),
            current,
            client,
        )
        .await;
    match result {
        Ok(_) => see_other(&super::with_notice(
            menu::ME,
            if email_change { "courriel" } else { "donnees" },
        )),
        Err(e) => {
            let fe = tied(
                &e,
                &[
                    ("given_name", "given_name"),
                    ("family_name", "family_name"),
                    ("email", "email"),
                    ("current_password", "current_password"),
                ],
            )
            .or_else(|| {
                let field = match e {
                    DirError::Conflict {
                        rule: "email-in-use",
                        ..
                    } => "email",
                    DirError::TooManyAttempts { .. } => "current_password",
                    _ => return None,
                };
                Some(FieldError::new(field, refusal::sentence(&e)))
            });
            match fe {
                Some(fe) => me_page(
                    &st,
                    &signed,
                    (given, family, email),
                    refusal::status(&e),
                    &[fe],
                    None,
                ),
                None => signed.refusal(e, Some(menu::ME), BACK),
            }
        }
    }
}

/// `GET /me/export`: the JSON export, as a download.
pub async fn export(State(st): State<Arc<AppState>>, signed: Signed) -> Response {
    let export = match st.directory.export(&signed.actor, &signed.account.id) {
        Ok(e) => e,
        Err(e) => return signed.refusal(e, Some(menu::ME), BACK),
    };
    let body = serde_json::to_vec_pretty(&export).unwrap_or_default();
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"mes-donnees-apex.json\""),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn confirmation_gone(visitor: &Visitor) -> Response {
    visitor.page(
        StatusCode::GONE,
        "Lien invalide ou expiré",
        true,
        html! {
            (layout::alert("Ce lien de confirmation est invalide, a déjà servi ou a expiré.", &[]))
            p { "Pour changer votre adresse, saisissez-la de nouveau dans « Mes données personnelles » : un nouveau lien vous sera envoyé." }
            p { a href=(menu::ME) { "Mes données personnelles" } }
        },
    )
}

/// `GET /email-confirmations/{token}`: a button, so that a mail scanner that opens the
/// link confirms nothing.
pub async fn confirmation_form(
    State(st): State<Arc<AppState>>,
    visitor: Visitor,
    Id(token): Id,
) -> Response {
    match st.directory.link_is_live(&token, TokenKind::EmailChange) {
        Ok(true) => {
            let action = format!("/email-confirmations/{token}");
            visitor.page(
                StatusCode::OK,
                "Confirmer votre nouvelle adresse",
                false,
                html! {
                    p { "Confirmez que cette adresse électronique est la vôtre : elle remplacera l'actuelle dans votre compte." }
                    form method="post" action=(action) {
                        (layout::csrf_field(&visitor.csrf))
                        button type="submit" { "Confirmer cette adresse" }
                    }
                },
            )
        }
        Ok(false) => confirmation_gone(&visitor),
        Err(e) => unavailable(e),
    }
}

/// `POST /email-confirmations/{token}`
pub async fn confirm(
    State(st): State<Arc<AppState>>,
    visitor: Visitor,
    Id(token): Id,
    Posted(_): Posted,
) -> Response {
    match st.directory.confirm_email(&token).await {
        Ok(account) => visitor.page(
            StatusCode::OK,
            "Adresse confirmée",
            false,
            html! {
                (layout::notice("Votre nouvelle adresse électronique est enregistrée."))
                p { "Les courriels d'APEX vous seront désormais envoyés à " strong { (account.person.email) } "." }
                p { a href=(menu::ME) { "Mes données personnelles" } }
            },
        ),
        Err(DirError::LinkInvalid) => confirmation_gone(&visitor),
        Err(e @ DirError::Conflict { .. }) => visitor.page(
            refusal::status(&e),
            refusal::title(&e),
            true,
            html! {
                (layout::alert(&refusal::sentence(&e), &[]))
                p { a href=(menu::ME) { "Mes données personnelles" } }
            },
        ),
        Err(e) => unavailable(e),
    }
}
