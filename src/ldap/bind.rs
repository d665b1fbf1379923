//! Credentials over LDAP: simple binds of people and of application service accounts,
//! and the Password Modify extended operation (RFC 3062) for one's own password.
//! Passwords are checked by the core (argon2id off the runtime, shared backoff).

use ldap3_proto::proto::{
    LdapBindCred, LdapBindRequest, LdapExtendedRequest, LdapPasswordModifyRequest, LdapResult,
    LdapResultCode,
};

use crate::auth::stamp;
use crate::directory::SignedIn;

use super::acl::Identity;
use super::dit::{self, Container};
use super::dn;
use super::ops::{refusal, result};
use super::{Face, Session};

/// Who a bind DN names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum BindTarget {
    /// A person, by login.
    Person(String),
    /// An application, by code.
    Application(String),
}

/// Backoff key of an application's service account.
fn application_backoff_key(code: &str) -> String {
    format!("ldap-application:{}", code.to_ascii_uppercase())
}

impl Face {
    /// Who a bind DN names: `uid=<login>,ou=people,<base>`, a bare login, or
    /// `cn=<APP>,ou=applications,<base>`.
    fn bind_target(&self, name: &str) -> Option<BindTarget> {
        let name = name.trim();
        if !name.contains('=') {
            return Some(BindTarget::Person(name.to_lowercase()));
        }
        let rdns = dn::parse(name).ok()?;
        let (leaf, parent) = match rdns.as_slice() {
            [leaf, parent, ..] => (leaf.as_slice(), parent.as_slice()),
            _ => return None,
        };
        let [leaf] = leaf else { return None };
        let [parent] = parent else { return None };
        let base = rdns.get(2..)?;
        if dn::normal_form(base) != dn::normalize(self.tree.base_dn()).ok()? || parent.attr != "ou"
        {
            return None;
        }
        let ou = dn::fold_value(&parent.value);
        match leaf.attr.as_str() {
            "uid" if ou == Container::People.ou() => {
                Some(BindTarget::Person(leaf.value.trim().to_lowercase()))
            }
            "cn" if ou == Container::Applications.ou() => {
                Some(BindTarget::Application(leaf.value.trim().to_owned()))
            }
            _ => None,
        }
    }

    /// A bind: the session becomes anonymous first, then whoever the credentials prove.
    pub(super) async fn bind(&self, session: &mut Session, req: &LdapBindRequest) -> LdapResult {
        session.identity = Identity::Anonymous;
        session.pagings.clear();
        if req.version != 3 {
            return result(LdapResultCode::ProtocolError, "only LDAPv3 is supported");
        }
        let password = match &req.cred {
            LdapBindCred::Simple(p) => p,
            _ => {
                return result(
                    LdapResultCode::AuthMethodNotSupported,
                    "only simple binds are supported",
                );
            }
        };
        match (req.dn.is_empty(), password.is_empty()) {
            (true, true) => return result(LdapResultCode::Success, ""),
            (false, true) => {
                return result(
                    LdapResultCode::UnwillingToPerform,
                    "unauthenticated binds (a name without a password) are refused",
                );
            }
            (true, false) => {
                return result(
                    LdapResultCode::InvalidCredentials,
                    "a bind with a password needs a name",
                );
            }
            (false, false) => {}
        }
        if !session.confidential(&self.limits) {
            return result(
                LdapResultCode::ConfidentialityRequired,
                "simple binds need a confidential connection: use StartTLS or LDAPS",
            );
        }
        match self.bind_target(&req.dn) {
            Some(BindTarget::Person(login)) => self.bind_person(session, &login, password).await,
            Some(BindTarget::Application(code)) => {
                self.bind_application(session, &code, password).await
            }
            None => {
                // Same answer as a wrong password: the name alone tells nothing.
                refusal(&self.dir.refuse_unknown_name(password, session.peer).await)
            }
        }
    }

    async fn bind_person(&self, session: &mut Session, login: &str, password: &str) -> LdapResult {
        match self
            .dir
            .authenticate(login, password, Some(session.peer))
            .await
        {
            Ok(SignedIn {
                account,
                password_expired: false,
            }) => {
                let dn = self
                    .tree
                    .person_dn(account.login.as_deref().unwrap_or(login));
                session.identity = Identity::Person {
                    stamp: stamp::of_credential(&account),
                    account_id: account.id,
                    dn,
                };
                session.authenticated = true;
                result(LdapResultCode::Success, "")
            }
            Ok(SignedIn { .. }) => result(
                LdapResultCode::InvalidCredentials,
                "password expired: renew it in the APEX web space",
            ),
            Err(e) => refusal(&e),
        }
    }

    async fn bind_application(
        &self,
        session: &mut Session,
        code: &str,
        secret: &str,
    ) -> LdapResult {
        let catalogue = self.dir.catalogue();
        let app = dit::ldap_application(&catalogue, code);
        let account = app.and_then(|a| a.ldap.as_ref());
        if account.is_some_and(|l| !l.allows_source(session.peer)) {
            tracing::warn!(application = code, source = %session.peer, "bind refused: source not allowed");
            return result(
                LdapResultCode::InvalidCredentials,
                "binds of this application are not allowed from this address",
            );
        }
        let hashes = account.map_or(&[][..], |l| l.bind_secret_hash.all());
        let key = application_backoff_key(code);
        match self
            .dir
            .authenticate_service(&key, hashes, secret, session.peer)
            .await
        {
            Ok(()) => {
                // An unknown name never verifies: `hashes` is then empty.
                let code = app.map_or_else(|| code.to_owned(), |a| a.code.clone());
                session.identity = Identity::Application {
                    dn: self.tree.application_dn(&code),
                    code,
                };
                session.authenticated = true;
                result(LdapResultCode::Success, "")
            }
            Err(e) => refusal(&e),
        }
    }

    /// Password Modify: one's own password, knowing the current one.
    pub(super) async fn password_modify(
        &self,
        session: &mut Session,
        req: &LdapExtendedRequest,
    ) -> LdapResult {
        if req.value.is_none() {
            return result(
                LdapResultCode::UnwillingToPerform,
                "send the current and the new password (apex-idp generates none)",
            );
        }
        let Ok(pm) = LdapPasswordModifyRequest::try_from(req) else {
            return result(
                LdapResultCode::ProtocolError,
                "malformed Password Modify request",
            );
        };
        if !session.confidential(&self.limits) {
            return result(
                LdapResultCode::ConfidentialityRequired,
                "passwords travel on a confidential connection only: use StartTLS or LDAPS",
            );
        }
        let (account_id, own_dn) = match &session.identity {
            Identity::Person { account_id, dn, .. } => (account_id.clone(), dn),
            _ => {
                return result(
                    LdapResultCode::InsufficentAccessRights,
                    "bind as the person whose password changes",
                );
            }
        };
        if let Some(user) = &pm.user_identity
            && !self.names_self(user, own_dn)
        {
            return result(
                LdapResultCode::InsufficentAccessRights,
                "only one's own password can be changed",
            );
        }
        let Some(old) = &pm.old_password else {
            return result(
                LdapResultCode::UnwillingToPerform,
                "the current password is required",
            );
        };
        let Some(new) = &pm.new_password else {
            return result(
                LdapResultCode::UnwillingToPerform,
                "send the new password (apex-idp generates none)",
            );
        };
        match self
            .dir
            .change_password(&account_id, old, new, session.peer)
            .await
        {
            Ok(account) => {
                // This connection stays bound under the new password; others end.
                if let Identity::Person { stamp: held, .. } = &mut session.identity {
                    *held = stamp::of_credential(&account);
                }
                result(LdapResultCode::Success, "")
            }
            Err(e) => refusal(&e),
        }
    }

    /// Whether a Password Modify userIdentity names the bound person: his DN, `dn:` +
    /// his DN, his login or `u:` + his login.
    fn names_self(&self, user: &str, own_dn: &str) -> bool {
        let user = user.trim();
        let named = match user.strip_prefix("dn:") {
            Some(dn) => dn.to_owned(),
            None if user.contains('=') => user.to_owned(),
            None => {
                let login = user.strip_prefix("u:").unwrap_or(user);
                self.tree.person_dn(&login.to_lowercase())
            }
        };
        matches!((dn::normalize(&named), dn::normalize(own_dn)), (Ok(a), Ok(b)) if a == b)
    }
}
