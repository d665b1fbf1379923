//! The operator API as the command line reaches it: one call, and what its failure
//! means as an exit code.

use std::process::ExitCode;

use serde_json::Value;

/// Why a command failed, each with its own exit code (README "Operator command line").
#[derive(Debug)]
pub enum Failure {
    /// A usage or local error: a file that does not read, a value that does not parse,
    /// a broken catalogue (exit 1).
    Local(String),
    /// The server refused by one of its rules: 400, 403, 409, 422, 429 ... (exit 2).
    Refused(Problem),
    /// Nothing of that kind on the server: 404 (exit 3).
    NotFound(Problem),
    /// No operator token, or the server does not take it: 401 (exit 4).
    Authentication(String),
    /// The server cannot be reached, or failed: a connection error or a 5xx (exit 5).
    Server(String),
    /// The check ran and found a fault: the audit chain is broken (exit 6).
    CheckFailed(String),
}

impl Failure {
    /// The process's exit code.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            Failure::Local(_) => 1,
            Failure::Refused(_) => 2,
            Failure::NotFound(_) => 3,
            Failure::Authentication(_) => 4,
            Failure::Server(_) => 5,
            Failure::CheckFailed(_) => 6,
        })
    }

    /// One line for a person.
    pub fn message(&self) -> String {
        match self {
            Failure::Local(m)
            | Failure::Authentication(m)
            | Failure::Server(m)
            | Failure::CheckFailed(m) => m.clone(),
            Failure::Refused(p) | Failure::NotFound(p) => p.line(),
        }
    }

    /// The problem document the server answered, if any.
    pub fn problem(&self) -> Option<&Value> {
        match self {
            Failure::Refused(p) | Failure::NotFound(p) => Some(&p.body),
            _ => None,
        }
    }
}

/// A refusal of the server: its status and its problem document (RFC 9457).
#[derive(Debug)]
pub struct Problem {
    /// HTTP status.
    pub status: u16,
    /// The problem document (or `{}` when the answer was none).
    pub body: Value,
}

impl Problem {
    /// The rule (`urn:apex-idp:problem:<rule>`) without its prefix.
    pub fn rule(&self) -> &str {
        let t = self.body.get("type").and_then(Value::as_str).unwrap_or("");
        t.strip_prefix("urn:apex-idp:problem:").unwrap_or(t)
    }

    fn line(&self) -> String {
        let detail = self
            .body
            .get("detail")
            .and_then(Value::as_str)
            .unwrap_or("refused");
        let mut line = format!("{detail} ({}, HTTP {})", self.rule(), self.status);
        if let Some(blocking) = self.body.get("blocking").and_then(Value::as_array) {
            let names: Vec<&str> = blocking.iter().filter_map(Value::as_str).collect();
            line.push_str(&format!("; blocking: {}", names.join(", ")));
        }
        line
    }
}

/// A client of one server's operator API, with the operator token.
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    /// A client of the server at `url` (`http://host:port`, with or without `/api/v1`).
    pub fn new(url: &str, token: String) -> Result<Client, Failure> {
        apex_idp::server::install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(120))
            .build()
            .map_err(|e| Failure::Local(format!("HTTP client: {e}")))?;
        let url = url.trim_end_matches('/');
        let base = url.strip_suffix("/api/v1").unwrap_or(url).to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Failure::Local(format!(
                "--url {url}: not an http:// or https:// URL"
            )));
        }
        Ok(Client { http, base, token })
    }

    /// One call of `/api/v1<path>`; the JSON answer, or the failure it means.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, Failure> {
        let url = format!("{}/api/v1{path}", self.base);
        let mut request = self
            .http
            .request(method, &url)
            .bearer_auth(&self.token)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(b) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(b.to_string());
        }
        let reply = request
            .send()
            .await
            .map_err(|e| Failure::Server(format!("{}: unreachable: {}", self.base, cause(&e))))?;
        let status = reply.status().as_u16();
        let bytes = reply
            .bytes()
            .await
            .map_err(|e| Failure::Server(format!("{url}: {}", cause(&e))))?;
        let value: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        match status {
            200..=299 => Ok(value),
            401 => Err(Failure::Authentication(format!(
                "{}: the operator token was refused (HTTP 401)",
                self.base
            ))),
            404 => Err(Failure::NotFound(Problem {
                status,
                body: value,
            })),
            400..=499 => Err(Failure::Refused(Problem {
                status,
                body: value,
            })),
            _ => Err(Failure::Server(format!(
                "{url}: the server failed (HTTP {status}): {}",
                value.get("detail").and_then(Value::as_str).unwrap_or("")
            ))),
        }
    }
}

/// The innermost cause of an HTTP error: "connection refused", not "error sending
/// request".
fn cause(e: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = e;
    while let Some(next) = source.source() {
        source = next;
    }
    source.to_string()
}
