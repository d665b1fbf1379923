//! The LDAP face (LDAPv3, read-mostly) on ldap3_proto and tokio: the tree of
//! CONTRACT.md read through the core. The socket loop (`listener`) only reads a
//! message, asks the pure handler (`ops`) what to answer, and writes the answer.

pub mod acl;
mod ber;
mod bind;
mod cache;
pub mod dit;
pub mod dn;
pub mod filter;
pub mod fuzzing;
mod listener;
pub mod ops;
mod paging;
pub mod schema;
pub mod search;

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::auth::addr::Connections;
use crate::config::LdapConfig;
use crate::directory::Directory;

pub use acl::Identity;
pub use dit::Key;
pub use listener::spawn;
pub use ops::{After, Answer, Reply};

/// Largest BER nesting accepted by the decoder (bounds the depth of filters).
pub const MAX_BER_DEPTH: usize = 48;

/// The limits of the face, from `[ldap]`.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Simple binds over plain LDAP from loopback are accepted.
    pub allow_plain_bind_on_loopback: bool,
    /// Largest message, in bytes.
    pub max_message_bytes: usize,
    /// Largest number of filter elements.
    pub max_filter_elements: usize,
    /// Most entries per search, and per page.
    pub size_limit: usize,
    /// Longest search.
    pub time_limit: Duration,
    /// Longest silence of a client.
    pub idle_timeout: Duration,
    /// Longest time a connection stays open without a successful bind.
    pub bind_timeout: Duration,
    /// Paged searches one connection keeps open.
    pub max_paged_searches: usize,
    /// Candidates one paged search keeps.
    pub max_paged_keys: usize,
}

impl Limits {
    /// The limits of a configuration.
    pub fn from_config(c: &LdapConfig) -> Limits {
        Limits {
            allow_plain_bind_on_loopback: c.allow_plain_bind_on_loopback,
            max_message_bytes: c.max_message_bytes,
            max_filter_elements: c.max_filter_elements,
            size_limit: c.size_limit,
            time_limit: Duration::from_secs(c.time_limit_seconds),
            idle_timeout: Duration::from_secs(c.idle_timeout_seconds),
            bind_timeout: Duration::from_secs(c.bind_timeout_seconds),
            max_paged_searches: c.max_paged_searches_per_connection,
            max_paged_keys: c.max_paged_keys_per_search,
        }
    }
}

/// The LDAP face: the core it reads through, the tree, the schema and the limits.
pub struct Face {
    dir: Arc<Directory>,
    tree: dit::Tree,
    definitions: schema::Definitions,
    limits: Limits,
    connections: Connections,
    paged_keys: paging::Budget,
    entries: cache::EntryCache,
    metrics: Arc<crate::metrics::Metrics>,
}

impl Face {
    /// The face over a core, configured by `[ldap]`, counting into `metrics`.
    pub fn new(
        dir: Arc<Directory>,
        config: &LdapConfig,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Result<Face, dn::DnError> {
        Ok(Face {
            dir,
            tree: dit::Tree::new(&config.base_dn)?,
            definitions: schema::definitions(),
            limits: Limits::from_config(config),
            connections: Connections::new(
                config.max_connections,
                config.max_connections_per_address,
                Vec::new(),
            ),
            paged_keys: paging::Budget::new(config.max_paged_keys_total),
            entries: cache::EntryCache::default(),
            metrics,
        })
    }

    /// The tree.
    pub fn tree(&self) -> &dit::Tree {
        &self.tree
    }

    /// The limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// What the face holds now, for monitoring and tests.
    pub fn gauges(&self) -> Gauges {
        Gauges {
            connections: self.connections.total(),
            paged_keys: self.paged_keys.held(),
            resolved_dns: self.tree.resolved_dns(),
        }
    }
}

/// What the LDAP face holds at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gauges {
    /// Open connections.
    pub connections: usize,
    /// Candidates kept by open paged searches, all connections together.
    pub paged_keys: usize,
    /// DNs remembered as resolved (at most one per structure, service or person).
    pub resolved_dns: usize,
}

/// The state of one connection: who is bound, over what, and its open paged searches.
#[derive(Debug)]
pub struct Session {
    /// The client's address.
    pub peer: IpAddr,
    /// Whether TLS protects the connection (LDAPS, or after StartTLS).
    pub tls: bool,
    /// Whether StartTLS can be offered.
    pub tls_available: bool,
    identity: Identity,
    /// Whether a person or an application has bound on this connection.
    authenticated: bool,
    pagings: VecDeque<paging::Paging>,
}

impl Session {
    /// A fresh, anonymous session.
    pub fn new(peer: IpAddr, tls: bool, tls_available: bool) -> Session {
        Session {
            peer,
            tls,
            tls_available,
            identity: Identity::Anonymous,
            authenticated: false,
            pagings: VecDeque::new(),
        }
    }

    /// Who the session is bound as.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Whether a person or an application has bound on this connection (the bind
    /// timeout no longer applies).
    pub fn authenticated(&self) -> bool {
        self.authenticated
    }

    /// Whether the connection is confidential enough for a password: TLS, or loopback
    /// when the configuration allows it.
    fn confidential(&self, limits: &Limits) -> bool {
        self.tls || (limits.allow_plain_bind_on_loopback && self.peer.to_canonical().is_loopback())
    }
}
