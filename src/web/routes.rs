//! The route table: one entry per endpoint. The router and the OpenAPI document are
//! both built from it, so they cannot disagree; the document's schemas are derived
//! from the very types the handlers read and answer, so they cannot drift either.

use std::sync::Arc;

use axum::routing::{MethodRouter, delete, get, patch, post, put};
use schemars::generate::{Contract, SchemaSettings};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value, json};

use super::AppState;
use super::api;
use super::problem::Problem;
use crate::directory::audit::AuditEvent;
use crate::directory::{AccountSummary, ApplicationLink, Export, InvitationView, StructureView};
use crate::domain::{Service, Structure};

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

/// Writes the schema of a body into a generator's components; returns its `$ref`.
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// The JSON body an endpoint reads.
#[derive(Clone, Copy)]
pub struct RequestBody {
    /// Its schema.
    pub schema: SchemaFn,
    /// Whether a request without a body is refused.
    pub required: bool,
}

/// What a success answers.
#[derive(Clone, Copy)]
pub enum Answer {
    /// No body (204, or a status whose body says nothing).
    Empty,
    /// A JSON body of this schema.
    Json(SchemaFn),
    /// JSON lines (`application/x-ndjson`), one record a line.
    Lines,
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
    /// Success status. A `PUT` also answers 200, with the same body, when the thing
    /// already existed.
    pub status: u16,
    /// Its handler.
    pub route: fn() -> MethodRouter<Arc<AppState>>,
    /// The body it reads, if any.
    pub request: Option<RequestBody>,
    /// What it answers on success.
    pub answer: Answer,
}

fn schema_of<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// A JSON body of type `T`, required.
const fn body<T: JsonSchema>() -> Option<RequestBody> {
    Some(RequestBody {
        schema: schema_of::<T>,
        required: true,
    })
}

/// A JSON body of type `T` that may be left out.
const fn optional_body<T: JsonSchema>() -> Option<RequestBody> {
    Some(RequestBody {
        schema: schema_of::<T>,
        required: false,
    })
}

/// No request body.
const NO_BODY: Option<RequestBody> = None;

/// A JSON answer of type `T`.
const fn json<T: JsonSchema>() -> Answer {
    Answer::Json(schema_of::<T>)
}

macro_rules! ep {
    ($m:literal, $p:literal, $s:literal, $a:ident, $st:literal, $f:ident($h:path), $req:expr, $ans:expr) => {
        Endpoint {
            method: $m,
            path: $p,
            summary: $s,
            access: Access::$a,
            status: $st,
            route: || $f($h),
            request: $req,
            answer: $ans,
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
        post(api::create_session),
        body::<api::SignIn>(),
        json::<api::SessionToken>()
    ),
    ep!(
        "DELETE",
        "/sessions",
        "Sign out",
        Partner,
        204,
        delete(api::delete_session),
        NO_BODY,
        Answer::Empty
    ),
    ep!(
        "GET",
        "/structure",
        "Consult one's structure: services and accounts",
        Partner,
        200,
        get(api::get_structure),
        NO_BODY,
        json::<StructureView>()
    ),
    ep!(
        "GET",
        "/me",
        "One's own account",
        Partner,
        200,
        get(api::get_me),
        NO_BODY,
        json::<api::Me>()
    ),
    ep!(
        "PATCH",
        "/me",
        "Rectify one's names {given_name?, family_name?}; a new {email} needs {current_password} and is confirmed by mail",
        Partner,
        200,
        patch(api::patch_me),
        body::<api::MePatch>(),
        json::<api::PersonalDataChanged>()
    ),
    ep!(
        "GET",
        "/me/export",
        "Export one's personal data (RGPD)",
        Partner,
        200,
        get(api::export_me),
        NO_BODY,
        json::<Export>()
    ),
    ep!(
        "POST",
        "/me/password",
        "Change one's password {current, new}",
        Partner,
        204,
        post(api::change_password),
        body::<api::PasswordChange>(),
        Answer::Empty
    ),
    ep!(
        "GET",
        "/me/applications",
        "The applications one may open",
        Partner,
        200,
        get(api::my_applications),
        NO_BODY,
        json::<Vec<ApplicationLink>>()
    ),
    ep!(
        "POST",
        "/services",
        "Create a service {name}",
        Partner,
        201,
        post(api::create_service),
        body::<api::ServiceName>(),
        json::<Service>()
    ),
    ep!(
        "PATCH",
        "/services/{id}",
        "Rename a service {name}",
        Partner,
        200,
        patch(api::rename_service),
        body::<api::ServiceName>(),
        json::<Service>()
    ),
    ep!(
        "DELETE",
        "/services/{id}",
        "Delete an empty service",
        Partner,
        204,
        delete(api::delete_service),
        NO_BODY,
        Answer::Empty
    ),
    ep!(
        "POST",
        "/services/{id}/merge",
        "Merge a service into another {into}",
        Partner,
        200,
        post(api::merge_services),
        body::<api::Merge>(),
        json::<Service>()
    ),
    ep!(
        "POST",
        "/transfers",
        "Move accounts to a service {accounts, to_service}",
        Partner,
        200,
        post(api::transfer),
        body::<api::Transfer>(),
        json::<Vec<AccountSummary>>()
    ),
    ep!(
        "POST",
        "/accounts",
        "Pre-create an account (mails the pre-creation link)",
        Partner,
        201,
        post(api::pre_create),
        body::<api::PreCreation>(),
        json::<AccountSummary>()
    ),
    ep!(
        "GET",
        "/accounts",
        "Accounts of one's structure, ?state= to filter",
        Partner,
        200,
        get(api::list_accounts),
        NO_BODY,
        json::<Vec<AccountSummary>>()
    ),
    ep!(
        "GET",
        "/accounts/{id}",
        "One account of one's structure",
        Partner,
        200,
        get(api::get_account),
        NO_BODY,
        json::<AccountSummary>()
    ),
    ep!(
        "POST",
        "/accounts/{id}/validate",
        "Validate a pending creation",
        Partner,
        200,
        post(api::validate),
        NO_BODY,
        json::<AccountSummary>()
    ),
    ep!(
        "POST",
        "/accounts/{id}/reject",
        "Reject a pending creation",
        Partner,
        204,
        post(api::reject),
        NO_BODY,
        Answer::Empty
    ),
    ep!(
        "POST",
        "/accounts/{id}/resend-identifier",
        "Mail the identifier again",
        Partner,
        202,
        post(api::resend_identifier),
        NO_BODY,
        json::<api::IdentifierSent>()
    ),
    ep!(
        "POST",
        "/accounts/{id}/deletion-request",
        "Request the deletion of an account without habilitations",
        Partner,
        200,
        post(api::deletion_request),
        NO_BODY,
        json::<AccountSummary>()
    ),
    ep!(
        "POST",
        "/accounts/{id}/unlock",
        "Lift the sign-in delay of an account",
        Partner,
        204,
        post(api::unlock),
        NO_BODY,
        Answer::Empty
    ),
    ep!(
        "PUT",
        "/accounts/{id}/habilitations/{profile}",
        "Habilitate an account with APP:PROFILE",
        Partner,
        201,
        put(api::put_habilitation),
        NO_BODY,
        json::<AccountSummary>()
    ),
    ep!(
        "DELETE",
        "/accounts/{id}/habilitations/{profile}",
        "Remove a habilitation",
        Partner,
        204,
        delete(api::delete_habilitation),
        NO_BODY,
        Answer::Empty
    ),
    ep!(
        "PUT",
        "/accounts/{id}/delegations/{profile}",
        "Delegate APP:PROFILE to a responsable",
        Partner,
        201,
        put(api::put_delegation),
        NO_BODY,
        json::<AccountSummary>()
    ),
    ep!(
        "DELETE",
        "/accounts/{id}/delegations/{profile}",
        "Remove a delegation (granted habilitations stay)",
        Partner,
        204,
        delete(api::delete_delegation),
        NO_BODY,
        Answer::Empty
    ),
    ep!(
        "GET",
        "/audit",
        "The structure's audit log (administrateurs)",
        Partner,
        200,
        get(api::get_audit),
        NO_BODY,
        json::<Vec<AuditEvent>>()
    ),
    ep!(
        "GET",
        "/invitations/{token}",
        "What a pre-creation link offers",
        Public,
        200,
        get(api::get_invitation),
        NO_BODY,
        json::<InvitationView>()
    ),
    ep!(
        "POST",
        "/invitations/{token}",
        "Complete a pre-creation: set one's own password",
        Public,
        200,
        post(api::complete_invitation),
        body::<api::InvitationForm>(),
        json::<api::InvitationCompleted>()
    ),
    ep!(
        "POST",
        "/password-resets",
        "Ask for a reset link {login} (always 202)",
        Public,
        202,
        post(api::request_reset),
        body::<api::ResetRequest>(),
        json::<api::ResetAccepted>()
    ),
    ep!(
        "POST",
        "/password-resets/{token}",
        "Set a new password with a reset link",
        Public,
        204,
        post(api::reset_password),
        body::<api::NewPassword>(),
        Answer::Empty
    ),
    ep!(
        "POST",
        "/email-confirmations/{token}",
        "Confirm a new e-mail address",
        Public,
        200,
        post(api::confirm_email),
        NO_BODY,
        json::<AccountSummary>()
    ),
    ep!(
        "GET",
        "/operator/structures",
        "Every structure",
        Operator,
        200,
        get(api::operator_structures),
        NO_BODY,
        json::<Vec<Structure>>()
    ),
    ep!(
        "POST",
        "/operator/structures",
        "Create a structure {siret, category, name}",
        Operator,
        201,
        post(api::operator_create_structure),
        body::<api::NewStructure>(),
        json::<Structure>()
    ),
    ep!(
        "POST",
        "/operator/structures/{id}/administrateurs",
        "Invite an administrateur (id or SIRET)",
        Operator,
        201,
        post(api::operator_invite_administrateur),
        body::<api::NewAdministrateur>(),
        json::<AccountSummary>()
    ),
    ep!(
        "GET",
        "/operator/structures/{id}",
        "A structure (id or SIRET), its services and accounts",
        Operator,
        200,
        get(api::operator_structure),
        NO_BODY,
        json::<StructureView>()
    ),
    ep!(
        "PATCH",
        "/operator/structures/{id}",
        "Rename or recategorise a structure {name?, category?}",
        Operator,
        200,
        patch(api::operator_update_structure),
        body::<api::StructureChange>(),
        json::<Structure>()
    ),
    ep!(
        "POST",
        "/operator/structures/{id}/close",
        "Close a structure for good: its accounts are blocked, their sessions end",
        Operator,
        200,
        post(api::operator_close_structure),
        NO_BODY,
        json::<Structure>()
    ),
    ep!(
        "GET",
        "/operator/structures/{id}/accounts",
        "The accounts of a structure",
        Operator,
        200,
        get(api::operator_structure_accounts),
        NO_BODY,
        json::<Vec<AccountSummary>>()
    ),
    ep!(
        "GET",
        "/operator/accounts/{id}",
        "An account (id or identifier)",
        Operator,
        200,
        get(api::operator_account),
        NO_BODY,
        json::<AccountSummary>()
    ),
    ep!(
        "POST",
        "/operator/accounts/{id}/block",
        "Block an account: no sign-in anywhere, its sessions end",
        Operator,
        200,
        post(api::operator_block),
        NO_BODY,
        json::<AccountSummary>()
    ),
    ep!(
        "POST",
        "/operator/accounts/{id}/unblock",
        "Unblock an account",
        Operator,
        200,
        post(api::operator_unblock),
        NO_BODY,
        json::<AccountSummary>()
    ),
    ep!(
        "POST",
        "/operator/accounts/{id}/end-sessions",
        "End every session of an account (API, SSO, refresh tokens)",
        Operator,
        200,
        post(api::operator_end_sessions),
        NO_BODY,
        json::<AccountSummary>()
    ),
    ep!(
        "POST",
        "/operator/accounts/{id}/replacement",
        "Invite the administrateur who replaces this one {email, given_name, family_name}; this one is blocked once the new one is active",
        Operator,
        201,
        post(api::operator_replace_administrateur),
        body::<api::NewAdministrateur>(),
        json::<AccountSummary>()
    ),
    ep!(
        "GET",
        "/operator/audit",
        "The whole audit log (?since=unix seconds) and the state of its chain",
        Operator,
        200,
        get(api::operator_audit),
        NO_BODY,
        json::<api::OperatorAudit>()
    ),
    ep!(
        "GET",
        "/operator/audit/chain",
        "Verify the audit log's hash chain",
        Operator,
        200,
        get(api::operator_audit_chain),
        NO_BODY,
        json::<api::AuditChain>()
    ),
    ep!(
        "GET",
        "/operator/keys",
        "The OIDC signing keys and where each is in its life",
        Operator,
        200,
        get(api::operator_keys),
        NO_BODY,
        json::<api::KeyList>()
    ),
    ep!(
        "GET",
        "/operator/backup",
        "A consistent backup of the whole store (JSON lines), taken while the server runs",
        Operator,
        200,
        get(api::operator_backup),
        NO_BODY,
        Answer::Lines
    ),
    ep!(
        "POST",
        "/operator/catalogue/reload",
        "Read the catalogue's file again and put it in force, checked as a whole (the one in force stays on any problem, each listed in `blocking`)",
        Operator,
        200,
        post(api::operator_reload_catalogue),
        NO_BODY,
        json::<crate::http::catalogue::Reloaded>()
    ),
    ep!(
        "POST",
        "/operator/keys/rotate",
        "Rotate the OIDC signing keys {delay_seconds?}: new keys are published now and sign after the delay",
        Operator,
        200,
        post(api::operator_rotate_keys),
        optional_body::<api::RotateKeys>(),
        json::<api::Rotation>()
    ),
];

/// The problem answers every endpoint may give (RFC 9457), and when.
const PROBLEMS: [(&str, &str); 6] = [
    ("401", "not signed in"),
    ("403", "the rights matrix says no"),
    ("404", "not found in your structure"),
    ("409", "state conflict"),
    ("422", "invalid value"),
    ("429", "too many attempts"),
];

/// The problem answers of an endpoint that reads a body, besides [`PROBLEMS`].
const BODY_PROBLEMS: [(&str, &str); 3] = [
    ("400", "the body is no JSON"),
    ("413", "the body is too large"),
    ("415", "the body is not application/json"),
];

/// A generator whose `$ref`s point into the document's `components/schemas`.
fn generator(contract: Contract) -> SchemaGenerator {
    let mut settings = SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas".into();
    settings.meta_schema = None;
    settings.contract = contract;
    settings.into_generator()
}

/// A problem answer.
fn problem(why: &str, problem: &Value) -> Value {
    json!({"description": why, "content": {"application/problem+json": {"schema": problem}}})
}

/// The success answers of an endpoint.
fn successes(e: &Endpoint, answers: &mut SchemaGenerator) -> Map<String, Value> {
    let success = match e.answer {
        Answer::Empty => json!({"description": "success, no body"}),
        Answer::Json(schema) => json!({"description": "success",
            "content": {"application/json": {"schema": schema(answers).to_value()}}}),
        Answer::Lines => json!({"description": "success: one JSON record a line",
            "content": {"application/x-ndjson": {}}}),
    };
    let mut out = Map::new();
    if e.method == "PUT" {
        let mut unchanged = success.clone();
        if let Some(o) = unchanged.as_object_mut() {
            o.insert(
                "description".into(),
                json!("it already was so: nothing changed"),
            );
        }
        out.insert("200".into(), unchanged);
    }
    out.insert(e.status.to_string(), success);
    out
}

/// The OpenAPI 3.1 document of [`ENDPOINTS`], its schemas in `components/schemas`
/// (JSON Schema 2020-12): requests as they are read, answers as they are written.
pub fn openapi() -> Value {
    let mut requests = generator(Contract::Deserialize);
    let mut answers = generator(Contract::Serialize);
    let problem_schema = answers.subschema_for::<Problem>().to_value();
    let mut paths = Map::new();
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
        let mut responses = successes(e, &mut answers);
        let body_problems = e.request.map_or(&[][..], |_| &BODY_PROBLEMS[..]);
        for (code, why) in PROBLEMS.iter().chain(body_problems) {
            responses.insert((*code).into(), problem(why, &problem_schema));
        }
        responses.insert(
            "default".into(),
            problem("any other problem", &problem_schema),
        );
        let mut op = json!({
            "summary": e.summary,
            "operationId": format!("{} {}", e.method, e.path),
            "parameters": params,
            "security": security,
            "responses": responses,
        });
        if let Some(body) = e.request
            && let Some(o) = op.as_object_mut()
        {
            let schema = (body.schema)(&mut requests).to_value();
            o.insert(
                "requestBody".into(),
                json!({"required": body.required, "content": {"application/json": {"schema": schema}}}),
            );
        }
        let entry = paths.entry(path).or_insert_with(|| json!({}));
        if let Some(map) = entry.as_object_mut() {
            map.insert(e.method.to_lowercase(), op);
        }
    }
    let mut schemas = answers.take_definitions(true);
    // Requests and answers are distinct types: their names do not meet (see the test).
    schemas.extend(requests.take_definitions(true));
    json!({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {"title": "apex-idp API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Mon espace APEX Partenaires: the rights matrix as a JSON API."},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "session": {"type": "http", "scheme": "bearer", "description": "token from POST /api/v1/sessions"},
                "operator": {"type": "http", "scheme": "bearer", "description": "operator token (config operator.token_hashes)"}
            },
            "schemas": schemas,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The request and answer schemas share `components/schemas`: a type named in both
    /// must have one schema, or one would hide the other.
    #[test]
    fn request_and_answer_schemas_do_not_clash() {
        let mut requests = generator(Contract::Deserialize);
        let mut answers = generator(Contract::Serialize);
        for e in ENDPOINTS {
            if let Some(body) = e.request {
                (body.schema)(&mut requests);
            }
            if let Answer::Json(schema) = e.answer {
                schema(&mut answers);
            }
        }
        let requests = requests.take_definitions(true);
        let answers = answers.take_definitions(true);
        for (name, schema) in &requests {
            if let Some(other) = answers.get(name) {
                assert_eq!(schema, other, "{name} differs between requests and answers");
            }
        }
    }
}
