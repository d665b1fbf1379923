//! "Ma structure": the consultation of the services and people of one's structure, with
//! search and pagination, and the menu of the administration functions of one's role.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};

use super::layout::{self, Input};
use super::text;
use super::visit::{Fields, Posted, Signed, menu};
use crate::directory::consultation::{AccountPage, AccountSearch};
use crate::domain::{AccountState, Function, Role};
use crate::web::AppState;

/// People per page of the consultation.
pub const PER_PAGE: usize = 50;

/// The sections of "Ma structure"; each shows only where the role has the function.
pub mod section {
    /// Consultation.
    pub const CONSULT: &str = "/structure";
    /// Services.
    pub const SERVICES: &str = "/structure/services";
    /// Pre-creation.
    pub const NEW_ACCOUNT: &str = "/structure/accounts/new";
    /// Pending creations.
    pub const PENDING: &str = "/structure/pending";
    /// Habilitations and delegations by profile.
    pub const PROFILES: &str = "/structure/profiles";
    /// Audit log.
    pub const AUDIT: &str = "/structure/audit";
}

/// The sub-menu of "Ma structure": exactly the functions of the person's role.
pub fn subnav(signed: &Signed, current: &str) -> Markup {
    let mut items: Vec<(&str, &str)> = vec![(section::CONSULT, "Services et personnes")];
    if signed.may(Function::ManageServices) || signed.may(Function::MergeAndTransfer) {
        items.push((section::SERVICES, "Gérer les services"));
    }
    if signed.may(Function::PreCreate) {
        items.push((section::NEW_ACCOUNT, "Pré-créer un compte"));
    }
    if signed.may(Function::ValidateCreations) {
        items.push((section::PENDING, "Créations à valider"));
    }
    if signed.may(Function::Habilitate) || signed.may(Function::Delegate) {
        items.push((section::PROFILES, "Habilitations par profil"));
    }
    // The same rule as the core's `audit-administrateur-only`.
    if crate::domain::rights::administers(signed.actor.role) {
        items.push((section::AUDIT, "Journal d'audit"));
    }
    html! {
        nav class="sous-navigation" aria-label="Ma structure" {
            ul {
                @for (href, label) in items {
                    li { a href=(href) aria-current=[(href == current).then_some("page")] { (label) } }
                }
            }
        }
    }
}

/// What the consultation was asked.
#[derive(Debug, Clone, Default)]
struct Asked {
    q: String,
    service: String,
    role: String,
    state: String,
    page: usize,
}

impl Asked {
    fn from_fields(f: &Fields) -> Asked {
        Asked {
            q: f.get("q").trim().to_owned(),
            service: f.get("service").to_owned(),
            role: f.get("role").to_owned(),
            state: f.get("state").to_owned(),
            page: f.get("page").parse().unwrap_or(1),
        }
    }

    fn search(&self) -> AccountSearch {
        AccountSearch {
            text: self.q.clone(),
            service_id: (!self.service.is_empty()).then(|| self.service.clone()),
            role: self.role.parse().ok(),
            state: AccountState::parse(&self.state),
        }
    }

    /// The query string of a page, filters only (never the text searched).
    fn query(&self, page: usize) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("service", &self.service),
            ("role", &self.role),
            ("state", &self.state),
        ] {
            if !v.is_empty() {
                q.append_pair(k, v);
            }
        }
        q.append_pair("page", &page.to_string());
        q.finish()
    }
}

fn options(all: &str, values: impl IntoIterator<Item = (String, String)>) -> Vec<(String, String)> {
    std::iter::once((String::new(), all.to_owned()))
        .chain(values)
        .collect()
}

/// `GET /structure?service=&role=&state=&page=`
pub async fn consult(
    State(st): State<Arc<AppState>>,
    signed: Signed,
    RawQuery(query): RawQuery,
) -> Response {
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .filter(|(k, _)| k != "q")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
    render(&st, &signed, &Asked::from_fields(&Fields(pairs)))
}

/// `POST /structure`: the search form (`q` is never put in an address).
pub async fn search(
    State(st): State<Arc<AppState>>,
    signed: Signed,
    Posted(fields): Posted,
) -> Response {
    render(&st, &signed, &Asked::from_fields(&fields))
}

fn render(st: &AppState, signed: &Signed, asked: &Asked) -> Response {
    let dir = &st.directory;
    let back = ("/", "Revenir à l'accueil");
    let services = match dir.services_with_sizes(&signed.actor) {
        Ok(s) => s,
        Err(e) => return signed.refusal(e, Some(menu::STRUCTURE), back),
    };
    let found = match dir.search_accounts(&signed.actor, &asked.search(), asked.page, PER_PAGE) {
        Ok(p) => p,
        Err(e) => return signed.refusal(e, Some(menu::STRUCTURE), back),
    };
    let names: HashMap<&str, &str> = services
        .iter()
        .map(|(s, _)| (s.id.as_str(), s.name.as_str()))
        .collect();
    let manage = signed.may(Function::ManageServices);
    let service_options = options(
        "Tous les services",
        services.iter().map(|(s, _)| (s.id.clone(), s.name.clone())),
    );
    let role_options = options(
        "Tous les rôles",
        Role::ALL
            .iter()
            .map(|r| (r.as_str().to_owned(), text::role(*r).to_owned())),
    );
    let state_options = options(
        "Tous les états",
        AccountState::ALL
            .iter()
            .map(|s| (s.as_str().to_owned(), text::state(*s).to_owned())),
    );
    let body = html! {
        (subnav(signed, section::CONSULT))
        p { (signed.structure.name) " – SIRET " (text::siret(&signed.structure.siret.to_string())) }
        h2 { "Services" }
        @if services.is_empty() {
            p { "La structure n'a aucun service." }
        } @else {
            table {
                caption { "Services de la structure (" (services.len()) ")" }
                thead { tr { th scope="col" { "Service" } th scope="col" { "Comptes" } } }
                tbody {
                    @for (s, n) in &services {
                        tr {
                            th scope="row" {
                                @if manage { a href={ "/structure/services/" (s.id) } { (s.name) } }
                                @else { (s.name) }
                            }
                            td {
                                a href={ "/structure?service=" (s.id) } {
                                    (n) " compte" @if *n > 1 { "s" }
                                    span class="cache" { " du service " (s.name) }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 id="personnes" { "Personnes" }
        form method="post" action=(section::CONSULT) class="filtres" novalidate {
            (layout::csrf_field(&signed.csrf))
            (Input::new("q", "Nom, adresse ou identifiant").kind("search").value(&asked.q).optional().render(&[]))
            (layout::select("service", "service", "Service", &service_options, &asked.service, None, &[]))
            (layout::select("role", "role", "Rôle", &role_options, &asked.role, None, &[]))
            (layout::select("state", "state", "État", &state_options, &asked.state, None, &[]))
            div { button type="submit" { "Rechercher" } }
        }
        (results(signed, asked, &found, &names))
    };
    signed.page(
        StatusCode::OK,
        "Ma structure",
        Some(menu::STRUCTURE),
        false,
        body,
    )
}

fn results(
    signed: &Signed,
    asked: &Asked,
    found: &AccountPage,
    names: &HashMap<&str, &str>,
) -> Markup {
    html! {
        @if found.total == 0 {
            p { "Aucune personne ne correspond à cette recherche." }
        } @else {
            table {
                caption {
                    (found.total) " personne" @if found.total > 1 { "s" }
                    @if found.pages > 1 { " – page " (found.page) " sur " (found.pages) }
                }
                thead {
                    tr {
                        th scope="col" { "Nom" }
                        th scope="col" { "Identifiant" }
                        th scope="col" { "Rôle" }
                        th scope="col" { "Service" }
                        th scope="col" { "État" }
                    }
                }
                tbody {
                    @for a in &found.accounts {
                        tr {
                            th scope="row" { a href={ "/structure/accounts/" (a.id) } { (a.family_name) " " (a.given_name) } }
                            td { (a.login.as_deref().unwrap_or("–")) }
                            td { (text::role(a.role)) }
                            td { (a.service_id.as_deref().and_then(|s| names.get(s).copied()).unwrap_or("–")) }
                            td { span class={ "etiquette etat-" (a.state.as_str()) } { (text::state(a.state)) } }
                        }
                    }
                }
            }
            (pagination(signed, asked, found))
        }
    }
}

/// Previous and next pages: links for a filter, buttons for a text search (the text
/// stays out of addresses).
fn pagination(signed: &Signed, asked: &Asked, found: &AccountPage) -> Markup {
    let prev = (found.page > 1).then(|| found.page - 1);
    let next = (found.page < found.pages).then(|| found.page + 1);
    html! {
        @if found.pages > 1 {
            nav class="pagination" aria-label="Pagination des personnes" {
                @if asked.q.is_empty() {
                    @if let Some(p) = prev { a href={ "/structure?" (asked.query(p)) "#personnes" } { "Page précédente" } }
                    p { "Page " (found.page) " sur " (found.pages) }
                    @if let Some(p) = next { a href={ "/structure?" (asked.query(p)) "#personnes" } { "Page suivante" } }
                } @else {
                    form method="post" action={ (section::CONSULT) "#personnes" } class="actions" {
                        (layout::csrf_field(&signed.csrf))
                        input type="hidden" name="q" value=(asked.q);
                        input type="hidden" name="service" value=(asked.service);
                        input type="hidden" name="role" value=(asked.role);
                        input type="hidden" name="state" value=(asked.state);
                        @if let Some(p) = prev { button type="submit" name="page" value=(p) class="secondaire" { "Page précédente" } }
                        p { "Page " (found.page) " sur " (found.pages) }
                        @if let Some(p) = next { button type="submit" name="page" value=(p) class="secondaire" { "Page suivante" } }
                    }
                }
            }
        }
    }
}
