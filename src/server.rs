//! Assembles the server from its configuration and runs its listeners and tasks.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::FromRef;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::auth::Hasher;
use crate::catalogue::Catalogue;
use crate::clock::Clock;
use crate::config::{Config, Problems, StoreBackend};
use crate::directory::{self, Directory, Settings, mailqueue};
use crate::http::client::TrustedProxies;
use crate::mail::Postman;
use crate::oidc::OidcState;
use crate::store::{Backend, PgSettings, Store};
use crate::tls::Certificates;
use crate::web::{self, AppState, Faces};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Configuration or catalogue problems.
    #[error("{0}")]
    Config(#[from] Problems),
    /// The store could not be opened.
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    /// A listener could not be bound.
    #[error("cannot listen on {addr} ({key}): {source}")]
    Bind {
        /// The config key.
        key: &'static str,
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// Anything else, in a sentence.
    #[error("{0}")]
    Other(String),
}

/// Installs the ring crypto provider for rustls, once per process.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Opens the store the configuration names: sled in `server.data_dir`, or PostgreSQL.
pub fn open_store(config: &Config) -> Result<Store, StartError> {
    match config.store.backend {
        StoreBackend::Sled => Ok(Store::open(&config.server.data_dir)?),
        StoreBackend::Postgres => {
            let url = config.store.postgres_url().map_err(StartError::Other)?;
            let settings = PgSettings {
                url,
                pool_size: config.store.pool_size,
            };
            Ok(Store::open_backend(&Backend::Postgres(settings))?)
        }
    }
}

/// Builds the core from the configuration: store, catalogue, hasher.
pub fn open_directory(
    config: &Config,
    clock: Arc<dyn Clock>,
) -> Result<Arc<Directory>, StartError> {
    let catalogue = load_catalogue(&config.catalogue.file)?;
    let store = open_store(config)?;
    let hasher =
        Hasher::new(config.argon2).map_err(|e| StartError::Other(format!("argon2: {e}")))?;
    let settings = Settings {
        public_url: config.server.public_url.trim_end_matches('/').to_owned(),
        policy: config.password.policy(),
        invitation_days: config.password.invitation_days,
        reset_link_minutes: config.password.reset_link_minutes,
        retention_days: config.server.retention_days,
        session_minutes: config.server.session_minutes,
        expiry_warning_days: config.password.expiry_warning_days,
    };
    Ok(Arc::new(Directory::new(
        Arc::new(store),
        Arc::new(catalogue),
        clock,
        hasher,
        settings,
    )))
}

/// A running server.
pub struct Server {
    /// Where HTTP listens.
    pub http_addr: SocketAddr,
    /// Whether that listener speaks HTTPS (`http.tls`).
    pub https: bool,
    /// Where `/metrics` and the operator API listen, when `[management] listen` is set.
    pub management_addr: Option<SocketAddr>,
    /// Where plain LDAP (with StartTLS) listens, when enabled.
    pub ldap_addr: Option<SocketAddr>,
    /// Where LDAPS listens, when enabled.
    pub ldaps_addr: Option<SocketAddr>,
    /// The core, for in-process tests.
    pub directory: Arc<Directory>,
    /// The LDAP face when a listener is on, for its gauges.
    pub ldap_face: Option<Arc<crate::ldap::Face>>,
    stop: watch::Sender<bool>,
    http_tasks: Vec<JoinHandle<()>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Server {
    /// Stops accepting, lets requests finish, flushes the store.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        // In-flight requests get a grace period to finish.
        let http = futures::future::join_all(self.http_tasks);
        if tokio::time::timeout(std::time::Duration::from_secs(10), http)
            .await
            .is_err()
        {
            tracing::warn!("requests still running after 10 s; stopping anyway");
        }
        for t in self.tasks {
            t.abort();
            let _ = t.await;
        }
        self.directory.close_store().await;
    }
}

async fn bind(key: &'static str, addr: &str) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind {
            key,
            addr: addr.to_owned(),
            source,
        })
}

/// Starts every listener and background task.
pub async fn start(config: &Config, clock: Arc<dyn Clock>) -> Result<Server, StartError> {
    install_crypto_provider();
    let directory = open_directory(config, clock)?;
    start_with(config, directory).await
}

/// Takes over a listening socket bound by someone else (a parent process, a test
/// harness): the server binds nothing for it.
fn adopt(
    key: &'static str,
    addr: &str,
    listener: std::net::TcpListener,
) -> Result<TcpListener, StartError> {
    let problem = |source| StartError::Bind {
        key,
        addr: addr.to_owned(),
        source,
    };
    listener.set_nonblocking(true).map_err(problem)?;
    TcpListener::from_std(listener).map_err(problem)
}

/// The listening socket inherited as standard input (inetd's `wait` style, systemd's
/// `StandardInput=socket`): its address tells whether it is a socket at all.
#[cfg(unix)]
fn inherited_stdin() -> std::io::Result<std::net::TcpListener> {
    use std::os::fd::AsFd;
    let fd = std::io::stdin().as_fd().try_clone_to_owned()?;
    let listener = std::net::TcpListener::from(fd);
    listener.local_addr()?;
    Ok(listener)
}

#[cfg(not(unix))]
fn inherited_stdin() -> std::io::Result<std::net::TcpListener> {
    Err(std::io::Error::other(
        "an inherited socket needs a unix system",
    ))
}

/// The HTTP listener: the one handed over, the socket inherited as standard input, or
/// the configured address bound now.
async fn http_listener(
    config: &Config,
    handed: Option<std::net::TcpListener>,
) -> Result<TcpListener, StartError> {
    match handed {
        Some(l) => adopt("http.listen", "a socket handed over", l),
        None if config.http.listen == crate::config::INHERITED_STDIN => {
            let l = inherited_stdin().map_err(|source| StartError::Bind {
                key: "http.listen",
                addr: config.http.listen.clone(),
                source,
            })?;
            adopt("http.listen", &config.http.listen, l)
        }
        None => bind("http.listen", &config.http.listen).await,
    }
}

/// Starts the listeners over an already opened core.
pub async fn start_with(config: &Config, directory: Arc<Directory>) -> Result<Server, StartError> {
    start_on(config, directory, None).await
}

/// Starts the listeners over an already opened core, HTTP on `http` when given (a
/// socket bound before the server started, so that its address is known, and stays
/// the server's, across a restart) instead of `http.listen`.
pub async fn start_on(
    config: &Config,
    directory: Arc<Directory>,
    http: Option<std::net::TcpListener>,
) -> Result<Server, StartError> {
    if !crate::auth::token::random_source_works() {
        return Err(StartError::Other(
            "the system random source does not answer: no secret could be issued safely".into(),
        ));
    }
    let postman =
        Postman::from_config(&config.mail).map_err(|e| StartError::Other(format!("mail: {e}")))?;
    let listener = http_listener(config, http).await?;
    let http_addr = listener
        .local_addr()
        .map_err(|e| StartError::Other(e.to_string()))?;
    let management = match config.management.listen.as_str() {
        "" => None,
        addr => Some(bind("management.listen", addr).await?),
    };
    let management_addr = management
        .as_ref()
        .map(TcpListener::local_addr)
        .transpose()
        .map_err(|e| StartError::Other(e.to_string()))?;
    let ldap_enabled = !config.ldap.listen.is_empty() || !config.ldap.ldaps_listen.is_empty();
    let certificates = if config.http.tls || ldap_enabled {
        install_crypto_provider();
        let (certificates, _) =
            crate::tls::certificates(&config.tls).map_err(|e| StartError::Other(e.to_string()))?;
        Some(certificates)
    } else {
        None
    };
    let oidc = Arc::new(
        crate::oidc::Oidc::open(&directory, config.oidc)
            .await
            .map_err(|e| StartError::Other(e.to_string()))?,
    );
    let trusted_proxies = crate::auth::addr::parse_list(&config.http.trusted_proxies)
        .map_err(|e| StartError::Other(e.to_string()))?;
    let metrics = Arc::new(crate::metrics::Metrics::default());
    let proxies = TrustedProxies(trusted_proxies.clone().into());
    let catalogue_file = Arc::new(CatalogueFile::new(
        &config.catalogue.file,
        Arc::clone(&directory),
    ));
    let http = Http {
        web: Arc::new(AppState {
            directory: Arc::clone(&directory),
            operator_tokens: crate::auth::operator::OperatorTokens::new(
                config.operator.token_hashes.clone(),
            ),
            metrics: Arc::clone(&metrics),
            browser: oidc.browser(),
            keys: Arc::clone(&oidc) as Arc<dyn crate::http::keys::KeyRotation>,
            catalogue: Arc::clone(&catalogue_file)
                as Arc<dyn crate::http::catalogue::CatalogueReload>,
            trusted_proxies: proxies.clone(),
        }),
        oidc: Arc::new(crate::oidc::OidcState {
            directory: Arc::clone(&directory),
            oidc: Arc::clone(&oidc),
            metrics: Arc::clone(&metrics),
        }),
        proxies,
    };
    let (stop, _) = watch::channel(false);
    let limits = web::listener::Limits {
        max_connections: config.http.max_connections,
        per_address: config.http.max_connections_per_address,
        header_read: Duration::from_secs(config.http.header_read_timeout_seconds),
        unbounded: trusted_proxies,
    };
    let policy = || crate::http::Policy {
        request_timeout: Duration::from_secs(config.http.request_timeout_seconds),
        https: oidc.issuer().starts_with("https://"),
        metrics: Arc::clone(&metrics),
    };
    let body = config.http.max_body_bytes;
    let faces = if management.is_some() {
        Faces::Public
    } else {
        Faces::All
    };
    let https = match (&certificates, config.http.tls) {
        (Some(c), true) => Some(tokio_rustls::TlsAcceptor::from(
            c.server_config(&[b"http/1.1"])
                .map_err(|e| StartError::Other(e.to_string()))?,
        )),
        _ => None,
    };
    let mut http_tasks = vec![web::listener::spawn(
        listener,
        http.application(faces, body, policy()),
        https,
        limits.clone(),
        stop.subscribe(),
    )];
    if let Some(listener) = management {
        http_tasks.push(web::listener::spawn(
            listener,
            http.application(Faces::Management, body, policy()),
            None,
            limits,
            stop.subscribe(),
        ));
    }
    let mut ldap = start_ldap(config, &directory, certificates.as_ref(), &stop, &metrics).await?;
    let mail = tokio::spawn(mailqueue::run_sender(Arc::clone(&directory), postman));
    let housekeeping = tokio::spawn(directory::run_housekeeping(Arc::clone(&directory)));
    let private = tokio::spawn(directory::keep_private(Arc::clone(&directory)));
    let mut tasks = vec![mail, housekeeping, private];
    tasks.extend(std::mem::take(&mut ldap.tasks));
    tasks.push(tokio::spawn(crate::oidc::run_housekeeping(
        oidc,
        Arc::clone(&directory),
    )));
    tasks.push(reload_on_hangup(certificates, catalogue_file)?);
    Ok(Server {
        http_addr,
        https: config.http.tls,
        management_addr,
        ldap_addr: ldap.ldap_addr,
        ldaps_addr: ldap.ldaps_addr,
        ldap_face: ldap.face,
        directory,
        stop,
        http_tasks,
        tasks,
    })
}

/// The catalogue's file, read again on demand (SIGHUP, the operator API).
pub struct CatalogueFile {
    path: std::path::PathBuf,
    directory: Arc<Directory>,
}

impl CatalogueFile {
    /// The catalogue of `directory`, kept in `path`.
    pub fn new(path: &Path, directory: Arc<Directory>) -> CatalogueFile {
        CatalogueFile {
            path: path.to_path_buf(),
            directory,
        }
    }

    /// Reads the file and checks it as a whole, as at start (with the faces' own
    /// checks); also that every structure's category is still there, and that it brings
    /// no published demo secret the catalogue in force did not hold (the server runs
    /// with `--dev` then). Puts it in force at once for every new request; requests
    /// already running finish with the old one. On any problem, the old one stays.
    pub fn reload(&self, source: &str) -> Result<crate::http::catalogue::Reloaded, Vec<String>> {
        let outcome = self.check_and_swap();
        match &outcome {
            Ok(_) => {
                crate::logging::catalogue_reload("ok", source, 0);
                tracing::info!(file = %self.path.display(), "catalogue: reloaded ({source})");
            }
            Err(problems) => {
                crate::logging::catalogue_reload("refused", source, problems.len());
                for p in problems {
                    tracing::error!(problem = %p, "catalogue: reload refused, the catalogue in force stays");
                }
            }
        }
        outcome
    }

    fn check_and_swap(&self) -> Result<crate::http::catalogue::Reloaded, Vec<String>> {
        let listed = |p: Problems| p.0.iter().map(ToString::to_string).collect::<Vec<_>>();
        let catalogue = load_catalogue(&self.path).map_err(listed)?;
        let file = self.path.display().to_string();
        let mut problems = Vec::new();
        let in_force = self.directory.catalogue();
        if in_force.published_demo_secrets(&file).is_empty() {
            problems.extend(
                catalogue
                    .published_demo_secrets(&file)
                    .iter()
                    .map(ToString::to_string),
            );
        }
        match self.directory.structures() {
            Ok(structures) => {
                let mut missing: std::collections::BTreeMap<&str, usize> =
                    std::collections::BTreeMap::new();
                for s in &structures {
                    if catalogue.category(&s.category).is_none() {
                        *missing.entry(s.category.as_str()).or_default() += 1;
                    }
                }
                problems.extend(missing.into_iter().map(|(code, n)| {
                    format!("{file}: category {code} is gone but is still the category of {n} structure(s)")
                }));
            }
            Err(e) => problems.push(format!("the structures could not be read: {e}")),
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let summary = crate::http::catalogue::Reloaded {
            file,
            categories: catalogue.categories.len(),
            applications: catalogue.applications.len(),
        };
        self.directory.replace_catalogue(catalogue);
        Ok(summary)
    }
}

impl crate::http::catalogue::CatalogueReload for CatalogueFile {
    fn reload(&self) -> Result<crate::http::catalogue::Reloaded, Vec<String>> {
        CatalogueFile::reload(self, "operator API")
    }
}

/// Reads the certificate and key again at each SIGHUP: new handshakes (HTTPS, LDAPS,
/// StartTLS) get the new ones, open connections keep theirs. A bad file leaves the
/// certificate in service and says why. The catalogue is read again too (see
/// [`CatalogueFile::reload`]).
fn reload_on_hangup(
    certificates: Option<Arc<Certificates>>,
    catalogue: Arc<CatalogueFile>,
) -> Result<JoinHandle<()>, StartError> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        // Installed before start returns: a SIGHUP from then on never kills the process.
        let mut hangups = signal(SignalKind::hangup())
            .map_err(|e| StartError::Other(format!("cannot watch SIGHUP: {e}")))?;
        Ok(tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                match certificates.as_ref().map(|c| c.reload()) {
                    None => {}
                    Some(Ok(())) => {
                        tracing::info!("tls: certificate and key read again (SIGHUP)")
                    }
                    Some(Err(e)) => {
                        tracing::error!(error = %e, "tls: reload refused, the certificate in service stays")
                    }
                }
                let catalogue = Arc::clone(&catalogue);
                let _ = tokio::task::spawn_blocking(move || catalogue.reload("SIGHUP")).await;
            }
        }))
    }
    #[cfg(not(unix))]
    {
        let _ = (certificates, catalogue);
        Ok(tokio::spawn(async {}))
    }
}

/// The LDAP listeners that were started.
struct LdapListeners {
    ldap_addr: Option<SocketAddr>,
    ldaps_addr: Option<SocketAddr>,
    face: Option<Arc<crate::ldap::Face>>,
    tasks: Vec<JoinHandle<()>>,
}

/// Binds `ldap.listen` (plain + StartTLS) and `ldaps_listen`; an empty address
/// disables a listener. TLS uses the `[tls]` certificate (generated for development
/// when allowed and missing).
async fn start_ldap(
    config: &Config,
    directory: &Arc<Directory>,
    certificates: Option<&Arc<Certificates>>,
    stop: &watch::Sender<bool>,
    metrics: &Arc<crate::metrics::Metrics>,
) -> Result<LdapListeners, StartError> {
    let mut out = LdapListeners {
        ldap_addr: None,
        ldaps_addr: None,
        face: None,
        tasks: Vec::new(),
    };
    let (plain, ldaps) = (&config.ldap.listen, &config.ldap.ldaps_listen);
    let Some(certificates) = certificates.filter(|_| !plain.is_empty() || !ldaps.is_empty()) else {
        return Ok(out);
    };
    let tls = certificates
        .server_config(&[])
        .map_err(|e| StartError::Other(e.to_string()))?;
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let face = Arc::new(
        crate::ldap::Face::new(Arc::clone(directory), &config.ldap, Arc::clone(metrics)).map_err(
            |e| StartError::Other(format!("ldap.base_dn = {}: {e}", config.ldap.base_dn)),
        )?,
    );
    for (key, addr, implicit_tls) in [
        ("ldap.listen", plain, false),
        ("ldap.ldaps_listen", ldaps, true),
    ] {
        if addr.is_empty() {
            continue;
        }
        let listener = bind(key, addr).await?;
        let bound = listener
            .local_addr()
            .map_err(|e| StartError::Other(e.to_string()))?;
        if implicit_tls {
            out.ldaps_addr = Some(bound);
        } else {
            out.ldap_addr = Some(bound);
        }
        out.tasks.push(crate::ldap::spawn(
            listener,
            Arc::clone(&face),
            Some(acceptor.clone()),
            implicit_tls,
            stop.subscribe(),
        ));
    }
    out.face = Some(face);
    Ok(out)
}

/// The line printed for each bound listener.
pub fn listening_line(proto: &str, addr: SocketAddr) -> String {
    format!("listening {proto} {addr}")
}

/// Reads the catalogue and checks it as a whole, with the faces' own checks; every
/// problem is listed.
pub fn load_catalogue(path: &Path) -> Result<Catalogue, Problems> {
    let catalogue = Catalogue::read(path)?;
    let file = path.display().to_string();
    let mut problems = catalogue.check(&file);
    problems.extend(crate::ldap::acl::check_catalogue(&catalogue, &file));
    match problems.is_empty() {
        true => Ok(catalogue),
        false => Err(Problems(problems)),
    }
}

/// Loads the configuration and the catalogue, listing every problem of both.
pub fn check_config(path: Option<&Path>) -> Result<(Config, Catalogue), Vec<String>> {
    let config =
        Config::load(path).map_err(|p| p.0.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    let catalogue = load_catalogue(&config.catalogue.file)
        .map_err(|p| p.0.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    Ok((config, catalogue))
}

/// The state of the HTTP application, composed of each face's: the web space and the
/// JSON API on one side, the issuer on the other, neither naming the other.
#[derive(Clone)]
struct Http {
    web: Arc<AppState>,
    oidc: Arc<OidcState>,
    proxies: TrustedProxies,
}

impl FromRef<Http> for Arc<OidcState> {
    fn from_ref(http: &Http) -> Arc<OidcState> {
        Arc::clone(&http.oidc)
    }
}

impl FromRef<Http> for TrustedProxies {
    fn from_ref(http: &Http) -> TrustedProxies {
        http.proxies.clone()
    }
}

impl Http {
    /// The application of one listener: the faces it serves, under the policy.
    fn application(
        &self,
        faces: Faces,
        max_body_bytes: usize,
        policy: crate::http::Policy,
    ) -> Router {
        let mut app: Router<Http> = web::router(Arc::clone(&self.web), max_body_bytes, faces);
        if faces != Faces::Management {
            app = app.merge(crate::oidc::router());
        }
        let mut app = app.with_state(self.clone());
        if self.web.directory.shares_its_store() {
            app = app.layer(axum::middleware::from_fn_with_state(
                Arc::clone(&self.web.directory),
                follow_changes,
            ));
        }
        crate::http::guard(app, policy)
    }
}

/// Nodes sharing one database: before a request is answered, this node's caches drop
/// what other nodes wrote, so that a write acknowledged anywhere is read here (one
/// round trip to PostgreSQL). When the database is gone the request is answered 503,
/// liveness (`/healthz`) aside; `/readyz` says why.
async fn follow_changes(
    axum::extract::State(directory): axum::extract::State<Arc<Directory>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let path = request.uri().path();
    if path != "/healthz"
        && path != "/readyz"
        && let Err(e) = directory.follow_changes()
    {
        return web::problem::Problem::from(e).into_response();
    }
    next.run(request).await
}
