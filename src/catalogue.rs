//! The application catalogue (`config/catalogue.toml`): categories, applications,
//! profiles, and the OIDC client and LDAP service account of each application.

use std::collections::HashSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::auth::password::verify_blocking;
use crate::config::{Problem, Problems};
use crate::domain::ProfileId;
use crate::domain::profile::is_code;

/// The secret of the demo OIDC client, published with the demo catalogue.
pub const DEMO_CLIENT_SECRET: &str = "demo-client-secret";
/// The bind secret of the demo LDAP service account, published with it too.
pub const DEMO_LDAP_SECRET: &str = "ficoba-ldap-secret";

/// The whole catalogue.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    /// Structure categories.
    #[serde(default, rename = "category")]
    pub categories: Vec<Category>,
    /// DGFiP applications.
    #[serde(default, rename = "application")]
    pub applications: Vec<Application>,
}

/// A category of structures and the applications it may receive.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Category {
    /// Code (e.g. `CSP`).
    pub code: String,
    /// Label.
    pub label: String,
    /// Codes of the applications its structures may receive.
    #[serde(default)]
    pub applications: Vec<String>,
}

/// A DGFiP application.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Application {
    /// Code (e.g. `FICOBA`).
    pub code: String,
    /// Name.
    pub name: String,
    /// Where the portal sends people.
    pub url: String,
    /// Without a profile on it, OIDC answers access_denied.
    #[serde(default = "yes")]
    pub require_habilitation: bool,
    /// Its profiles.
    #[serde(default, rename = "profile")]
    pub profiles: Vec<ApplicationProfile>,
    /// Its OpenID Connect client, if any.
    pub oidc: Option<OidcClient>,
    /// Its LDAP service account, if any.
    pub ldap: Option<LdapServiceAccount>,
}

fn yes() -> bool {
    true
}

/// A profile of an application.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationProfile {
    /// Code, unique within the application.
    pub code: String,
    /// Label.
    pub label: String,
}

/// The argon2id PHC string of a secret, or two while the secret is rotated
/// (`["$argon2id$…new", "$argon2id$…old"]`): a secret matching either is accepted, so
/// that the application switches without a cut-over, and the old one is removed after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SecretHash {
    /// One secret.
    One(String),
    /// During a rotation.
    Rotating(Vec<String>),
}

/// Most hashes a secret may have at once.
pub const MAX_SECRET_HASHES: usize = 2;

impl SecretHash {
    /// Every hash.
    pub fn all(&self) -> &[String] {
        match self {
            SecretHash::One(h) => std::slice::from_ref(h),
            SecretHash::Rotating(hs) => hs,
        }
    }

    /// The problem with these hashes, if any: one or two argon2id PHC strings.
    fn problem(&self) -> Option<(String, &'static str)> {
        let all = self.all();
        if all.is_empty() || all.len() > MAX_SECRET_HASHES {
            return Some((
                format!("{} hashes", all.len()),
                "one argon2id PHC string, or two while a secret is rotated",
            ));
        }
        all.iter()
            .find(|h| !crate::auth::password::is_argon2id_phc(h))
            .map(|h| (h.clone(), "must be an argon2id PHC string"))
    }
}

/// The OpenID Connect client of an application.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcClient {
    /// `client_id`.
    pub client_id: String,
    /// argon2id PHC of the secret (two during a rotation); absent for a public client
    /// (PKCE S256 required).
    pub client_secret_hash: Option<SecretHash>,
    /// Exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Where RP-initiated logout may return.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// ID token signature algorithm.
    #[serde(default = "rs256")]
    pub id_token_signed_response_alg: String,
    /// Back-channel logout endpoint.
    pub backchannel_logout_uri: Option<String>,
    /// The one way it authenticates at the token, introspection and revocation
    /// endpoints: `client_secret_basic`, `client_secret_post`, or `none` (public).
    /// Absent: either secret method for a confidential client, `none` for a public one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<String>,
}

fn rs256() -> String {
    "RS256".into()
}

/// The LDAP service account of a legacy application.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdapServiceAccount {
    /// argon2id PHC of the bind secret (two during a rotation).
    pub bind_secret_hash: SecretHash,
    /// Account attributes it may read (empty: the default list).
    #[serde(default)]
    pub attributes: Vec<String>,
    /// Where its binds may come from (CIDR ranges); empty: from anywhere. A bind from
    /// elsewhere is refused before its secret is even checked.
    #[serde(default)]
    pub allowed_sources: Vec<String>,
    /// `allowed_sources` parsed, once (checked at load: a list that does not parse
    /// lets nobody in).
    #[serde(skip)]
    parsed_sources: std::sync::OnceLock<Vec<crate::auth::addr::Cidr>>,
}

impl LdapServiceAccount {
    /// Whether a bind from this address may be tried at all.
    pub fn allows_source(&self, addr: std::net::IpAddr) -> bool {
        if self.allowed_sources.is_empty() {
            return true;
        }
        let ranges = self.parsed_sources.get_or_init(|| {
            crate::auth::addr::parse_list(&self.allowed_sources).unwrap_or_default()
        });
        crate::auth::addr::any_contains(ranges, addr)
    }
}

/// The signature algorithms an ID token may use.
pub const ID_TOKEN_ALGS: [&str; 3] = ["RS256", "ES256", "EdDSA"];

impl Catalogue {
    /// Reads a catalogue file, unchecked: [`Catalogue::check`] and each face's own
    /// check follow (`server::load_catalogue` runs them all).
    pub fn read(path: &Path) -> Result<Catalogue, Problems> {
        let file = path.display().to_string();
        let one = |message: String| {
            Problems(vec![Problem {
                file: file.clone(),
                key: String::new(),
                value: String::new(),
                message,
            }])
        };
        let text = std::fs::read_to_string(path).map_err(|e| one(format!("cannot read: {e}")))?;
        toml::from_str(&text).map_err(|e| one(e.message().to_owned()))
    }

    /// The secrets that still are the demo catalogue's published ones: anyone who
    /// read the demo could authenticate as these applications. `serve` refuses them
    /// unless `--dev`. Costs one argon2 verification per application secret.
    pub fn published_demo_secrets(&self, file: &str) -> Vec<Problem> {
        let mut out = Vec::new();
        let mut found = |key: String, secret: &str| {
            out.push(Problem {
                file: file.to_owned(),
                key,
                value: format!("hash of « {secret} »"),
                message: "the demo catalogue's published secret: anyone may authenticate as \
                          this application. Give it its own secret (apex-idp hash-secret), or \
                          pass --dev on a development machine"
                    .to_owned(),
            })
        };
        for app in &self.applications {
            let k = format!("application[{}]", app.code);
            if let Some(hash) = app
                .oidc
                .as_ref()
                .and_then(|o| o.client_secret_hash.as_ref())
                && hash
                    .all()
                    .iter()
                    .any(|h| verify_blocking(DEMO_CLIENT_SECRET, h))
            {
                found(format!("{k}.oidc.client_secret_hash"), DEMO_CLIENT_SECRET);
            }
            if let Some(ldap) = &app.ldap
                && ldap
                    .bind_secret_hash
                    .all()
                    .iter()
                    .any(|h| verify_blocking(DEMO_LDAP_SECRET, h))
            {
                found(format!("{k}.ldap.bind_secret_hash"), DEMO_LDAP_SECRET);
            }
        }
        out
    }

    /// Checks the catalogue as a whole.
    pub fn check(&self, file: &str) -> Vec<Problem> {
        let mut out = Vec::new();
        let mut bad = |key: String, value: &str, message: &str| {
            out.push(Problem {
                file: file.to_owned(),
                key,
                value: value.to_owned(),
                message: message.to_owned(),
            })
        };
        let mut app_codes = HashSet::new();
        let mut client_ids = HashSet::new();
        for app in &self.applications {
            let k = format!("application[{}]", app.code);
            if !is_code(&app.code) {
                bad(
                    format!("{k}.code"),
                    &app.code,
                    "letters, digits, _ and - only",
                );
            }
            if !app_codes.insert(app.code.as_str()) {
                bad(format!("{k}.code"), &app.code, "duplicate application code");
            }
            if !is_http_url(&app.url) {
                bad(
                    format!("{k}.url"),
                    &app.url,
                    "must be an absolute http(s) URL",
                );
            }
            let mut profile_codes = HashSet::new();
            for p in &app.profiles {
                if !is_code(&p.code) {
                    bad(
                        format!("{k}.profile.code"),
                        &p.code,
                        "letters, digits, _ and - only",
                    );
                }
                if !profile_codes.insert(p.code.as_str()) {
                    bad(
                        format!("{k}.profile.code"),
                        &p.code,
                        "duplicate profile code in this application",
                    );
                }
            }
            if let Some(oidc) = &app.oidc {
                if oidc.client_id.is_empty()
                    || !oidc.client_id.chars().all(|c| c.is_ascii_graphic())
                {
                    bad(
                        format!("{k}.oidc.client_id"),
                        &oidc.client_id,
                        "must be printable ASCII",
                    );
                }
                if !client_ids.insert(oidc.client_id.as_str()) {
                    bad(
                        format!("{k}.oidc.client_id"),
                        &oidc.client_id,
                        "duplicate client_id",
                    );
                }
                if let Some((value, message)) = oidc
                    .client_secret_hash
                    .as_ref()
                    .and_then(SecretHash::problem)
                {
                    bad(format!("{k}.oidc.client_secret_hash"), &value, message);
                }
                if oidc.redirect_uris.is_empty() {
                    bad(
                        format!("{k}.oidc.redirect_uris"),
                        "[]",
                        "at least one redirect URI",
                    );
                }
                for uri in &oidc.redirect_uris {
                    if let Err(m) = check_redirect_uri(uri) {
                        bad(format!("{k}.oidc.redirect_uris"), uri, m);
                    }
                }
                for uri in &oidc.post_logout_redirect_uris {
                    if let Err(m) = check_redirect_uri(uri) {
                        bad(format!("{k}.oidc.post_logout_redirect_uris"), uri, m);
                    }
                }
                if let Some(uri) = &oidc.backchannel_logout_uri
                    && let Err(m) = check_redirect_uri(uri)
                {
                    bad(format!("{k}.oidc.backchannel_logout_uri"), uri, m);
                }
                let public = oidc.client_secret_hash.is_none();
                match oidc.token_endpoint_auth_method.as_deref() {
                    None => {}
                    Some("none") if public => {}
                    Some("client_secret_basic" | "client_secret_post") if !public => {}
                    Some(m @ "none") => bad(
                        format!("{k}.oidc.token_endpoint_auth_method"),
                        m,
                        "a client with a secret cannot use none",
                    ),
                    Some(m @ ("client_secret_basic" | "client_secret_post")) => bad(
                        format!("{k}.oidc.token_endpoint_auth_method"),
                        m,
                        "a public client (no client_secret_hash) can only use none",
                    ),
                    Some(m) => bad(
                        format!("{k}.oidc.token_endpoint_auth_method"),
                        m,
                        "must be client_secret_basic, client_secret_post or none",
                    ),
                }
                if !ID_TOKEN_ALGS.contains(&oidc.id_token_signed_response_alg.as_str()) {
                    bad(
                        format!("{k}.oidc.id_token_signed_response_alg"),
                        &oidc.id_token_signed_response_alg,
                        "must be RS256, ES256 or EdDSA",
                    );
                }
            }
            if let Some(ldap) = &app.ldap {
                if let Some((value, message)) = ldap.bind_secret_hash.problem() {
                    bad(format!("{k}.ldap.bind_secret_hash"), &value, message);
                }
                for range in &ldap.allowed_sources {
                    if let Err(e) = range.parse::<crate::auth::addr::Cidr>() {
                        bad(format!("{k}.ldap.allowed_sources"), range, &e.to_string());
                    }
                }
            }
        }
        let mut category_codes = HashSet::new();
        for cat in &self.categories {
            let k = format!("category[{}]", cat.code);
            if !is_code(&cat.code) {
                bad(
                    format!("{k}.code"),
                    &cat.code,
                    "letters, digits, _ and - only",
                );
            }
            if !category_codes.insert(cat.code.as_str()) {
                bad(format!("{k}.code"), &cat.code, "duplicate category code");
            }
            for a in &cat.applications {
                if !app_codes.contains(a.as_str()) {
                    bad(format!("{k}.applications"), a, "unknown application");
                }
            }
        }
        out
    }

    /// The category with this code.
    pub fn category(&self, code: &str) -> Option<&Category> {
        self.categories.iter().find(|c| c.code == code)
    }

    /// The application with this code.
    pub fn application(&self, code: &str) -> Option<&Application> {
        self.applications.iter().find(|a| a.code == code)
    }

    /// The application whose OIDC client has this id.
    pub fn by_client_id(&self, client_id: &str) -> Option<&Application> {
        self.applications
            .iter()
            .find(|a| a.oidc.as_ref().is_some_and(|o| o.client_id == client_id))
    }

    /// Whether the catalogue defines this profile.
    pub fn has_profile(&self, profile: &ProfileId) -> bool {
        self.application(profile.app())
            .is_some_and(|a| a.profiles.iter().any(|p| p.code == profile.profile()))
    }

    /// Whether structures of this category may receive this profile.
    pub fn is_entitled(&self, category: &str, profile: &ProfileId) -> bool {
        self.has_profile(profile)
            && self
                .category(category)
                .is_some_and(|c| c.applications.iter().any(|a| a == profile.app()))
    }

    /// The label of a profile, if defined.
    pub fn profile_label(&self, profile: &ProfileId) -> Option<&str> {
        self.application(profile.app())?
            .profiles
            .iter()
            .find(|p| p.code == profile.profile())
            .map(|p| p.label.as_str())
    }
}

fn is_http_url(s: &str) -> bool {
    url::Url::parse(s)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
}

/// A redirect URI is absolute, has no fragment, and uses https (http only on loopback).
fn check_redirect_uri(uri: &str) -> Result<(), &'static str> {
    let u = url::Url::parse(uri).map_err(|_| "must be an absolute URL")?;
    if u.fragment().is_some() {
        return Err("must not contain a fragment");
    }
    let loopback = matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match u.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err("http is allowed on loopback only; use https"),
        _ => Err("must be an https URL"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldap_binds_come_only_from_the_allowed_sources() {
        let parse = |sources: &str| -> LdapServiceAccount {
            toml::from_str(&format!(
                "bind_secret_hash = \"x\"\nallowed_sources = {sources}"
            ))
            .unwrap()
        };
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        let anywhere = parse("[]");
        assert!(anywhere.allows_source(ip("203.0.113.9")));
        let office = parse(r#"["10.1.0.0/16", "2001:db8::/48"]"#);
        for _ in 0..2 {
            // Parsed at the first bind, then kept: the same answers.
            assert!(office.allows_source(ip("10.1.200.3")));
            assert!(office.allows_source(ip("2001:db8:0:7::1")));
            assert!(!office.allows_source(ip("10.2.0.1")));
            assert!(!office.allows_source(ip("2001:db9::1")));
        }
        // A list that does not parse (refused at load) lets nobody in.
        let broken = parse(r#"["10.1.0.0/16", "not-a-range"]"#);
        assert!(!broken.allows_source(ip("10.1.0.1")));
    }

    #[test]
    fn shipped_catalogue_is_valid() {
        // With the faces' own checks, as the server loads it.
        let c = crate::server::load_catalogue(Path::new("config/catalogue.toml")).unwrap();
        assert!(!c.applications.is_empty());
    }

    #[test]
    fn a_secret_has_one_hash_or_two_during_a_rotation() {
        let phc = "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
        let with = |hashes: &str| {
            let text = format!(
                "[[application]]\ncode = \"APP\"\nname = \"a\"\nurl = \"https://a.test/\"\n  [[application.profile]]\n  code = \"P\"\n  label = \"p\"\n  [application.ldap]\n  bind_secret_hash = {hashes}\n"
            );
            let c: Catalogue = toml::from_str(&text).unwrap();
            c.check("catalogue.toml")
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        };
        assert!(with(&format!("\"{phc}\"")).is_empty());
        assert!(with(&format!("[\"{phc}\", \"{phc}\"]")).is_empty());
        let three = with(&format!("[\"{phc}\", \"{phc}\", \"{phc}\"]"));
        assert!(
            three
                .iter()
                .any(|m| m.contains("two while a secret is rotated")),
            "{three:?}"
        );
        assert!(!with("[]").is_empty(), "no hash at all");
        let plain = with(&format!("[\"{phc}\", \"plaintext\"]"));
        assert!(plain.iter().any(|m| m.contains("argon2id")), "{plain:?}");
    }

    #[test]
    fn every_problem_is_listed() {
        let text = r#"
            [[category]]
            code = "CSP"
            label = "x"
            applications = ["NOPE"]
            [[category]]
            code = "CSP"
            label = "y"
            [[application]]
            code = "APP"
            name = "a"
            url = "https://a.test/"
              [[application.profile]]
              code = "P"
              label = "p"
              [[application.profile]]
              code = "P"
              label = "p"
              [application.oidc]
              client_id = "app"
              client_secret_hash = "plaintext"
              redirect_uris = ["http://evil.test/cb", "https://a.test/cb#frag", "not a url"]
              id_token_signed_response_alg = "HS256"
        "#;
        let c: Catalogue = toml::from_str(text).unwrap();
        let problems = c.check("catalogue.toml");
        let msgs: Vec<String> = problems.iter().map(ToString::to_string).collect();
        let has = |s: &str| msgs.iter().any(|m| m.contains(s));
        assert!(has("unknown application"), "{msgs:#?}");
        assert!(has("duplicate category code"));
        assert!(has("duplicate profile code"));
        assert!(has("argon2id"));
        assert!(has("http is allowed on loopback only"));
        assert!(has("fragment"));
        assert!(has("absolute URL"));
        assert!(has("RS256, ES256 or EdDSA"));
        assert_eq!(problems.len(), 8, "{msgs:#?}");
    }
}
