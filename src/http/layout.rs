//! The one layout of every page, the web space's and the issuer's: French, a skip
//! link, landmarks, labels tied to their inputs, errors tied to their fields with a
//! summary at the top, one static stylesheet (no inline style nor script, so that the
//! Content-Security-Policy forbids them).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

/// The stylesheet of every page.
pub const STYLESHEET: &str = include_str!("static/apex.css");
/// The script that submits an OIDC form-post answer (the page works without it).
pub const FORM_POST_SCRIPT: &str = include_str!("static/envoi.js");
/// Where the stylesheet is served.
pub const STYLESHEET_PATH: &str = "/static/apex.css";
/// Where the form-post script is served.
pub const FORM_POST_SCRIPT_PATH: &str = "/static/envoi.js";
/// The name of the service, in every title and header.
pub const SERVICE_NAME: &str = "Mon espace APEX Partenaires";

/// The policy of the web space's pages: nothing but this site's stylesheet, no script,
/// forms only to this site, never framed.
pub const PAGE_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
    form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// An error tied to one field of a form (by the field's `id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The `id` of the input at fault.
    pub field: &'static str,
    /// What is wrong, for a person.
    pub message: String,
}

impl FieldError {
    /// An error on a field.
    pub fn new(field: &'static str, message: impl Into<String>) -> FieldError {
        FieldError {
            field,
            message: message.into(),
        }
    }
}

/// One entry of the main menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuItem {
    /// Where it leads.
    pub href: &'static str,
    /// What it says.
    pub label: &'static str,
}

/// What the header shows to a signed-in person: who he is, the menu, the sign-out.
#[derive(Debug, Clone)]
pub struct Chrome {
    /// "Given FAMILY".
    pub who: String,
    /// His role and structure, in a few words.
    pub detail: String,
    /// The main menu.
    pub menu: Vec<MenuItem>,
    /// The menu entry of the current page (its `href`), if any.
    pub current: Option<&'static str>,
    /// The CSRF token of the sign-out form.
    pub csrf: String,
}

/// The title of a page as the browser tab shows it.
pub fn full_title(title: &str, has_error: bool) -> String {
    if has_error {
        format!("Erreur : {title} – {SERVICE_NAME}")
    } else {
        format!("{title} – {SERVICE_NAME}")
    }
}

/// A whole page: `body` goes into `main`, after the `h1` of `title`.
pub fn page(title: &str, has_error: bool, chrome: Option<&Chrome>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="fr" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (full_title(title, has_error)) }
                link rel="stylesheet" href=(STYLESHEET_PATH);
            }
            body {
                a class="evitement" href="#contenu" { "Aller au contenu" }
                header class="entete" {
                    div class="entete-interieur" {
                        p class="marque" {
                            a href="/" { (SERVICE_NAME) small { "Direction générale des Finances publiques – espace des partenaires" } }
                        }
                        @if let Some(c) = chrome {
                            div class="compte" {
                                p { "Connecté : " strong { (c.who) } " (" (c.detail) ")" }
                                form method="post" action="/sign-out" {
                                    input type="hidden" name="csrf" value=(c.csrf);
                                    button type="submit" class="secondaire" { "Se déconnecter" }
                                }
                            }
                        }
                    }
                    @if let Some(c) = chrome {
                        nav class="navigation" aria-label="Menu principal" {
                            ul {
                                @for item in &c.menu {
                                    li {
                                        a href=(item.href)
                                          aria-current=[(c.current == Some(item.href)).then_some("page")] {
                                            (item.label)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                main id="contenu" tabindex="-1" {
                    h1 { (title) }
                    (body)
                }
                footer class="pied" {
                    div class="pied-interieur" {
                        p { (SERVICE_NAME) " – service de la Direction générale des Finances publiques pour ses partenaires." }
                        ul {
                            li { a href="/accessibilite" { "Accessibilité : partiellement conforme" } }
                            li { a href="/plan-du-site" { "Plan du site" } }
                        }
                    }
                }
            }
        }
    }
}

/// The summary of a form's errors, at the top, each linking to its field.
pub fn summary(errors: &[FieldError]) -> Markup {
    html! {
        @if !errors.is_empty() {
            div class="resume" role="alert" {
                h2 {
                    @if errors.len() == 1 { "Le formulaire contient une erreur" }
                    @else { "Le formulaire contient " (errors.len()) " erreurs" }
                }
                ul {
                    @for e in errors {
                        li { a href={ "#" (e.field) } { (e.message) } }
                    }
                }
            }
        }
    }
}

/// A status message after an action (`role="status"`).
pub fn notice(message: &str) -> Markup {
    html! { div class="succes" role="status" { p { (message) } } }
}

/// A refusal or a problem shown above a page's content.
pub fn alert(message: &str, items: &[String]) -> Markup {
    html! {
        div class="alerte" role="alert" {
            p { (message) }
            @if !items.is_empty() { ul { @for i in items { li { (i) } } } }
        }
    }
}

/// The hint under the title of a form: required fields.
pub fn required_note() -> Markup {
    html! { p class="aide" { "Sauf mention contraire, tous les champs sont obligatoires." } }
}

/// The hidden CSRF field of a form.
pub fn csrf_field(csrf: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(csrf); }
}

/// One labelled input.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    /// Its `id` (unique in the page; errors name it).
    pub id: &'static str,
    /// Its `name` in the form.
    pub name: &'a str,
    /// Its label.
    pub label: &'a str,
    /// `text`, `email`, `password`, `search`.
    pub kind: &'a str,
    /// Its value.
    pub value: &'a str,
    /// Its `autocomplete` token.
    pub autocomplete: Option<&'a str>,
    /// A hint shown between label and input.
    pub hint: Option<&'a str>,
    /// Whether it must be filled.
    pub required: bool,
}

impl<'a> Input<'a> {
    /// A required text input whose `id` is its `name`.
    pub fn new(id: &'static str, label: &'a str) -> Input<'a> {
        Input {
            id,
            name: id,
            label,
            kind: "text",
            value: "",
            autocomplete: None,
            hint: None,
            required: true,
        }
    }

    /// Sets the type.
    pub fn kind(mut self, kind: &'a str) -> Self {
        self.kind = kind;
        self
    }

    /// Sets the name (when it differs from the id).
    pub fn name(mut self, name: &'a str) -> Self {
        self.name = name;
        self
    }

    /// Sets the value.
    pub fn value(mut self, value: &'a str) -> Self {
        self.value = value;
        self
    }

    /// Sets the autocomplete token.
    pub fn autocomplete(mut self, token: &'a str) -> Self {
        self.autocomplete = Some(token);
        self
    }

    /// Sets the hint.
    pub fn hint(mut self, hint: &'a str) -> Self {
        self.hint = Some(hint);
        self
    }

    /// Makes it optional.
    pub fn optional(mut self) -> Self {
        self.required = false;
        self
    }

    /// Renders it with its hint and its error, both tied by `aria-describedby`.
    pub fn render(&self, errors: &[FieldError]) -> Markup {
        let tie = Tie::new(self.id, self.hint.is_some(), errors);
        html! {
            div class=(tie.class()) {
                label for=(self.id) {
                    (self.label)
                    @if !self.required { " (facultatif)" }
                }
                (tie.texts(self.hint))
                input id=(self.id) name=(self.name) type=(self.kind) value=(self.value)
                    autocomplete=[self.autocomplete] required[self.required]
                    aria-invalid=[tie.invalid()] aria-describedby=[tie.described()];
            }
        }
    }
}

/// A labelled `select`: `options` are (value, label); `selected` is a value.
pub fn select(
    id: &'static str,
    name: &str,
    label: &str,
    options: &[(String, String)],
    selected: &str,
    hint: Option<&str>,
    errors: &[FieldError],
) -> Markup {
    let tie = Tie::new(id, hint.is_some(), errors);
    html! {
        div class=(tie.class()) {
            label for=(id) { (label) }
            (tie.texts(hint))
            select id=(id) name=(name)
                aria-invalid=[tie.invalid()] aria-describedby=[tie.described()] {
                @for (value, text) in options {
                    option value=(value) selected[value == selected] { (text) }
                }
            }
        }
    }
}

/// How a field is tied to its hint and its error.
struct Tie<'e> {
    id: &'static str,
    hint: bool,
    error: Option<&'e FieldError>,
}

impl<'e> Tie<'e> {
    fn new(id: &'static str, hint: bool, errors: &'e [FieldError]) -> Tie<'e> {
        Tie {
            id,
            hint,
            error: errors.iter().find(|e| e.field == id),
        }
    }

    fn class(&self) -> &'static str {
        if self.error.is_some() {
            "champ champ-erreur"
        } else {
            "champ"
        }
    }

    fn invalid(&self) -> Option<&'static str> {
        self.error.map(|_| "true")
    }

    fn described(&self) -> Option<String> {
        let mut ids = Vec::new();
        if self.hint {
            ids.push(format!("{}-aide", self.id));
        }
        if self.error.is_some() {
            ids.push(format!("{}-erreur", self.id));
        }
        (!ids.is_empty()).then(|| ids.join(" "))
    }

    fn texts(&self, hint: Option<&str>) -> Markup {
        html! {
            @if let Some(h) = hint { p class="aide" id={ (self.id) "-aide" } { (h) } }
            @if let Some(e) = self.error {
                p class="erreur" id={ (self.id) "-erreur" } { "Erreur : " (e.message) }
            }
        }
    }
}

/// An HTML answer with the web space's security headers.
pub fn respond(status: StatusCode, page: Markup) -> Response {
    respond_with(status, page, PAGE_CSP)
}

/// An HTML answer with the security headers of pages and the given policy.
pub fn respond_with(status: StatusCode, page: Markup, csp: &'static str) -> Response {
    let mut r = (status, page.into_string()).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    r
}

/// A static asset, cached for an hour.
pub fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_tied_to_their_input_and_summarised() {
        let errors = [FieldError::new("password", "trop court")];
        let form = html! {
            (summary(&errors))
            (Input::new("password", "Mot de passe").kind("password").hint("12 caractères").render(&errors))
        }
        .into_string();
        assert!(form.contains("href=\"#password\""));
        assert!(form.contains("aria-describedby=\"password-aide password-erreur\""));
        assert!(form.contains("aria-invalid=\"true\""));
        assert!(form.contains("<label for=\"password\">"));
    }

    #[test]
    fn the_layout_is_french_with_a_skip_link_and_no_inline_style() {
        let p = page("Essai <b>", true, None, html! { p { "x" } }).into_string();
        assert!(p.contains("<html lang=\"fr\">"));
        assert!(p.contains("href=\"#contenu\""));
        assert!(p.contains("<title>Erreur : Essai &lt;b&gt;"));
        assert!(!p.contains("<style") && !p.contains("style=") && !p.contains("<script"));
        assert!(!STYLESHEET.contains("Marianne"));
    }
}
