//! Who is behind a page request: any browser (with its CSRF token), a signed-in person
//! (through the issuer's SSO session), and the fields of a posted form, whose CSRF
//! token is checked before any handler runs.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{Form, FromRequest, FromRequestParts, OriginalUri, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

use super::layout::{self, Chrome, MenuItem};
use super::refusal;
use crate::directory::DirError;
use crate::domain::rights::allowance;
use crate::domain::{Account, Actor, Function, Structure};
use crate::web::AppState;

/// Where the person goes once signed in.
pub const HOME: &str = "/applications";
/// The page where an expired password is renewed (the only one it may open).
pub const RENEWAL: &str = "/me/password";

/// A 303 to a page of this site.
pub fn see_other(location: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// An error page for a visitor who is not signed in.
pub fn plain_error(status: StatusCode, title: &str, message: &str) -> Response {
    layout::respond(
        status,
        layout::page(
            title,
            true,
            None,
            html! {
                (layout::alert(message, &[]))
                p { a href="/" { "Revenir à la page d'accueil" } }
            },
        ),
    )
}

/// The page of a failure of the service (the store, the hasher).
pub fn unavailable(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "web page");
    plain_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Service indisponible",
        "Le service rencontre un problème ; l'opération n'a pas été faite. Réessayez dans quelques instants.",
    )
}

fn with_cookie(mut r: Response, set: Option<&HeaderValue>) -> Response {
    if let Some(c) = set {
        r.headers_mut().append(header::SET_COOKIE, c.clone());
    }
    r
}

/// Any browser: its CSRF token, sent as a cookie with the answer when it is new.
pub struct Visitor {
    /// The token the page's forms carry.
    pub csrf: String,
    set_csrf: Option<HeaderValue>,
}

impl FromRequestParts<Arc<AppState>> for Visitor {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let (csrf, set_csrf) = state.browser.csrf(&parts.headers);
        Ok(Visitor { csrf, set_csrf })
    }
}

impl Visitor {
    /// A page for a visitor who is not signed in.
    pub fn page(&self, status: StatusCode, title: &str, has_error: bool, body: Markup) -> Response {
        self.send(layout::respond(
            status,
            layout::page(title, has_error, None, body),
        ))
    }

    /// Adds the CSRF cookie to an answer when it is new.
    pub fn send(&self, r: Response) -> Response {
        with_cookie(r, self.set_csrf.as_ref())
    }
}

/// A signed-in person whose account is active.
pub struct Signed {
    /// The matrix's view of him.
    pub actor: Actor,
    /// His account as it is now.
    pub account: Account,
    /// His structure.
    pub structure: Structure,
    /// The token the page's forms carry.
    pub csrf: String,
    set_csrf: Option<HeaderValue>,
}

impl FromRequestParts<Arc<AppState>> for Signed {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let dir = &state.directory;
        let session = state
            .browser
            .session(dir.as_ref(), &parts.headers)
            .map_err(unavailable)?
            .ok_or_else(|| see_other("/"))?;
        // A blocked or deleted account is signed out everywhere at once.
        let (actor, account) = dir.actor(&session.account_id).map_err(|_| see_other("/"))?;
        let path = parts
            .extensions
            .get::<OriginalUri>()
            .map_or(parts.uri.path(), |o| o.0.path());
        if session.password_expired && path != RENEWAL {
            return Err(see_other(RENEWAL));
        }
        let structure = dir.structure(&actor.structure_id).map_err(unavailable)?;
        let (csrf, set_csrf) = state.browser.csrf(&parts.headers);
        Ok(Signed {
            actor,
            account,
            structure,
            csrf,
            set_csrf,
        })
    }
}

/// The main menu entries.
pub mod menu {
    /// "Mes applications".
    pub const APPLICATIONS: &str = "/applications";
    /// "Mes données personnelles".
    pub const ME: &str = "/me";
    /// "Ma structure".
    pub const STRUCTURE: &str = "/structure";
}

impl Signed {
    /// Whether the matrix gives his role this function at all.
    pub fn may(&self, function: Function) -> bool {
        allowance(function, self.actor.role).is_some()
    }

    /// The header of his pages: the menu holds exactly his functions.
    pub fn chrome(&self, current: Option<&'static str>) -> Chrome {
        let mut items = Vec::new();
        if self.may(Function::OwnData) {
            items.push(MenuItem {
                href: menu::APPLICATIONS,
                label: "Mes applications",
            });
            items.push(MenuItem {
                href: menu::ME,
                label: "Mes données personnelles",
            });
        }
        if self.may(Function::Consult) {
            items.push(MenuItem {
                href: menu::STRUCTURE,
                label: "Ma structure",
            });
        }
        Chrome {
            who: self.account.display_name(),
            detail: format!("{}, {}", self.actor.role, self.structure.name),
            menu: items,
            current,
            csrf: self.csrf.clone(),
        }
    }

    /// One of his pages.
    pub fn page(
        &self,
        status: StatusCode,
        title: &str,
        current: Option<&'static str>,
        has_error: bool,
        body: Markup,
    ) -> Response {
        let chrome = self.chrome(current);
        let r = layout::respond(status, layout::page(title, has_error, Some(&chrome), body));
        with_cookie(r, self.set_csrf.as_ref())
    }

    /// The page of a refusal of the core: its sentence, and no data. `back` is the
    /// page to return to.
    pub fn refusal(
        &self,
        e: DirError,
        current: Option<&'static str>,
        back: (&str, &str),
    ) -> Response {
        if matches!(
            e,
            DirError::Store(_) | DirError::Hash(_) | DirError::Unavailable(_)
        ) {
            return unavailable(e);
        }
        let (href, label) = back;
        let status = refusal::status(&e);
        let title = refusal::title(&e);
        let blocking = refusal::blocking(&e);
        let body = html! {
            (layout::alert(&refusal::sentence(&e), &blocking))
            p { a href=(href) { (label) } }
        };
        self.page(status, title, current, true, body)
    }
}

/// The fields of a posted form whose CSRF token matched the browser's.
pub struct Posted(pub Fields);

/// The fields of a form, in order.
#[derive(Debug, Clone, Default)]
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    /// The first value of a field, or "".
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Every value of a field (checkboxes).
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

impl FromRequest<Arc<AppState>> for Posted {
    type Rejection = Response;

    async fn from_request(req: Request, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        let headers = req.headers().clone();
        let Ok(Form(fields)) = Form::<Vec<(String, String)>>::from_request(req, state).await else {
            return Err(plain_error(
                StatusCode::BAD_REQUEST,
                "Formulaire illisible",
                "Le formulaire envoyé est illisible. Revenez à la page précédente, rechargez-la et recommencez.",
            ));
        };
        let fields = Fields(fields);
        if !state.browser.csrf_ok(&headers, fields.get("csrf")) {
            return Err(plain_error(
                StatusCode::FORBIDDEN,
                "Formulaire expiré",
                "Ce formulaire a expiré ou ne vient pas de ce site : rien n'a été fait. \
                 Revenez à la page précédente, rechargez-la et recommencez. \
                 Votre navigateur doit accepter les cookies de ce site.",
            ));
        }
        Ok(Posted(fields))
    }
}
