//! The issuer's pages, in French, server-rendered, usable without JavaScript: sign-in,
//! password renewal, errors, logout, and the form-post answer.

use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};

pub use crate::http::layout::FieldError;
use crate::http::layout::{self, FORM_POST_SCRIPT_PATH, Input};

/// The policy of the issuer's pages: the site's stylesheet, and its one script (the
/// form-post answer). No `form-action`: a sign-in form's answer redirects to the
/// application, which browsers would otherwise block.
const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
    base-uri 'none'; frame-ancestors 'none'";

fn layout(title: &str, has_error: bool, body: Markup) -> Markup {
    layout::page(title, has_error, None, body)
}

/// The summary of errors at the top of a form, linking to each field.
fn summary(error: Option<&FieldError>) -> Markup {
    layout::summary(error.cloned().as_slice())
}

/// One labelled input, with its error and hint tied to it.
fn field(
    name: &'static str,
    label: &str,
    kind: &str,
    value: &str,
    autocomplete: &str,
    hint: Option<&str>,
    error: Option<&FieldError>,
) -> Markup {
    let mut input = Input::new(name, label)
        .kind(kind)
        .value(value)
        .autocomplete(autocomplete);
    if let Some(h) = hint {
        input = input.hint(h);
    }
    input.render(error.cloned().as_slice())
}

/// What the sign-in form shows.
#[derive(Debug, Clone)]
pub struct SignInView<'a> {
    /// The application that asks.
    pub app_name: &'a str,
    /// The pending request.
    pub interaction: &'a str,
    /// CSRF token.
    pub csrf: &'a str,
    /// Identifier to pre-fill.
    pub login: &'a str,
    /// The error, if any.
    pub error: Option<FieldError>,
}

/// The sign-in page.
pub fn sign_in(v: &SignInView<'_>) -> Markup {
    let e = v.error.as_ref();
    layout(
        "Connexion",
        e.is_some(),
        html! {
            p { "L'application « " (v.app_name) " » demande votre identification." }
            (summary(e))
            form method="post" action=(super::discovery::path::SIGN_IN) novalidate {
                input type="hidden" name="interaction" value=(v.interaction);
                input type="hidden" name="csrf" value=(v.csrf);
                (field("login", "Identifiant", "text", v.login, "username",
                    Some("L'identifiant reçu par courriel lors de la validation de votre compte."), e))
                (field("password", "Mot de passe", "password", "", "current-password", None, e))
                button type="submit" { "Se connecter" }
            }
            p { a href="/password-resets" { "Mot de passe oublié ?" } }
        },
    )
}

/// What the renewal form shows.
#[derive(Debug, Clone)]
pub struct RenewView<'a> {
    /// The pending request.
    pub interaction: &'a str,
    /// CSRF token.
    pub csrf: &'a str,
    /// The error, if any.
    pub error: Option<FieldError>,
}

/// The password renewal page (password expired).
pub fn renew(v: &RenewView<'_>) -> Markup {
    let e = v.error.as_ref();
    layout(
        "Renouvellement du mot de passe",
        e.is_some(),
        html! {
            p { "Votre mot de passe a expiré. Choisissez-en un nouveau pour continuer vers l'application." }
            (summary(e))
            form method="post" action=(super::discovery::path::RENEW) novalidate {
                input type="hidden" name="interaction" value=(v.interaction);
                input type="hidden" name="csrf" value=(v.csrf);
                (field("current_password", "Mot de passe actuel", "password", "", "current-password", None, e))
                (field("password", "Nouveau mot de passe", "password", "", "new-password",
                    Some("Au moins 12 caractères, différent des précédents et de vos nom, prénom et identifiant."), e))
                (field("password_confirm", "Confirmation du nouveau mot de passe", "password", "", "new-password", None, e))
                button type="submit" { "Changer le mot de passe et continuer" }
            }
        },
    )
}

/// An error page (no redirect possible or wanted).
pub fn error(title: &str, message: &str) -> Markup {
    layout(
        title,
        true,
        html! {
            p role="alert" { (message) }
            p { "Revenez à l'application et recommencez ; si le problème persiste, contactez son assistance." }
        },
    )
}

/// The form-post answer: submitted by script, or by its button without JavaScript.
pub fn form_post(action: &str, fields: &[(&'static str, String)]) -> Markup {
    layout(
        "Retour à l'application",
        false,
        html! {
            form method="post" action=(action) {
                @for (name, value) in fields {
                    input type="hidden" name=(name) value=(value);
                }
                noscript { p { "JavaScript est désactivé : cliquez pour continuer." } }
                button type="submit" { "Continuer vers l'application" }
            }
            script src=(FORM_POST_SCRIPT_PATH) {}
        },
    )
}

/// The logout confirmation (no valid id_token_hint).
pub fn logout_confirm(csrf: &str, fields: &[(&'static str, String)]) -> Markup {
    layout(
        "Déconnexion",
        false,
        html! {
            p { "Voulez-vous vous déconnecter d'APEX Partenaires ?" }
            form method="post" action=(super::discovery::path::LOGOUT) {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="confirm" value="oui";
                @for (name, value) in fields {
                    input type="hidden" name=(name) value=(value);
                }
                button type="submit" { "Se déconnecter" }
            }
        },
    )
}

/// After logout, when there is nowhere to go back to.
pub fn logged_out() -> Markup {
    layout(
        "Vous êtes déconnecté",
        false,
        html! { p { "Votre session APEX Partenaires est terminée." } },
    )
}

/// An HTML answer with the security headers of the issuer's pages.
pub fn respond(status: StatusCode, page: Markup) -> Response {
    layout::respond_with(status, page, CSP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_errors_are_tied_to_their_input() {
        let page = sign_in(&SignInView {
            app_name: "Démo <b>",
            interaction: "i",
            csrf: "c",
            login: "jdupont\"",
            error: Some(FieldError {
                field: "password",
                message: "Identifiant ou mot de passe incorrect.".into(),
            }),
        })
        .into_string();
        assert!(page.contains("lang=\"fr\""));
        assert!(page.contains("<title>Erreur : Connexion"));
        assert!(page.contains("aria-describedby=\"password-erreur\""));
        assert!(page.contains("Démo &lt;b&gt;"), "escaped");
        assert!(page.contains("value=\"jdupont&quot;\""));
    }
}
