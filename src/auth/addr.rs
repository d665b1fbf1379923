//! Source addresses: CIDR ranges (trusted proxies, allowed sources), the key under
//! which a source is counted by the backoff (an IPv6 client by its /64, since one
//! customer line usually owns a whole /64), and the open connections of a listener,
//! in all and per source.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};

/// A range of addresses, `192.0.2.0/24`, `2001:db8::/32`, or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

/// Why a CIDR range was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "« {0} » n'est pas une plage d'adresses (attendu : 192.0.2.0/24, 2001:db8::/32 ou une adresse)"
)]
pub struct BadCidr(pub String);

impl FromStr for Cidr {
    type Err = BadCidr;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadCidr(s.to_owned());
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let net: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().map_err(|_| bad())?,
            None => max,
        };
        if prefix > max {
            return Err(bad());
        }
        Ok(Cidr {
            net: mask(net, prefix),
            prefix,
        })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.net, self.prefix)
    }
}

impl Cidr {
    /// Whether the range holds this address (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, addr: IpAddr) -> bool {
        let addr = canonical(addr);
        addr.is_ipv4() == self.net.is_ipv4() && mask(addr, self.prefix) == self.net
    }
}

/// Parses a list of ranges, naming the first bad one.
pub fn parse_list(items: &[String]) -> Result<Vec<Cidr>, BadCidr> {
    items.iter().map(|s| s.parse()).collect()
}

/// Whether any range of the list holds the address.
pub fn any_contains(ranges: &[Cidr], addr: IpAddr) -> bool {
    ranges.iter().any(|r| r.contains(addr))
}

/// `::ffff:192.0.2.1` is `192.0.2.1`.
pub fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// The source as the backoff counts it: an IPv4 address, or an IPv6 address's /64.
pub fn source_key(addr: IpAddr) -> IpAddr {
    match canonical(addr) {
        v6 @ IpAddr::V6(_) => mask(v6, 64),
        v4 => v4,
    }
}

fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let m = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((bits & m).into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let m = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((bits & m).into())
        }
    }
}

/// The open connections of a listener, in all and by source, under two bounds.
#[derive(Debug, Clone)]
pub struct Connections {
    open: Arc<Mutex<Open>>,
    max_total: usize,
    per_source: usize,
    unbounded: Arc<[Cidr]>,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    by_source: HashMap<IpAddr, usize>,
}

/// A connection's place among the open ones, given back when dropped.
#[derive(Debug)]
pub struct Slot {
    open: Arc<Mutex<Open>>,
    source: Option<IpAddr>,
}

impl Connections {
    /// At most `max_total` connections, and `per_source` from one source (an IPv6
    /// client by its /64); peers in `unbounded` (trusted proxies, which speak for many
    /// clients) count only against the total.
    pub fn new(max_total: usize, per_source: usize, unbounded: Vec<Cidr>) -> Connections {
        Connections {
            open: Arc::default(),
            max_total,
            per_source,
            unbounded: unbounded.into(),
        }
    }

    /// A place for a connection from `peer`, unless a bound is reached.
    pub fn admit(&self, peer: IpAddr) -> Option<Slot> {
        let source = (!any_contains(&self.unbounded, peer)).then(|| source_key(peer));
        let mut o = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if o.total >= self.max_total {
            return None;
        }
        if let Some(s) = source {
            let n = o.by_source.get(&s).copied().unwrap_or(0);
            if n >= self.per_source {
                return None;
            }
            o.by_source.insert(s, n + 1);
        }
        o.total += 1;
        Some(Slot {
            open: Arc::clone(&self.open),
            source,
        })
    }

    /// Connections open now.
    pub fn total(&self) -> usize {
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .total
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.total = open.total.saturating_sub(1);
        if let Some(source) = self.source
            && let Some(n) = open.by_source.get_mut(&source)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.by_source.remove(&source);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn ranges_parse_and_contain() {
        let r: Cidr = "10.1.0.0/16".parse().unwrap_or(Cidr {
            net: ip("0.0.0.0"),
            prefix: 32,
        });
        assert!(r.contains(ip("10.1.200.3")));
        assert!(r.contains(ip("::ffff:10.1.0.9")));
        assert!(!r.contains(ip("10.2.0.1")));
        assert_eq!(r.to_string(), "10.1.0.0/16");
        let one: Result<Cidr, _> = "127.0.0.2".parse();
        assert_eq!(one.map(|c| c.contains(ip("127.0.0.2"))), Ok(true));
        let all: Result<Cidr, _> = "0.0.0.0/0".parse();
        assert_eq!(all.map(|c| c.contains(ip("203.0.113.9"))), Ok(true));
        let v6: Result<Cidr, _> = "2001:db8::/32".parse();
        assert_eq!(v6.map(|c| c.contains(ip("2001:db8:1::1"))), Ok(true));
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "10.0.0/8",
            "x/1",
            "10.0.0.0/-1",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_slash_64() {
        assert_eq!(
            source_key(ip("2001:db8:1:2:aaaa::1")),
            source_key(ip("2001:db8:1:2:bbbb::9"))
        );
        assert_ne!(
            source_key(ip("2001:db8:1:2::1")),
            source_key(ip("2001:db8:1:3::1"))
        );
        assert_eq!(source_key(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
    }

    #[test]
    fn connections_are_bounded_in_all_and_per_source() {
        let proxy: Cidr = "10.0.0.1".parse().unwrap();
        let c = Connections::new(4, 2, vec![proxy]);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let v6a: IpAddr = "2001:db8::1".parse().unwrap();
        let v6b: IpAddr = "2001:db8::2".parse().unwrap();
        let first = c.admit(a).unwrap();
        let _second = c.admit(a).unwrap();
        assert!(c.admit(a).is_none(), "a third from one address");
        let _v6 = c.admit(v6a).unwrap();
        let _v6_same_64 = c.admit(v6b).unwrap();
        assert_eq!(c.total(), 4);
        assert!(c.admit(ip("10.0.0.1")).is_none(), "the total binds all");
        drop(first);
        assert!(
            c.admit(a).is_some(),
            "a closed connection gives its place back"
        );
    }
}
