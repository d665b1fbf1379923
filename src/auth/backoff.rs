//! Progressive backoff after failed sign-ins, per account and per source address.
//! Time-based (no permanent lockout an attacker could trigger), liftable by an
//! administrateur. Shared by the API, LDAP binds and OIDC sign-ins.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// Failures for one login after which delays start.
const FREE_PER_LOGIN: u32 = 3;
/// Failures for one address after which delays start (offices share addresses).
const FREE_PER_ADDRESS: u32 = 20;
/// Longest delay, in seconds.
const MAX_DELAY: i64 = 15 * 60;
/// Above this many tracked keys, stale entries are pruned.
const PRUNE_ABOVE: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    blocked_until: i64,
    last: i64,
}

/// The failure counters.
#[derive(Debug, Default)]
pub struct Backoff {
    entries: Mutex<HashMap<String, Failures>>,
}

fn login_key(login: &str) -> String {
    format!("l:{}", login.to_lowercase())
}

fn address_key(addr: IpAddr) -> String {
    format!("a:{addr}")
}

impl Backoff {
    /// Empty counters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Seconds to wait before another attempt is allowed, if any.
    pub fn retry_after(&self, login: &str, addr: Option<IpAddr>, now: i64) -> Option<i64> {
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut keys = vec![login_key(login)];
        keys.extend(addr.map(address_key));
        keys.iter()
            .filter_map(|k| entries.get(k))
            .map(|f| f.blocked_until - now)
            .filter(|wait| *wait > 0)
            .max()
    }

    /// Records a failure.
    pub fn fail(&self, login: &str, addr: Option<IpAddr>, now: i64) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() > PRUNE_ABOVE {
            entries.retain(|_, f| now - f.last < MAX_DELAY * 2);
        }
        let mut bump = |key: String, free: u32| {
            let f = entries.entry(key).or_insert(Failures {
                count: 0,
                blocked_until: 0,
                last: now,
            });
            f.count += 1;
            f.last = now;
            if f.count >= free {
                let exp = (f.count - free).min(20);
                f.blocked_until = now + (1i64 << exp).min(MAX_DELAY);
            }
        };
        bump(login_key(login), FREE_PER_LOGIN);
        if let Some(a) = addr {
            bump(address_key(a), FREE_PER_ADDRESS);
        }
    }

    /// Clears the counter of a login after a success (the address keeps its count).
    pub fn succeed(&self, login: &str) {
        self.lift(login);
    }

    /// Lifts the backoff of a login (an administrateur's decision).
    pub fn lift(&self, login: &str) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        entries.remove(&login_key(login));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_after_free_attempts_and_can_be_lifted() {
        let b = Backoff::new();
        for _ in 0..2 {
            b.fail("jdupont", None, 1000);
        }
        assert_eq!(b.retry_after("jdupont", None, 1000), None);
        b.fail("jdupont", None, 1000);
        assert_eq!(b.retry_after("JDupont", None, 1000), Some(1));
        b.fail("jdupont", None, 1000);
        assert_eq!(b.retry_after("jdupont", None, 1000), Some(2));
        assert_eq!(b.retry_after("jdupont", None, 1002), None);
        b.lift("jdupont");
        b.fail("jdupont", None, 1000);
        assert_eq!(b.retry_after("jdupont", None, 1000), None);
    }

    #[test]
    fn an_address_is_slowed_across_logins() {
        let b = Backoff::new();
        let a: IpAddr = [10, 0, 0, 1].into();
        for i in 0..25 {
            b.fail(&format!("user{i}"), Some(a), 50);
        }
        assert!(b.retry_after("someone-else", Some(a), 50).is_some());
        assert!(b.retry_after("someone-else", None, 50).is_none());
    }
}
