//! Web Push: the browsers subscribed to notifications (their push service's endpoint and the
//! keys the payload is encrypted to), and the sessions muted for them.

use crate::rows::time_text;
use crate::{Store, StoreError};
use rusqlite::params;

/// One browser's subscription, as its `PushSubscription` gave it (keys base64url).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushSubscription {
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
}

/// The most browsers subscribed at once: every event a notification goes to each of them.
pub const MAX_SUBSCRIPTIONS: usize = 64;

impl Store {
    /// Add a subscription, or replace the keys of one with the same endpoint. A new endpoint
    /// past [`MAX_SUBSCRIPTIONS`] is a conflict, nothing written.
    pub fn add_push_subscription(&self, s: &PushSubscription) -> Result<(), StoreError> {
        let conn = self.conn();
        let (count, known): (i64, bool) = conn.query_row(
            "SELECT COUNT(*), COALESCE(SUM(endpoint = ?1), 0) > 0 FROM push_subscriptions",
            params![s.endpoint],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        if !known && usize::try_from(count).unwrap_or(usize::MAX) >= MAX_SUBSCRIPTIONS {
            return Err(StoreError::Conflict(format!(
                "{MAX_SUBSCRIPTIONS} browsers are subscribed already: unsubscribe one (\"Stop\" in its web app, or \
                 DELETE /api/push/subscriptions with its endpoint) first"
            )));
        }
        conn.prepare_cached(
            "INSERT INTO push_subscriptions (endpoint, p256dh, auth, created_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(endpoint) DO UPDATE SET p256dh = excluded.p256dh, auth = excluded.auth",
        )?
        .execute(params![s.endpoint, s.p256dh, s.auth, time_text(chrono::Utc::now())])?;
        Ok(())
    }

    /// Remove a subscription; whether there was one.
    pub fn remove_push_subscription(&self, endpoint: &str) -> Result<bool, StoreError> {
        let n = self
            .conn()
            .prepare_cached("DELETE FROM push_subscriptions WHERE endpoint = ?1")?
            .execute(params![endpoint])?;
        Ok(n > 0)
    }

    pub fn push_subscriptions(&self) -> Result<Vec<PushSubscription>, StoreError> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare_cached("SELECT endpoint, p256dh, auth FROM push_subscriptions ORDER BY created_at")?;
        let rows = stmt.query_map([], |r| {
            Ok(PushSubscription { endpoint: r.get(0)?, p256dh: r.get(1)?, auth: r.get(2)? })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Mute or unmute a session's notifications.
    pub fn set_push_muted(&self, session_name: &str, muted: bool) -> Result<(), StoreError> {
        let conn = self.conn();
        if muted {
            conn.prepare_cached("INSERT OR IGNORE INTO push_mutes (session_name) VALUES (?1)")?
                .execute(params![session_name])?;
        } else {
            conn.prepare_cached("DELETE FROM push_mutes WHERE session_name = ?1")?
                .execute(params![session_name])?;
        }
        Ok(())
    }

    pub fn push_muted(&self, session_name: &str) -> Result<bool, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT 1 FROM push_mutes WHERE session_name = ?1")?;
        Ok(stmt.exists(params![session_name])?)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn subscriptions_are_kept_once_per_endpoint_and_mutes_toggle() {
        let store = Store::open_in_memory().unwrap();
        let a = PushSubscription {
            endpoint: "https://push.test/a".into(),
            p256dh: "k1".into(),
            auth: "a1".into(),
        };
        store.add_push_subscription(&a).unwrap();
        store.add_push_subscription(&PushSubscription { p256dh: "k2".into(), ..a.clone() }).unwrap();
        let all = store.push_subscriptions().unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].p256dh, "k2", "the new keys replace the old");
        assert!(store.remove_push_subscription(&a.endpoint).unwrap());
        assert!(!store.remove_push_subscription(&a.endpoint).unwrap());
        assert!(store.push_subscriptions().unwrap().is_empty());

        assert!(!store.push_muted("s").unwrap());
        store.set_push_muted("s", true).unwrap();
        store.set_push_muted("s", true).unwrap();
        assert!(store.push_muted("s").unwrap());
        store.set_push_muted("s", false).unwrap();
        assert!(!store.push_muted("s").unwrap());
    }

    #[test]
    fn subscriptions_are_bounded_but_a_known_one_can_renew() {
        let store = Store::open_in_memory().unwrap();
        let sub = |i: usize| PushSubscription {
            endpoint: format!("https://push.test/{i}"),
            p256dh: "k".into(),
            auth: "a".into(),
        };
        for i in 0..MAX_SUBSCRIPTIONS {
            store.add_push_subscription(&sub(i)).unwrap();
        }
        let err = store.add_push_subscription(&sub(MAX_SUBSCRIPTIONS)).unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err}");
        assert!(err.to_string().contains("unsubscribe one"), "{err}");
        assert_eq!(store.push_subscriptions().unwrap().len(), MAX_SUBSCRIPTIONS, "nothing written");
        store.add_push_subscription(&PushSubscription { p256dh: "k2".into(), ..sub(3) }).unwrap();
    }
}
