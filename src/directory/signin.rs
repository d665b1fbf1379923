//! Sign-in by identifier and password: one path for the API, LDAP binds and OIDC.

use std::net::IpAddr;

use super::{DirError, DirResult, Directory};
use crate::auth::backoff::Kind;
use crate::domain::{Account, AccountState};

/// A successful sign-in.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The account.
    pub account: Account,
    /// Its password has expired: only its renewal is allowed.
    pub password_expired: bool,
}

impl Directory {
    /// Checks an identifier and a password. An unknown identifier, a wrong password and
    /// an account that may not sign in get the same answer, in about the same time.
    pub async fn authenticate(
        &self,
        login: &str,
        password: &str,
        addr: Option<IpAddr>,
    ) -> DirResult<SignedIn> {
        let login = login.trim().to_lowercase();
        if let Some(wait) = self
            .backoff
            .retry_after(Kind::Person, &login, addr, self.now())
        {
            return Err(DirError::TooManyAttempts { retry_after: wait });
        }
        let account = self.account_by_login(&login)?;
        let verified = match account.as_ref().and_then(|a| a.credential.as_ref()) {
            Some(c) if password.len() <= 4 * self.settings.policy.max_length => {
                self.hasher.verify(password, &c.phc).await
            }
            _ => {
                self.hasher.verify_dummy(password).await;
                false
            }
        };
        let account = match account {
            Some(a) if verified && a.state == AccountState::Active => a,
            _ => {
                self.backoff.fail(Kind::Person, &login, addr, self.now());
                return Err(DirError::BadCredentials);
            }
        };
        self.backoff.succeed(&login, addr);
        let password_expired = account.credential.as_ref().is_some_and(|c| {
            self.settings
                .policy
                .is_expired(account.role, c.changed_at, self.now())
        });
        Ok(SignedIn {
            account,
            password_expired,
        })
    }

    /// Refuses a password offered for a name that is no account or application, in the
    /// time a real check takes. The dummy hash goes through the source's limiter like
    /// any other, so unknown names cannot buy hashes without bound.
    pub async fn refuse_unknown_name(&self, password: &str, addr: IpAddr) -> DirError {
        if let Some(wait) = self.backoff.source_retry_after(addr, self.now()) {
            return DirError::TooManyAttempts { retry_after: wait };
        }
        self.hasher.verify_dummy(password).await;
        self.backoff.source_fail(addr, self.now());
        DirError::BadCredentials
    }
}
