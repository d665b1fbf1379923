//! The authorization request: parsed and checked against the catalogue (pure), then
//! decided against the SSO session (pure). The HTTP glue is in `signin`.

use serde::{Deserialize, Serialize};

use super::grants::Authentication;
use super::params::{OAuthError, Params};
use crate::auth::browser::SsoSession;
use crate::catalogue::{Application, Catalogue, OidcClient};
use crate::domain::{Account, AccountState};

/// Scopes we know; others are ignored.
pub const SCOPES: [&str; 4] = ["openid", "profile", "email", "apex"];

/// Longest accepted free-text parameter: a pending request is kept on disk until its
/// sign-in, so an anonymous client must not choose its size. (`code_challenge` has
/// its own bound, 128; an `id_token_hint` is verified, never kept.)
pub const MAX_PARAM_BYTES: usize = 512;

/// The parameters whose length the client chooses freely.
const BOUNDED: [&str; 5] = ["state", "nonce", "login_hint", "scope", "prompt"];

/// How the answer reaches the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResponseMode {
    /// In the query of the redirect URI (303).
    Query,
    /// An auto-submitted HTML form (OAuth 2.0 Form Post Response Mode).
    FormPost,
}

/// Where and how to answer a request whose client and redirect URI are trusted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// The registered redirect URI.
    pub redirect_uri: String,
    /// The client's `state`, echoed.
    pub state: Option<String>,
    /// Query or form post.
    pub response_mode: ResponseMode,
}

/// A checked authorization request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthRequest {
    /// The client.
    pub client_id: String,
    /// Where and how to answer.
    pub target: Target,
    /// Known scopes requested (always with `openid`).
    pub scope: Vec<String>,
    /// Nonce, copied into the ID token.
    pub nonce: Option<String>,
    /// PKCE S256 challenge.
    pub code_challenge: Option<String>,
    /// `prompt=none`: answer without any page.
    pub prompt_none: bool,
    /// `prompt=login`: sign in again even with a session.
    pub prompt_login: bool,
    /// Longest accepted age of the sign-in, in seconds.
    pub max_age: Option<i64>,
    /// Identifier to pre-fill.
    pub login_hint: Option<String>,
    /// `sub` of a valid `id_token_hint`: the session must be this person's.
    pub expected_sub: Option<String>,
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// No trusted redirect URI: an error page (never a redirect).
    Page(&'static str),
    /// Answered at the redirect URI.
    Redirect(Target, OAuthError),
}

/// Reads and checks an authorization request. `hint_sub` verifies an `id_token_hint`
/// and returns its subject.
pub fn parse(
    params: &Params,
    catalogue: &Catalogue,
    hint_sub: impl Fn(&str) -> Option<String>,
) -> Result<AuthRequest, Refused> {
    let page = |m| Refused::Page(m);
    let client_id = params
        .get("client_id")
        .map_err(|_| page("Le paramètre client_id est répété."))?
        .ok_or(page("La demande ne précise pas l'application (client_id)."))?;
    let client = catalogue
        .by_client_id(client_id)
        .and_then(|a| a.oidc.as_ref())
        .ok_or(page("Cette application n'est pas connue d'APEX."))?;
    let redirect_uri = params
        .get("redirect_uri")
        .map_err(|_| page("Le paramètre redirect_uri est répété."))?
        .ok_or(page(
            "La demande ne précise pas l'adresse de retour (redirect_uri).",
        ))?;
    if !client.redirect_uris.iter().any(|u| u == redirect_uri) {
        return Err(page(
            "L'adresse de retour demandée n'est pas enregistrée pour cette application.",
        ));
    }
    let mode = match params.get("response_mode") {
        Ok(None) | Ok(Some("query")) => Ok(ResponseMode::Query),
        Ok(Some("form_post")) => Ok(ResponseMode::FormPost),
        Ok(Some(_)) | Err(_) => Err(OAuthError::new(
            "invalid_request",
            "response_mode must be query or form_post",
        )),
    };
    let state = params.get("state").ok().flatten();
    let target = Target {
        redirect_uri: redirect_uri.to_owned(),
        // An oversized state is not echoed: the refusal below says why.
        state: state
            .filter(|s| s.len() <= MAX_PARAM_BYTES)
            .map(str::to_owned),
        response_mode: *mode.as_ref().unwrap_or(&ResponseMode::Query),
    };
    let checked = mode.and_then(|_| check(params, client_id, client, target.clone(), &hint_sub));
    checked.map_err(|e| Refused::Redirect(target, e))
}

fn check(
    params: &Params,
    client_id: &str,
    client: &OidcClient,
    target: Target,
    hint_sub: &impl Fn(&str) -> Option<String>,
) -> Result<AuthRequest, OAuthError> {
    params.one("state")?;
    for name in BOUNDED {
        if params.one(name)?.is_some_and(|v| v.len() > MAX_PARAM_BYTES) {
            return Err(OAuthError::new(
                "invalid_request",
                format!("{name} is longer than {MAX_PARAM_BYTES} bytes"),
            ));
        }
    }
    if params.one("request")?.is_some() {
        return Err(OAuthError::new(
            "request_not_supported",
            "request objects are not supported",
        ));
    }
    if params.one("request_uri")?.is_some() {
        return Err(OAuthError::new(
            "request_uri_not_supported",
            "request_uri is not supported",
        ));
    }
    match params.required("response_type")? {
        "code" => {}
        _ => {
            return Err(OAuthError::new(
                "unsupported_response_type",
                "only response_type=code is supported",
            ));
        }
    }
    let requested: Vec<&str> = params.required("scope")?.split(' ').collect();
    if !requested.contains(&"openid") {
        return Err(OAuthError::new(
            "invalid_scope",
            "the openid scope is required",
        ));
    }
    let scope = SCOPES
        .iter()
        .filter(|s| requested.contains(s))
        .map(|s| (*s).to_owned())
        .collect();
    let code_challenge = pkce(params, client)?;
    let prompts: Vec<&str> = params
        .one("prompt")?
        .map(|p| p.split(' ').collect())
        .unwrap_or_default();
    let prompt_none = prompts.contains(&"none");
    if prompt_none && prompts.len() > 1 {
        return Err(OAuthError::new(
            "invalid_request",
            "prompt=none cannot be combined with other values",
        ));
    }
    let max_age = params
        .one("max_age")?
        .map(|m| {
            m.parse::<u32>().map(i64::from).map_err(|_| {
                OAuthError::new("invalid_request", "max_age must be a number of seconds")
            })
        })
        .transpose()?;
    let expected_sub = match params.one("id_token_hint")? {
        Some(hint) => Some(hint_sub(hint).ok_or_else(|| {
            OAuthError::new(
                "invalid_request",
                "id_token_hint is not an ID token of this issuer",
            )
        })?),
        None => None,
    };
    Ok(AuthRequest {
        client_id: client_id.to_owned(),
        target,
        scope,
        nonce: params.one("nonce")?.map(str::to_owned),
        code_challenge,
        prompt_none,
        prompt_login: prompts.contains(&"login"),
        max_age,
        login_hint: params.one("login_hint")?.map(str::to_owned),
        expected_sub,
    })
}

/// PKCE: S256 only; required of public clients.
fn pkce(params: &Params, client: &OidcClient) -> Result<Option<String>, OAuthError> {
    let challenge = params.one("code_challenge")?;
    let method = params.one("code_challenge_method")?;
    match (challenge, method) {
        (None, Some(_)) => Err(OAuthError::new(
            "invalid_request",
            "code_challenge_method without code_challenge",
        )),
        (None, None) if client.client_secret_hash.is_none() => Err(OAuthError::new(
            "invalid_request",
            "a public client must use PKCE (code_challenge with S256)",
        )),
        (None, None) => Ok(None),
        (Some(_), None | Some("plain")) => Err(OAuthError::new(
            "invalid_request",
            "code_challenge_method must be S256",
        )),
        (Some(c), Some("S256")) if is_pkce_value(c) => Ok(Some(c.to_owned())),
        (Some(_), Some("S256")) => Err(OAuthError::new(
            "invalid_request",
            "code_challenge is not a base64url S256 challenge",
        )),
        (Some(_), Some(_)) => Err(OAuthError::new(
            "invalid_request",
            "code_challenge_method must be S256",
        )),
    }
}

/// 43 to 128 characters of the unreserved set (RFC 7636 §4.1, §4.2).
pub fn is_pkce_value(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// What to do with a request, given the browser's session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Show the sign-in form.
    SignIn,
    /// Show the password renewal form.
    Renew,
    /// Issue a code for this session.
    Answer(Authentication),
    /// Answer with an error at the redirect URI.
    Refuse(OAuthError),
}

/// Decides a request against the browser's session.
pub fn decide(req: &AuthRequest, session: Option<&SsoSession>, now: i64) -> Step {
    let usable = session.filter(|s| {
        let a = &s.authentication;
        !req.prompt_login
            && req.max_age.is_none_or(|m| now - a.auth_time <= m)
            && req
                .expected_sub
                .as_ref()
                .is_none_or(|sub| *sub == a.account_id)
    });
    match usable {
        Some(s) if s.password_expired && req.prompt_none => Step::Refuse(OAuthError::new(
            "interaction_required",
            "the password must be renewed",
        )),
        Some(s) if s.password_expired => Step::Renew,
        Some(s) => Step::Answer(s.authentication.clone()),
        None if req.prompt_none => Step::Refuse(OAuthError::new(
            "login_required",
            "no usable session; sign-in required",
        )),
        None => Step::SignIn,
    }
}

/// The access gate: only active accounts, and for applications that require it, only
/// accounts with at least one of their profiles.
pub fn gate(app: &Application, account: &Account) -> Result<(), OAuthError> {
    if account.state != AccountState::Active {
        return Err(OAuthError::new(
            "access_denied",
            "ce compte ne peut pas se connecter",
        ));
    }
    if app.require_habilitation && !account.holds_application(&app.code) {
        return Err(OAuthError::new(
            "access_denied",
            format!(
                "aucune habilitation à l'application {} : demandez-la à votre administrateur",
                app.name
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalogue() -> Catalogue {
        toml::from_str(
            r#"
            [[application]]
            code = "APP"
            name = "App"
            url = "https://app.test/"
              [application.oidc]
              client_id = "app"
              client_secret_hash = "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
              redirect_uris = ["https://app.test/cb"]
            [[application]]
            code = "PUB"
            name = "Public"
            url = "https://pub.test/"
              [application.oidc]
              client_id = "pub"
              redirect_uris = ["https://pub.test/cb"]
        "#,
        )
        .unwrap()
    }

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    fn base(extra: &[(&str, &str)]) -> Params {
        let mut p = vec![
            ("client_id", "app"),
            ("redirect_uri", "https://app.test/cb"),
            ("response_type", "code"),
            ("scope", "openid apex unknown"),
            ("state", "s1"),
        ];
        p.extend_from_slice(extra);
        params(&p)
    }

    #[test]
    fn a_wrong_redirect_uri_or_client_is_a_page_never_a_redirect() {
        let c = catalogue();
        let mut p = base(&[]);
        p.0[1].1 = "https://evil.test/cb".into();
        assert!(matches!(parse(&p, &c, |_| None), Err(Refused::Page(_))));
        p.0[0].1 = "nobody".into();
        assert!(matches!(parse(&p, &c, |_| None), Err(Refused::Page(_))));
    }

    #[test]
    fn other_errors_go_to_the_redirect_uri_with_state() {
        let c = catalogue();
        let r = parse(&base(&[("response_type", "token")]), &c, |_| None);
        let Err(Refused::Redirect(t, e)) = r else {
            panic!("{r:?}")
        };
        assert_eq!(t.state.as_deref(), Some("s1"));
        assert_eq!(e.error, "invalid_request"); // response_type repeated
        let mut p = base(&[]);
        p.0[3].1 = "profile".into();
        let Err(Refused::Redirect(_, e)) = parse(&p, &c, |_| None) else {
            panic!()
        };
        assert_eq!(e.error, "invalid_scope");
    }

    #[test]
    fn long_free_text_parameters_are_refused() {
        let c = catalogue();
        let at_bound = "x".repeat(MAX_PARAM_BYTES);
        let over = "x".repeat(MAX_PARAM_BYTES + 1);
        let r = parse(&base(&[("nonce", &at_bound)]), &c, |_| None).unwrap();
        assert_eq!(r.nonce.as_deref(), Some(at_bound.as_str()));
        for name in ["nonce", "login_hint", "prompt"] {
            let Err(Refused::Redirect(t, e)) = parse(&base(&[(name, &over)]), &c, |_| None) else {
                panic!("{name} accepted")
            };
            assert_eq!(e.error, "invalid_request", "{name}");
            assert_eq!(t.state.as_deref(), Some("s1"));
        }
        let mut p = base(&[]);
        p.0[4].1 = over.clone();
        let Err(Refused::Redirect(t, e)) = parse(&p, &c, |_| None) else {
            panic!("long state accepted")
        };
        assert_eq!(e.error, "invalid_request");
        assert_eq!(t.state, None, "an oversized state is not echoed");
        p.0[4].1 = "s1".into();
        p.0[3].1 = format!("openid {over}");
        assert!(matches!(
            parse(&p, &c, |_| None),
            Err(Refused::Redirect(..))
        ));
    }

    #[test]
    fn public_clients_need_s256_and_plain_is_refused() {
        let c = catalogue();
        let mut p = base(&[]);
        p.0[0].1 = "pub".into();
        p.0[1].1 = "https://pub.test/cb".into();
        assert!(matches!(
            parse(&p, &c, |_| None),
            Err(Refused::Redirect(..))
        ));
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        let mut plain = p.clone();
        plain.0.push(("code_challenge".into(), challenge.into()));
        plain
            .0
            .push(("code_challenge_method".into(), "plain".into()));
        assert!(matches!(
            parse(&plain, &c, |_| None),
            Err(Refused::Redirect(..))
        ));
        p.0.push(("code_challenge".into(), challenge.into()));
        p.0.push(("code_challenge_method".into(), "S256".into()));
        let r = parse(&p, &c, |_| None).unwrap();
        assert_eq!(r.code_challenge.as_deref(), Some(challenge));
        assert_eq!(r.scope, vec!["openid", "apex"]);
    }

    #[test]
    fn sessions_decide_prompt_none_login_and_max_age() {
        let c = catalogue();
        let req = parse(&base(&[("prompt", "none")]), &c, |_| None).unwrap();
        assert_eq!(
            decide(&req, None, 100),
            Step::Refuse(OAuthError::new(
                "login_required",
                "no usable session; sign-in required"
            ))
        );
        let session = SsoSession {
            authentication: Authentication {
                account_id: "a".into(),
                auth_time: 50,
                amr: vec!["pwd".into()],
                acr: "eidas1".into(),
                sid: None,
                stamp: None,
            },
            created_at: 50,
            last_seen: 90,
            password_expired: false,
            clients: Vec::new(),
        };
        assert!(matches!(decide(&req, Some(&session), 100), Step::Answer(_)));
        let login = parse(&base(&[("prompt", "login")]), &c, |_| None).unwrap();
        assert_eq!(decide(&login, Some(&session), 100), Step::SignIn);
        let old = parse(&base(&[("max_age", "10")]), &c, |_| None).unwrap();
        assert_eq!(decide(&old, Some(&session), 100), Step::SignIn);
        let other = parse(&base(&[("id_token_hint", "x")]), &c, |_| Some("b".into())).unwrap();
        assert_eq!(decide(&other, Some(&session), 100), Step::SignIn);
    }
}
