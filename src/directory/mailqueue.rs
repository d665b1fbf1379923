//! The durable mail queue: mails are written in the same transaction as the operation
//! that causes them, then delivered by a background task with retries and backoff, so
//! a relay that is down loses no mail and slows no request.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{DirResult, Directory};
use crate::mail::{Mail, Postman};
use crate::store::{Store, T, WriteSet};

/// Attempts before a mail is given up (about two days of retries).
const MAX_ATTEMPTS: u32 = 60;
/// Longest wait between two attempts, in seconds.
const MAX_RETRY: i64 = 3600;

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

/// Adds a mail to a write set.
pub fn enqueue(store: &Store, writes: &mut WriteSet, mail: Mail, now: i64) -> DirResult<()> {
    let id = store.generate_id()?;
    let queued = QueuedMail {
        mail,
        attempts: 0,
        next_attempt_at: now,
        last_error: None,
    };
    writes.put(T::MailQueue, id.to_be_bytes().to_vec(), &queued);
    Ok(())
}

/// Mails waiting to be delivered.
pub fn depth(store: &Store) -> usize {
    store.len(T::MailQueue)
}

impl Directory {
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
        for (key, mut queued) in due {
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
            let lock = self.store.lock();
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
            tracing::error!(error = %e, "mail queue");
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), wakeup.notified()).await;
    }
}
