//! Stamps: what a session, a token family or a mailed link remembers of the account it
//! was opened for. A session or a family carries the stamp of the password that was
//! proven; a reset link or an e-mail confirmation carries the stamp of the password and
//! of the address it was mailed under.
//!
//! A new password (or a new address, for links) gives the account a new stamp in the
//! very commit that sets it, so everything stamped before stops working at that moment,
//! whichever face made the change, without having to be found first, and even if the
//! server stops right after. A record without a stamp (made before stamps existed)
//! never matches.

use base64::Engine;

use crate::domain::Account;

/// Bytes of SHA-256 kept: enough to tell two passwords apart, short to store.
const STAMP_BYTES: usize = 16;

/// The stamp of the account's password, None while it has none or is blocked. Each
/// time the operator ends the account's sessions counts in it, so that it changes as
/// with a new password (an account that never had them ended keeps its former stamp).
pub fn of_credential(account: &Account) -> Option<String> {
    let c = account.credential.as_ref()?;
    if account.blocked.is_some() {
        return None;
    }
    Some(match account.sessions_ended {
        0 => digest(&["apex-stamp/credential", &c.phc]),
        n => digest(&["apex-stamp/credential", &c.phc, &n.to_string()]),
    })
}

/// The stamp of what a link mailed to the account depends on: its password and its
/// address (lower-case). None while it has no password.
pub fn of_links(account: &Account) -> Option<String> {
    let c = account.credential.as_ref()?;
    let email = account.person.email.to_lowercase();
    Some(digest(&["apex-stamp/links", &c.phc, &email]))
}

/// Whether a session or family stamped `held` still goes with the account's password:
/// the one rule of every face (API sessions, SSO sessions and token families, LDAP
/// binds).
pub fn proves(held: Option<&str>, account: &Account) -> bool {
    still(held, of_credential(account))
}

/// Whether a record stamped `held` still goes with the account, whose stamp is `now`.
pub fn still(held: Option<&str>, now: Option<String>) -> bool {
    held.is_some() && held == now.as_deref()
}

/// The stamp of `parts`: a salted argon2id PHC string is unique to one setting of a
/// password, so its digest names that setting without revealing anything of it.
fn digest(parts: &[&str]) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for part in parts {
        ctx.update(part.as_bytes());
        ctx.update(b"\0");
    }
    let full = ctx.finish();
    let short = full.as_ref().get(..STAMP_BYTES).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(short)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AccountState, Credential, PersonalData, Role};

    fn account(phc: Option<&str>, email: &str) -> Account {
        Account {
            id: "a".into(),
            structure_id: "s".into(),
            service_id: None,
            role: Role::Collaborateur,
            state: AccountState::Active,
            login: Some("jdupont".into()),
            person: PersonalData {
                given_name: "Jean".into(),
                family_name: "Dupont".into(),
                email: email.into(),
            },
            habilitations: Vec::new(),
            delegations: Vec::new(),
            credential: phc.map(|p| Credential {
                phc: p.into(),
                changed_at: 0,
                history: Vec::new(),
            }),
            invited_by: "operator".into(),
            created_at: 0,
            modified_at: 0,
            state_changed_at: 0,
            expiry_warned_for: None,
            blocked: None,
            sessions_ended: 0,
            replaces: None,
        }
    }

    #[test]
    fn a_new_password_changes_both_stamps_and_a_new_address_only_the_links_one() {
        let before = account(Some("$argon2id$one"), "j@example.fr");
        let password = account(Some("$argon2id$two"), "j@example.fr");
        let address = account(Some("$argon2id$one"), "autre@example.fr");
        let held = of_credential(&before);
        let link = of_links(&before);
        assert!(still(held.as_deref(), of_credential(&before)));
        assert!(still(link.as_deref(), of_links(&before)));
        assert!(!still(held.as_deref(), of_credential(&password)));
        assert!(!still(link.as_deref(), of_links(&password)));
        assert!(still(held.as_deref(), of_credential(&address)));
        assert!(!still(link.as_deref(), of_links(&address)));
        // The address is compared as mail systems do, case aside.
        let upper = account(Some("$argon2id$one"), "J@Example.FR");
        assert!(still(link.as_deref(), of_links(&upper)));
        // The two stamps never coincide, and each is a short digest (16 bytes).
        assert_ne!(held, link);
        assert_eq!(held.map(|h| h.len()), Some(22));
    }

    #[test]
    fn a_block_removes_the_stamp_and_each_end_of_sessions_changes_it() {
        let before = account(Some("$argon2id$one"), "j@example.fr");
        let held = of_credential(&before);
        let blocked = Account {
            blocked: Some(crate::domain::Block {
                at: 1,
                reason: crate::domain::BlockReason::Operator,
            }),
            ..before.clone()
        };
        assert_eq!(of_credential(&blocked), None);
        assert!(!proves(held.as_deref(), &blocked));
        let ended = Account {
            sessions_ended: 1,
            ..before.clone()
        };
        assert!(!proves(held.as_deref(), &ended));
        let twice = Account {
            sessions_ended: 2,
            ..before.clone()
        };
        assert_ne!(of_credential(&ended), of_credential(&twice));
        // The links stamp does not move: a reset link mailed before still works.
        assert_eq!(of_links(&before), of_links(&ended));
    }

    #[test]
    fn no_stamp_never_matches() {
        let none = account(None, "j@example.fr");
        assert_eq!(of_credential(&none), None);
        assert_eq!(of_links(&none), None);
        assert!(!still(None, None));
        assert!(!still(
            None,
            of_credential(&account(Some("x"), "j@example.fr"))
        ));
    }
}
