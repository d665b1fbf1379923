//! The structure's audit log (administrateurs), newest first, by pages.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;

use super::structure::{section, subnav};
use super::text;
use super::visit::{Signed, menu};
use crate::web::AppState;

/// Events per page.
const PER_PAGE: usize = 50;

/// `GET /structure/audit?page=`
pub async fn log(
    State(st): State<Arc<AppState>>,
    signed: Signed,
    RawQuery(query): RawQuery,
) -> Response {
    let dir = &st.directory;
    let mut events = match dir.audit_of(&signed.actor) {
        Ok(e) => e,
        Err(e) => {
            return signed.refusal(
                e,
                Some(menu::STRUCTURE),
                (menu::STRUCTURE, "Revenir à ma structure"),
            );
        }
    };
    events.reverse();
    let page: usize = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "page")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(1);
    let pages = events.len().div_ceil(PER_PAGE).max(1);
    let page = page.clamp(1, pages);
    let mut names: HashMap<String, String> = dir
        .accounts_of(&signed.actor.structure_id)
        .unwrap_or_default()
        .into_iter()
        .map(|a| (a.id.clone(), a.display_name()))
        .collect();
    for s in dir
        .services_of(&signed.actor.structure_id)
        .unwrap_or_default()
    {
        names.insert(s.id.clone(), format!("service {}", s.name));
    }
    names.insert("operator".into(), "la DGFiP (opérateur)".into());
    names.insert("system".into(), "le système".into());
    let who = |id: &str| -> String {
        let (head, tail) = id.split_once('/').unwrap_or((id, ""));
        let base = names
            .get(head)
            .cloned()
            .unwrap_or_else(|| format!("compte supprimé {}", head.get(..8).unwrap_or(head)));
        if tail.is_empty() {
            base
        } else {
            format!("{base} ({tail})")
        }
    };
    let body = html! {
        (subnav(&signed, section::AUDIT))
        p { "Chaque changement d'un droit, d'un compte ou d'un service de la structure, dans un journal chaîné qui ne s'efface pas." }
        @if events.is_empty() {
            p { "Le journal est vide." }
        } @else {
            table {
                caption { (events.len()) " événement(s) – page " (page) " sur " (pages) ", du plus récent au plus ancien" }
                thead { tr { th scope="col" { "N°" } th scope="col" { "Date" } th scope="col" { "Auteur" } th scope="col" { "Action" } th scope="col" { "Objet" } } }
                tbody {
                    @for e in events.iter().skip((page - 1) * PER_PAGE).take(PER_PAGE) {
                        tr {
                            td { (e.seq) }
                            td { (text::date_time(e.at)) }
                            td { (who(&e.actor)) }
                            td { (text::action(&e.action)) }
                            td { (who(&e.target)) }
                        }
                    }
                }
            }
            @if pages > 1 {
                nav class="pagination" aria-label="Pagination du journal" {
                    @if page > 1 { a href={ "/structure/audit?page=" (page - 1) } { "Page précédente" } }
                    p { "Page " (page) " sur " (pages) }
                    @if page < pages { a href={ "/structure/audit?page=" (page + 1) } { "Page suivante" } }
                }
            }
        }
    };
    signed.page(
        StatusCode::OK,
        "Journal d'audit",
        Some(menu::STRUCTURE),
        false,
        body,
    )
}
