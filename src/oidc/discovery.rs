//! OpenID Provider metadata (Discovery 1.0, RFC 8414 additions) and the JWKS, both
//! rendered once at start and served from memory.

use openidconnect::core::{
    CoreClaimName, CoreClientAuthMethod, CoreGrantType, CoreResponseMode, CoreResponseType,
    CoreSubjectIdentifierType,
};
use openidconnect::{
    AdditionalProviderMetadata, AuthUrl, IssuerUrl, JsonWebKeySetUrl, ProviderMetadata,
    ResponseTypes, Scope, TokenUrl, UserInfoUrl,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::authorize::SCOPES;
use super::keys::{Alg, KeyRing};

/// Paths of the endpoints, under the issuer.
pub mod path {
    /// Discovery document.
    pub const DISCOVERY: &str = "/.well-known/openid-configuration";
    /// JWKS.
    pub const JWKS: &str = "/oidc/jwks";
    /// Authorization endpoint.
    pub const AUTHORIZE: &str = "/oidc/authorize";
    /// Sign-in form target.
    pub const SIGN_IN: &str = "/oidc/authorize/sign-in";
    /// Password renewal form target.
    pub const RENEW: &str = "/oidc/authorize/password";
    /// Token endpoint.
    pub const TOKEN: &str = "/oidc/token";
    /// Userinfo endpoint.
    pub const USERINFO: &str = "/oidc/userinfo";
    /// Introspection endpoint.
    pub const INTROSPECT: &str = "/oidc/introspect";
    /// Revocation endpoint.
    pub const REVOKE: &str = "/oidc/revoke";
    /// RP-initiated logout endpoint.
    pub const LOGOUT: &str = "/oidc/logout";
}

/// The metadata that `openidconnect`'s core type does not carry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApexProviderMetadata {
    /// RP-Initiated Logout 1.0.
    pub end_session_endpoint: String,
    /// RFC 7662.
    pub introspection_endpoint: String,
    /// RFC 7662.
    pub introspection_endpoint_auth_methods_supported: Vec<String>,
    /// RFC 7009.
    pub revocation_endpoint: String,
    /// RFC 7009.
    pub revocation_endpoint_auth_methods_supported: Vec<String>,
    /// RFC 7636.
    pub code_challenge_methods_supported: Vec<String>,
    /// RFC 9207: `iss` in every authorization response.
    pub authorization_response_iss_parameter_supported: bool,
    /// Back-Channel Logout 1.0.
    pub backchannel_logout_supported: bool,
    /// Back-Channel Logout 1.0: logout tokens carry `sid`.
    pub backchannel_logout_session_supported: bool,
}

impl AdditionalProviderMetadata for ApexProviderMetadata {}

/// The provider metadata of this issuer.
pub type ApexProviderMetadataDocument = ProviderMetadata<
    ApexProviderMetadata,
    openidconnect::core::CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    openidconnect::core::CoreClaimType,
    CoreGrantType,
    openidconnect::core::CoreJweContentEncryptionAlgorithm,
    openidconnect::core::CoreJweKeyManagementAlgorithm,
    openidconnect::core::CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// Claims this issuer may return.
const CLAIMS: [&str; 21] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "preferred_username",
    "given_name",
    "family_name",
    "usual_name",
    "email",
    "email_verified",
    "siret",
    "structure",
    "structure_category",
    "service_id",
    "service",
    "apex_role",
];

/// Renders the discovery document.
pub fn metadata(issuer: &IssuerUrl) -> Result<String, String> {
    let base = issuer.as_str().trim_end_matches('/');
    let at = |p: &str| format!("{base}{p}");
    let bad = |e: &dyn std::fmt::Display| e.to_string();
    let auth_methods = vec![
        "client_secret_basic".to_owned(),
        "client_secret_post".to_owned(),
    ];
    let extra = ApexProviderMetadata {
        end_session_endpoint: at(path::LOGOUT),
        introspection_endpoint: at(path::INTROSPECT),
        introspection_endpoint_auth_methods_supported: auth_methods.clone(),
        revocation_endpoint: at(path::REVOKE),
        revocation_endpoint_auth_methods_supported: auth_methods,
        code_challenge_methods_supported: vec!["S256".into()],
        authorization_response_iss_parameter_supported: true,
        backchannel_logout_supported: true,
        backchannel_logout_session_supported: true,
    };
    let mut claims: Vec<CoreClaimName> = CLAIMS
        .iter()
        .map(|c| CoreClaimName::new((*c).into()))
        .collect();
    claims.push(CoreClaimName::new("profiles".into()));
    claims.push(CoreClaimName::new("sid".into()));
    let doc = ApexProviderMetadataDocument::new(
        issuer.clone(),
        AuthUrl::new(at(path::AUTHORIZE)).map_err(|e| bad(&e))?,
        JsonWebKeySetUrl::new(at(path::JWKS)).map_err(|e| bad(&e))?,
        vec![ResponseTypes::new(vec![CoreResponseType::Code])],
        vec![CoreSubjectIdentifierType::Public],
        Alg::ALL.iter().map(|a| a.jws()).collect(),
        extra,
    )
    .set_token_endpoint(Some(TokenUrl::new(at(path::TOKEN)).map_err(|e| bad(&e))?))
    .set_userinfo_endpoint(Some(
        UserInfoUrl::new(at(path::USERINFO)).map_err(|e| bad(&e))?,
    ))
    .set_scopes_supported(Some(
        SCOPES.iter().map(|s| Scope::new((*s).into())).collect(),
    ))
    .set_response_modes_supported(Some(vec![
        CoreResponseMode::Query,
        CoreResponseMode::FormPost,
    ]))
    .set_grant_types_supported(Some(vec![
        CoreGrantType::AuthorizationCode,
        CoreGrantType::RefreshToken,
        CoreGrantType::ClientCredentials,
    ]))
    .set_acr_values_supported(Some(vec![openidconnect::AuthenticationContextClass::new(
        super::ACR.into(),
    )]))
    .set_token_endpoint_auth_methods_supported(Some(vec![
        CoreClientAuthMethod::ClientSecretBasic,
        CoreClientAuthMethod::ClientSecretPost,
        CoreClientAuthMethod::None,
    ]))
    .set_claims_supported(Some(claims))
    .set_claims_parameter_supported(Some(false))
    .set_request_parameter_supported(Some(false))
    .set_request_uri_parameter_supported(Some(false))
    .set_ui_locales_supported(Some(vec![openidconnect::LanguageTag::new("fr".into())]));
    serde_json::to_string(&doc).map_err(|e| bad(&e))
}

/// Renders the JWKS, each key with its `alg` so that clients pick it without guessing.
pub fn jwks(keys: &KeyRing) -> Result<String, String> {
    let mut value = serde_json::to_value(keys.jwks()).map_err(|e| e.to_string())?;
    let algs = keys.algs();
    if let Some(list) = value.get_mut("keys").and_then(Value::as_array_mut) {
        for jwk in list {
            let kid = jwk.get("kid").and_then(Value::as_str).map(str::to_owned);
            let alg = algs
                .iter()
                .find(|(k, _)| Some(k) == kid.as_ref())
                .map(|(_, a)| a.as_str());
            if let (Some(obj), Some(alg)) = (jwk.as_object_mut(), alg) {
                obj.insert("alg".into(), Value::String(alg.into()));
            }
        }
    }
    serde_json::to_string(&value).map_err(|e| e.to_string())
}
