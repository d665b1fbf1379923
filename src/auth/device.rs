//! The device cookie (OWASP's): it marks a browser where a login signed in before, and
//! lets that browser through the limit on the login across all sources, so that
//! distributed guessing cannot keep the owner out.

use axum::http::{HeaderMap, HeaderValue};

use super::browser::Browser;
use super::cookie::cookie;

/// Cookie that marks a browser where a login signed in before.
pub const DEVICE_COOKIE: &str = "apex_device";
/// Its name under https.
pub const DEVICE_COOKIE_HTTPS: &str = "__Host-apex_device";
/// Seconds a device cookie is honoured after the sign-in that issued it.
pub const DEVICE_SECONDS: i64 = 180 * 24 * 3600;
/// Longest device cookie read; anything longer is no cookie of ours.
const MAX_DEVICE_COOKIE: usize = 256;

impl Browser {
    fn device_cookie_name(&self) -> &'static str {
        if self.secure {
            DEVICE_COOKIE_HTTPS
        } else {
            DEVICE_COOKIE
        }
    }

    fn device_mac(&self, body: &str) -> ring::hmac::Tag {
        let mut mac = ring::hmac::Context::with_key(&self.device_key);
        mac.update(b"apex-device\0");
        mac.update(body.as_bytes());
        mac.sign()
    }

    /// The device cookie of a browser where `login` just signed in: the login, the
    /// time, and an HMAC of both under a key kept in the store.
    pub fn device_cookie(&self, login: &str, now: i64) -> HeaderValue {
        let who = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            login.trim().to_lowercase(),
        );
        let body = format!("{who}.{now}");
        let mac = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            self.device_mac(&body).as_ref(),
        );
        self.set_cookie(
            self.device_cookie_name(),
            &format!("{body}.{mac}"),
            Some(DEVICE_SECONDS),
        )
    }

    /// Whether the browser holds a device cookie of `login` that this server issued
    /// less than 180 days ago.
    pub fn known_device(&self, headers: &HeaderMap, login: &str, now: i64) -> bool {
        let Some(value) =
            cookie(headers, self.device_cookie_name()).filter(|v| v.len() <= MAX_DEVICE_COOKIE)
        else {
            return false;
        };
        let Some((body, mac)) = value.rsplit_once('.') else {
            return false;
        };
        let Some((who, issued)) = body.split_once('.') else {
            return false;
        };
        let Ok(mac) =
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, mac)
        else {
            return false;
        };
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            self.device_mac(body).as_ref(),
            mac.as_slice(),
        )) {
            return false;
        }
        let fresh = issued
            .parse::<i64>()
            .is_ok_and(|t| t <= now && now - t < DEVICE_SECONDS);
        let theirs = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, who)
            .is_ok_and(|w| w == login.trim().to_lowercase().as_bytes());
        fresh && theirs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::browser::Lifetimes;
    use crate::store::table::FaceState;
    use axum::http::header;

    fn fresh_store() -> (tempfile::TempDir, FaceState) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let state = FaceState::open_at(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        (dir, state)
    }

    fn open(store: &FaceState) -> Browser {
        let lifetimes = Lifetimes {
            idle: 60,
            absolute: 600,
        };
        let Ok((b, _)) = Browser::open(store, lifetimes, false) else {
            panic!("the browser state does not open")
        };
        b
    }

    fn with_cookie(name: &str, set: &HeaderValue) -> HeaderMap {
        let value = set
            .to_str()
            .unwrap_or_default()
            .split(';')
            .next()
            .and_then(|pair| pair.split_once('='))
            .map(|(_, v)| v.to_owned())
            .unwrap_or_default();
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&format!("{name}={value}")) {
            headers.insert(header::COOKIE, v);
        }
        headers
    }

    #[test]
    fn a_device_cookie_names_its_login_and_ages() {
        let (_dir, store) = fresh_store();
        let browser = open(&store);
        let set = browser.device_cookie(" CDurand ", 1_000);
        let headers = with_cookie(DEVICE_COOKIE, &set);
        assert!(browser.known_device(&headers, "cdurand", 1_000));
        assert!(browser.known_device(&headers, "CDURAND ", 1_000 + DEVICE_SECONDS - 1));
        assert!(!browser.known_device(&headers, "cdurand", 1_000 + DEVICE_SECONDS));
        assert!(
            !browser.known_device(&headers, "cdurand", 999),
            "not from the future"
        );
        assert!(!browser.known_device(&headers, "amartin", 1_000));
        // Under another name (the https one) it is no device cookie of this server.
        let https = with_cookie(DEVICE_COOKIE_HTTPS, &set);
        assert!(!browser.known_device(&https, "cdurand", 1_000));
        // Reopened over the same store, the key is the same; another store's is not.
        assert!(open(&store).known_device(&headers, "cdurand", 1_000));
        let (_elsewhere, other) = fresh_store();
        assert!(!open(&other).known_device(&headers, "cdurand", 1_000));
        for junk in ["", ".", "a.b.c", "Y2R1cmFuZA.1000.", "Y2R1cmFuZA.x.AAAA"] {
            let mut h = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(&format!("{DEVICE_COOKIE}={junk}")) {
                h.insert(header::COOKIE, v);
            }
            assert!(!browser.known_device(&h, "cdurand", 1_000), "{junk}");
        }
    }
}
