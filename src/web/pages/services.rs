//! Services of the structure (administrateurs): create, rename, merge, transfer people,
//! delete.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;

use super::layout::{self, FieldError, Input};
use super::password::tied;
use super::structure::{section, subnav};
use super::visit::{Posted, Signed, menu, see_other};
use super::{Id, refusal, text, with_notice};
use crate::directory::DirError;
use crate::domain::rights::{Target, allows, authorize};
use crate::domain::{Function, Service};
use crate::web::AppState;

const BACK: (&str, &str) = (section::SERVICES, "Revenir aux services");

/// Whether the matrix lets the person use `function` at all (in his own structure, and
/// his own service when his reach stops there).
pub fn gate(signed: &Signed, function: Function) -> Result<(), DirError> {
    let own = Target {
        account_id: None,
        structure_id: &signed.actor.structure_id,
        service_id: signed.actor.service_id.as_deref(),
        role: None,
    };
    authorize(&signed.actor, function, &own)?;
    Ok(())
}

fn name_error(e: &DirError) -> Option<FieldError> {
    tied(e, &[("name", "name")]).or_else(|| {
        matches!(
            e,
            DirError::Conflict {
                rule: "service-name-taken",
                ..
            }
        )
        .then(|| FieldError::new("name", refusal::sentence(e)))
    })
}

fn list_page(
    st: &AppState,
    signed: &Signed,
    name: &str,
    status: StatusCode,
    errors: &[FieldError],
    notice: Option<&str>,
) -> Response {
    let services = match st.directory.services_with_sizes(&signed.actor) {
        Ok(s) => s,
        Err(e) => return signed.refusal(e, Some(menu::STRUCTURE), BACK),
    };
    let body = html! {
        (subnav(signed, section::SERVICES))
        @if let Some(n) = notice { (layout::notice(n)) }
        (layout::summary(errors))
        @if signed.may(Function::ManageServices) {
            h2 { "Créer un service" }
            form method="post" action=(section::SERVICES) novalidate class="etroit" {
                (layout::csrf_field(&signed.csrf))
                (Input::new("name", "Nom du nouveau service").value(name).render(errors))
                button type="submit" { "Créer le service" }
            }
        }
        h2 { "Services de la structure" }
        @if services.is_empty() {
            p { "La structure n'a aucun service." }
        } @else {
            table {
                caption { (services.len()) " service" @if services.len() > 1 { "s" } }
                thead { tr { th scope="col" { "Service" } th scope="col" { "Comptes" } th scope="col" { "Créé le" } } }
                tbody {
                    @for (s, n) in &services {
                        tr {
                            th scope="row" { a href={ "/structure/services/" (s.id) } { (s.name) } }
                            td { (n) }
                            td { (text::date_time(s.created_at)) }
                        }
                    }
                }
            }
        }
    };
    signed.page(
        status,
        "Gérer les services",
        Some(menu::STRUCTURE),
        !errors.is_empty(),
        body,
    )
}

/// `GET /structure/services`
pub async fn list(
    State(st): State<Arc<AppState>>,
    signed: Signed,
    RawQuery(query): RawQuery,
) -> Response {
    if let Err(e) = gate(&signed, Function::ManageServices) {
        return signed.refusal(
            e,
            Some(menu::STRUCTURE),
            (menu::STRUCTURE, "Revenir à ma structure"),
        );
    }
    list_page(
        &st,
        &signed,
        "",
        StatusCode::OK,
        &[],
        super::notice(query.as_deref()),
    )
}

/// `POST /structure/services`: field `name`.
pub async fn create(
    State(st): State<Arc<AppState>>,
    signed: Signed,
    Posted(fields): Posted,
) -> Response {
    let name = fields.get("name");
    match st.directory.create_service(&signed.actor, name).await {
        Ok(_) => see_other(&with_notice(section::SERVICES, "service-cree")),
        Err(e) => match name_error(&e) {
            Some(fe) => list_page(&st, &signed, name, refusal::status(&e), &[fe], None),
            None => signed.refusal(e, Some(menu::STRUCTURE), BACK),
        },
    }
}

fn service_page(
    st: &AppState,
    signed: &Signed,
    id: &str,
    name: Option<&str>,
    status: StatusCode,
    errors: &[FieldError],
    notice: Option<&str>,
) -> Response {
    let dir = &st.directory;
    if let Err(e) = gate(signed, Function::ManageServices) {
        return signed.refusal(
            e,
            Some(menu::STRUCTURE),
            (menu::STRUCTURE, "Revenir à ma structure"),
        );
    }
    let (service, members) = match dir.consult_service(&signed.actor, id) {
        Ok(x) => x,
        Err(e) => return signed.refusal(e, Some(menu::STRUCTURE), BACK),
    };
    let others: Vec<(String, String)> = dir
        .services_of(&signed.actor.structure_id)
        .unwrap_or_default()
        .into_iter()
        .filter(|s: &Service| s.id != service.id)
        .map(|s| (s.id, s.name))
        .collect();
    let movable = |a: &crate::directory::AccountSummary| {
        let t = Target {
            account_id: Some(&a.id),
            structure_id: &signed.actor.structure_id,
            service_id: a.service_id.as_deref(),
            role: Some(a.role),
        };
        allows(&signed.actor, Function::MergeAndTransfer, &t)
    };
    let can_merge = signed.may(Function::MergeAndTransfer) && !others.is_empty();
    let any_movable = can_merge && members.iter().any(movable);
    let base = format!("/structure/services/{}", service.id);
    let body = html! {
        (subnav(signed, section::SERVICES))
        @if let Some(n) = notice { (layout::notice(n)) }
        (layout::summary(errors))
        h2 { "Renommer le service" }
        form method="post" action={ (base) "/rename" } novalidate class="etroit" {
            (layout::csrf_field(&signed.csrf))
            (Input::new("name", "Nouveau nom").value(name.unwrap_or(&service.name)).render(errors))
            button type="submit" { "Renommer" }
        }
        h2 { "Comptes du service (" (members.len()) ")" }
        @if members.is_empty() {
            p { "Ce service ne compte aucun compte." }
        } @else {
            form method="post" action={ (base) "/transfer" } {
                (layout::csrf_field(&signed.csrf))
                table {
                    caption { "Comptes du service " (service.name) }
                    thead {
                        tr {
                            @if any_movable { th scope="col" { "Transférer" } }
                            th scope="col" { "Nom" } th scope="col" { "Rôle" } th scope="col" { "État" }
                        }
                    }
                    tbody {
                        @for (i, a) in members.iter().enumerate() {
                            tr {
                                @if any_movable {
                                    td {
                                        @if movable(a) {
                                            input type="checkbox" id={ "compte-" (i) } name="accounts" value=(a.id)
                                                aria-label={ "Transférer " (a.given_name) " " (a.family_name) };
                                        }
                                    }
                                }
                                th scope="row" { a href={ "/structure/accounts/" (a.id) } { (a.family_name) " " (a.given_name) } }
                                td { (text::role(a.role)) }
                                td { (text::state(a.state)) }
                            }
                        }
                    }
                }
                @if any_movable {
                    (layout::select("to_service", "to_service", "Service de destination des comptes cochés", &others, "", None, &[]))
                    button type="submit" { "Transférer les comptes cochés" }
                }
            }
        }
        @if can_merge {
            h2 { "Fusionner avec un autre service" }
            form method="post" action={ (base) "/merge" } class="etroit" {
                (layout::csrf_field(&signed.csrf))
                p { "Tous les comptes de ce service rejoignent le service choisi, puis ce service est supprimé. Identifiants, habilitations et délégations ne changent pas." }
                (layout::select("into", "into", "Service qui reçoit les comptes", &others, "", None, &[]))
                button type="submit" { "Fusionner" }
            }
        }
        h2 { "Supprimer le service" }
        @if members.is_empty() {
            form method="post" action={ (base) "/delete" } {
                (layout::csrf_field(&signed.csrf))
                button type="submit" class="danger" { "Supprimer le service " (service.name) }
            }
        } @else {
            p { "Ce service compte encore " (members.len()) " compte(s) : transférez-les ou fusionnez le service avant de le supprimer." }
        }
        p { a href=(section::SERVICES) { "Revenir aux services" } }
    };
    signed.page(
        status,
        &format!("Service {}", service.name),
        Some(menu::STRUCTURE),
        !errors.is_empty(),
        body,
    )
}

/// `GET /structure/services/{id}`
pub async fn show(
    State(st): State<Arc<AppState>>,
    signed: Signed,
    Id(id): Id,
    RawQuery(query): RawQuery,
) -> Response {
    service_page(
        &st,
        &signed,
        &id,
        None,
        StatusCode::OK,
        &[],
        super::notice(query.as_deref()),
    )
}

/// `POST /structure/services/{id}/rename`: field `name`.
pub async fn rename(
    State(st): State<Arc<AppState>>,
    signed: Signed,
    Id(id): Id,
    Posted(fields): Posted,
) -> Response {
    let name = fields.get("name");
    match st.directory.rename_service(&signed.actor, &id, name).await {
        Ok(s) => see_other(&with_notice(
            &format!("/structure/services/{}", s.id),
            "service-renomme",
        )),
        Err(e) => match name_error(&e) {
            Some(fe) => service_page(
                &st,
                &signed,
                &id,
                Some(name),
                refusal::status(&e),
                &[fe],
                None,
            ),
            None => signed.refusal(e, Some(menu::STRUCTURE), BACK),
        },
    }
}

/// `POST /structure/services/{id}/delete`
pub async fn delete(
    State(st): State<Arc<AppState>>,
    signed: Signed,
    Id(id): Id,
    Posted(_): Posted,
) -> Response {
    match st.directory.delete_service(&signed.actor, &id).await {
        Ok(()) => see_other(&with_notice(section::SERVICES, "service-supprime")),
        Err(e) => signed.refusal(e, Some(menu::STRUCTURE), BACK),
    }
}

/// `POST /structure/services/{id}/merge`: field `into`.
pub async fn merge(
    State(st): State<Arc<AppState>>,
    signed: Signed,
    Id(id): Id,
    Posted(fields): Posted,
) -> Response {
    match st
        .directory
        .merge_services(&signed.actor, &id, fields.get("into"))
        .await
    {
        Ok(s) => see_other(&with_notice(
            &format!("/structure/services/{}", s.id),
            "service-fusionne",
        )),
        Err(e) => signed.refusal(e, Some(menu::STRUCTURE), BACK),
    }
}

/// `POST /structure/services/{id}/transfer`: fields `accounts` (repeated), `to_service`.
pub async fn transfer(
    State(st): State<Arc<AppState>>,
    signed: Signed,
    Id(id): Id,
    Posted(fields): Posted,
) -> Response {
    let accounts = fields.all("accounts");
    match st
        .directory
        .transfer(&signed.actor, &accounts, fields.get("to_service"))
        .await
    {
        Ok(_) => see_other(&with_notice(
            &format!("/structure/services/{id}"),
            "transfert",
        )),
        Err(e) => {
            let back = format!("/structure/services/{id}");
            signed.refusal(e, Some(menu::STRUCTURE), (&back, "Revenir au service"))
        }
    }
}
