//! A browser's side of Web Push, for tests: its P-256 key pair and auth secret made as a browser
//! makes them, the subscription it posts, and the decryption of what a push service hands it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use web_push_native::p256;
use web_push_native::p256::elliptic_curve::rand_core::{OsRng, RngCore};

pub struct Browser {
    secret: p256::SecretKey,
    auth: [u8; 16],
    pub endpoint: String,
}

impl Browser {
    pub fn new(endpoint: &str) -> Browser {
        let mut auth = [0u8; 16];
        OsRng.fill_bytes(&mut auth);
        Browser { secret: p256::SecretKey::random(&mut OsRng), auth, endpoint: endpoint.into() }
    }

    /// `PushSubscription.toJSON()`, as the web app posts it to `/api/push/subscriptions`.
    pub fn subscription(&self) -> Value {
        json!({
            "endpoint": self.endpoint,
            "expirationTime": null,
            "keys": {
                "p256dh": URL_SAFE_NO_PAD.encode(self.secret.public_key().to_sec1_bytes()),
                "auth": URL_SAFE_NO_PAD.encode(self.auth),
            },
        })
    }

    /// A push's body decrypted (RFC 8291) with this browser's keys, as JSON. Panics when it does
    /// not decrypt: the test's failure.
    pub fn decrypt(&self, body: &[u8]) -> Value {
        let auth = web_push_native::Auth::clone_from_slice(&self.auth);
        let plain = web_push_native::decrypt(body.to_vec(), &self.secret, &auth)
            .unwrap_or_else(|e| panic!("the push payload does not decrypt: {e}"));
        serde_json::from_slice(&plain).unwrap_or_else(|e| panic!("the push payload is not JSON: {e}"))
    }
}
