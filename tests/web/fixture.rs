//! The web fixture: the shared test server (`tests/common`) over the demo directory
//! (people of every role and state); browsers that keep their own cookies, follow no
//! redirect and sign their forms with their CSRF token.

use crate::common::{self, Browser, Resp, TestServer};

/// The password of every demo person.
pub const PASSWORD: &str = apex_idp::demo::DEMO_PASSWORD;
/// A password every policy accepts.
pub const NEW_PASSWORD: &str = "Girafe-Velours-Tuba-93";

/// A running server over the demo directory.
pub type Site = TestServer;

impl Site {
    pub async fn start() -> Site {
        Self::start_at("http://apex.test").await
    }

    /// A server whose `public_url` is `public_url`.
    pub async fn start_at(public_url: &str) -> Site {
        Self::serve(public_url, true).await
    }

    /// A server over an empty directory.
    pub async fn empty() -> Site {
        Self::serve("http://apex.test", false).await
    }

    async fn serve(public_url: &str, demo: bool) -> Site {
        let dir = tempfile::tempdir().unwrap();
        let mut config = common::test_config(dir.path());
        config.server.public_url = public_url.into();
        // The web space is tested without the operator API.
        config.operator.token_hashes.clear();
        let http = common::browser_client();
        TestServer::launch(dir, &config, http, async |directory| {
            if demo {
                apex_idp::demo::seed(directory).await.unwrap();
            }
        })
        .await
    }

    /// A browser signed in as a demo person.
    pub async fn signed_in(&self, family: &str) -> Browser {
        self.signed_in_as(&self.person(family).login).await
    }

    /// A browser signed in with an identifier (and the demo password).
    pub async fn signed_in_as(&self, login: &str) -> Browser {
        let b = self.browser();
        let family = login;
        let page = b.get("/").await;
        assert_eq!(page.status, 200, "{}", page.body);
        let r = b
            .post("/", &[("login", login), ("password", PASSWORD)])
            .await;
        assert_eq!(r.status, 303, "sign-in of {family}: {}", r.body);
        assert_eq!(r.location(), "/applications");
        b
    }
}

impl Resp {
    /// The `Location` header, empty when absent.
    pub fn location(&self) -> String {
        self.header("location").to_owned()
    }

    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "{}", self.body);
        self
    }

    /// Asserts that the body contains `text`.
    #[track_caller]
    pub fn shows(&self, text: &str) -> &Self {
        assert!(
            self.body.contains(text),
            "expected {text:?} in:\n{}",
            self.body
        );
        self
    }

    /// Asserts that the body does not contain `text`.
    #[track_caller]
    pub fn hides(&self, text: &str) -> &Self {
        assert!(
            !self.body.contains(text),
            "did not expect {text:?} in:\n{}",
            self.body
        );
        self
    }

    /// The `main` element's content.
    pub fn main(&self) -> &str {
        let start = self.body.find("<main").unwrap_or(0);
        let end = self.body.find("</main>").unwrap_or(self.body.len());
        &self.body[start..end]
    }

    /// Asserts that the page tells the field `id` is wrong: the input is marked invalid
    /// and described by its error, and the summary links to it.
    #[track_caller]
    pub fn field_error(&self, id: &str) -> &Self {
        self.shows(&format!("href=\"#{id}\""));
        self.shows(&format!("id=\"{id}-erreur\""));
        let input = self
            .body
            .split(&format!("id=\"{id}\""))
            .nth(1)
            .and_then(|rest| rest.split('>').next())
            .unwrap_or_else(|| panic!("no field {id} in:\n{}", self.body));
        assert!(input.contains("aria-invalid=\"true\""), "{input}");
        assert!(input.contains(&format!("{id}-erreur")), "{input}");
        assert!(self.body.contains("<title>Erreur : "), "title says error");
        self
    }
}

/// The web pages' browser: paths are relative to the site, pages are asked for as HTML,
/// forms carry the CSRF token the pages' hidden field gives.
impl Browser {
    pub async fn get(&self, path: &str) -> Resp {
        let request = self.http.get(self.url(path)).header("accept", "text/html");
        self.send(request).await
    }

    /// Posts a form with this browser's CSRF token.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Resp {
        let csrf = self.csrf().await;
        let mut fields: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
        fields.extend_from_slice(form);
        self.post_raw(path, &fields).await
    }

    /// Posts a form exactly as given (no CSRF token added).
    pub async fn post_raw(&self, path: &str, form: &[(&str, &str)]) -> Resp {
        let request = self
            .http
            .post(self.url(path))
            .header("accept", "text/html")
            .form(form);
        self.send(request).await
    }

    /// The CSRF token of this browser's forms, as its pages give it now (it is bound to
    /// the browser's cookies, session included): read from a form's hidden field.
    pub async fn csrf(&self) -> String {
        self.get("/password-resets").await.hidden("csrf")
    }
}
