//! Accounts of the structure: one account's page with exactly the actions the matrix
//! gives the viewer on it; pre-creation; pending creations; deletion request.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};

use super::layout::{self, FieldError, Input};
use super::password::tied;
use super::services::gate;
use super::structure::{section, subnav};
use super::visit::{Fields, Posted, Signed, menu, see_other};
use super::{Id, refusal, text, with_notice};
use crate::directory::{AccountSummary, DirError};
use crate::domain::rights::{ProfileSource, Target, allowance, allows, authorize};
use crate::domain::{AccountState, Function, PersonalData, ProfileId, Refusal, Role};
use crate::web::AppState;

/// The page of an account.
pub fn account_path(id: &str) -> String {
    format!("/structure/accounts/{id}")
}

/// Where a form goes back to: a known code, or the account's page.
pub fn back_to(fields: &Fields, id: &str) -> String {
    match fields.get("back") {
        "pending" => section::PENDING.to_owned(),
        "deletion" => format!("{}/deletion-request", account_path(id)),
        _ => account_path(id),
    }
}

/// Whether the matrix lets the viewer act on this account with `function`.
pub fn permits(signed: &Signed, function: Function, a: &AccountSummary) -> bool {
    let t = Target {
        account_id: Some(&a.id),
        structure_id: &signed.actor.structure_id,
        service_id: a.service_id.as_deref(),
        role: Some(a.role),
    };
    allows(&signed.actor, function, &t)
}

/// Whether the viewer may take this habilitation back (a responsable only those of
/// the profiles delegated to him).
pub fn may_remove_habilitation(signed: &Signed, a: &AccountSummary, p: &ProfileId) -> bool {
    permits(signed, Function::Habilitate, a)
        && allowance(Function::Habilitate, signed.actor.role).is_some_and(|cell| {
            cell.profiles != ProfileSource::Delegated || signed.account.has_delegation(p)
        })
}

fn refuse(signed: &Signed, e: DirError, id: &str) -> Response {
    let back = account_path(id);
    signed.refusal(
        e,
        Some(menu::STRUCTURE),
        (&back, "Revenir à la fiche du compte"),
    )
}

fn options(st: &AppState, profiles: impl IntoIterator<Item = ProfileId>) -> Vec<(String, String)> {
    profiles
        .into_iter()
        .map(|p| (p.to_string(), text::profile(&st.directory.catalogue(), &p)))
        .collect()
}

fn hidden_form(
    signed: &Signed,
    action: &str,
    fields: &[(&str, &str)],
    label: Markup,
    class: &str,
) -> Markup {
    html! {
        form method="post" action=(action) class="en-ligne" {
            (layout::csrf_field(&signed.csrf))
            @for (k, v) in fields { input type="hidden" name=(k) value=(v); }
            button type="submit" class=(class) { (label) }
        }
    }
}

/// The words of one list of profiles an account holds.
struct ProfileList {
    title: &'static str,
    /// The path below the account's page (`habilitations`, `delegations`).
    path: &'static str,
    empty: &'static str,
    /// What a removal button removes, for screen readers (` l'habilitation `).
    removes: &'static str,
    select_id: &'static str,
    select_label: &'static str,
    button: &'static str,
}

const HABILITATIONS: ProfileList = ProfileList {
    title: "Habilitations",
    path: "habilitations",
    empty: "Aucune habilitation.",
    removes: " l'habilitation ",
    select_id: "profile",
    select_label: "Profil à accorder",
    button: "Habiliter",
};

const DELEGATIONS: ProfileList = ProfileList {
    title: "Délégations",
    path: "delegations",
    empty: "Aucun profil délégué.",
    removes: " la délégation ",
    select_id: "delegation",
    select_label: "Profil à déléguer",
    button: "Déléguer",
};

/// A list of held profiles, each with its removal button where `may_remove` allows,
/// then the form handing out one of `grantable`.
fn held_profiles(
    st: &AppState,
    signed: &Signed,
    base: &str,
    list: &ProfileList,
    held: &[ProfileId],
    may_remove: impl Fn(&ProfileId) -> bool,
    grantable: &[ProfileId],
) -> Markup {
    let catalogue = st.directory.catalogue();
    let path = list.path;
    html! {
        h2 { (list.title) }
        @if held.is_empty() {
            p { (list.empty) }
        } @else {
            ul {
                @for p in held {
                    li {
                        (text::profile(&catalogue, p)) " "
                        @if may_remove(p) {
                            (hidden_form(signed, &format!("{base}/{path}/remove"), &[("profile", &p.to_string())],
                                html! { "Retirer" span class="cache" { (list.removes) (p) } }, "secondaire"))
                        }
                    }
                }
            }
        }
        @if !grantable.is_empty() {
            form method="post" action={ (base) "/" (path) } class="actions" {
                (layout::csrf_field(&signed.csrf))
                (layout::select(list.select_id, "profile", list.select_label, &options(st, grantable.iter().cloned()), "", None, &[]))
                button type="submit" { (list.button) }
            }
        }
    }
}

/// `GET /structure/accounts/{id}`
pub async fn show(
    State(st): State<Arc<AppState>>,
    signed: Signed,
    Id(id): Id,
    RawQuery(query): RawQuery,
) -> Response {
    let dir = &st.directory;
    let a = match dir.consult_account(&signed.actor, &id) {
        Ok(a) => a,
        Err(e) => {
            return signed.refusal(
                e,
                Some(menu::STRUCTURE),
                (menu::STRUCTURE, "Revenir à ma structure"),
            );
        }
    };
    let services = dir
        .services_of(&signed.actor.structure_id)
        .unwrap_or_default();
    let service_name = a
        .service_id
        .as_deref()
        .and_then(|s| services.iter().find(|x| x.id == s))
        .map(|s| s.name.clone());
    let base = account_path(&a.id);
    let name = format!("{} {}", a.given_name, a.family_name);
    let habilitate =
        permits(&signed, Function::Habilitate, &a) && a.state != AccountState::DeletionRequested;
    let grantable: Vec<ProfileId> = if habilitate {
        dir.grantable_profiles(&signed.actor, Function::Habilitate)
            .unwrap_or_default()
            .into_iter()
            .filter(|p| !a.habilitations.contains(p))
            .collect()
    } else {
        Vec::new()
    };
    let delegate = permits(&signed, Function::Delegate, &a);
    let delegable: Vec<ProfileId> = if delegate && a.state != AccountState::DeletionRequested {
        dir.grantable_profiles(&signed.actor, Function::Delegate)
            .unwrap_or_default()
            .into_iter()
            .filter(|p| !a.delegations.contains(p))
            .collect()
    } else {
        Vec::new()
    };
    let validate = a.state == AccountState::AwaitingValidation
        && permits(&signed, Function::ValidateCreations, &a);
    let resend = a.state == AccountState::Active
        && a.login.is_some()
        && permits(&signed, Function::ResendIdentifier, &a);
    let others: Vec<(String, String)> = services
        .iter()
        .filter(|s| a.service_id.as_deref() != Some(s.id.as_str()))
        .map(|s| (s.id.clone(), s.name.clone()))
        .collect();
    let transfer = !others.is_empty() && permits(&signed, Function::MergeAndTransfer, &a);
    let deletion =
        a.state == AccountState::Active && permits(&signed, Function::RequestDeletion, &a);
    let body = html! {
        (subnav(&signed, section::CONSULT))
        @if let Some(n) = super::notice(query.as_deref()) { (layout::notice(n)) }
        dl class="fiche" {
            dt { "Prénom" } dd { (a.given_name) }
            dt { "Nom" } dd { (a.family_name) }
            dt { "Adresse électronique" } dd { (a.email) }
            dt { "Identifiant" } dd { (a.login.as_deref().unwrap_or("pas encore attribué")) }
            dt { "Rôle" } dd { (text::role(a.role)) }
            dt { "Service" } dd { (service_name.as_deref().unwrap_or("aucun")) }
            dt { "État" } dd { span class={ "etiquette etat-" (a.state.as_str()) } { (text::state(a.state)) } }
        }
        (held_profiles(&st, &signed, &base, &HABILITATIONS, &a.habilitations,
            |p| may_remove_habilitation(&signed, &a, p), &grantable))
        @if a.role == Role::Responsable {
            (held_profiles(&st, &signed, &base, &DELEGATIONS, &a.delegations, |_| delegate, &delegable))
        }
        @if validate || resend || transfer || deletion {
            h2 { "Actions" }
            div class="actions" {
                @if validate {
                    (hidden_form(&signed, &format!("{base}/validate"), &[], html! { "Valider la création" }, ""))
                    (hidden_form(&signed, &format!("{base}/reject"), &[], html! { "Refuser la création" }, "danger"))
                }
                @if resend {
                    (hidden_form(&signed, &format!("{base}/resend-identifier"), &[], html! { "Renvoyer l'identifiant" }, "secondaire"))
                }
                @if deletion {
                    a class="bouton secondaire" href={ (base) "/deletion-request" } { "Demander la suppression du compte" }
                }
            }
            @if transfer {
                form method="post" action={ (base) "/transfer" } class="actions" {
                    (layout::csrf_field(&signed.csrf))
                    (layout::select("to_service", "to_service", "Transférer vers le service", &others, "", None, &[]))
                    button type="submit" { "Transférer" }
                }
            }
        }
        p { a href=(menu::STRUCTURE) { "Revenir à ma structure" } }
    };
    signed.page(StatusCode::OK, &name, Some(menu::STRUCTURE), false, body)
}

/// `POST /structure/accounts/{id}/validate`
pub async fn validate(
    State(st): State<Arc<AppState>>,
    signed: Signed,
    Id(id): Id,
    Posted(fields): Posted,
) -> Response {
    match st.directory.validate(&signed.actor, &id).await {
        Ok(_) => see_other(&with_notice(&back_to(&fields, &id), "valide")),
        Err(e) => refuse(&signed, e, &id),
    }
}

/// `POST /structure/accounts/{id}/reject`
pub async fn reject(
    State(st): State<Arc<AppState>>,
    signed: Signed,
    Id(id): Id,
    Posted(_): Posted,
) -> Response {
    match st.directory.reject(&signed.actor, &id).await {
        Ok(()) => see_other(&with_notice(section::PENDING, "refuse")),
        Err(e) => refuse(&signed, e, &id),
    }
}

/// `POST /structure/accounts/{id}/resend-identifier`
pub async fn resend_identifier(
    State(st): State<Arc<AppState>>,
    signed: Signed,
    Id(id): Id,
    Posted(_): Posted,
) -> Response {
    match st.directory.resend_identifier(&signed.actor, &id).await {
        Ok(()) => see_other(&with_notice(&account_path(&id), "identifiant")),
        Err(e) => refuse(&signed, e, &id),
    }
}

/// `POST /structure/accounts/{id}/transfer`: field `to_service`.
pub async fn transfer(
    State(st): State<Arc<AppState>>,
    signed: Signed,
    Id(id): Id,
    Posted(fields): Posted,
) -> Response {
    match st
        .directory
        .transfer(
            &signed.actor,
            std::slice::from_ref(&id),
            fields.get("to_service"),
        )
        .await
    {
        Ok(_) => see_other(&with_notice(&account_path(&id), "transfert")),
        Err(e) => refuse(&signed, e, &id),
    }
}

/// `GET /structure/accounts/{id}/deletion-request`: first the habilitations to remove,
/// then the confirmation.
pub async fn deletion_form(
    State(st): State<Arc<AppState>>,
    signed: Signed,
    Id(id): Id,
    RawQuery(query): RawQuery,
) -> Response {
    let dir = &st.directory;
    let a = match dir.consult_account(&signed.actor, &id) {
        Ok(a) => a,
        Err(e) => return refuse(&signed, e, &id),
    };
    let t = Target {
        account_id: Some(&a.id),
        structure_id: &signed.actor.structure_id,
        service_id: a.service_id.as_deref(),
        role: Some(a.role),
    };
    if let Err(r) = authorize(&signed.actor, Function::RequestDeletion, &t) {
        return refuse(&signed, r.into(), &id);
    }
    let base = account_path(&a.id);
    let name = format!("{} {}", a.given_name, a.family_name);
    let retention = dir.settings().retention_days;
    let body = html! {
        (subnav(&signed, section::CONSULT))
        @if let Some(n) = super::notice(query.as_deref()) { (layout::notice(n)) }
        @if a.state != AccountState::Active {
            (layout::alert(&format!("Ce compte est à l'état « {} » : sa suppression ne peut pas être demandée.", text::state(a.state)), &[]))
        } @else if !a.habilitations.is_empty() {
            (layout::alert("Retirez d'abord les habilitations de ce compte, puis demandez sa suppression.", &[]))
            h2 { "Habilitations à retirer" }
            ul {
                @for p in &a.habilitations {
                    li {
                        (text::profile(&dir.catalogue(), p)) " "
                        @if may_remove_habilitation(&signed, &a, p) {
                            (hidden_form(&signed, &format!("{base}/habilitations/remove"),
                                &[("profile", &p.to_string()), ("back", "deletion")],
                                html! { "Retirer" span class="cache" { " l'habilitation " (p) } }, "secondaire"))
                        } @else {
                            "(seul un administrateur peut la retirer)"
                        }
                    }
                }
            }
        } @else {
            p { "Le compte de " strong { (name) } " n'a plus d'habilitation." }
            p {
                "Une fois la suppression demandée, le compte ne peut plus se connecter nulle part ; il est effacé après "
                (retention) " jours. Aucun autre compte n'est modifié : les habilitations accordées par cette personne restent en place."
            }
            form method="post" action={ (base) "/deletion-request" } {
                (layout::csrf_field(&signed.csrf))
                button type="submit" class="danger" { "Demander la suppression du compte de " (name) }
            }
        }
        p { a href=(base) { "Revenir à la fiche du compte" } }
    };
    signed.page(
        StatusCode::OK,
        &format!("Suppression du compte de {name}"),
        Some(menu::STRUCTURE),
        false,
        body,
    )
}

/// `POST /structure/accounts/{id}/deletion-request`
pub async fn request_deletion(
    State(st): State<Arc<AppState>>,
    signed: Signed,
    Id(id): Id,
    Posted(_): Posted,
) -> Response {
    match st.directory.request_deletion(&signed.actor, &id).await {
        Ok(_) => see_other(&with_notice(&account_path(&id), "suppression")),
        Err(e) => {
            let back = format!("{}/deletion-request", account_path(&id));
            signed.refusal(
                e,
                Some(menu::STRUCTURE),
                (&back, "Revenir à la demande de suppression"),
            )
        }
    }
}

/// What the pre-creation form holds.
#[derive(Debug, Clone, Default)]
struct NewAccount {
    role: String,
    service_id: String,
    given_name: String,
    family_name: String,
    email: String,
}

fn new_page(
    st: &AppState,
    signed: &Signed,
    v: &NewAccount,
    status: StatusCode,
    errors: &[FieldError],
) -> Response {
    let roles: Vec<(String, String)> = allowance(Function::PreCreate, signed.actor.role)
        .map(|cell| cell.targets)
        .unwrap_or_default()
        .iter()
        .map(|r| (r.as_str().to_owned(), text::role(*r).to_owned()))
        .collect();
    let services: Vec<(String, String)> = st
        .directory
        .services_of(&signed.actor.structure_id)
        .unwrap_or_default()
        .into_iter()
        .filter(|s| {
            let t = Target {
                account_id: None,
                structure_id: &s.structure_id,
                service_id: Some(&s.id),
                role: None,
            };
            allows(&signed.actor, Function::PreCreate, &t)
        })
        .map(|s| (s.id, s.name))
        .collect();
    let body = html! {
        (subnav(signed, section::NEW_ACCOUNT))
        @if services.is_empty() {
            (layout::alert("Aucun service où pré-créer un compte : créez d'abord un service.", &[]))
        } @else {
            p { "La personne recevra par courriel un lien pour vérifier ses données et choisir elle-même son mot de passe. Sa création attendra ensuite la validation d'un administrateur." }
            (layout::summary(errors))
            form method="post" action=(section::NEW_ACCOUNT) novalidate class="etroit" {
                (layout::csrf_field(&signed.csrf))
                (layout::required_note())
                (layout::select("role", "role", "Rôle", &roles, &v.role, None, errors))
                (layout::select("service_id", "service_id", "Service", &services, &v.service_id, None, errors))
                (Input::new("given_name", "Prénom").value(&v.given_name).autocomplete("off").render(errors))
                (Input::new("family_name", "Nom").value(&v.family_name).autocomplete("off").render(errors))
                (Input::new("email", "Adresse électronique professionnelle").kind("email").value(&v.email)
                    .autocomplete("off").hint("Le lien de pré-création y est envoyé.").render(errors))
                button type="submit" { "Pré-créer le compte" }
            }
        }
    };
    signed.page(
        status,
        "Pré-créer un compte",
        Some(menu::STRUCTURE),
        !errors.is_empty(),
        body,
    )
}

/// `GET /structure/accounts/new`
pub async fn new_form(State(st): State<Arc<AppState>>, signed: Signed) -> Response {
    if let Err(e) = gate(&signed, Function::PreCreate) {
        return signed.refusal(
            e,
            Some(menu::STRUCTURE),
            (menu::STRUCTURE, "Revenir à ma structure"),
        );
    }
    new_page(&st, &signed, &NewAccount::default(), StatusCode::OK, &[])
}

/// `POST /structure/accounts/new`: fields `role`, `service_id`, `given_name`,
/// `family_name`, `email`.
pub async fn pre_create(
    State(st): State<Arc<AppState>>,
    signed: Signed,
    Posted(fields): Posted,
) -> Response {
    let v = NewAccount {
        role: fields.get("role").to_owned(),
        service_id: fields.get("service_id").to_owned(),
        given_name: fields.get("given_name").to_owned(),
        family_name: fields.get("family_name").to_owned(),
        email: fields.get("email").to_owned(),
    };
    let Ok(role) = v.role.parse::<Role>() else {
        let fe = FieldError::new("role", "Choisissez un rôle.");
        return new_page(&st, &signed, &v, StatusCode::UNPROCESSABLE_ENTITY, &[fe]);
    };
    let person = PersonalData {
        given_name: v.given_name.clone(),
        family_name: v.family_name.clone(),
        email: v.email.clone(),
    };
    match st
        .directory
        .pre_create(&signed.actor, role, &v.service_id, &person)
        .await
    {
        Ok(account) => see_other(&with_notice(&account_path(&account.id), "invitation")),
        Err(e) => {
            let fe = tied(
                &e,
                &[
                    ("service_id", "service_id"),
                    ("given_name", "given_name"),
                    ("family_name", "family_name"),
                    ("email", "email"),
                ],
            )
            .or_else(|| match &e {
                DirError::Conflict {
                    rule: "email-in-use",
                    ..
                } => Some(FieldError::new("email", refusal::sentence(&e))),
                DirError::Refused(Refusal::TargetRole { .. }) => {
                    Some(FieldError::new("role", refusal::sentence(&e)))
                }
                DirError::Refused(Refusal::OtherService) => {
                    Some(FieldError::new("service_id", refusal::sentence(&e)))
                }
                _ => None,
            });
            match fe {
                Some(fe) => new_page(&st, &signed, &v, refusal::status(&e), &[fe]),
                None => signed.refusal(
                    e,
                    Some(menu::STRUCTURE),
                    (section::NEW_ACCOUNT, "Revenir au formulaire"),
                ),
            }
        }
    }
}

/// `GET /structure/pending`: the creations to validate, and the invitations under way.
pub async fn pending(
    State(st): State<Arc<AppState>>,
    signed: Signed,
    RawQuery(query): RawQuery,
) -> Response {
    let dir = &st.directory;
    if let Err(e) = gate(&signed, Function::ValidateCreations) {
        return signed.refusal(
            e,
            Some(menu::STRUCTURE),
            (menu::STRUCTURE, "Revenir à ma structure"),
        );
    }
    let (waiting, invited) = match (
        dir.list_accounts(&signed.actor, Some(AccountState::AwaitingValidation)),
        dir.list_accounts(&signed.actor, Some(AccountState::Invited)),
    ) {
        (Ok(w), Ok(i)) => (w, i),
        (Err(e), _) | (_, Err(e)) => {
            return signed.refusal(
                e,
                Some(menu::STRUCTURE),
                (menu::STRUCTURE, "Revenir à ma structure"),
            );
        }
    };
    let services = dir
        .services_of(&signed.actor.structure_id)
        .unwrap_or_default();
    let service_of = |a: &AccountSummary| {
        a.service_id
            .as_deref()
            .and_then(|s| services.iter().find(|x| x.id == s))
            .map_or("–".to_owned(), |s| s.name.clone())
    };
    let body = html! {
        (subnav(&signed, section::PENDING))
        @if let Some(n) = super::notice(query.as_deref()) { (layout::notice(n)) }
        h2 { "Créations à valider" }
        @if waiting.is_empty() {
            p { "Aucune création n'attend de validation." }
        } @else {
            table {
                caption { (waiting.len()) " création(s) à valider" }
                thead { tr { th scope="col" { "Nom" } th scope="col" { "Adresse" } th scope="col" { "Rôle" } th scope="col" { "Service" } th scope="col" { "Décision" } } }
                tbody {
                    @for a in &waiting {
                        tr {
                            th scope="row" { a href=(account_path(&a.id)) { (a.family_name) " " (a.given_name) } }
                            td { (a.email) }
                            td { (text::role(a.role)) }
                            td { (service_of(a)) }
                            td {
                                @if permits(&signed, Function::ValidateCreations, a) {
                                    div class="actions" {
                                        (hidden_form(&signed, &format!("{}/validate", account_path(&a.id)), &[("back", "pending")],
                                            html! { "Valider" span class="cache" { " la création de " (a.given_name) " " (a.family_name) } }, ""))
                                        (hidden_form(&signed, &format!("{}/reject", account_path(&a.id)), &[],
                                            html! { "Refuser" span class="cache" { " la création de " (a.given_name) " " (a.family_name) } }, "danger"))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Invitations en cours" }
        @if invited.is_empty() {
            p { "Aucune invitation en cours." }
        } @else {
            p { "Ces personnes n'ont pas encore complété leur formulaire de pré-création." }
            ul {
                @for a in &invited {
                    li { a href=(account_path(&a.id)) { (a.given_name) " " (a.family_name) } " – " (text::role(a.role)) ", " (service_of(a)) }
                }
            }
        }
    };
    signed.page(
        StatusCode::OK,
        "Créations à valider",
        Some(menu::STRUCTURE),
        false,
        body,
    )
}
