//! Source addresses: CIDR ranges (trusted proxies, allowed sources) and the key under
//! which a source is counted by the backoff (an IPv6 client by its /64, since one
//! customer line usually owns a whole /64).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

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
}
