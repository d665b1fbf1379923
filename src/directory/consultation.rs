//! The consultation of the rights matrix ("consult the accounts and services of his
//! structure"): a searched and paged list of its accounts, its services with their sizes,
//! one service with its members, and the administrateurs to contact.

use super::{AccountSummary, DirError, DirResult, Directory, Members};
use crate::domain::login::fold;
use crate::domain::rights::{Target, authorize};
use crate::domain::{Account, AccountState, Actor, Function, Role, Service};

/// What the consultation of a structure looks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountSearch {
    /// Words that the name, e-mail or identifier must contain (accents and case ignored).
    pub text: String,
    /// Only this service.
    pub service_id: Option<String>,
    /// Only this role.
    pub role: Option<Role>,
    /// Only this state.
    pub state: Option<AccountState>,
}

/// One page of a consultation.
#[derive(Debug, Clone)]
pub struct AccountPage {
    /// The accounts of the page, by family name then first name.
    pub accounts: Vec<AccountSummary>,
    /// How many accounts match in all.
    pub total: usize,
    /// This page, from 1.
    pub page: usize,
    /// How many pages.
    pub pages: usize,
}

impl AccountSearch {
    fn matches(&self, a: &Account, words: &[String]) -> bool {
        self.service_id
            .as_deref()
            .is_none_or(|s| a.service_id.as_deref() == Some(s))
            && self.role.is_none_or(|r| a.role == r)
            && self.state.is_none_or(|s| a.state == s)
            && (words.is_empty() || {
                let hay = format!(
                    "{} {} {} {}",
                    fold_spaced(&a.person.given_name),
                    fold_spaced(&a.person.family_name),
                    fold_spaced(&a.person.email),
                    a.login.as_deref().unwrap_or_default()
                );
                words.iter().all(|w| hay.contains(w.as_str()))
            })
    }
}

/// Folds each word of a text, keeping the spaces between them.
fn fold_spaced(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c == '@' || c == '.' || c == '-')
        .map(fold)
        .collect::<Vec<_>>()
        .join(" ")
}

impl Directory {
    /// One page of the accounts of the actor's structure that match `search`.
    pub fn search_accounts(
        &self,
        actor: &Actor,
        search: &AccountSearch,
        page: usize,
        per_page: usize,
    ) -> DirResult<AccountPage> {
        authorize(
            actor,
            Function::Consult,
            &Target::of_structure(&actor.structure_id),
        )?;
        let words: Vec<String> = search
            .text
            .split_whitespace()
            .map(fold)
            .filter(|w| !w.is_empty())
            .collect();
        let mut found: Vec<(String, Account)> = self
            .accounts_of(&actor.structure_id)?
            .into_iter()
            .filter(|a| search.matches(a, &words))
            .map(|a| {
                let key = format!(
                    "{} {} {}",
                    fold(&a.person.family_name),
                    fold(&a.person.given_name),
                    a.id
                );
                (key, a)
            })
            .collect();
        found.sort_unstable_by(|x, y| x.0.cmp(&y.0));
        let per_page = per_page.max(1);
        let total = found.len();
        let pages = total.div_ceil(per_page).max(1);
        let page = page.clamp(1, pages);
        let accounts = found
            .iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .map(|(_, a)| AccountSummary::from(a))
            .collect();
        Ok(AccountPage {
            accounts,
            total,
            page,
            pages,
        })
    }

    /// The active administrateurs of the actor's structure (whom to contact, e.g. for
    /// the erasure of one's data).
    pub fn administrateurs_of(&self, actor: &Actor) -> DirResult<Vec<AccountSummary>> {
        authorize(
            actor,
            Function::Consult,
            &Target::of_structure(&actor.structure_id),
        )?;
        Ok(self
            .accounts_of(&actor.structure_id)?
            .iter()
            .filter(|a| a.role == Role::Administrateur && a.state == AccountState::Active)
            .map(AccountSummary::from)
            .collect())
    }

    /// The services of the actor's structure, each with its number of accounts.
    pub fn services_with_sizes(&self, actor: &Actor) -> DirResult<Vec<(Service, usize)>> {
        authorize(
            actor,
            Function::Consult,
            &Target::of_structure(&actor.structure_id),
        )?;
        let mut out = Vec::new();
        for s in self.services_of(&actor.structure_id)? {
            let n = self.member_ids(Members::Service(&s.id))?.len();
            out.push((s, n));
        }
        out.sort_by_key(|(s, _)| fold(&s.name));
        Ok(out)
    }

    /// One service of the actor's structure and its accounts (another structure's is
    /// not found).
    pub fn consult_service(
        &self,
        actor: &Actor,
        id: &str,
    ) -> DirResult<(Service, Vec<AccountSummary>)> {
        let service = match self.service(id) {
            Ok(s) if s.structure_id == actor.structure_id => s,
            _ => return Err(DirError::NotFound { what: "service" }),
        };
        let target = Target::of_service(&service);
        authorize(actor, Function::Consult, &target)?;
        let mut members: Vec<Account> = self
            .member_ids(Members::Service(&service.id))?
            .iter()
            .map(|id| self.account(id))
            .collect::<DirResult<_>>()?;
        members.sort_by_key(|a| (fold(&a.person.family_name), fold(&a.person.given_name)));
        let members = members.iter().map(AccountSummary::from).collect();
        Ok((service, members))
    }
}
