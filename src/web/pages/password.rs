//! Password self-service: the forgotten-password request, the reset form of the mailed
//! link, and the change form of a signed-in person (also the forced renewal).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use maud::{Markup, html};

use super::layout::{self, FieldError, Input};
use super::visit::{Posted, Signed, Visitor, see_other, unavailable};
use super::{Id, refusal};
use crate::auth::token::TokenKind;
use crate::directory::DirError;
use crate::domain::PasswordPolicy;
use crate::http::client::ClientAddr;
use crate::web::AppState;

/// The password rules, stated before the person types.
pub fn policy_text(p: &PasswordPolicy) -> String {
    format!(
        "Au moins {} caractères (au plus {}), dont au moins 5 différents ; \
         sans votre nom, votre prénom ni votre identifiant ; \
         ni un mot de passe courant, ni l'un de vos {} derniers mots de passe.",
        p.min_length, p.max_length, p.history
    )
}

/// The two fields of a new password, with the policy tied to the first.
pub fn new_password_fields(policy: &PasswordPolicy, errors: &[FieldError]) -> Markup {
    let rules = policy_text(policy);
    html! {
        (Input::new("password", "Nouveau mot de passe").kind("password")
            .autocomplete("new-password").hint(&rules).render(errors))
        (Input::new("password_confirm", "Confirmation du nouveau mot de passe").kind("password")
            .autocomplete("new-password").hint("Saisissez le même mot de passe une seconde fois.")
            .render(errors))
    }
}

/// Checks the two fields of a new password before the core sees them.
pub fn check_new_password(password: &str, confirm: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if password.is_empty() {
        errors.push(FieldError::new(
            "password",
            "Saisissez un nouveau mot de passe.",
        ));
    } else if password != confirm {
        errors.push(FieldError::new(
            "password_confirm",
            "La confirmation ne correspond pas au nouveau mot de passe.",
        ));
    }
    errors
}

/// A refusal of the core tied to the field of a form it names, when it names one of
/// `fields` (the core's field name, then the form's).
pub fn tied(e: &DirError, fields: &[(&str, &'static str)]) -> Option<FieldError> {
    let DirError::Invalid { field, .. } = e else {
        return None;
    };
    fields
        .iter()
        .find(|(core, _)| core == field)
        .map(|(_, form)| FieldError::new(form, refusal::sentence(e)))
}

/// The page of an unusable reset link.
fn reset_link_gone(visitor: &Visitor, minutes: u32) -> Response {
    visitor.page(
        StatusCode::GONE,
        "Lien invalide ou expiré",
        true,
        html! {
            (layout::alert("Ce lien de réinitialisation est invalide, a déjà servi ou a expiré.", &[]))
            p { "Un lien de réinitialisation ne sert qu'une fois et reste valable " (minutes) " minutes." }
            p { a href="/password-resets" { "Demander un nouveau lien" } }
        },
    )
}

fn request_page(visitor: &Visitor, status: StatusCode, errors: &[FieldError]) -> Response {
    visitor.page(
        status,
        "Mot de passe oublié",
        !errors.is_empty(),
        html! {
            div class="etroit" {
                p { "Saisissez votre identifiant : un lien pour choisir un nouveau mot de passe sera envoyé à l'adresse électronique de votre compte." }
                (layout::summary(errors))
                form method="post" action="/password-resets" novalidate {
                    (layout::csrf_field(&visitor.csrf))
                    (Input::new("login", "Identifiant").autocomplete("username")
                        .hint("L'identifiant reçu par courriel lors de la validation de votre compte.").render(errors))
                    button type="submit" { "Recevoir un lien" }
                }
                p { "Identifiant oublié ? Demandez à un administrateur de votre structure de vous le renvoyer." }
                p { a href="/" { "Revenir à la connexion" } }
            }
        },
    )
}

/// `GET /password-resets`
pub async fn request_form(visitor: Visitor) -> Response {
    request_page(&visitor, StatusCode::OK, &[])
}

/// `POST /password-resets`: field `login`. The same answer, in the same time, whether
/// the account exists; 429 when the address asked too often, whatever it named.
pub async fn request(
    State(st): State<Arc<AppState>>,
    ClientAddr(client): ClientAddr,
    visitor: Visitor,
    Posted(fields): Posted,
) -> Response {
    let login = fields.get("login");
    if login.trim().is_empty() {
        return request_page(
            &visitor,
            StatusCode::BAD_REQUEST,
            &[FieldError::new("login", "Saisissez votre identifiant.")],
        );
    }
    match st.directory.accept_password_reset(login, client) {
        Ok(()) => {}
        Err(ref e @ DirError::TooManyAttempts { retry_after }) => {
            let message = format!(
                "Trop de demandes depuis votre adresse : réessayez dans {retry_after} seconde{}.",
                if retry_after > 1 { "s" } else { "" }
            );
            let mut r = request_page(
                &visitor,
                refusal::status(e),
                &[FieldError::new("login", message)],
            );
            if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return r;
        }
        Err(e) => return unavailable(e),
    }
    let minutes = st.directory.settings().reset_link_minutes;
    visitor.page(
        StatusCode::OK,
        "Demande enregistrée",
        false,
        html! {
            div class="etroit" {
                (layout::notice("Si cet identifiant correspond à un compte actif, un courriel vient d'être envoyé à son adresse."))
                p { "Le lien qu'il contient est valable " (minutes) " minutes et ne sert qu'une fois. Pensez à vérifier vos courriers indésirables." }
                p { a href="/" { "Revenir à la connexion" } }
            }
        },
    )
}

fn reset_page(
    st: &AppState,
    visitor: &Visitor,
    token: &str,
    status: StatusCode,
    errors: &[FieldError],
) -> Response {
    let action = format!("/password-resets/{token}");
    visitor.page(
        status,
        "Nouveau mot de passe",
        !errors.is_empty(),
        html! {
            div class="etroit" {
                p { "Choisissez votre nouveau mot de passe." }
                (layout::summary(errors))
                form method="post" action=(action) novalidate {
                    (layout::csrf_field(&visitor.csrf))
                    (new_password_fields(&st.directory.settings().policy, errors))
                    button type="submit" { "Enregistrer le mot de passe" }
                }
            }
        },
    )
}

/// `GET /password-resets/{token}`
pub async fn reset_form(
    State(st): State<Arc<AppState>>,
    visitor: Visitor,
    Id(token): Id,
) -> Response {
    let dir = &st.directory;
    match dir.link_is_live(&token, TokenKind::PasswordReset) {
        Ok(true) => reset_page(&st, &visitor, &token, StatusCode::OK, &[]),
        Ok(false) => reset_link_gone(&visitor, dir.settings().reset_link_minutes),
        Err(e) => unavailable(e),
    }
}

/// `POST /password-resets/{token}`: fields `password`, `password_confirm`.
pub async fn reset(
    State(st): State<Arc<AppState>>,
    visitor: Visitor,
    Id(token): Id,
    Posted(fields): Posted,
) -> Response {
    let dir = &st.directory;
    let errors = check_new_password(fields.get("password"), fields.get("password_confirm"));
    if !errors.is_empty() {
        return reset_page(&st, &visitor, &token, StatusCode::BAD_REQUEST, &errors);
    }
    match dir.reset_password(&token, fields.get("password")).await {
        Ok(()) => visitor.page(
            StatusCode::OK,
            "Mot de passe enregistré",
            false,
            html! {
                (layout::notice("Votre nouveau mot de passe est enregistré."))
                p { a href="/" { "Se connecter" } }
            },
        ),
        Err(DirError::LinkInvalid) => reset_link_gone(&visitor, dir.settings().reset_link_minutes),
        Err(e) => match tied(&e, &[("password", "password")]) {
            Some(fe) => reset_page(&st, &visitor, &token, refusal::status(&e), &[fe]),
            None => unavailable(e),
        },
    }
}

fn change_page(
    st: &AppState,
    signed: &Signed,
    expired: bool,
    status: StatusCode,
    errors: &[FieldError],
) -> Response {
    let title = if expired {
        "Renouvellement du mot de passe"
    } else {
        "Changer mon mot de passe"
    };
    signed.page(
        status,
        title,
        None,
        !errors.is_empty(),
        html! {
            div class="etroit" {
                @if expired {
                    (layout::alert("Votre mot de passe a expiré : choisissez-en un nouveau pour accéder à votre espace.", &[]))
                }
                (layout::summary(errors))
                form method="post" action=(super::visit::RENEWAL) novalidate {
                    (layout::csrf_field(&signed.csrf))
                    (Input::new("current_password", "Mot de passe actuel").kind("password")
                        .autocomplete("current-password").render(errors))
                    (new_password_fields(&st.directory.settings().policy, errors))
                    button type="submit" { "Changer le mot de passe" }
                }
                @if !expired { p { a href=(super::visit::menu::ME) { "Revenir à mes données personnelles" } } }
            }
        },
    )
}

fn expired(st: &AppState, headers: &HeaderMap) -> bool {
    st.browser
        .session(st.directory.as_ref(), headers)
        .ok()
        .flatten()
        .is_some_and(|s| s.password_expired)
}

/// `GET /me/password`
pub async fn change_form(
    State(st): State<Arc<AppState>>,
    signed: Signed,
    headers: HeaderMap,
) -> Response {
    change_page(&st, &signed, expired(&st, &headers), StatusCode::OK, &[])
}

/// `POST /me/password`: fields `current_password`, `password`, `password_confirm`.
pub async fn change(
    State(st): State<Arc<AppState>>,
    signed: Signed,
    headers: HeaderMap,
    ClientAddr(client): ClientAddr,
    Posted(fields): Posted,
) -> Response {
    let was_expired = expired(&st, &headers);
    let current = fields.get("current_password");
    let mut errors = Vec::new();
    if current.is_empty() {
        errors.push(FieldError::new(
            "current_password",
            "Saisissez votre mot de passe actuel.",
        ));
    }
    errors.extend(check_new_password(
        fields.get("password"),
        fields.get("password_confirm"),
    ));
    if !errors.is_empty() {
        return change_page(&st, &signed, was_expired, StatusCode::BAD_REQUEST, &errors);
    }
    let result = st
        .directory
        .change_password(&signed.account.id, current, fields.get("password"), client)
        .await;
    match result {
        Ok(account) => {
            // This browser stays signed in under the new password; every other ends.
            if let Err(e) = st.browser.password_changed(&headers, &account) {
                return unavailable(e);
            }
            see_other(&super::with_notice(super::visit::menu::ME, "mot-de-passe"))
        }
        Err(ref e @ DirError::TooManyAttempts { retry_after }) => {
            let fe = FieldError::new(
                "current_password",
                format!("Trop de tentatives : réessayez dans {retry_after} secondes."),
            );
            change_page(&st, &signed, was_expired, refusal::status(e), &[fe])
        }
        Err(e) => match tied(
            &e,
            &[("current", "current_password"), ("password", "password")],
        ) {
            Some(fe) => change_page(&st, &signed, was_expired, refusal::status(&e), &[fe]),
            None => signed.refusal(e, None, (super::visit::RENEWAL, "Recommencer")),
        },
    }
}
