//! The issuer's pages, in French, server-rendered, usable without JavaScript: sign-in,
//! password renewal, errors, logout, and the form-post answer.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use maud::{DOCTYPE, Markup, PreEscaped, html};

/// The one stylesheet, inline (allowed by its hash in the CSP).
const STYLE: &str = "body{font-family:Marianne,Arial,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem;color:#161616;line-height:1.5}\
label{display:block;font-weight:bold;margin-top:1rem}input{display:block;width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}\
button{margin-top:1.5rem;padding:.6rem 1.2rem;font-size:1rem;background:#000091;color:#fff;border:0}\
.erreur{color:#ce0500}.resume{border-left:4px solid #ce0500;padding:.5rem 1rem}.aide{font-size:.9rem;color:#3a3a3a}";

/// The script that submits a form-post answer (allowed by its hash in the CSP).
const SUBMIT: &str = "document.forms[0].submit();";

fn csp_hash(s: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, s.as_bytes());
    format!("'sha256-{}'", STANDARD.encode(d.as_ref()))
}

/// An error tied to one field of a form.
#[derive(Debug, Clone)]
pub struct FieldError {
    /// The field's name.
    pub field: &'static str,
    /// What is wrong, for a person.
    pub message: String,
}

fn layout(title: &str, has_error: bool, body: Markup) -> Markup {
    let full = if has_error {
        format!("Erreur : {title} – APEX Partenaires")
    } else {
        format!("{title} – APEX Partenaires")
    };
    html! {
        (DOCTYPE)
        html lang="fr" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (full) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header { p { "Mon espace APEX Partenaires" } }
                main id="contenu" { h1 { (title) } (body) }
            }
        }
    }
}

/// The summary of errors at the top of a form, linking to each field.
fn summary(error: Option<&FieldError>) -> Markup {
    html! {
        @if let Some(e) = error {
            div class="resume" role="alert" {
                p { "Le formulaire contient une erreur :" }
                ul { li { a href={ "#" (e.field) } { (e.message) } } }
            }
        }
    }
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
    let err = error.filter(|e| e.field == name);
    let hint_id = format!("{name}-aide");
    let err_id = format!("{name}-erreur");
    let mut described = Vec::new();
    if hint.is_some() {
        described.push(hint_id.clone());
    }
    if err.is_some() {
        described.push(err_id.clone());
    }
    let described = (!described.is_empty()).then(|| described.join(" "));
    html! {
        label for=(name) { (label) }
        @if let Some(h) = hint { p class="aide" id=(hint_id) { (h) } }
        @if let Some(e) = err { p class="erreur" id=(err_id) { "Erreur : " (e.message) } }
        input id=(name) name=(name) type=(kind) value=(value) autocomplete=(autocomplete)
            required aria-invalid=[err.map(|_| "true")] aria-describedby=[described];
    }
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
            script { (PreEscaped(SUBMIT)) }
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
    let csp = format!(
        "default-src 'none'; style-src {}; script-src {}; base-uri 'none'; frame-ancestors 'none'",
        csp_hash(STYLE),
        csp_hash(SUBMIT)
    );
    let mut r = (status, page.into_string()).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    r
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
