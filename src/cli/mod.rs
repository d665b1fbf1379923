//! The operator command line: `structure`, `admin`, `account`, `audit`, `catalogue` and
//! `keys` commands, each a call of a running server's operator API (`catalogue check`
//! excepted: it reads the file here). The token comes from `APEX_OPERATOR_TOKEN` or
//! `--token-file`, never from the command line, where `ps` and shell histories show it.

/// `println!` that takes a closed pipe (`apex-idp audit export | head`) calmly: the
/// rest of the output goes nowhere instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

mod client;
mod commands;
mod render;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};

use client::Client;
pub use client::Failure;

/// The environment variable that holds the operator token.
pub const TOKEN_VAR: &str = "APEX_OPERATOR_TOKEN";

/// How the command reaches the server, and how it answers.
#[derive(Args, Debug, Clone)]
pub struct Remote {
    /// The server's URL (e.g. http://127.0.0.1:8081). Default: from the configuration,
    /// `management.listen` when set (the operator API is served there alone), else
    /// `http.listen` (https when `http.tls`); a wildcard address means this machine.
    #[arg(long, global = true, env = "APEX_URL")]
    pub url: Option<String>,
    /// A file holding the operator token (instead of the APEX_OPERATOR_TOKEN variable).
    #[arg(long, global = true, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Machine output: the server's JSON as is (problems too, on stdout).
    #[arg(long, global = true)]
    pub json: bool,
    /// Configuration file, read for the default URL (default config/apex.toml).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// `apex-idp structure ...`
#[derive(Subcommand, Debug)]
pub enum StructureCmd {
    /// Create a structure.
    Create {
        /// SIRET (14 digits, Luhn key, La Poste's rule).
        #[arg(long)]
        siret: String,
        /// Category code of the catalogue (e.g. CSP).
        #[arg(long)]
        category: String,
        /// Name.
        #[arg(long)]
        name: String,
    },
    /// List every structure.
    List,
    /// Show a structure (id or SIRET), its services and accounts.
    Show {
        /// Structure id or SIRET.
        structure: String,
    },
    /// Rename and/or recategorise a structure.
    Rename {
        /// Structure id or SIRET.
        structure: String,
        /// New name.
        #[arg(long, required_unless_present = "category")]
        name: Option<String>,
        /// New category (refused while its accounts hold profiles it does not cover).
        #[arg(long)]
        category: Option<String>,
    },
    /// Close a structure, for good: its accounts are blocked and their sessions end.
    Close {
        /// Structure id or SIRET.
        structure: String,
    },
}

/// The person an administrateur invitation is for.
#[derive(Args, Debug)]
pub struct NewPerson {
    /// Professional e-mail address (the invitation is mailed there).
    #[arg(long)]
    pub email: String,
    /// First name.
    #[arg(long)]
    pub given_name: String,
    /// Family name.
    #[arg(long)]
    pub family_name: String,
}

/// `apex-idp admin ...`
#[derive(Subcommand, Debug)]
pub enum AdminCmd {
    /// Invite an administrateur for a structure: active once he has set his password.
    Invite {
        /// Structure id or SIRET.
        structure: String,
        #[command(flatten)]
        person: NewPerson,
    },
    /// Replace an administrateur: invite the new one; the old one is blocked when the
    /// new one becomes active (the structure is never without one).
    Replace {
        /// The administrateur replaced: account id or identifier.
        account: String,
        #[command(flatten)]
        person: NewPerson,
    },
}

/// `apex-idp account ...`
#[derive(Subcommand, Debug)]
pub enum AccountCmd {
    /// List the accounts of a structure.
    List {
        /// Structure id or SIRET.
        structure: String,
    },
    /// Show an account.
    Show {
        /// Account id or identifier.
        account: String,
    },
    /// Block an account: no sign-in anywhere (web, API, OIDC, LDAP); its sessions end.
    Block {
        /// Account id or identifier.
        account: String,
    },
    /// Unblock an account blocked by the operator.
    Unblock {
        /// Account id or identifier.
        account: String,
    },
    /// End every session of an account (API, SSO, OIDC refresh tokens).
    EndSessions {
        /// Account id or identifier.
        account: String,
    },
}

/// Formats of `audit export`.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditFormat {
    /// One JSON event per line, as the chain holds it.
    Jsonl,
    /// seq, at, actor, structure_id, action, target, hash.
    Csv,
}

/// `apex-idp audit ...`
#[derive(Subcommand, Debug)]
pub enum AuditCmd {
    /// Verify the hash chain of the audit log (exit 6 when it is broken).
    Verify,
    /// Export the audit log.
    Export {
        /// Only events from then on: RFC 3339 time, a date (YYYY-MM-DD, UTC) or unix
        /// seconds.
        #[arg(long)]
        since: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = AuditFormat::Jsonl)]
        format: AuditFormat,
    },
}

/// `apex-idp catalogue ...`
#[derive(Subcommand, Debug)]
pub enum CatalogueCmd {
    /// Check a catalogue file here, as the server would load it; list every problem.
    Check {
        /// The file (default: the configuration's catalogue.file).
        file: Option<PathBuf>,
        /// Accept the demo catalogue's published secrets (as `serve --dev`).
        #[arg(long)]
        dev: bool,
    },
    /// Ask the running server to read its catalogue's file again: it checks it as a
    /// whole and puts it in force, or keeps the one in force and lists every problem
    /// (as SIGHUP does).
    Reload,
}

/// `apex-idp keys ...`
#[derive(Subcommand, Debug)]
pub enum KeysCmd {
    /// Rotate the OIDC signing keys: published now, signing after the delay.
    Rotate {
        /// Seconds between publication and first signature (default 600, at least 300).
        #[arg(long)]
        delay_seconds: Option<i64>,
    },
    /// List the signing keys and where each is in its life.
    List,
}

/// One operator command.
#[derive(Debug)]
pub enum Operation {
    /// `structure ...`
    Structure(StructureCmd),
    /// `admin ...`
    Admin(AdminCmd),
    /// `account ...`
    Account(AccountCmd),
    /// `audit ...`
    Audit(AuditCmd),
    /// `catalogue ...`
    Catalogue(CatalogueCmd),
    /// `keys ...`
    Keys(KeysCmd),
}

/// Runs an operator command; prints its answer or its failure; the exit code says which.
pub fn run(remote: Remote, operation: Operation) -> ExitCode {
    let json = remote.json;
    let result = match operation {
        Operation::Catalogue(cmd @ CatalogueCmd::Check { .. }) => commands::catalogue(&remote, cmd),
        other => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Failure::Local(format!("cannot start the runtime: {e}")))
            .and_then(|rt| rt.block_on(remote_run(&remote, other))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if json && let Some(problem) = failure.problem() {
                say!("{problem:#}");
            }
            eprintln!("apex-idp: {}", failure.message());
            failure.exit_code()
        }
    }
}

async fn remote_run(remote: &Remote, operation: Operation) -> Result<(), Failure> {
    let client = Client::new(&url(remote)?, token(remote.token_file.as_deref())?)?;
    let out = commands::Out { json: remote.json };
    match operation {
        Operation::Structure(cmd) => commands::structure(&client, out, cmd).await,
        Operation::Admin(cmd) => commands::admin(&client, out, cmd).await,
        Operation::Account(cmd) => commands::account(&client, out, cmd).await,
        Operation::Audit(cmd) => commands::audit(&client, out, cmd).await,
        Operation::Keys(cmd) => commands::keys(&client, out, cmd).await,
        Operation::Catalogue(_) => commands::reload_catalogue(&client, out).await,
    }
}

/// The server's URL: `--url` (or `APEX_URL`), else from the configuration.
fn url(remote: &Remote) -> Result<String, Failure> {
    if let Some(u) = &remote.url {
        return Ok(u.clone());
    }
    let config = apex_idp::config::Config::load(remote.config.as_deref()).map_err(|p| {
        Failure::Local(format!(
            "no --url, and the configuration does not load: {p}"
        ))
    })?;
    let (listen, https) = if config.management.listen.trim().is_empty() {
        (config.http.listen.clone(), config.http.tls)
    } else {
        (config.management.listen.clone(), false)
    };
    if listen == "stdin" {
        return Err(Failure::Local(
            "no --url, and http.listen is an inherited socket: give --url".into(),
        ));
    }
    let here = match listen.rsplit_once(':') {
        Some(("0.0.0.0" | "[::]" | "", port)) => format!("127.0.0.1:{port}"),
        _ => listen,
    };
    Ok(format!("{}://{here}", if https { "https" } else { "http" }))
}

/// The operator token: `--token-file`, else `APEX_OPERATOR_TOKEN`.
fn token(file: Option<&Path>) -> Result<String, Failure> {
    let token = match file {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| Failure::Local(format!("--token-file {}: {e}", path.display())))?,
        None => std::env::var(TOKEN_VAR).unwrap_or_default(),
    };
    let token = token.trim().to_owned();
    if token.is_empty() {
        return Err(Failure::Authentication(format!(
            "no operator token: set {TOKEN_VAR} or give --token-file FILE"
        )));
    }
    Ok(token)
}
