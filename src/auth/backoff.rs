//! Progressive backoff after failed sign-ins. Time-based (no permanent lockout an
//! attacker could trigger), liftable by an administrateur. Shared by the API, LDAP binds
//! and OIDC sign-ins.
//!
//! Three counters, each a leaky bucket (it forgets one failure per leak period, so a
//! counter is a sliding window, never a sentence for life):
//! - a login *from one source* (an IPv4 address or an IPv6 /64): delays start after a
//!   few failures and grow; they never touch the same login from another source, so
//!   nobody can keep a person or an application out by typing wrong passwords elsewhere;
//! - a source across logins: many failures from one address (guessing many logins);
//! - a person's login across all sources, at a much higher threshold, against guessing
//!   distributed over many addresses. Application service accounts have none: wrong
//!   binds from elsewhere never keep the application out.
//!
//! Forgotten-password requests have quotas of their own on the same buckets, apart from
//! the failures (asking for a link never delays a sign-in): reset mails per login, so
//! that nobody can flood a mailbox, and requests per source, so that nobody can make
//! the server look up identifiers without bound.
//!
//! One node keeps its counters in memory. Nodes sharing one database keep them in a
//! table of the faces' state instead, changed by compare-and-swap: a guesser who spreads
//! his attempts over the nodes meets the same counters on each.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use serde::{Deserialize, Serialize};

use super::addr::source_key;
use crate::store::table::Table;

/// Failures for one login from one source after which delays start.
const FREE_PER_LOGIN_AT: u32 = 3;
/// A login from one source forgets one failure per this many seconds.
const LEAK_LOGIN_AT: i64 = 5 * 60;
/// Failures from one source (offices share addresses) after which delays start.
const FREE_PER_SOURCE: u32 = 20;
/// A source forgets one failure per this many seconds.
const LEAK_SOURCE: i64 = 30;
/// Failures for a person's login from all sources together after which delays start.
const FREE_PER_LOGIN: u32 = 100;
/// A login forgets one failure per this many seconds.
const LEAK_LOGIN: i64 = 60;
/// Longest delay, in seconds.
const MAX_DELAY: i64 = 15 * 60;
/// Above this many tracked keys, stale entries are pruned.
const PRUNE_ABOVE: usize = 100_000;
/// Reset mails a login receives in a row; then one per [`LEAK_RESET_MAIL`] seconds.
const RESET_MAILS: u32 = 3;
/// A login regains one reset mail per this many seconds.
const LEAK_RESET_MAIL: i64 = 20 * 60;
/// Reset requests one source makes in a row (offices share addresses); then one per
/// [`LEAK_RESET_REQUEST`] seconds.
const RESET_REQUESTS: u32 = 20;
/// A source regains one reset request per this many seconds.
const LEAK_RESET_REQUEST: i64 = 30;

/// Whose credentials are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A person: also counted across sources, against distributed guessing.
    Person,
    /// A person from a browser where this login signed in before (a valid device
    /// cookie): counted per source only, so distributed guessing of the login does not
    /// keep its owner out.
    KnownDevice,
    /// An application's service account (LDAP bind, OIDC client): counted per source
    /// only.
    Service,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    LoginAt(String, Option<IpAddr>),
    Login(String),
    Source(IpAddr),
    /// Reset mails sent to a login.
    ResetMail(String),
    /// Reset requests from a source.
    ResetRequest(IpAddr),
}

impl Key {
    fn rule(&self) -> (u32, i64) {
        match self {
            Key::LoginAt(..) => (FREE_PER_LOGIN_AT, LEAK_LOGIN_AT),
            Key::Login(_) => (FREE_PER_LOGIN, LEAK_LOGIN),
            Key::Source(_) => (FREE_PER_SOURCE, LEAK_SOURCE),
            Key::ResetMail(_) => (RESET_MAILS, LEAK_RESET_MAIL),
            Key::ResetRequest(_) => (RESET_REQUESTS, LEAK_RESET_REQUEST),
        }
    }

    fn login(&self) -> Option<&str> {
        match self {
            Key::LoginAt(l, _) | Key::Login(l) | Key::ResetMail(l) => Some(l),
            Key::Source(_) | Key::ResetRequest(_) => None,
        }
    }

    /// The key of the shared table.
    fn bytes(&self) -> Vec<u8> {
        let source = |a: &Option<IpAddr>| a.map_or_else(|| "-".to_owned(), |a| a.to_string());
        match self {
            Key::LoginAt(l, a) => format!("login-at\0{l}\0{}", source(a)),
            Key::Login(l) => format!("login\0{l}"),
            Key::Source(a) => format!("source\0{a}"),
            Key::ResetMail(l) => format!("reset-mail\0{l}"),
            Key::ResetRequest(a) => format!("reset-request\0{a}"),
        }
        .into_bytes()
    }
}

/// One counter: failures (or quota taken) that leak away with time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failures {
    count: u32,
    blocked_until: i64,
    last: i64,
    /// The login the counter is about (shared table: what lifting a login removes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    login: Option<String>,
}

impl Failures {
    /// The count once the failures older than the window have leaked away.
    fn count_at(&self, now: i64, leak: i64) -> u32 {
        let leaked = ((now - self.last).max(0) / leak).min(i64::from(u32::MAX));
        self.count
            .saturating_sub(u32::try_from(leaked).unwrap_or(u32::MAX))
    }
}

/// The failure counters.
#[derive(Default)]
pub struct Backoff {
    entries: Mutex<HashMap<Key, Failures>>,
    /// Nodes sharing one database: the counters live there instead.
    shared: Option<Table<Failures>>,
    /// When the shared table was last pruned.
    pruned_at: AtomicI64,
}

/// Seconds between two prunings of the shared table.
const PRUNE_SHARED_EVERY: i64 = 600;
/// Tries of a compare-and-swap that other nodes keep beating.
const SWAP_TRIES: usize = 16;

/// The name of the shared table of the counters.
pub const SHARED_TABLE: &str = "auth_backoff";

/// Longest login kept as is in a key; a longer one (no real login is) is kept as its
/// digest, so that a client cannot make the counters hold what it likes.
const MAX_KEY_LOGIN: usize = 64;

/// A login as the counters hold it: lower-case, or its digest when it is too long.
fn bounded(login: &str) -> String {
    if login.len() > MAX_KEY_LOGIN {
        let d = ring::digest::digest(&ring::digest::SHA256, login.to_lowercase().as_bytes());
        format!(
            "#{}",
            base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, d)
        )
    } else {
        login.to_lowercase()
    }
}

fn keys(kind: Kind, login: &str, addr: Option<IpAddr>) -> Vec<Key> {
    let login = bounded(login);
    let source = addr.map(source_key);
    let mut keys = vec![Key::LoginAt(login.clone(), source)];
    if kind == Kind::Person {
        keys.push(Key::Login(login));
    }
    keys.extend(source.map(Key::Source));
    keys
}

impl Backoff {
    /// Empty counters, in memory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counters kept in `table`, shared by every node that opens it.
    pub fn shared(table: Table<Failures>) -> Self {
        Backoff {
            shared: Some(table),
            ..Self::default()
        }
    }

    /// Changes the counter under `key` in the shared table with `change` (given the
    /// counter or a fresh one), by compare-and-swap; what `change` returned.
    fn change_shared<R>(
        table: &Table<Failures>,
        key: &Key,
        now: i64,
        change: impl Fn(&mut Failures) -> R,
    ) -> Option<R> {
        let k = key.bytes();
        for _ in 0..SWAP_TRIES {
            let read = match table.read(&k) {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(error = %e, "backoff: counters unavailable");
                    return None;
                }
            };
            let mut value = read.as_ref().map_or_else(
                || Failures {
                    count: 0,
                    blocked_until: 0,
                    last: now,
                    login: key.login().map(str::to_owned),
                },
                |r| r.value.clone(),
            );
            let out = change(&mut value);
            let done = match &read {
                Some(r) => table.swap(&k, r, &value),
                None => table.put_new(&k, &value),
            };
            match done {
                Ok(true) => return Some(out),
                Ok(false) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "backoff: counters unavailable");
                    return None;
                }
            }
        }
        None
    }

    /// Drops the shared counters that have leaked away, every few minutes.
    fn prune_shared(&self, table: &Table<Failures>, now: i64) {
        let last = self.pruned_at.load(Ordering::Relaxed);
        if now - last < PRUNE_SHARED_EVERY
            || self
                .pruned_at
                .compare_exchange(last, now, Ordering::SeqCst, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        // The longest leak period bounds how long a counter can matter.
        let stale = |f: &Failures| {
            f.blocked_until <= now && now - f.last > LEAK_LOGIN_AT * i64::from(FREE_PER_LOGIN)
        };
        if let Err(e) = table.purge(stale) {
            tracing::warn!(error = %e, "backoff: shared counters not pruned");
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Failures>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Seconds to wait before another attempt is allowed, if any.
    pub fn retry_after(
        &self,
        kind: Kind,
        login: &str,
        addr: Option<IpAddr>,
        now: i64,
    ) -> Option<i64> {
        self.wait(&keys(kind, login, addr), now)
    }

    /// Seconds before a source may try any credential again (used before an argon2
    /// verification that no login names, such as an operator token or a bind to an
    /// unknown DN).
    pub fn source_retry_after(&self, addr: IpAddr, now: i64) -> Option<i64> {
        self.wait(&[Key::Source(source_key(addr))], now)
    }

    fn wait(&self, keys: &[Key], now: i64) -> Option<i64> {
        if let Some(table) = &self.shared {
            return keys
                .iter()
                .filter_map(|k| match table.get(&k.bytes()) {
                    Ok(f) => f,
                    Err(e) => {
                        tracing::warn!(error = %e, "backoff: counters unavailable");
                        None
                    }
                })
                .map(|f| f.blocked_until - now)
                .filter(|wait| *wait > 0)
                .max();
        }
        let entries = self.lock();
        keys.iter()
            .filter_map(|k| entries.get(k))
            .map(|f| f.blocked_until - now)
            .filter(|wait| *wait > 0)
            .max()
    }

    /// Records a failure.
    pub fn fail(&self, kind: Kind, login: &str, addr: Option<IpAddr>, now: i64) {
        self.bump(keys(kind, login, addr), now);
    }

    /// Records a failure no login names, against the source only.
    pub fn source_fail(&self, addr: IpAddr, now: i64) {
        self.bump(vec![Key::Source(source_key(addr))], now);
    }

    /// Counts a password-reset request from a source. Returns the seconds it must wait
    /// when it already made its share, and then counts nothing.
    pub fn reset_request_from(&self, addr: IpAddr, now: i64) -> Option<i64> {
        self.take(Key::ResetRequest(source_key(addr)), now)
    }

    /// Counts a reset mail to a login; false when the login already received its share
    /// (no mail then).
    pub fn reset_mail_to(&self, login: &str, now: i64) -> bool {
        self.take(Key::ResetMail(bounded(login)), now).is_none()
    }

    /// Takes one from a quota: None when taken, else the seconds until the bucket has
    /// leaked one.
    fn take(&self, key: Key, now: i64) -> Option<i64> {
        let (quota, leak) = key.rule();
        let take_one = |f: &mut Failures| {
            let count = f.count_at(now, leak);
            if count >= quota {
                return Some(leak - (now - f.last).rem_euclid(leak));
            }
            f.count = count + 1;
            f.last = now;
            None
        };
        if let Some(table) = &self.shared {
            self.prune_shared(table, now);
            return Self::change_shared(table, &key, now, take_one).flatten();
        }
        let mut entries = self.lock();
        prune(&mut entries, now);
        let f = entries.entry(key).or_insert(Failures {
            count: 0,
            blocked_until: 0,
            last: now,
            login: None,
        });
        take_one(f)
    }

    fn bump(&self, keys: Vec<Key>, now: i64) {
        let fail = |key: &Key, f: &mut Failures| {
            let (free, leak) = key.rule();
            f.count = f.count_at(now, leak).saturating_add(1);
            f.last = now;
            if f.count >= free {
                let exp = (f.count - free).min(20);
                f.blocked_until = now + (1i64 << exp).min(MAX_DELAY);
            }
        };
        if let Some(table) = &self.shared {
            self.prune_shared(table, now);
            for key in &keys {
                Self::change_shared(table, key, now, |f| fail(key, f));
            }
            return;
        }
        let mut entries = self.lock();
        prune(&mut entries, now);
        for key in keys {
            let f = entries.entry(key.clone()).or_insert(Failures {
                count: 0,
                blocked_until: 0,
                last: now,
                login: None,
            });
            fail(&key, f);
        }
    }

    /// Clears the counter of a login from that source after a success (the source and
    /// the login across sources keep theirs: they leak away with time).
    pub fn succeed(&self, login: &str, addr: Option<IpAddr>) {
        let key = Key::LoginAt(login.to_lowercase(), addr.map(source_key));
        if let Some(table) = &self.shared {
            if let Err(e) = table.remove(&key.bytes()) {
                tracing::warn!(error = %e, "backoff: counters unavailable");
            }
            return;
        }
        self.lock().remove(&key);
    }

    /// Lifts the backoff of a login from every source (an administrateur's decision).
    pub fn lift(&self, login: &str) {
        let login = login.to_lowercase();
        if let Some(table) = &self.shared {
            if let Err(e) = table.take_where(|f| f.login.as_deref() == Some(login.as_str())) {
                tracing::warn!(error = %e, "backoff: counters unavailable");
            }
            return;
        }
        self.lock().retain(|k, _| k.login() != Some(login.as_str()));
    }
}

/// Forgets the counters that have leaked away, once there are many.
fn prune(entries: &mut HashMap<Key, Failures>, now: i64) {
    if entries.len() > PRUNE_ABOVE {
        entries.retain(|k, f| f.count_at(now, k.rule().1) > 0 || f.blocked_until > now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_login_is_counted_under_a_bounded_key() {
        let long = "x".repeat(100_000);
        for key in keys(Kind::Person, &long, None) {
            assert!(
                key.login().is_none_or(|l| l.len() <= MAX_KEY_LOGIN),
                "{key:?}"
            );
        }
        let b = Backoff::new();
        for _ in 0..10 {
            b.fail(Kind::Person, &long, None, 1000);
        }
        assert!(b.retry_after(Kind::Person, &long, None, 1000).is_some());
        let other = "y".repeat(100_000);
        assert!(b.retry_after(Kind::Person, &other, None, 1000).is_none());
    }

    const P: Kind = Kind::Person;

    fn at(last: u8) -> Option<IpAddr> {
        Some(IpAddr::from([127, 0, 0, last]))
    }

    #[test]
    fn delays_grow_after_free_attempts_and_can_be_lifted() {
        let b = Backoff::new();
        for _ in 0..2 {
            b.fail(P, "jdupont", None, 1000);
        }
        assert_eq!(b.retry_after(P, "jdupont", None, 1000), None);
        b.fail(P, "jdupont", None, 1000);
        assert_eq!(b.retry_after(P, "JDupont", None, 1000), Some(1));
        b.fail(P, "jdupont", None, 1000);
        assert_eq!(b.retry_after(P, "jdupont", None, 1000), Some(2));
        assert_eq!(b.retry_after(P, "jdupont", None, 1002), None);
        b.lift("jdupont");
        b.fail(P, "jdupont", None, 1000);
        assert_eq!(b.retry_after(P, "jdupont", None, 1000), None);
    }

    #[test]
    fn failures_from_one_source_never_delay_the_login_from_another() {
        let b = Backoff::new();
        for _ in 0..10 {
            b.fail(P, "jdupont", at(2), 1000);
        }
        assert!(b.retry_after(P, "jdupont", at(2), 1000).is_some());
        assert_eq!(b.retry_after(P, "jdupont", at(3), 1000), None);
        // A service account likewise, and it has no count across sources at all.
        for i in 0..200u8 {
            b.fail(Kind::Service, "app:FICOBA", at(i), 1000);
        }
        assert_eq!(
            b.retry_after(Kind::Service, "app:FICOBA", at(250), 1000),
            None
        );
    }

    #[test]
    fn distributed_guessing_of_a_person_is_slowed_at_a_higher_threshold() {
        let b = Backoff::new();
        for i in 0..(FREE_PER_LOGIN - 1) {
            b.fail(
                P,
                "jdupont",
                Some(IpAddr::from([10, 0, (i / 200) as u8, (i % 200) as u8])),
                1000,
            );
        }
        assert_eq!(b.retry_after(P, "jdupont", at(9), 1000), None);
        b.fail(P, "jdupont", at(8), 1000);
        assert!(b.retry_after(P, "jdupont", at(9), 1000).is_some());
    }

    #[test]
    fn a_source_is_slowed_across_logins_and_forgets_with_time() {
        let b = Backoff::new();
        let a: IpAddr = [10, 0, 0, 1].into();
        for i in 0..25 {
            b.fail(P, &format!("user{i}"), Some(a), 50);
        }
        assert!(b.retry_after(P, "someone-else", Some(a), 50).is_some());
        assert!(b.source_retry_after(a, 50).is_some());
        assert!(b.retry_after(P, "someone-else", None, 50).is_none());
        // The window slides: once the delay has run out and the failures leaked away,
        // one more failure does not block again.
        let later = 50 + MAX_DELAY + LEAK_SOURCE * 30;
        b.fail(P, "user1", Some(a), later);
        assert_eq!(b.source_retry_after(a, later), None);
    }

    #[test]
    fn reset_mails_and_requests_have_quotas_apart_from_sign_in_failures() {
        let b = Backoff::new();
        let a: IpAddr = [10, 0, 0, 1].into();
        for _ in 0..RESET_MAILS {
            assert!(b.reset_mail_to("JDupont", 100));
        }
        assert!(!b.reset_mail_to("jdupont", 100), "the login had its share");
        assert!(b.reset_mail_to("autre", 100), "another login has its own");
        // Asking for links never delays a sign-in.
        assert_eq!(b.retry_after(P, "jdupont", Some(a), 100), None);
        // One mail more per leak period.
        assert!(b.reset_mail_to("jdupont", 100 + LEAK_RESET_MAIL));
        assert!(!b.reset_mail_to("jdupont", 100 + LEAK_RESET_MAIL));
        for _ in 0..RESET_REQUESTS {
            assert_eq!(b.reset_request_from(a, 200), None);
        }
        assert_eq!(b.reset_request_from(a, 200), Some(LEAK_RESET_REQUEST));
        assert_eq!(b.reset_request_from(a, 210), Some(LEAK_RESET_REQUEST - 10));
        assert_eq!(
            b.source_retry_after(a, 200),
            None,
            "no sign-in delay either"
        );
        assert_eq!(b.reset_request_from([10, 0, 0, 2].into(), 200), None);
        assert_eq!(b.reset_request_from(a, 200 + LEAK_RESET_REQUEST), None);
        // An administrateur's unlock gives the login its mails back.
        b.lift("jdupont");
        assert!(b.reset_mail_to("jdupont", 100 + LEAK_RESET_MAIL));
    }

    #[test]
    fn an_ipv6_source_is_one_slash_64() {
        let b = Backoff::new();
        for i in 0..30u16 {
            let addr = IpAddr::from([0x2001, 0xdb8, 1, 2, i, 0, 0, 1]);
            b.fail(P, &format!("user{i}"), Some(addr), 50);
        }
        let sibling = IpAddr::from([0x2001, 0xdb8, 1, 2, 0xffff, 0, 0, 9]);
        assert!(b.source_retry_after(sibling, 50).is_some());
        let other = IpAddr::from([0x2001, 0xdb8, 1, 3, 0, 0, 0, 9]);
        assert_eq!(b.source_retry_after(other, 50), None);
    }
}
