//! The application core: every operation of the rights matrix and of the operator as
//! one function `(actor, request) -> Result`. It checks rights, writes atomically with
//! the audit event and the mails it causes, and is the only writer of directory data.

mod accounts;
pub mod audit;
mod batch;
pub mod consultation;
mod error;
pub mod generate;
mod grants;
mod housekeeping;
mod index;
pub mod mailqueue;
mod operator;
mod operator_accounts;
mod selfservice;
mod services;
mod signin;
mod upkeep;
mod views;
mod visibility;

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::{Notify, Semaphore};

pub use error::DirError;
pub use housekeeping::{HousekeepingReport, keep_private, run as run_housekeeping};
pub use index::Members;
pub use operator_accounts::SESSIONS_ENDED;
pub use selfservice::{Export, ExportedStructure, NameCorrection};
pub use signin::SignedIn;
pub use views::{AccountSummary, ApplicationLink, InvitationView, StructureView};
pub use visibility::Reader;

use crate::auth::{Backoff, Hasher};
use crate::catalogue::Catalogue;
use crate::clock::Clock;
use crate::domain::{Account, Actor, PasswordPolicy, Service, Structure};
use crate::mail::Mail;
use crate::store::{Store, T, WriteLock};
use batch::{Batch, By};

/// Settings of the core, from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Public base URL, without trailing slash.
    pub public_url: String,
    /// Password rules.
    pub policy: PasswordPolicy,
    /// Lifetime of a pre-creation link, in days.
    pub invitation_days: u32,
    /// Lifetime of a reset link, in minutes.
    pub reset_link_minutes: u32,
    /// Days between a deletion request and the purge.
    pub retention_days: u32,
    /// Lifetime of an API session, in minutes.
    pub session_minutes: u32,
    /// Days before expiry when the warning mail is sent.
    pub expiry_warning_days: u32,
}

/// The directory core.
pub struct Directory {
    store: Arc<Store>,
    /// The catalogue in force: replaced as a whole by a reload, never changed in place.
    catalogue: std::sync::RwLock<Arc<Catalogue>>,
    clock: Arc<dyn Clock>,
    hasher: Hasher,
    backoff: Backoff,
    settings: Settings,
    mail_wakeup: Arc<Notify>,
    /// Forgotten-password requests answered and not yet looked up, at most
    /// [`RESET_REQUESTS_AT_ONCE`].
    reset_slots: Arc<Semaphore>,
    /// When housekeeping last read every active account for expiry warnings.
    last_warning_scan: std::sync::atomic::AtomicI64,
    /// Which structures and services each application sees, while nothing changes.
    seen: visibility::Seen,
}

/// Forgotten-password requests looked up in the background at once, at most.
const RESET_REQUESTS_AT_ONCE: usize = 64;

/// Result of the core.
pub type DirResult<T> = Result<T, DirError>;

impl Directory {
    /// Builds the core over an open store.
    pub fn new(
        store: Arc<Store>,
        catalogue: Arc<Catalogue>,
        clock: Arc<dyn Clock>,
        hasher: Hasher,
        settings: Settings,
    ) -> Directory {
        let backoff = Self::backoff_over(&store);
        Directory {
            store,
            catalogue: std::sync::RwLock::new(catalogue),
            clock,
            hasher,
            backoff,
            settings,
            mail_wakeup: Arc::new(Notify::new()),
            reset_slots: Arc::new(Semaphore::new(RESET_REQUESTS_AT_ONCE)),
            last_warning_scan: std::sync::atomic::AtomicI64::new(i64::MIN / 2),
            seen: visibility::Seen::default(),
        }
    }

    /// The sign-in counters: in memory, or in the database that nodes share.
    fn backoff_over(store: &Arc<Store>) -> Backoff {
        if !store.shared() {
            return Backoff::new();
        }
        match crate::store::table::FaceState::new(Arc::clone(store))
            .table(crate::auth::backoff::SHARED_TABLE)
        {
            Ok(table) => Backoff::shared(table),
            Err(e) => {
                tracing::error!(error = %e, "backoff: shared counters unavailable; counting on this node only");
                Backoff::new()
            }
        }
    }

    /// The catalogue in force. A reload does not change the one a caller holds: an
    /// operation reads one catalogue from start to end.
    pub fn catalogue(&self) -> Arc<Catalogue> {
        Arc::clone(
            &self
                .catalogue
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// Puts a new catalogue in force, checked as a whole beforehand by the caller;
    /// what the faces derived from the old one (entries built for an application,
    /// what an application sees) is read again.
    pub fn replace_catalogue(&self, catalogue: Catalogue) {
        *self
            .catalogue
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(catalogue);
        self.store.touch();
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The hasher (shared with the faces for client secrets).
    pub fn hasher(&self) -> &Hasher {
        &self.hasher
    }

    /// The backoff counters (shared by every sign-in path).
    pub fn backoff(&self) -> &Backoff {
        &self.backoff
    }

    /// Now, from the injected clock.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Forgotten-password requests answered and not yet looked up (for tests and
    /// monitoring: none left means every accepted request was handled).
    pub fn reset_requests_pending(&self) -> usize {
        RESET_REQUESTS_AT_ONCE - self.reset_slots.available_permits()
    }

    /// Wakes the mail sender.
    pub fn mail_wakeup(&self) -> Arc<Notify> {
        Arc::clone(&self.mail_wakeup)
    }

    /// Makes the last commit durable and wakes the mail sender.
    async fn durable(&self) -> DirResult<()> {
        self.store.flush().await?;
        self.mail_wakeup.notify_one();
        Ok(())
    }

    /// An account by id.
    pub fn account(&self, id: &str) -> DirResult<Account> {
        self.account_shared(id).map(Arc::unwrap_or_clone)
    }

    /// An account by id, shared with the store's cache (no copy).
    pub fn account_shared(&self, id: &str) -> DirResult<Arc<Account>> {
        self.store
            .get_shared(T::Accounts, id.as_bytes())?
            .ok_or(DirError::NotFound { what: "compte" })
    }

    /// An account by identifier.
    pub fn account_by_login(&self, login: &str) -> DirResult<Option<Account>> {
        let Some(id) = self.account_id_by_login(login)? else {
            return Ok(None);
        };
        Ok(self
            .store
            .get_shared(T::Accounts, id.as_bytes())?
            .map(Arc::unwrap_or_clone))
    }

    /// A structure by id.
    pub fn structure(&self, id: &str) -> DirResult<Structure> {
        self.structure_shared(id).map(Arc::unwrap_or_clone)
    }

    /// A structure by id, shared with the store's cache (no copy).
    pub fn structure_shared(&self, id: &str) -> DirResult<Arc<Structure>> {
        self.store
            .get_shared(T::Structures, id.as_bytes())?
            .ok_or(DirError::NotFound { what: "structure" })
    }

    /// A service by id.
    pub fn service(&self, id: &str) -> DirResult<Service> {
        self.service_shared(id).map(Arc::unwrap_or_clone)
    }

    /// A service by id, shared with the store's cache (no copy).
    pub fn service_shared(&self, id: &str) -> DirResult<Arc<Service>> {
        self.store
            .get_shared(T::Services, id.as_bytes())?
            .ok_or(DirError::NotFound { what: "service" })
    }

    /// The services of a structure.
    pub fn services_of(&self, structure_id: &str) -> DirResult<Vec<Service>> {
        let ids = self.service_ids_of(structure_id)?;
        ids.iter().map(|id| self.service(id)).collect()
    }

    /// The accounts of a structure.
    pub fn accounts_of(&self, structure_id: &str) -> DirResult<Vec<Account>> {
        let ids = self.member_ids(Members::Structure(structure_id))?;
        ids.iter().map(|id| self.account(id)).collect()
    }

    /// The actor behind a session: only an active account acts.
    pub fn actor(&self, account_id: &str) -> DirResult<(Actor, Account)> {
        let account = self
            .account(account_id)
            .map_err(|_| DirError::Unauthenticated)?;
        if !account.may_sign_in() {
            return Err(DirError::Unauthenticated);
        }
        Ok((actor_of(&account), account))
    }

    fn queue_mail(&self, batch: &mut Batch, by: By<'_>, mail: Mail) -> DirResult<()> {
        let id = self.store.generate_id()?;
        batch.queue_mail(by, id, &mailqueue::QueuedMail::new(mail, self.now()));
        Ok(())
    }

    /// One write of the directory: under the single-writer lock, `op` reads what it
    /// needs (as it is now: no other write runs meanwhile), checks the rules and fills
    /// the batch; the batch and its audit events then commit at once and are made
    /// durable before the answer. An error anywhere writes nothing.
    async fn write<V>(&self, op: impl FnOnce(&mut Batch) -> DirResult<V>) -> DirResult<V> {
        let value = {
            let lock = self.store.lock()?;
            let mut batch = Batch::new();
            let value = op(&mut batch)?;
            self.commit(&lock, batch)?;
            value
        };
        self.durable().await?;
        Ok(value)
    }

    /// The bulk form of [`Directory::write`], for loads that build much of the directory
    /// at once outside any request (the benchmark generator): the single-writer lock is
    /// held throughout; `op` fills the batch and [`Bulk::commit`]s it as often as it
    /// likes, each commit atomic with its audit events; what remains commits at the end,
    /// and all is made durable before the answer. Unlike `write`, an error keeps the
    /// commits already made. Synchronous, so that a caller needs no runtime.
    fn write_bulk<V>(&self, op: impl FnOnce(&mut Bulk<'_, '_>) -> DirResult<V>) -> DirResult<V> {
        let value = {
            let lock = self.store.lock()?;
            let mut bulk = Bulk {
                directory: self,
                lock: &lock,
                batch: Batch::new(),
            };
            let value = op(&mut bulk)?;
            self.commit(&lock, bulk.batch)?;
            value
        };
        self.store.flush_sync()?;
        self.mail_wakeup.notify_one();
        Ok(value)
    }

    /// Chains the batch's audit events after the head and commits everything at once.
    fn commit(&self, lock: &WriteLock<'_>, batch: Batch) -> DirResult<()> {
        let (mut writes, changes) = batch.into_parts();
        if !changes.is_empty() {
            audit::append(&self.store, &mut writes, changes, self.now())?;
        }
        self.store.commit(lock, &writes)?;
        Ok(())
    }

    fn link(&self, path: &str) -> String {
        format!("{}{}", self.settings.public_url, path)
    }
}

/// The matrix's view of an account.
pub fn actor_of(account: &Account) -> Actor {
    Actor {
        account_id: account.id.clone(),
        structure_id: account.structure_id.clone(),
        service_id: account.service_id.clone(),
        role: account.role,
    }
}

/// An account as audited: everything but its credential.
pub fn audit_view(account: &Account) -> Value {
    let mut v = serde_json::to_value(account).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut v {
        map.remove("credential");
    }
    v
}

fn to_value<V: serde::Serialize>(v: &V) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// A bulk write under way (see [`Directory::write_bulk`]): the batch being filled and
/// the lock it commits under.
struct Bulk<'d, 'l> {
    directory: &'d Directory,
    lock: &'l WriteLock<'d>,
    /// What the next commit writes.
    batch: Batch,
}

impl Bulk<'_, '_> {
    /// Commits what the batch holds, at once, and starts an empty one.
    fn commit(&mut self) -> DirResult<()> {
        self.directory
            .commit(self.lock, std::mem::take(&mut self.batch))
    }
}

/// A new random id.
fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
