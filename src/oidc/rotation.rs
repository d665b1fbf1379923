//! The published keys at run time: the ring that signs and verifies, the JWKS rendered
//! from it, and when it next changes (a retired key leaves). Rotation adds keys while
//! the server runs; the JWKS follows without a restart.

use std::sync::{Arc, PoisonError};

use axum::body::Bytes;

use super::keys::{self, KeyRecord, KeyRing, KeyStatus};
use super::{Oidc, OidcError, discovery};
use crate::config::OidcConfig;
use crate::store::table::Table;

/// How long a key stays published after it stopped signing.
pub fn retention(config: &OidcConfig) -> i64 {
    keys::retention(config.access_token_seconds)
}

/// The keys in use and their public document.
pub struct Published {
    /// Signs and verifies.
    pub ring: KeyRing,
    /// The JWKS document.
    pub jwks: Bytes,
    /// When a retired key leaves (the document must be rendered again).
    pub changes_at: Option<i64>,
}

impl Published {
    /// Reads the stored keys, dropping those whose tokens have all expired. Blocking.
    pub fn load(
        table: &Table<KeyRecord>,
        now: i64,
        retention: i64,
    ) -> Result<Published, OidcError> {
        let (kept, changes_at) = keys::drop_retired(table, now, retention)?;
        let ring = KeyRing::from_records(&kept)?;
        let jwks = discovery::jwks(&ring).map_err(OidcError::Other)?;
        Ok(Published {
            ring,
            jwks: Bytes::from(jwks),
            changes_at,
        })
    }
}

impl Oidc {
    /// The keys in use.
    pub(super) fn keys(&self) -> Arc<Published> {
        Arc::clone(&self.keys.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The JWKS document at `now` (a retired key whose time is up leaves it first).
    pub fn jwks_document(&self, now: i64) -> Bytes {
        let keys = self.keys();
        if keys.changes_at.is_some_and(|t| t <= now) {
            if let Err(e) = self.refresh_keys(now) {
                tracing::error!(error = %e, "oidc keys");
            }
            return self.keys().jwks.clone();
        }
        keys.jwks.clone()
    }

    /// Reads the keys again from the store and publishes them. Blocking (short).
    pub(super) fn refresh_keys(&self, now: i64) -> Result<(), OidcError> {
        // One refresh at a time; a caller that finds one running keeps the current keys.
        let Ok(_turn) = self.refreshing.try_lock() else {
            return Ok(());
        };
        let fresh = Published::load(&self.keys_table, now, retention(&self.config))?;
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(fresh);
        Ok(())
    }

    /// Adds one key per algorithm, published at once and signing `delay` seconds later
    /// (clamped to the JWKS cache lifetime .. a week); returns every key's status.
    pub async fn rotate_keys(&self, now: i64, delay: i64) -> Result<Vec<KeyStatus>, OidcError> {
        let table = self.keys_table.clone();
        tokio::task::spawn_blocking(move || keys::rotate(&table, now, delay))
            .await
            .map_err(|e| OidcError::Other(e.to_string()))??;
        // Waits for a refresh in progress, so that an older reading cannot win.
        let _turn = self
            .refreshing
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let fresh = Published::load(&self.keys_table, now, retention(&self.config))?;
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(fresh);
        self.key_status(now)
    }

    /// Every stored key and where it is in its life.
    pub fn key_status(&self, now: i64) -> Result<Vec<KeyStatus>, OidcError> {
        let records = keys::records(&self.keys_table).map_err(OidcError::from)?;
        Ok(keys::status(&records, now, retention(&self.config)))
    }
}

/// The operator API rotates the keys through this port.
impl crate::http::keys::KeyRotation for Oidc {
    fn delays(&self) -> crate::http::keys::RotationDelays {
        crate::http::keys::RotationDelays {
            default: keys::DEFAULT_ROTATION_DELAY,
            min: keys::MIN_ROTATION_DELAY,
            max: keys::MAX_ROTATION_DELAY,
        }
    }

    fn rotate(
        &self,
        now: i64,
        delay: i64,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = crate::http::keys::Rotated> + Send + '_>>
    {
        Box::pin(async move {
            self.rotate_keys(now, delay)
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn list(&self, now: i64) -> crate::http::keys::Rotated {
        self.key_status(now).map_err(|e| e.to_string())
    }
}
