//! The client's address: the TCP peer, or, when that peer is a trusted reverse proxy
//! (`http.trusted_proxies`), the address the proxies say they forwarded for.
//!
//! `X-Forwarded-For` is read from the right: each proxy appends the address it received
//! the request from, so the right-most address that is not itself a trusted proxy is
//! the first one no trusted party vouches for beyond, which is the client. Anything to
//! its left was written by the client and is ignored. Without `X-Forwarded-For`, the
//! RFC 7239 `Forwarded: for=` values are read the same way.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};

use crate::auth::addr::{Cidr, any_contains, canonical};

/// The client's address, for backoff counters and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// The peers whose forwarding headers name the client (`http.trusted_proxies`), as a
/// state the [`ClientAddr`] extractor reads.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(pub Arc<[Cidr]>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr
where
    TrustedProxies: FromRef<S>,
{
    type Rejection = StatusCode;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let ConnectInfo(peer) = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .copied()
            .ok_or(StatusCode::INTERNAL_SERVER_ERROR)?;
        Ok(ClientAddr(client_address(
            peer.ip(),
            &parts.headers,
            &TrustedProxies::from_ref(state).0,
        )))
    }
}

/// The client behind `peer`, trusting the forwarding headers only from `trusted` peers.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[Cidr]) -> IpAddr {
    let peer = canonical(peer);
    if !any_contains(trusted, peer) {
        return peer;
    }
    let mut hops: Vec<Option<IpAddr>> = forwarded_for(headers, "x-forwarded-for", parse_xff);
    if hops.is_empty() {
        hops = forwarded_for(headers, "forwarded", parse_forwarded);
    }
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        match hop {
            // A trusted proxy forwarded for this address: go one step further left.
            Some(addr) if any_contains(trusted, client) => client = canonical(addr),
            _ => break,
        }
        if !any_contains(trusted, client) {
            break;
        }
    }
    client
}

/// Every element of every instance of a header, in order; an element that does not
/// parse is `None` (and stops the walk there).
fn forwarded_for(
    headers: &HeaderMap,
    name: &str,
    parse: fn(&str) -> Option<Option<IpAddr>>,
) -> Vec<Option<IpAddr>> {
    headers
        .get_all(name)
        .iter()
        .flat_map(|v| match v.to_str() {
            Ok(text) => text.split(',').filter_map(parse).collect::<Vec<_>>(),
            Err(_) => vec![None],
        })
        .collect()
}

/// One `X-Forwarded-For` element: an address, `[v6]` or `v4:port`.
fn parse_xff(element: &str) -> Option<Option<IpAddr>> {
    Some(parse_node(element.trim()))
}

/// One `Forwarded` element: its `for=` parameter, if it has one.
fn parse_forwarded(element: &str) -> Option<Option<IpAddr>> {
    let value = element.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        k.trim().eq_ignore_ascii_case("for").then_some(v.trim())
    })?;
    Some(parse_node(value.trim_matches('"')))
}

fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(addr) = node.parse::<IpAddr>() {
        return Some(addr);
    }
    if let Ok(sock) = node.parse::<SocketAddr>() {
        return Some(sock.ip());
    }
    node.strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
        .and_then(|(v6, _)| v6.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    fn trusted() -> Vec<Cidr> {
        crate::auth::addr::parse_list(&["127.0.0.1".into(), "10.0.0.0/8".into()])
            .unwrap_or_default()
    }

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let h = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(
            client_address(ip("198.51.100.1"), &h, &trusted()),
            ip("198.51.100.1")
        );
        assert_eq!(client_address(ip("127.0.0.1"), &h, &[]), ip("127.0.0.1"));
    }

    #[test]
    fn the_right_most_untrusted_address_is_the_client() {
        let t = trusted();
        let h = headers(&[("x-forwarded-for", "1.2.3.4, 203.0.113.9, 10.1.1.1")]);
        assert_eq!(client_address(ip("127.0.0.1"), &h, &t), ip("203.0.113.9"));
        // Several header instances read as one list.
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "203.0.113.7"),
        ]);
        assert_eq!(client_address(ip("127.0.0.1"), &h, &t), ip("203.0.113.7"));
        // A garbled element stops the walk at the proxy that wrote it.
        let h = headers(&[("x-forwarded-for", "203.0.113.9, junk")]);
        assert_eq!(client_address(ip("127.0.0.1"), &h, &t), ip("127.0.0.1"));
        let h = headers(&[("x-forwarded-for", "[2001:db8::5]:443")]);
        assert_eq!(client_address(ip("127.0.0.1"), &h, &t), ip("2001:db8::5"));
    }

    #[test]
    fn forwarded_is_read_without_x_forwarded_for() {
        let t = trusted();
        let h = headers(&[(
            "forwarded",
            "for=192.0.2.60;proto=https, for=\"[2001:db8:cafe::17]:4711\"",
        )]);
        assert_eq!(
            client_address(ip("127.0.0.1"), &h, &t),
            ip("2001:db8:cafe::17")
        );
        assert_eq!(
            client_address(ip("127.0.0.1"), &HeaderMap::new(), &t),
            ip("127.0.0.1")
        );
    }
}
