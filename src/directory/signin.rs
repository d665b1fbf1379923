//! Sign-in by identifier and password: one path for the API, LDAP binds and OIDC.

use std::net::IpAddr;

use super::{DirError, DirResult, Directory};
use crate::auth::backoff::Kind;
use crate::auth::browser::{Accounts, Authentication};
use crate::domain::Account;
use crate::logging;

/// Longest application secret checked; longer ones are refused without a hash.
const MAX_SECRET_BYTES: usize = 1024;

/// A successful sign-in.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The account.
    pub account: Account,
    /// Its password has expired: only its renewal is allowed.
    pub password_expired: bool,
}

/// The browser's sessions stand while their account does, with the password proven.
impl Accounts for Directory {
    fn now(&self) -> i64 {
        Directory::now(self)
    }

    fn still_stands(&self, authentication: &Authentication) -> bool {
        self.account_shared(&authentication.account_id)
            .is_ok_and(|a| authentication.valid_for(&a))
    }
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
        self.authenticate_from(login, password, addr, false).await
    }

    /// [`Directory::authenticate`] from a browser that proved (by a device cookie the
    /// face verified) that this login signed in there before: the limit on the login
    /// across all sources, against distributed guessing, does not apply to it; the
    /// per-source ones do.
    pub async fn authenticate_from(
        &self,
        login: &str,
        password: &str,
        addr: Option<IpAddr>,
        known_device: bool,
    ) -> DirResult<SignedIn> {
        let kind = if known_device {
            Kind::KnownDevice
        } else {
            Kind::Person
        };
        let login = login.trim().to_lowercase();
        if let Some(wait) = self.backoff.retry_after(kind, &login, addr, self.now()) {
            logging::sign_in("throttled", &login, addr);
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
            Some(a) if verified && a.may_sign_in() => a,
            _ => {
                self.backoff.fail(kind, &login, addr, self.now());
                logging::sign_in("failure", &login, addr);
                return Err(DirError::BadCredentials);
            }
        };
        self.backoff.succeed(&login, addr);
        logging::sign_in("success", &login, addr);
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

    /// Checks an application's secret (an OIDC client's, an LDAP service account's)
    /// against its hashes (two while it is rotated: either matches), counted per
    /// (application, source): wrong secrets from one address never delay the
    /// application from another. `phcs` is empty for an unknown name, which is refused
    /// in the time a real check takes.
    pub async fn authenticate_service(
        &self,
        key: &str,
        phcs: &[String],
        secret: &str,
        addr: IpAddr,
    ) -> DirResult<()> {
        let now = self.now();
        if let Some(wait) = self
            .backoff
            .retry_after(Kind::Service, key, Some(addr), now)
        {
            logging::client_auth("throttled", key, Some(addr));
            return Err(DirError::TooManyAttempts { retry_after: wait });
        }
        let mut verified = false;
        if phcs.is_empty() || secret.len() > MAX_SECRET_BYTES {
            self.hasher.verify_dummy(secret).await;
        } else {
            for h in phcs {
                if self.hasher.verify(secret, h).await {
                    verified = true;
                    break;
                }
            }
        }
        if verified {
            self.backoff.succeed(key, Some(addr));
            logging::client_auth("success", key, Some(addr));
            Ok(())
        } else {
            self.backoff
                .fail(Kind::Service, key, Some(addr), self.now());
            logging::client_auth("failure", key, Some(addr));
            Err(DirError::BadCredentials)
        }
    }

    /// Runs a check of a secret that has no name of its own (an operator token) behind
    /// the source's limiter: failures count against the source, and a delayed source
    /// buys no hash.
    pub async fn behind_source_limit(
        &self,
        addr: IpAddr,
        check: impl std::future::Future<Output = bool>,
    ) -> DirResult<()> {
        if let Some(wait) = self.backoff.source_retry_after(addr, self.now()) {
            return Err(DirError::TooManyAttempts { retry_after: wait });
        }
        if check.await {
            Ok(())
        } else {
            self.backoff.source_fail(addr, self.now());
            Err(DirError::Unauthenticated)
        }
    }

    /// Refuses a password offered for a name that is no account or application, in the
    /// time a real check takes. The dummy hash goes through the source's limiter like
    /// any other, so unknown names cannot buy hashes without bound.
    pub async fn refuse_unknown_name(&self, password: &str, addr: IpAddr) -> DirError {
        let dummy = async {
            self.hasher.verify_dummy(password).await;
            false
        };
        match self.behind_source_limit(addr, dummy).await {
            Err(e @ DirError::TooManyAttempts { .. }) => e,
            _ => DirError::BadCredentials,
        }
    }
}
