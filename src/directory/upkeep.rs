//! What the faces and the process need of the store besides directory data, asked of
//! the core so that none of them holds the store: API sessions, readiness, the mail
//! queue's depth, the audit log and its verification, an online backup, and the
//! store's upkeep at shutdown.

use std::io::{Seek, Write};

use crate::auth::session::{ApiSessions, Session, Subject};
use crate::domain::{Account, Actor};
use std::sync::Arc;

use crate::store::table::FaceState;
use crate::store::{self, StoreError, T, WriteLock, private};

use super::audit::{self, AuditEvent, ChainBroken};
use super::mailqueue::{self, QueuedMail};
use super::{DirError, DirResult, Directory};

impl Directory {
    /// The faces' own tables (protocol state that is no directory data).
    pub fn face_state(&self) -> FaceState {
        FaceState::new(Arc::clone(&self.store))
    }

    /// The API sessions.
    pub fn api_sessions(&self) -> ApiSessions<'_> {
        ApiSessions::new(&self.store)
    }

    /// The person behind an API session token, as he is now: the session live, his
    /// account active, and still with the password the session was opened with.
    pub fn api_session(&self, token: &str) -> DirResult<(Session, Actor, Account)> {
        let session = self
            .api_sessions()
            .find(token, self.now())?
            .ok_or(DirError::Unauthenticated)?;
        let Subject::Account { account_id } = &session.subject;
        let (actor, account) = self.actor(account_id)?;
        if !session.holds(&account) {
            return Err(DirError::Unauthenticated);
        }
        Ok((session, actor, account))
    }

    /// Brings this node's caches up to date with what other nodes sharing the database
    /// wrote: a face calls it before it answers a request, so that a write acknowledged
    /// by any node is seen by the next read here. One round trip to PostgreSQL; nothing
    /// with sled.
    pub fn follow_changes(&self) -> DirResult<()> {
        Ok(self.store.sync()?)
    }

    /// Whether reads must follow other nodes' changes (see [`Directory::follow_changes`]).
    pub fn shares_its_store(&self) -> bool {
        self.store.shared()
    }

    /// Whether the store answers (for `/readyz`).
    pub fn check_store(&self) -> DirResult<()> {
        self.store.format_version()?;
        Ok(())
    }

    /// Mails waiting to be sent.
    pub fn mail_queue_depth(&self) -> usize {
        mailqueue::depth(&self.store)
    }

    /// The mails waiting to be sent, oldest first (the demo prints their links).
    pub fn queued_mails(&self) -> DirResult<Vec<QueuedMail>> {
        Ok(self.store.values_from(T::MailQueue, b"", usize::MAX)?)
    }

    /// Holds every write back until the guard is dropped (a consistent copy of the
    /// data directory taken from outside, and tests of what does not wait for writes).
    pub fn hold_writes(&self) -> DirResult<WriteLock<'_>> {
        Ok(self.store.lock()?)
    }

    /// Makes every commit durable now. Blocking.
    pub fn flush_blocking(&self) -> DirResult<()> {
        Ok(self.store.flush_sync()?)
    }

    /// Every audit event, oldest first.
    pub fn audit_events(&self) -> DirResult<Vec<AuditEvent>> {
        Ok(audit::all(&self.store)?)
    }

    /// Verifies the audit chain: the number of events, or where it breaks.
    pub fn verify_audit(&self) -> Result<u64, ChainBroken> {
        audit::verify(&self.store)
    }

    /// A consistent snapshot of the whole store while the server runs, as JSON lines in
    /// an unlinked 0600 file of the data directory's private scratch, rewound: writes
    /// wait while it is taken. Never under a name in /tmp, nothing left behind.
    /// Blocking: call it off the async runtime.
    pub fn online_backup(&self) -> DirResult<std::fs::File> {
        let failed = |e: std::io::Error| DirError::from(StoreError::from(e));
        let Some(data) = self.store.data_dir() else {
            return Err(failed(std::io::Error::other(
                "a temporary store has no data directory",
            )));
        };
        let scratch = private::scratch_dir(data).map_err(failed)?;
        let path = scratch.join(format!("backup-{}.jsonl", uuid::Uuid::new_v4()));
        let mut file = private::create_private_file(&path).map_err(failed)?;
        std::fs::remove_file(&path).map_err(failed)?;
        let lock = self.store.lock()?;
        let mut writer = std::io::BufWriter::new(&mut file);
        store::backup_to(&self.store, &lock, &mut writer)?;
        writer.flush().map_err(failed)?;
        drop(writer);
        drop(lock);
        file.rewind().map_err(failed)?;
        Ok(file)
    }

    /// Makes every commit durable and the data directory owner-only (at shutdown).
    pub async fn close_store(&self) {
        if let Err(e) = self.store.flush().await {
            tracing::error!(error = %e, "final flush");
        }
        if let Err(e) = self.store.tighten_permissions() {
            tracing::warn!(error = %e, "data directory permissions");
        }
    }
}
