//! The route table: one entry per endpoint. The router and the OpenAPI document are
//! both built from it, so they cannot disagree.

use std::sync::Arc;

use axum::routing::{MethodRouter, delete, get, patch, post, put};
use serde_json::{Value, json};

use super::AppState;
use super::api;

/// Who may call an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anybody (the request carries its own proof, e.g. a one-time token).
    Public,
    /// A signed-in partner (session bearer token).
    Partner,
    /// The DGFiP operator (operator bearer token).
    Operator,
}

/// One endpoint of the JSON API.
pub struct Endpoint {
    /// HTTP method.
    pub method: &'static str,
    /// Path under `/api/v1`, axum syntax.
    pub path: &'static str,
    /// What it does.
    pub summary: &'static str,
    /// Who may call it.
    pub access: Access,
    /// Success status.
    pub status: u16,
    /// Its handler.
    pub route: fn() -> MethodRouter<Arc<AppState>>,
}

macro_rules! ep {
    ($m:literal, $p:literal, $s:literal, $a:ident, $st:literal, $f:ident($h:path)) => {
        Endpoint {
            method: $m,
            path: $p,
            summary: $s,
            access: Access::$a,
            status: $st,
            route: || $f($h),
        }
    };
}

/// Every endpoint of `/api/v1`.
pub const ENDPOINTS: &[Endpoint] = &[
    ep!(
        "POST",
        "/sessions",
        "Sign in: returns a bearer token",
        Public,
        201,
        post(api::create_session)
    ),
    ep!(
        "DELETE",
        "/sessions",
        "Sign out",
        Partner,
        204,
        delete(api::delete_session)
    ),
    ep!(
        "GET",
        "/structure",
        "Consult one's structure: services and accounts",
        Partner,
        200,
        get(api::get_structure)
    ),
    ep!(
        "GET",
        "/me",
        "One's own account",
        Partner,
        200,
        get(api::get_me)
    ),
    ep!(
        "PATCH",
        "/me",
        "Rectify one's names {given_name?, family_name?}; a new {email} needs {current_password} and is confirmed by mail",
        Partner,
        200,
        patch(api::patch_me)
    ),
    ep!(
        "GET",
        "/me/export",
        "Export one's personal data (RGPD)",
        Partner,
        200,
        get(api::export_me)
    ),
    ep!(
        "POST",
        "/me/password",
        "Change one's password {current, new}",
        Partner,
        204,
        post(api::change_password)
    ),
    ep!(
        "GET",
        "/me/applications",
        "The applications one may open",
        Partner,
        200,
        get(api::my_applications)
    ),
    ep!(
        "POST",
        "/services",
        "Create a service {name}",
        Partner,
        201,
        post(api::create_service)
    ),
    ep!(
        "PATCH",
        "/services/{id}",
        "Rename a service {name}",
        Partner,
        200,
        patch(api::rename_service)
    ),
    ep!(
        "DELETE",
        "/services/{id}",
        "Delete an empty service",
        Partner,
        204,
        delete(api::delete_service)
    ),
    ep!(
        "POST",
        "/services/{id}/merge",
        "Merge a service into another {into}",
        Partner,
        200,
        post(api::merge_services)
    ),
    ep!(
        "POST",
        "/transfers",
        "Move accounts to a service {accounts, to_service}",
        Partner,
        200,
        post(api::transfer)
    ),
    ep!(
        "POST",
        "/accounts",
        "Pre-create an account (mails the pre-creation link)",
        Partner,
        201,
        post(api::pre_create)
    ),
    ep!(
        "GET",
        "/accounts",
        "Accounts of one's structure, ?state= to filter",
        Partner,
        200,
        get(api::list_accounts)
    ),
    ep!(
        "GET",
        "/accounts/{id}",
        "One account of one's structure",
        Partner,
        200,
        get(api::get_account)
    ),
    ep!(
        "POST",
        "/accounts/{id}/validate",
        "Validate a pending creation",
        Partner,
        200,
        post(api::validate)
    ),
    ep!(
        "POST",
        "/accounts/{id}/reject",
        "Reject a pending creation",
        Partner,
        204,
        post(api::reject)
    ),
    ep!(
        "POST",
        "/accounts/{id}/resend-identifier",
        "Mail the identifier again",
        Partner,
        202,
        post(api::resend_identifier)
    ),
    ep!(
        "POST",
        "/accounts/{id}/deletion-request",
        "Request the deletion of an account without habilitations",
        Partner,
        200,
        post(api::deletion_request)
    ),
    ep!(
        "POST",
        "/accounts/{id}/unlock",
        "Lift the sign-in delay of an account",
        Partner,
        204,
        post(api::unlock)
    ),
    ep!(
        "PUT",
        "/accounts/{id}/habilitations/{profile}",
        "Habilitate an account with APP:PROFILE",
        Partner,
        201,
        put(api::put_habilitation)
    ),
    ep!(
        "DELETE",
        "/accounts/{id}/habilitations/{profile}",
        "Remove a habilitation",
        Partner,
        204,
        delete(api::delete_habilitation)
    ),
    ep!(
        "PUT",
        "/accounts/{id}/delegations/{profile}",
        "Delegate APP:PROFILE to a responsable",
        Partner,
        201,
        put(api::put_delegation)
    ),
    ep!(
        "DELETE",
        "/accounts/{id}/delegations/{profile}",
        "Remove a delegation (granted habilitations stay)",
        Partner,
        204,
        delete(api::delete_delegation)
    ),
    ep!(
        "GET",
        "/audit",
        "The structure's audit log (administrateurs)",
        Partner,
        200,
        get(api::get_audit)
    ),
    ep!(
        "GET",
        "/invitations/{token}",
        "What a pre-creation link offers",
        Public,
        200,
        get(api::get_invitation)
    ),
    ep!(
        "POST",
        "/invitations/{token}",
        "Complete a pre-creation: set one's own password",
        Public,
        200,
        post(api::complete_invitation)
    ),
    ep!(
        "POST",
        "/password-resets",
        "Ask for a reset link {login} (always 202)",
        Public,
        202,
        post(api::request_reset)
    ),
    ep!(
        "POST",
        "/password-resets/{token}",
        "Set a new password with a reset link",
        Public,
        204,
        post(api::reset_password)
    ),
    ep!(
        "POST",
        "/email-confirmations/{token}",
        "Confirm a new e-mail address",
        Public,
        200,
        post(api::confirm_email)
    ),
    ep!(
        "GET",
        "/operator/structures",
        "Every structure",
        Operator,
        200,
        get(api::operator_structures)
    ),
    ep!(
        "POST",
        "/operator/structures",
        "Create a structure {siret, category, name}",
        Operator,
        201,
        post(api::operator_create_structure)
    ),
    ep!(
        "POST",
        "/operator/structures/{id}/administrateurs",
        "Invite an administrateur (id or SIRET)",
        Operator,
        201,
        post(api::operator_invite_administrateur)
    ),
    ep!(
        "GET",
        "/operator/structures/{id}",
        "A structure (id or SIRET), its services and accounts",
        Operator,
        200,
        get(api::operator_structure)
    ),
    ep!(
        "PATCH",
        "/operator/structures/{id}",
        "Rename or recategorise a structure {name?, category?}",
        Operator,
        200,
        patch(api::operator_update_structure)
    ),
    ep!(
        "POST",
        "/operator/structures/{id}/close",
        "Close a structure for good: its accounts are blocked, their sessions end",
        Operator,
        200,
        post(api::operator_close_structure)
    ),
    ep!(
        "GET",
        "/operator/structures/{id}/accounts",
        "The accounts of a structure",
        Operator,
        200,
        get(api::operator_structure_accounts)
    ),
    ep!(
        "GET",
        "/operator/accounts/{id}",
        "An account (id or identifier)",
        Operator,
        200,
        get(api::operator_account)
    ),
    ep!(
        "POST",
        "/operator/accounts/{id}/block",
        "Block an account: no sign-in anywhere, its sessions end",
        Operator,
        200,
        post(api::operator_block)
    ),
    ep!(
        "POST",
        "/operator/accounts/{id}/unblock",
        "Unblock an account",
        Operator,
        200,
        post(api::operator_unblock)
    ),
    ep!(
        "POST",
        "/operator/accounts/{id}/end-sessions",
        "End every session of an account (API, SSO, refresh tokens)",
        Operator,
        200,
        post(api::operator_end_sessions)
    ),
    ep!(
        "POST",
        "/operator/accounts/{id}/replacement",
        "Invite the administrateur who replaces this one {email, given_name, family_name}; this one is blocked once the new one is active",
        Operator,
        201,
        post(api::operator_replace_administrateur)
    ),
    ep!(
        "GET",
        "/operator/audit",
        "The whole audit log (?since=unix seconds) and the state of its chain",
        Operator,
        200,
        get(api::operator_audit)
    ),
    ep!(
        "GET",
        "/operator/audit/chain",
        "Verify the audit log's hash chain",
        Operator,
        200,
        get(api::operator_audit_chain)
    ),
    ep!(
        "GET",
        "/operator/keys",
        "The OIDC signing keys and where each is in its life",
        Operator,
        200,
        get(api::operator_keys)
    ),
    ep!(
        "GET",
        "/operator/backup",
        "A consistent backup of the whole store (JSON lines), taken while the server runs",
        Operator,
        200,
        get(api::operator_backup)
    ),
    ep!(
        "POST",
        "/operator/catalogue/reload",
        "Read the catalogue's file again and put it in force, checked as a whole (the one in force stays on any problem, each listed in `blocking`)",
        Operator,
        200,
        post(api::operator_reload_catalogue)
    ),
    ep!(
        "POST",
        "/operator/keys/rotate",
        "Rotate the OIDC signing keys {delay_seconds?}: new keys are published now and sign after the delay",
        Operator,
        200,
        post(api::operator_rotate_keys)
    ),
];

/// The OpenAPI 3.1 document of [`ENDPOINTS`].
pub fn openapi() -> Value {
    let mut paths = serde_json::Map::new();
    for e in ENDPOINTS {
        let path = format!("/api/v1{}", e.path);
        let params: Vec<Value> = e
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let security = match e.access {
            Access::Public => json!([]),
            Access::Partner => json!([{"session": []}]),
            Access::Operator => json!([{"operator": []}]),
        };
        let mut responses = serde_json::Map::new();
        responses.insert(e.status.to_string(), json!({"description": "success"}));
        for (code, why) in [
            ("401", "not signed in"),
            ("403", "the rights matrix says no"),
            ("404", "not found in your structure"),
            ("409", "state conflict"),
            ("422", "invalid value"),
            ("429", "too many attempts"),
        ] {
            responses.insert(
                code.into(),
                json!({"description": why, "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}),
            );
        }
        let mut op = json!({
            "summary": e.summary,
            "operationId": format!("{} {}", e.method, e.path),
            "parameters": params,
            "security": security,
            "responses": responses,
        });
        if matches!(e.method, "POST" | "PATCH" | "PUT")
            && let Some(o) = op.as_object_mut()
        {
            o.insert(
                    "requestBody".into(),
                    json!({"required": false, "content": {"application/json": {"schema": {"type": "object"}}}}),
                );
        }
        let entry = paths.entry(path).or_insert_with(|| json!({}));
        if let Some(map) = entry.as_object_mut() {
            map.insert(e.method.to_lowercase(), op);
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "apex-idp API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Mon espace APEX Partenaires: the rights matrix as a JSON API."},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "session": {"type": "http", "scheme": "bearer", "description": "token from POST /api/v1/sessions"},
                "operator": {"type": "http", "scheme": "bearer", "description": "operator token (config operator.token_hashes)"}
            },
            "schemas": {"Problem": {"type": "object", "properties": {
                "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                "detail": {"type": "string"}, "field": {"type": "string"},
                "blocking": {"type": "array", "items": {"type": "string"}}}}}
        }
    })
}
