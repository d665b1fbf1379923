//! The `apex-idp` command line.
#![forbid(unsafe_code)]

use std::io::{BufReader, Read};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

mod cli;

use apex_idp::clock::SystemClock;
use apex_idp::config::Config;
use apex_idp::server::{self, listening_line};
use apex_idp::store;
use apex_idp::store::table::FaceState;

/// mimalloc rather than glibc's malloc: the server allocates and frees small values
/// (decoded entries, JSON, sled's copied pages) on two threads at once, where glibc's
/// arenas cost it an eighth of its time (figures in README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Identity server for the partners of the DGFiP: OpenID Connect, LDAP and the web
/// space of "Mon espace APEX Partenaires".
#[derive(Parser)]
#[command(name = "apex-idp", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (HTTP API; listeners from the configuration).
    Serve {
        /// Configuration file (default config/apex.toml).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Development machine: accept the demo catalogue's published secrets.
        #[arg(long)]
        dev: bool,
    },
    /// Run the server on a demo directory, created when empty, and print the sign-ins.
    Demo {
        /// Where the demo store lives.
        #[arg(long, default_value = "demo-data")]
        data_dir: PathBuf,
        /// Configuration file (default config/apex.toml).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Where the demo application (an OpenID Connect client of DEMO) listens. By
        /// default 127.0.0.1:9001, the catalogue's URL, which the portal links to (when
        /// that port is taken, the demo runs without it and says so); another address
        /// (port 0 picks a free one) takes its place in a copy of the catalogue.
        #[arg(long)]
        app_listen: Option<String>,
        /// Do not serve the demo application.
        #[arg(long, conflicts_with = "app_listen")]
        no_app: bool,
    },
    /// Read a secret on stdin and print its argon2id PHC string.
    HashSecret {
        /// Configuration file, for the [argon2] cost (default config/apex.toml).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Check the configuration and the catalogue; list every problem.
    CheckConfig {
        /// Configuration file (default config/apex.toml).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Check as `serve --dev` runs: the demo catalogue's published secrets pass.
        #[arg(long)]
        dev: bool,
    },
    /// Write a consistent backup of the whole store (JSON lines), server stopped.
    Backup {
        /// Output file.
        #[arg(long)]
        out: PathBuf,
        /// Configuration file (default config/apex.toml).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Restore a backup into an empty store, server stopped.
    Restore {
        /// Input file.
        #[arg(long = "in")]
        input: PathBuf,
        /// Configuration file (default config/apex.toml).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Rotate the OIDC signing keys, server stopped (while it runs: POST
    /// /api/v1/operator/keys/rotate): new keys are published at once and sign after the
    /// delay; the old ones stay published until their tokens have expired.
    RotateKeys {
        /// Seconds between publication and first signature (at least the JWKS cache
        /// lifetime, 300).
        #[arg(long, default_value_t = apex_idp::oidc::keys::DEFAULT_ROTATION_DELAY)]
        delay_seconds: i64,
        /// Configuration file (default config/apex.toml).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Move a whole directory from one store to another, servers stopped: sled to
    /// PostgreSQL or back. The audit chain is verified before and after; the target
    /// must be empty.
    MigrateStore {
        /// Where the directory is: sled:<data_dir>, postgres:<url> or
        /// postgres-url-file:<file holding the URL> (keeps a password off the command line).
        #[arg(long)]
        from: String,
        /// Where it goes, in the same forms.
        #[arg(long)]
        to: String,
    },
    /// Operator: create, list, show, rename or close structures (on a running server).
    Structure {
        #[command(flatten)]
        remote: cli::Remote,
        #[command(subcommand)]
        cmd: cli::StructureCmd,
    },
    /// Operator: invite or replace a structure's administrateur (on a running server).
    Admin {
        #[command(flatten)]
        remote: cli::Remote,
        #[command(subcommand)]
        cmd: cli::AdminCmd,
    },
    /// Operator: list, show, block, unblock accounts, end their sessions (on a running
    /// server).
    Account {
        #[command(flatten)]
        remote: cli::Remote,
        #[command(subcommand)]
        cmd: cli::AccountCmd,
    },
    /// Operator: verify or export the audit log (on a running server).
    Audit {
        #[command(flatten)]
        remote: cli::Remote,
        #[command(subcommand)]
        cmd: cli::AuditCmd,
    },
    /// Operator: check a catalogue file; reload the server's catalogue.
    Catalogue {
        #[command(flatten)]
        remote: cli::Remote,
        #[command(subcommand)]
        cmd: cli::CatalogueCmd,
    },
    /// Operator: list or rotate the OIDC signing keys (on a running server).
    Keys {
        #[command(flatten)]
        remote: cli::Remote,
        #[command(subcommand)]
        cmd: cli::KeysCmd,
    },
}

fn main() -> ExitCode {
    // Usage errors exit 1 (not clap's 2): 2 means "refused by the server" for the
    // operator commands (README "Operator command line").
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let (remote, operation) = match cli.command {
        Command::Structure { remote, cmd } => (remote, cli::Operation::Structure(cmd)),
        Command::Admin { remote, cmd } => (remote, cli::Operation::Admin(cmd)),
        Command::Account { remote, cmd } => (remote, cli::Operation::Account(cmd)),
        Command::Audit { remote, cmd } => (remote, cli::Operation::Audit(cmd)),
        Command::Catalogue { remote, cmd } => (remote, cli::Operation::Catalogue(cmd)),
        Command::Keys { remote, cmd } => (remote, cli::Operation::Keys(cmd)),
        other => return server_command(other),
    };
    cli::run(remote, operation)
}

/// The commands that run the server or act on its files.
fn server_command(command: Command) -> ExitCode {
    let result = match command {
        Command::Serve { config, dev } => load(config.as_deref()).and_then(|c| {
            if !dev {
                refuse_demo_secrets(&c)?;
            }
            run_async(serve(c, Mode::Serve))
        }),
        Command::Demo {
            data_dir,
            config,
            app_listen,
            no_app,
        } => load(config.as_deref()).and_then(|mut c| {
            c.server.data_dir = data_dir.clone();
            c.mail.outbox_dir = data_dir.join("outbox");
            let app = match (no_app, app_listen) {
                (true, _) => DemoApp::Off,
                (false, Some(listen)) => DemoApp::At(listen),
                (false, None) => DemoApp::Default,
            };
            run_async(demo(c, app))
        }),
        Command::HashSecret { config } => load(config.as_deref()).and_then(|c| hash_secret(&c)),
        Command::CheckConfig { config, dev } => check_config(config, dev),
        Command::Backup { out, config } => load(config.as_deref()).and_then(|c| backup(&c, &out)),
        Command::Restore { input, config } => {
            load(config.as_deref()).and_then(|c| restore(&c, &input))
        }
        Command::RotateKeys {
            delay_seconds,
            config,
        } => load(config.as_deref()).and_then(|c| rotate_keys(&c, delay_seconds)),
        Command::MigrateStore { from, to } => {
            apex_idp::logging::init(Default::default());
            migrate_store(&from, &to)
        }
        Command::Structure { .. }
        | Command::Admin { .. }
        | Command::Account { .. }
        | Command::Audit { .. }
        | Command::Catalogue { .. }
        | Command::Keys { .. } => Err("an operator command reached the server's path".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("apex-idp: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Reads the configuration, and installs the log it asks for (`[log] format`).
fn load(path: Option<&std::path::Path>) -> Result<Config, String> {
    let config = Config::load(path).map_err(|p| p.to_string())?;
    apex_idp::logging::init(config.log.format);
    Ok(config)
}

fn run_async<F: std::future::Future<Output = Result<(), String>>>(f: F) -> Result<(), String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?
        .block_on(f)
}

/// Where the demo application listens to be at the catalogue's URL of DEMO.
const DEMO_APP_LISTEN: &str = "127.0.0.1:9001";

/// Whether and where `demo` serves the demo application.
enum DemoApp {
    /// At the catalogue's URL, unless that port is taken.
    Default,
    /// At this address (a failure to listen there is an error).
    At(String),
    /// Not at all.
    Off,
}

/// `demo`: the server on the demo directory, and the demo application beside it.
async fn demo(mut config: Config, app: DemoApp) -> Result<(), String> {
    server::install_crypto_provider();
    let app = match app {
        DemoApp::Off => return serve(config, Mode::Demo { app: None }).await,
        DemoApp::At(listen) => tokio::net::TcpListener::bind(&listen)
            .await
            .map_err(|e| format!("demo application on {listen}: {e}"))?,
        DemoApp::Default => match tokio::net::TcpListener::bind(DEMO_APP_LISTEN).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!(
                    "apex-idp: demo application not served: {DEMO_APP_LISTEN}: {e} (choose another address with --app-listen)"
                );
                return serve(config, Mode::Demo { app: None }).await;
            }
        },
    };
    let addr = app.local_addr().map_err(|e| e.to_string())?;
    let base = apex_idp::demo_app::base_of(addr);
    let shipped = apex_idp::demo_app::base_of(DEMO_APP_LISTEN.parse().map_err(|_| "address")?);
    if base != shipped {
        // Another address: DEMO's URL and redirect URIs follow it, in a copy of the
        // catalogue kept in the demo's data directory.
        let text = std::fs::read_to_string(&config.catalogue.file)
            .map_err(|e| format!("{}: {e}", config.catalogue.file.display()))?;
        store::private::create_private_dir(&config.server.data_dir)
            .map_err(|e| format!("{}: {e}", config.server.data_dir.display()))?;
        let copy = config.server.data_dir.join("demo-catalogue.toml");
        std::fs::write(&copy, text.replace(&shipped, &base)).map_err(|e| e.to_string())?;
        config.catalogue.file = copy;
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = apex_idp::demo_app::spawn(
        app,
        &config.server.public_url,
        apex_idp::catalogue::DEMO_CLIENT_SECRET,
        stopped,
    )
    .map_err(|e| e.to_string())?;
    let served = serve(config, Mode::Demo { app: Some(addr) }).await;
    let _ = stop.send(true);
    let _ = task.await;
    served
}

/// What the server runs as.
enum Mode {
    /// `serve`.
    Serve,
    /// `demo`, with the demo application's address when it runs.
    Demo { app: Option<std::net::SocketAddr> },
}

/// Runs the server until SIGINT or SIGTERM.
async fn serve(config: Config, mode: Mode) -> Result<(), String> {
    server::install_crypto_provider();
    let directory =
        server::open_directory(&config, Arc::new(SystemClock)).map_err(|e| e.to_string())?;
    let demo_signins = match mode {
        Mode::Demo { .. } => Some(
            apex_idp::demo::seed(&directory)
                .await
                .map_err(|e| format!("demo data: {e}"))?,
        ),
        Mode::Serve => None,
    };
    let server = server::start_with(&config, directory)
        .await
        .map_err(|e| e.to_string())?;
    let proto = if server.https { "https" } else { "http" };
    println!("{}", listening_line(proto, server.http_addr));
    if let Some(addr) = server.management_addr {
        println!("{}", listening_line("management", addr));
    }
    if let Some(addr) = server.ldap_addr {
        println!("{}", listening_line("ldap", addr));
    }
    if let Some(addr) = server.ldaps_addr {
        println!("{}", listening_line("ldaps", addr));
    }
    if let Mode::Demo { app: Some(addr) } = mode {
        println!("{}", listening_line("demo-app", addr));
    }
    if let Some(signins) = demo_signins {
        apex_idp::demo::print(&config, &server, &signins);
    }
    match mode {
        Mode::Demo { app: Some(addr) } => println!(
            "  demo application {}/  (an OpenID Connect client: sign in, see the claims)",
            apex_idp::demo_app::base_of(addr)
        ),
        Mode::Demo { app: None } => println!(
            "  demo application: not served (--app-listen ADDR serves it, where the portal links)"
        ),
        Mode::Serve => {}
    }
    wait_for_signal().await;
    eprintln!("apex-idp: stopping");
    server.shutdown().await;
    Ok(())
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

fn hash_secret(config: &Config) -> Result<(), String> {
    let mut secret = String::new();
    std::io::stdin()
        .read_to_string(&mut secret)
        .map_err(|e| format!("stdin: {e}"))?;
    let secret = secret.strip_suffix('\n').unwrap_or(&secret);
    let secret = secret.strip_suffix('\r').unwrap_or(secret);
    if secret.is_empty() {
        return Err("stdin: the secret is empty".into());
    }
    let hasher = apex_idp::auth::Hasher::new(config.argon2).map_err(|e| e.to_string())?;
    println!(
        "{}",
        hasher.hash_blocking(secret).map_err(|e| e.to_string())?
    );
    Ok(())
}

/// `serve` without `--dev` starts only when no application keeps a demo secret.
fn refuse_demo_secrets(config: &Config) -> Result<(), String> {
    let catalogue = server::load_catalogue(&config.catalogue.file).map_err(|p| p.to_string())?;
    let file = config.catalogue.file.display().to_string();
    let found = catalogue.published_demo_secrets(&file);
    if found.is_empty() {
        return Ok(());
    }
    for p in &found {
        eprintln!("{p}");
    }
    Err(format!(
        "{} application secret(s) of the demo catalogue: refusing to serve (--dev accepts them)",
        found.len()
    ))
}

fn check_config(path: Option<PathBuf>, dev: bool) -> Result<(), String> {
    let checked = server::check_config(path.as_deref()).and_then(|(config, catalogue)| {
        let file = config.catalogue.file.display().to_string();
        match catalogue.published_demo_secrets(&file) {
            found if found.is_empty() || dev => Ok((config, catalogue)),
            found => Err(found.iter().map(ToString::to_string).collect()),
        }
    });
    match checked {
        Ok((config, catalogue)) => {
            println!(
                "configuration OK: {} categories, {} applications, data in {}",
                catalogue.categories.len(),
                catalogue.applications.len(),
                config.server.data_dir.display()
            );
            Ok(())
        }
        Err(problems) => {
            for p in &problems {
                eprintln!("{p}");
            }
            Err(format!("{} problem(s) found", problems.len()))
        }
    }
}

fn backup(config: &Config, out: &std::path::Path) -> Result<(), String> {
    let store = server::open_store(config).map_err(|e| e.to_string())?;
    let tmp = out.with_extension("partial");
    // 0600 whatever the umask: a leftover partial file is replaced, never reused.
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(format!("{}: {e}", tmp.display()));
        }
        _ => {}
    }
    let file =
        store::private::create_private_file(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    let mut writer = std::io::BufWriter::new(file);
    let lock = store.lock().map_err(|e| e.to_string())?;
    let summary = store::backup_to(&store, &lock, &mut writer).map_err(|e| e.to_string())?;
    drop(writer);
    std::fs::rename(&tmp, out).map_err(|e| format!("{}: {e}", out.display()))?;
    println!(
        "backup: {} records written to {}",
        summary.records,
        out.display()
    );
    Ok(())
}

fn restore(config: &Config, input: &std::path::Path) -> Result<(), String> {
    let file = std::fs::File::open(input).map_err(|e| format!("{}: {e}", input.display()))?;
    let store = server::open_store(config).map_err(|e| e.to_string())?;
    let summary =
        store::restore_from(&store, &mut BufReader::new(file)).map_err(|e| e.to_string())?;
    let events =
        apex_idp::directory::audit::verify(&store).map_err(|e| format!("restored store: {e}"))?;
    println!(
        "restore: {} records into {}; audit chain intact ({events} events)",
        summary.records,
        config.server.data_dir.display()
    );
    Ok(())
}

/// A store named on the command line: `sled:<dir>`, `postgres:<url>` or
/// `postgres-url-file:<file>`.
fn store_at(spec: &str) -> Result<(store::Store, String), String> {
    let open = |backend: &store::Backend<'_>| {
        store::Store::open_backend(backend).map_err(|e| format!("{}: {e}", shown(spec)))
    };
    let postgres = |url: String| store::Backend::Postgres(store::PgSettings { url, pool_size: 4 });
    if let Some(dir) = spec.strip_prefix("sled:") {
        let dir = std::path::Path::new(dir);
        return Ok((open(&store::Backend::Sled(dir))?, shown(spec)));
    }
    if let Some(url) = spec.strip_prefix("postgres:") {
        return Ok((open(&postgres(url.to_owned()))?, shown(spec)));
    }
    if let Some(file) = spec.strip_prefix("postgres-url-file:") {
        let settings = apex_idp::config::StoreConfig {
            backend: apex_idp::config::StoreBackend::Postgres,
            url_file: file.to_owned(),
            ..Default::default()
        };
        let url = settings.postgres_url()?;
        return Ok((open(&postgres(url))?, shown(spec)));
    }
    Err(format!(
        "{}: name a store as sled:<data_dir>, postgres:<url> or postgres-url-file:<file>",
        shown(spec)
    ))
}

/// A store's name as it may be printed: a URL's password is masked.
fn shown(spec: &str) -> String {
    match url::Url::parse(spec.strip_prefix("postgres:").unwrap_or(spec)) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            match spec.starts_with("postgres:") && !spec.starts_with("postgres://") {
                true => format!("postgres:{u}"),
                false => u.to_string(),
            }
        }
        _ => spec.to_owned(),
    }
}

/// `migrate-store`: verifies the source's audit chain, copies every table through a
/// private unlinked backup file, and verifies the copy's chain.
fn migrate_store(from: &str, to: &str) -> Result<(), String> {
    use std::io::{Seek, SeekFrom, Write};
    let (source, source_name) = store_at(from)?;
    let events = apex_idp::directory::audit::verify(&source)
        .map_err(|e| format!("{source_name}: the audit chain does not verify: {e}"))?;
    let (target, target_name) = store_at(to)?;
    let scratch = std::env::temp_dir().join(format!("apex-migrate-{}", uuid::Uuid::new_v4()));
    let mut file = store::private::create_private_file(&scratch)
        .map_err(|e| format!("{}: {e}", scratch.display()))?;
    // Unlinked at once: the copy has no name, and nothing is left behind.
    std::fs::remove_file(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
    {
        let lock = source.lock().map_err(|e| e.to_string())?;
        let mut writer = std::io::BufWriter::new(&mut file);
        store::backup_to(&source, &lock, &mut writer).map_err(|e| e.to_string())?;
        writer.flush().map_err(|e| e.to_string())?;
    }
    file.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
    let summary = store::restore_from(&target, &mut BufReader::new(file))
        .map_err(|e| format!("{target_name}: {e}"))?;
    let copied = apex_idp::directory::audit::verify(&target)
        .map_err(|e| format!("{target_name}: the copied audit chain does not verify: {e}"))?;
    if copied != events {
        return Err(format!(
            "{target_name}: {copied} audit events after the copy, {events} before"
        ));
    }
    println!(
        "migrate-store: {} records from {source_name} to {target_name}; audit chain intact ({events} events)",
        summary.records
    );
    Ok(())
}

fn rotate_keys(config: &Config, delay: i64) -> Result<(), String> {
    use apex_idp::clock::Clock;
    use apex_idp::oidc::keys;
    use apex_idp::store::StoreError;
    if !(keys::MIN_ROTATION_DELAY..=keys::MAX_ROTATION_DELAY).contains(&delay) {
        return Err(format!(
            "--delay-seconds {delay}: must be between {} (the JWKS cache lifetime) and {}",
            keys::MIN_ROTATION_DELAY,
            keys::MAX_ROTATION_DELAY
        ));
    }
    let dir = &config.server.data_dir;
    let store = server::open_store(config).map_err(|e| match e {
        server::StartError::Store(StoreError::Locked(_)) => format!(
            "the store at {} is in use (is the server running?); while it runs, rotate with POST /api/v1/operator/keys/rotate and an operator token",
            dir.display()
        ),
        other => other.to_string(),
    })?;
    let state = FaceState::new(Arc::new(store));
    let table = state.table(keys::TREE).map_err(|e| e.to_string())?;
    let now = SystemClock.now();
    keys::rotate(&table, now, delay).map_err(|e| e.to_string())?;
    let retention = keys::retention(config.oidc.access_token_seconds);
    let records = keys::records(&table).map_err(|e| e.to_string())?;
    println!(
        "rotate-keys: new keys published now, signing from {} (in {delay} s):",
        now + delay
    );
    for k in keys::status(&records, now, retention) {
        let until = k
            .signs_until
            .map(|t| format!(", signs until {t}, dropped at {}", t + retention))
            .unwrap_or_default();
        println!(
            "  {:<6} {:<24} {:?}, signs from {}{until}",
            k.alg, k.kid, k.state, k.signs_from
        );
    }
    Ok(())
}
