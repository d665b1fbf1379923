//! The durable mail queue: mails are written in the same transaction as the operation
//! that causes them, then delivered by a background task with retries and backoff, so
//! a relay that is down loses no mail and slows no request.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{DirError, DirResult, Directory};
use crate::mail::{Mail, Postman};
use crate::store::{Store, T, WriteSet};

/// Attempts before a mail is given up (about two days of retries).
const MAX_ATTEMPTS: u32 = 60;
/// Longest wait between two attempts, in seconds.
const MAX_RETRY: i64 = 3600;

/// Seconds a node keeps a mail it claimed before another node may send it.
const CLAIM_SECONDS: i64 = 300;

/// A mail waiting in the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedMail {
    /// The rendered mail.
    pub mail: Mail,
    /// Failed attempts so far.
    pub attempts: u32,
    /// Not before (unix seconds).
    pub next_attempt_at: i64,
    /// The last delivery error.
    pub last_error: Option<String>,
}

impl QueuedMail {
    /// A mail to send from `now` on.
    pub fn new(mail: Mail, now: i64) -> QueuedMail {
        QueuedMail {
            mail,
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
        }
    }
}

/// Mails waiting to be delivered.
pub fn depth(store: &Store) -> usize {
    store.len(T::MailQueue)
}

impl Directory {
    /// Claims a due mail for this node (shared database): the mail as it was, or None
    /// when it is gone or another node claimed it.
    fn claim_mail(&self, key: &[u8], now: i64) -> DirResult<Option<QueuedMail>> {
        let lock = self.store.lock()?;
        let Some(queued) = self.store.get::<QueuedMail>(T::MailQueue, key)? else {
            return Ok(None);
        };
        if queued.next_attempt_at > now {
            return Ok(None);
        }
        let mut claimed = queued.clone();
        claimed.next_attempt_at = now + CLAIM_SECONDS;
        let mut writes = WriteSet::new();
        writes.put(T::MailQueue, key.to_vec(), &claimed);
        self.store.commit(&lock, &writes)?;
        Ok(Some(queued))
    }

    /// Delivers every due mail once; returns how many were delivered.
    pub async fn deliver_due_mail(&self, postman: &Postman) -> DirResult<usize> {
        let now = self.now();
        let due: Vec<(Vec<u8>, QueuedMail)> = self
            .store
            .scan::<QueuedMail>(T::MailQueue, b"")?
            .into_iter()
            .filter(|(_, q)| q.next_attempt_at <= now)
            .collect();
        let mut delivered = 0;
        for (key, queued) in due {
            // Nodes sharing one database: the mail is this node's to send only once it
            // claimed it in its writers' turn; another node that read it due meanwhile
            // finds it claimed. A node that stops mid-send leaves the claim to expire,
            // and another node sends the mail then.
            let mut queued = match self.store.shared() {
                true => match self.claim_mail(&key, now)? {
                    Some(q) => q,
                    None => continue,
                },
                false => queued,
            };
            let result = postman.deliver(&queued.mail).await;
            let mut writes = WriteSet::new();
            match result {
                Ok(()) => {
                    writes.remove(T::MailQueue, key);
                    delivered += 1;
                }
                Err(e) => {
                    queued.attempts += 1;
                    let wait = (30i64 << queued.attempts.min(10)).min(MAX_RETRY);
                    queued.next_attempt_at = self.now() + wait;
                    queued.last_error = Some(e.to_string());
                    tracing::warn!(attempts = queued.attempts, error = %e, "mail delivery failed; will retry");
                    if queued.attempts >= MAX_ATTEMPTS {
                        tracing::error!(to = %queued.mail.to, "mail given up after {MAX_ATTEMPTS} attempts");
                        writes.remove(T::MailQueue, key);
                    } else {
                        writes.put(T::MailQueue, key, &queued);
                    }
                }
            }
            let lock = self.store.lock()?;
            self.store.commit(&lock, &writes)?;
        }
        if delivered > 0 {
            self.store.flush().await?;
        }
        Ok(delivered)
    }
}

/// The background sender: runs until the process ends.
pub async fn run_sender(directory: Arc<Directory>, postman: Postman) {
    let wakeup = directory.mail_wakeup();
    loop {
        if let Err(e) = directory.deliver_due_mail(&postman).await {
            match e {
                // The database is away: the mails wait in it, and go when it is back.
                DirError::Unavailable(_) => tracing::warn!(error = %e, "mail queue"),
                _ => tracing::error!(error = %e, "mail queue"),
            }
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), wakeup.notified()).await;
    }
}
