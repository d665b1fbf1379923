//! Habilitations and delegations, by account (the account's page posts here) and by
//! profile.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;

use super::accounts::{account_path, back_to};
use super::layout;
use super::structure::{section, subnav};
use super::visit::{Fields, Posted, Signed, menu, see_other};
use super::{Id, text, with_notice};
use crate::directory::{AccountSummary, DirError};
use crate::domain::{Function, ProfileId, Role};
use crate::web::AppState;

/// Largest number of holders listed under one profile.
const HOLDERS_SHOWN: usize = 100;

fn profile_of(fields: &Fields) -> Result<ProfileId, DirError> {
    fields
        .get("profile")
        .parse::<ProfileId>()
        .map_err(|_| DirError::Invalid {
            rule: "unknown-profile",
            field: "profile",
            message: "choisissez un profil de la liste".into(),
        })
}

fn refused(signed: &Signed, e: DirError, back: &str) -> Response {
    signed.refusal(
        e,
        Some(menu::STRUCTURE),
        (back, "Revenir à la page précédente"),
    )
}

/// What a form does with a profile on an account.
#[derive(Debug, Clone, Copy)]
enum Change {
    Habilitate,
    RemoveHabilitation,
    Delegate,
    RemoveDelegation,
}

impl Change {
    /// The notice of the page shown once done.
    fn notice(self) -> &'static str {
        match self {
            Change::Habilitate => "habilitation",
            Change::RemoveHabilitation => "habilitation-retiree",
            Change::Delegate => "delegation",
            Change::RemoveDelegation => "delegation-retiree",
        }
    }
}

/// Applies a change to the profile posted in `fields`, then back to `back`.
async fn change(
    st: &AppState,
    signed: &Signed,
    id: &str,
    fields: &Fields,
    change: Change,
    back: String,
) -> Response {
    let (dir, actor) = (&st.directory, &signed.actor);
    let result = match profile_of(fields) {
        Ok(p) => match change {
            Change::Habilitate => dir.grant(actor, id, &p).await.map(drop),
            Change::RemoveHabilitation => dir.revoke(actor, id, &p).await.map(drop),
            Change::Delegate => dir.delegate(actor, id, &p).await.map(drop),
            Change::RemoveDelegation => dir.undelegate(actor, id, &p).await.map(drop),
        },
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => see_other(&with_notice(&back, change.notice())),
        Err(e) => refused(signed, e, &back),
    }
}

/// `POST /structure/accounts/{id}/habilitations`: field `profile`.
pub async fn habilitate(
    State(st): State<Arc<AppState>>,
    signed: Signed,
    Id(id): Id,
    Posted(fields): Posted,
) -> Response {
    let back = back_to(&fields, &id);
    change(&st, &signed, &id, &fields, Change::Habilitate, back).await
}

/// `POST /structure/accounts/{id}/habilitations/remove`: field `profile`.
pub async fn remove_habilitation(
    State(st): State<Arc<AppState>>,
    signed: Signed,
    Id(id): Id,
    Posted(fields): Posted,
) -> Response {
    let back = back_to(&fields, &id);
    change(&st, &signed, &id, &fields, Change::RemoveHabilitation, back).await
}

/// `POST /structure/accounts/{id}/delegations`: field `profile`.
pub async fn delegate(
    State(st): State<Arc<AppState>>,
    signed: Signed,
    Id(id): Id,
    Posted(fields): Posted,
) -> Response {
    let back = account_path(&id);
    change(&st, &signed, &id, &fields, Change::Delegate, back).await
}

/// `POST /structure/accounts/{id}/delegations/remove`: field `profile`.
pub async fn remove_delegation(
    State(st): State<Arc<AppState>>,
    signed: Signed,
    Id(id): Id,
    Posted(fields): Posted,
) -> Response {
    let back = account_path(&id);
    change(&st, &signed, &id, &fields, Change::RemoveDelegation, back).await
}

/// `GET /structure/profiles`: for each profile the person may hand out, who holds it and
/// to whom it is delegated.
pub async fn profiles(
    State(st): State<Arc<AppState>>,
    signed: Signed,
    RawQuery(query): RawQuery,
) -> Response {
    let dir = &st.directory;
    let back = (menu::STRUCTURE, "Revenir à ma structure");
    let function = if signed.may(Function::Habilitate) {
        Function::Habilitate
    } else {
        Function::Delegate
    };
    if let Err(e) = super::services::gate(&signed, function) {
        return signed.refusal(e, Some(menu::STRUCTURE), back);
    }
    let (profiles, accounts) = match (
        dir.grantable_profiles(&signed.actor, function),
        dir.list_accounts(&signed.actor, None),
    ) {
        (Ok(p), Ok(a)) => (p, a),
        (Err(e), _) | (_, Err(e)) => return signed.refusal(e, Some(menu::STRUCTURE), back),
    };
    let catalogue = dir.catalogue();
    let body = html! {
        (subnav(&signed, section::PROFILES))
        @if let Some(n) = super::notice(query.as_deref()) { (layout::notice(n)) }
        @if profiles.is_empty() {
            p { "Aucun profil à accorder : "
                @if signed.actor.role == Role::Responsable { "aucun profil ne vous a été délégué." }
                @else { "la catégorie de la structure n'ouvre droit à aucune application." } }
        }
        p { "Pour habiliter une personne ou lui retirer une habilitation, ouvrez sa fiche depuis la consultation de la structure." }
        @for p in &profiles {
            @let holders: Vec<&AccountSummary> = accounts.iter().filter(|a| a.habilitations.contains(p)).collect();
            @let delegates: Vec<&AccountSummary> = accounts.iter().filter(|a| a.delegations.contains(p)).collect();
            section aria-labelledby={ "profil-" (p.app()) "-" (p.profile()) } {
                h2 id={ "profil-" (p.app()) "-" (p.profile()) } { (text::profile(&catalogue, p)) }
                h3 { "Habilités (" (holders.len()) ")" }
                @if holders.is_empty() {
                    p { "Personne." }
                } @else {
                    ul {
                        @for a in holders.iter().take(HOLDERS_SHOWN) {
                            li {
                                a href=(account_path(&a.id)) { (a.given_name) " " (a.family_name) }
                            }
                        }
                    }
                    @if holders.len() > HOLDERS_SHOWN {
                        p { "… et " (holders.len() - HOLDERS_SHOWN) " autres." }
                    }
                }
                @if !delegates.is_empty() || signed.may(Function::Delegate) {
                    h3 { "Délégué à (" (delegates.len()) ")" }
                    @if delegates.is_empty() { p { "Aucun responsable." } }
                    @else {
                        ul { @for a in &delegates { li { a href=(account_path(&a.id)) { (a.given_name) " " (a.family_name) } } } }
                    }
                }
            }
        }
    };
    signed.page(
        StatusCode::OK,
        "Habilitations par profil",
        Some(menu::STRUCTURE),
        false,
        body,
    )
}
