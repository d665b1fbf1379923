//! Each operator command: its call of the operator API and its human output.

use reqwest::Method;
use serde_json::{Value, json};

use super::client::{Client, Failure};
use super::render::{self, ACCOUNT_HEADERS, account_row, items, s, table, time};
use super::{AccountCmd, AdminCmd, AuditCmd, AuditFormat, CatalogueCmd, KeysCmd, Remote};
use super::{NewPerson, StructureCmd};

/// How answers are printed.
#[derive(Debug, Clone, Copy)]
pub struct Out {
    /// The server's JSON as is.
    pub json: bool,
}

impl Out {
    /// Prints `value` as JSON, or calls `human`.
    fn print(self, value: &Value, human: impl FnOnce(&Value)) {
        if self.json {
            say!("{value:#}");
        } else {
            human(value);
        }
    }
}

/// A path segment, percent-encoded but for unreserved characters (RFC 3986).
fn seg(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.trim().bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn person(p: &NewPerson) -> Value {
    json!({"email": p.email, "given_name": p.given_name, "family_name": p.family_name})
}

fn structure_line(prefix: &str, st: &Value) {
    say!(
        "{prefix}structure {} {:?} category {} ({}), id {}",
        s(st, "siret"),
        s(st, "name"),
        s(st, "category"),
        render::structure_state(st),
        s(st, "id")
    );
}

/// `structure create|list|show|rename|close`
pub async fn structure(client: &Client, out: Out, cmd: StructureCmd) -> Result<(), Failure> {
    match cmd {
        StructureCmd::Create {
            siret,
            category,
            name,
        } => {
            let body = json!({"siret": siret, "category": category, "name": name});
            let v = client
                .call(Method::POST, "/operator/structures", Some(&body))
                .await?;
            out.print(&v, |v| structure_line("created: ", v));
        }
        StructureCmd::List => {
            let v = client
                .call(Method::GET, "/operator/structures", None)
                .await?;
            out.print(&v, |v| {
                let rows: Vec<Vec<String>> = items(v)
                    .iter()
                    .map(|st| {
                        vec![
                            s(st, "siret"),
                            s(st, "category"),
                            s(st, "name"),
                            render::structure_state(st),
                            s(st, "id"),
                        ]
                    })
                    .collect();
                table(&["SIRET", "CATEGORY", "NAME", "STATE", "ID"], &rows);
            });
        }
        StructureCmd::Show { structure } => {
            let path = format!("/operator/structures/{}", seg(&structure));
            let v = client.call(Method::GET, &path, None).await?;
            out.print(&v, |v| {
                let st = v.get("structure").unwrap_or(&Value::Null);
                structure_line("", st);
                say!("created {}", time(st, "created_at"));
                say!();
                let services: Vec<Vec<String>> = items(v.get("services").unwrap_or(&Value::Null))
                    .iter()
                    .map(|sv| vec![s(sv, "name"), s(sv, "id")])
                    .collect();
                table(&["SERVICE", "ID"], &services);
                say!();
                let accounts: Vec<Vec<String>> = items(v.get("accounts").unwrap_or(&Value::Null))
                    .iter()
                    .map(account_row)
                    .collect();
                table(&ACCOUNT_HEADERS, &accounts);
            });
        }
        StructureCmd::Rename {
            structure,
            name,
            category,
        } => {
            let mut body = serde_json::Map::new();
            if let Some(n) = name {
                body.insert("name".into(), Value::String(n));
            }
            if let Some(c) = category {
                body.insert("category".into(), Value::String(c));
            }
            let path = format!("/operator/structures/{}", seg(&structure));
            let v = client
                .call(Method::PATCH, &path, Some(&Value::Object(body)))
                .await?;
            out.print(&v, |v| structure_line("updated: ", v));
        }
        StructureCmd::Close { structure } => {
            let path = format!("/operator/structures/{}/close", seg(&structure));
            let v = client.call(Method::POST, &path, None).await?;
            out.print(&v, |v| structure_line("closed: ", v));
        }
    }
    Ok(())
}

fn account_line(verb: &str, a: &Value) {
    say!(
        "{verb}: {} {} {} ({}, {}), id {}",
        s(a, "login"),
        s(a, "given_name"),
        s(a, "family_name"),
        s(a, "role"),
        render::account_state(a),
        s(a, "id")
    );
}

/// `admin invite|replace`
pub async fn admin(client: &Client, out: Out, cmd: AdminCmd) -> Result<(), Failure> {
    let (path, body, verb) = match cmd {
        AdminCmd::Invite {
            structure,
            person: p,
        } => (
            format!("/operator/structures/{}/administrateurs", seg(&structure)),
            person(&p),
            "invited",
        ),
        AdminCmd::Replace { account, person: p } => (
            format!("/operator/accounts/{}/replacement", seg(&account)),
            person(&p),
            "invited as replacement",
        ),
    };
    let v = client.call(Method::POST, &path, Some(&body)).await?;
    out.print(&v, |v| {
        account_line(verb, v);
        say!("the invitation was mailed to {}", s(v, "email"));
    });
    Ok(())
}

/// `account list|show|block|unblock|end-sessions`
pub async fn account(client: &Client, out: Out, cmd: AccountCmd) -> Result<(), Failure> {
    let (method, path, verb) = match cmd {
        AccountCmd::List { structure } => {
            let path = format!("/operator/structures/{}/accounts", seg(&structure));
            let v = client.call(Method::GET, &path, None).await?;
            out.print(&v, |v| {
                let rows: Vec<Vec<String>> = items(v).iter().map(account_row).collect();
                table(&ACCOUNT_HEADERS, &rows);
            });
            return Ok(());
        }
        AccountCmd::Show { account } => {
            let path = format!("/operator/accounts/{}", seg(&account));
            let v = client.call(Method::GET, &path, None).await?;
            out.print(&v, |a| {
                for key in ["id", "login", "role", "given_name", "family_name", "email"] {
                    say!("{key:<13} {}", s(a, key));
                }
                say!("{:<13} {}", "state", render::account_state(a));
                say!("{:<13} {}", "service_id", s(a, "service_id"));
                say!(
                    "{:<13} {}",
                    "habilitations",
                    render::list(a, "habilitations")
                );
                say!("{:<13} {}", "delegations", render::list(a, "delegations"));
            });
            return Ok(());
        }
        AccountCmd::Block { account } => {
            (Method::POST, format!("{}/block", seg(&account)), "blocked")
        }
        AccountCmd::Unblock { account } => (
            Method::POST,
            format!("{}/unblock", seg(&account)),
            "unblocked",
        ),
        AccountCmd::EndSessions { account } => (
            Method::POST,
            format!("{}/end-sessions", seg(&account)),
            "sessions ended",
        ),
    };
    let v = client
        .call(method, &format!("/operator/accounts/{path}"), None)
        .await?;
    out.print(&v, |v| account_line(verb, v));
    Ok(())
}

/// Reads `--since`: RFC 3339, a date (midnight UTC) or unix seconds.
fn since(raw: &str) -> Result<i64, Failure> {
    let raw = raw.trim();
    if let Ok(t) = raw.parse::<i64>() {
        return Ok(t);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(raw) {
        return Ok(t.timestamp());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(t.and_utc().timestamp());
    }
    Err(Failure::Local(format!(
        "--since {raw:?}: not an RFC 3339 time, a date (YYYY-MM-DD) or unix seconds"
    )))
}

/// `audit verify|export`
pub async fn audit(client: &Client, out: Out, cmd: AuditCmd) -> Result<(), Failure> {
    match cmd {
        AuditCmd::Verify => {
            let v = client
                .call(Method::GET, "/operator/audit/chain", None)
                .await?;
            out.print(&v, |v| {
                if v.get("intact") == Some(&Value::Bool(true)) {
                    say!("audit chain intact: {} events", s(v, "events"));
                }
            });
            if v.get("intact") != Some(&Value::Bool(true)) {
                return Err(Failure::CheckFailed(format!(
                    "audit chain broken at event {}: {}",
                    s(&v, "broken_at"),
                    s(&v, "reason")
                )));
            }
        }
        AuditCmd::Export {
            since: from,
            format,
        } => {
            let path = match from.as_deref().map(since).transpose()? {
                Some(t) => format!("/operator/audit?since={t}"),
                None => "/operator/audit".into(),
            };
            let v = client.call(Method::GET, &path, None).await?;
            let events = items(v.get("events").unwrap_or(&Value::Null));
            match format {
                AuditFormat::Jsonl => {
                    for e in events {
                        say!("{e}");
                    }
                }
                AuditFormat::Csv => {
                    say!("seq,at,actor,structure_id,action,target,hash");
                    for e in events {
                        let fields = [
                            s(e, "seq"),
                            time(e, "at"),
                            s(e, "actor"),
                            s(e, "structure_id"),
                            s(e, "action"),
                            s(e, "target"),
                            s(e, "hash"),
                        ];
                        let fields: Vec<String> =
                            fields.iter().map(|f| render::csv_field(f)).collect();
                        say!("{}", fields.join(","));
                    }
                }
            }
        }
    }
    Ok(())
}

/// `keys rotate|list`
pub async fn keys(client: &Client, out: Out, cmd: KeysCmd) -> Result<(), Failure> {
    let v = match cmd {
        KeysCmd::Rotate { delay_seconds } => {
            let body = match delay_seconds {
                Some(d) => json!({"delay_seconds": d}),
                None => json!({}),
            };
            let v = client
                .call(Method::POST, "/operator/keys/rotate", Some(&body))
                .await?;
            if !out.json {
                say!(
                    "new keys published, signing from {}",
                    time(&v, "signs_from")
                );
            }
            v
        }
        KeysCmd::List => client.call(Method::GET, "/operator/keys", None).await?,
    };
    out.print(&v, |v| {
        let rows: Vec<Vec<String>> = items(v.get("keys").unwrap_or(&Value::Null))
            .iter()
            .map(|k| {
                vec![
                    s(k, "alg"),
                    s(k, "kid"),
                    s(k, "state"),
                    time(k, "signs_from"),
                    time(k, "signs_until"),
                    time(k, "dropped_at"),
                ]
            })
            .collect();
        table(
            &[
                "ALG",
                "KID",
                "STATE",
                "SIGNS FROM",
                "SIGNS UNTIL",
                "DROPPED AT",
            ],
            &rows,
        );
    });
    Ok(())
}

/// `catalogue check|reload`
pub fn catalogue(remote: &Remote, cmd: CatalogueCmd) -> Result<(), Failure> {
    match cmd {
        CatalogueCmd::Check { file, dev } => {
            let path = match file {
                Some(f) => f,
                None => {
                    apex_idp::config::Config::load(remote.config.as_deref())
                        .map_err(|p| Failure::Local(p.to_string()))?
                        .catalogue
                        .file
                }
            };
            let shown = path.display().to_string();
            let problems: Vec<String> = match apex_idp::server::load_catalogue(&path) {
                Ok(c) if dev => {
                    report_catalogue(remote.json, &shown, &c);
                    return Ok(());
                }
                Ok(c) => {
                    let found = c.published_demo_secrets(&shown);
                    if found.is_empty() {
                        report_catalogue(remote.json, &shown, &c);
                        return Ok(());
                    }
                    found.iter().map(ToString::to_string).collect()
                }
                Err(p) => p.0.iter().map(ToString::to_string).collect(),
            };
            if remote.json {
                say!(
                    "{:#}",
                    json!({"file": shown, "ok": false, "problems": problems})
                );
            } else {
                for p in &problems {
                    eprintln!("{p}");
                }
            }
            Err(Failure::Local(format!(
                "{shown}: {} problem(s) found",
                problems.len()
            )))
        }
        CatalogueCmd::Reload => Err(Failure::Local(
            "catalogue reload: a command of the running server".into(),
        )),
    }
}

/// `catalogue reload`: the running server reads its catalogue's file again.
pub async fn reload_catalogue(client: &Client, out: Out) -> Result<(), Failure> {
    let v = client
        .call(Method::POST, "/operator/catalogue/reload", None)
        .await?;
    out.print(&v, |v| {
        say!(
            "catalogue reloaded: {}: {} categories, {} applications",
            s(v, "file"),
            v.get("categories").and_then(Value::as_u64).unwrap_or(0),
            v.get("applications").and_then(Value::as_u64).unwrap_or(0)
        );
    });
    Ok(())
}

fn report_catalogue(json: bool, file: &str, c: &apex_idp::catalogue::Catalogue) {
    if json {
        say!(
            "{:#}",
            json!({"file": file, "ok": true, "categories": c.categories.len(), "applications": c.applications.len()})
        );
    } else {
        say!(
            "catalogue OK: {file}: {} categories, {} applications",
            c.categories.len(),
            c.applications.len()
        );
    }
}
