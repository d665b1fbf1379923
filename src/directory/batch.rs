//! One operation's writes, and the authority each record is written under. The
//! functions that write a record and its index entries are private to this file:
//! the rest of the core can only write a record through a [`Batch`] method that
//! takes the [`By`] allowing it.

use serde_json::Value;

use super::audit::Change;
use super::mailqueue::QueuedMail;
use super::{DirError, DirResult, audit_view, housekeeping, operator, selfservice, to_value};
use crate::auth::token::OneTimeToken;
use crate::domain::{Account, Service, Structure};
use crate::store::{T, WriteSet, account_keys, service_keys, structure_keys};

/// Who allows a write. No record of the directory is written without one: a partner
/// needs the matrix's [`Permit`](crate::domain::Permit) for the operation, which only
/// `authorize` makes, and it must cover the very record written; the person himself
/// needs the proof that only self-service makes once his link or password checked; the
/// upkeep, the value only the housekeeping makes. The audit names the author from it.
#[derive(Clone, Copy)]
pub(crate) enum By<'a> {
    /// A partner, allowed by the matrix.
    Partner(&'a crate::domain::Permit),
    /// The DGFiP operator: the face checked his token, or he runs a command on the
    /// server's own data directory.
    Operator,
    /// The person himself, proven by a one-time link or his password.
    Owner(&'a selfservice::Proof),
    /// The server's upkeep (expiries, purges).
    Upkeep(&'a housekeeping::Upkeep),
    /// Someone who asked for a link to be mailed to the address on file of an account
    /// (a forgotten password): self-service makes the value once the quotas allowed
    /// the request. It covers that link and its mail, never a record.
    Asker(&'a selfservice::Asked),
}

impl By<'_> {
    /// The author, as the audit log names him.
    pub(super) fn author(&self) -> &str {
        match self {
            By::Partner(permit) => permit.actor_id(),
            By::Operator => operator::OPERATOR,
            By::Owner(proof) => proof.account_id(),
            By::Upkeep(upkeep) => upkeep.author(),
            By::Asker(asked) => asked.account_id(),
        }
    }

    /// Whether this authority covers writing `account`.
    fn covers_account(&self, account: &Account) -> DirResult<()> {
        covered(match self {
            By::Partner(permit) => permit.covers_account(account),
            By::Owner(proof) => proof.account_id() == account.id,
            By::Operator | By::Upkeep(_) => true,
            By::Asker(_) => false,
        })
    }

    /// Whether this authority covers a one-time link of the account `holder`: what
    /// covers his record, and the asker of a link to his own address.
    fn covers_link_of(&self, holder: &Account) -> DirResult<()> {
        match self {
            By::Asker(asked) => covered(asked.account_id() == holder.id),
            other => other.covers_account(holder),
        }
    }

    /// Whether this authority covers writing `service`.
    fn covers_service(&self, service: &Service) -> DirResult<()> {
        covered(match self {
            By::Partner(permit) => permit.covers_service(service),
            By::Operator | By::Upkeep(_) => true,
            By::Owner(_) | By::Asker(_) => false,
        })
    }
}

/// An authority's answer: a write it does not cover is refused (`matrix-target`).
fn covered(yes: bool) -> DirResult<()> {
    yes.then_some(())
        .ok_or(DirError::Refused(crate::domain::Refusal::OtherTarget))
}

/// The writes and audit events of one operation, committed together.
#[derive(Default)]
pub(super) struct Batch {
    /// The writes: records, one-time links and mails go in through the methods below,
    /// each under the authority that allows it; the audit chain at commit.
    writes: WriteSet,
    changes: Vec<Change>,
}

impl Batch {
    pub(super) fn new() -> Self {
        Self::default()
    }

    /// The writes and the audit events, for the commit.
    pub(super) fn into_parts(self) -> (WriteSet, Vec<Change>) {
        (self.writes, self.changes)
    }

    /// Stores a one-time link (its hash `key`) of `holder`, if `by` covers him.
    pub(super) fn issue_link(
        &mut self,
        by: By<'_>,
        key: Vec<u8>,
        link: &OneTimeToken,
        holder: &Account,
    ) -> DirResult<()> {
        by.covers_link_of(holder)?;
        covered(link.account_id == holder.id)?;
        self.writes.put(T::Tokens, key, link);
        Ok(())
    }

    /// Ends a one-time link of `holder` (used, or replaced), if `by` covers him.
    pub(super) fn end_link(&mut self, by: By<'_>, key: Vec<u8>, holder: &Account) -> DirResult<()> {
        by.covers_link_of(holder)?;
        self.writes.remove(T::Tokens, key);
        Ok(())
    }

    /// Drops a one-time link whose time is up (the upkeep's).
    pub(super) fn drop_expired_link(&mut self, _by: &housekeeping::Upkeep, key: Vec<u8>) {
        self.writes.remove(T::Tokens, key);
    }

    /// Queues a mail under `id`, a new id of the store, sent after the commit: only
    /// within an operation that some authority allows.
    pub(super) fn queue_mail(&mut self, _by: By<'_>, id: u64, mail: &QueuedMail) {
        self.writes
            .put(T::MailQueue, id.to_be_bytes().to_vec(), mail);
    }

    /// Records an audit event.
    pub(super) fn record(
        &mut self,
        by: By<'_>,
        structure_id: &str,
        action: &'static str,
        target: String,
        before: Option<Value>,
        after: Option<Value>,
    ) {
        self.changes.push(Change {
            actor: by.author().to_owned(),
            structure_id: Some(structure_id.to_owned()),
            action,
            target,
            before,
            after,
        });
    }

    /// Writes an account (None removes it) and records the change, if `by` covers it.
    pub(super) fn account(
        &mut self,
        by: By<'_>,
        action: &'static str,
        before: Option<&Account>,
        after: Option<&Account>,
    ) -> DirResult<()> {
        self.mark_account(by, before, after)?;
        let Some(any) = after.or(before) else {
            return Ok(());
        };
        let (structure_id, target) = (any.structure_id.clone(), any.id.clone());
        self.record(
            by,
            &structure_id,
            action,
            target,
            before.map(audit_view),
            after.map(audit_view),
        );
        Ok(())
    }

    /// Writes a service (None removes it) and records the change, if `by` covers it.
    pub(super) fn service(
        &mut self,
        by: By<'_>,
        action: &'static str,
        before: Option<&Service>,
        after: Option<&Service>,
    ) -> DirResult<()> {
        for s in before.iter().chain(after.iter()) {
            by.covers_service(s)?;
        }
        save_service(&mut self.writes, before, after);
        let Some(any) = after.or(before) else {
            return Ok(());
        };
        let (structure_id, target) = (any.structure_id.clone(), any.id.clone());
        self.record(
            by,
            &structure_id,
            action,
            target,
            before.map(to_value),
            after.map(to_value),
        );
        Ok(())
    }

    /// Writes an account without an audit event (a mark the upkeep keeps, such as the
    /// expiry it warned of; or the bulk load, which records one event per structure),
    /// if `by` covers it.
    pub(super) fn mark_account(
        &mut self,
        by: By<'_>,
        before: Option<&Account>,
        after: Option<&Account>,
    ) -> DirResult<()> {
        for a in before.iter().chain(after.iter()) {
            by.covers_account(a)?;
        }
        save_account(&mut self.writes, before, after);
        Ok(())
    }

    /// Writes a service without an audit event (the bulk load), if `by` covers it.
    pub(super) fn mark_service(&mut self, by: By<'_>, after: &Service) -> DirResult<()> {
        by.covers_service(after)?;
        save_service(&mut self.writes, None, Some(after));
        Ok(())
    }

    /// Writes a structure's record: only the operator (and the bulk load) does; a
    /// partner's permit never covers his structure's own record.
    pub(super) fn structure(
        &mut self,
        by: By<'_>,
        before: Option<&Structure>,
        after: &Structure,
    ) -> DirResult<()> {
        covered(matches!(by, By::Operator | By::Upkeep(_)))?;
        save_structure(&mut self.writes, before, after);
        Ok(())
    }
}

/// Writes an account and its index entries (`after = None` removes it).
fn save_account(writes: &mut WriteSet, before: Option<&Account>, after: Option<&Account>) {
    let old = before.map(account_keys).unwrap_or_default();
    let new = after.map(account_keys).unwrap_or_default();
    writes.reindex(&old, &new);
    match (before, after) {
        (_, Some(a)) => {
            writes.put(T::Accounts, a.id.as_bytes().to_vec(), a);
            if let Some(login) = &a.login {
                writes.put_raw(
                    T::LoginsUsed,
                    login.as_bytes().to_vec(),
                    a.id.as_bytes().to_vec(),
                );
            }
        }
        (Some(b), None) => writes.remove(T::Accounts, b.id.as_bytes().to_vec()),
        (None, None) => {}
    }
}

/// Writes a service and its index entries (`after = None` removes it).
fn save_service(writes: &mut WriteSet, before: Option<&Service>, after: Option<&Service>) {
    let old = before.map(service_keys).unwrap_or_default();
    let new = after.map(service_keys).unwrap_or_default();
    writes.reindex(&old, &new);
    match (before, after) {
        (_, Some(s)) => writes.put(T::Services, s.id.as_bytes().to_vec(), s),
        (Some(b), None) => writes.remove(T::Services, b.id.as_bytes().to_vec()),
        (None, None) => {}
    }
}

/// Writes a structure and its index entries.
fn save_structure(writes: &mut WriteSet, before: Option<&Structure>, after: &Structure) {
    let old = before.map(structure_keys).unwrap_or_default();
    writes.reindex(&old, &structure_keys(after));
    writes.put(T::Structures, after.id.as_bytes().to_vec(), after);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::rights::{Function, Target, authorize};
    use crate::domain::{Actor, Role, Siret};

    fn account(id: &str, structure: &str) -> Account {
        crate::domain::account::sample(id, structure, None, Role::Collaborateur)
    }

    #[test]
    fn a_partner_writes_only_the_records_his_permit_covers() {
        let admin = Actor {
            account_id: "admin".into(),
            structure_id: "s1".into(),
            service_id: None,
            role: Role::Administrateur,
        };
        let target = account("c1", "s1");
        let permit = authorize(
            &admin,
            Function::RequestDeletion,
            &Target::of_account(&target),
        )
        .unwrap_or_else(|r| panic!("{r}"));
        let refused = |r: DirResult<()>| {
            matches!(
                r,
                Err(DirError::Refused(crate::domain::Refusal::OtherTarget))
            )
        };
        let mut batch = Batch::new();
        let by = By::Partner(&permit);
        assert!(
            batch
                .account(by, "account.test", None, Some(&target))
                .is_ok()
        );
        assert!(refused(batch.account(
            by,
            "account.test",
            None,
            Some(&account("c2", "s1"))
        )));
        assert!(refused(batch.mark_account(
            by,
            None,
            Some(&account("c1", "s2"))
        )));
        let structure = Structure {
            id: "s1".into(),
            siret: Siret::parse("73282932000074").unwrap_or_else(|e| panic!("{e}")),
            category: "CSP".into(),
            name: "Cabinet".into(),
            created_at: 0,
            modified_at: 0,
            closed_at: None,
        };
        assert!(
            refused(batch.structure(by, None, &structure)),
            "his structure's record"
        );
        assert!(batch.structure(By::Operator, None, &structure).is_ok());
        assert_eq!(batch.changes.len(), 1, "one audited write");
        assert_eq!(
            batch.changes[0].actor, "admin",
            "the author comes from the permit"
        );
    }

    #[test]
    fn a_link_is_written_only_for_the_person_the_authority_covers() {
        let link = |holder: &str| OneTimeToken {
            kind: crate::auth::token::TokenKind::PasswordReset,
            account_id: holder.into(),
            created_at: 0,
            expires_at: 60,
            new_email: None,
            stamp: None,
        };
        let refused = |r: DirResult<()>| {
            matches!(
                r,
                Err(DirError::Refused(crate::domain::Refusal::OtherTarget))
            )
        };
        let (me, other) = (account("c1", "s1"), account("c2", "s1"));
        let asked = selfservice::Asked::for_test("c1");
        let mut batch = Batch::new();
        let by = By::Asker(&asked);
        assert!(
            batch
                .issue_link(by, b"k1".to_vec(), &link("c1"), &me)
                .is_ok()
        );
        assert!(refused(batch.issue_link(
            by,
            b"k2".to_vec(),
            &link("c2"),
            &other
        )));
        assert!(
            refused(batch.issue_link(by, b"k3".to_vec(), &link("c2"), &me)),
            "a link names the holder it is written for"
        );
        assert!(refused(batch.end_link(by, b"k4".to_vec(), &other)));
        assert!(
            refused(batch.account(by, "account.test", None, Some(&me))),
            "asking for a link writes no record"
        );
        assert!(
            batch
                .issue_link(By::Operator, b"k5".to_vec(), &link("c2"), &other)
                .is_ok()
        );
        let (writes, changes) = batch.into_parts();
        assert_eq!(
            writes.iter().count(),
            2,
            "the two links allowed, nothing else"
        );
        assert!(changes.is_empty());
    }
}
