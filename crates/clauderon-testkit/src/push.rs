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

    /// A push's body decrypted with this browser's keys, as JSON. The decryption is written here
    /// from RFC 8291 and RFC 8188 with `ring` and `p256` (not the library the daemon encrypts
    /// with, so a bug shared by both ends cannot pass). Panics when it does not open: the test's
    /// failure.
    pub fn decrypt(&self, body: &[u8]) -> Value {
        let plain = self.open(body).unwrap_or_else(|| panic!("the push payload does not decrypt"));
        serde_json::from_slice(&plain).unwrap_or_else(|e| panic!("the push payload is not JSON: {e}"))
    }

    /// One `aes128gcm` record opened; `None` when it does not.
    fn open(&self, body: &[u8]) -> Option<Vec<u8>> {
        use ring::hmac;
        let mac = |key: &[u8], parts: &[&[u8]]| {
            let key = hmac::Key::new(hmac::HMAC_SHA256, key);
            let mut ctx = hmac::Context::with_key(&key);
            for p in parts {
                ctx.update(p);
            }
            ctx.sign().as_ref().to_vec()
        };
        // Header (RFC 8188 §2.1): salt (16) | record size (4) | key id length (1) | key id, which
        // RFC 8291 §4 makes the sender's uncompressed P-256 key.
        let salt = body.get(..16)?;
        let rs = u32::from_be_bytes(body.get(16..20)?.try_into().ok()?) as usize;
        let idlen = *body.get(20)? as usize;
        let sender_public = body.get(21..21 + idlen)?;
        let ciphertext = body.get(21 + idlen..)?;
        assert_eq!(idlen, 65, "the key id is the sender's uncompressed P-256 key (RFC 8291 §4)");
        assert!(ciphertext.len() <= rs, "one record: {} bytes, record size {rs}", ciphertext.len());
        let sender = p256::PublicKey::from_sec1_bytes(sender_public).ok()?;
        let shared = p256::ecdh::diffie_hellman(self.secret.to_nonzero_scalar(), sender.as_affine());
        let own_public = self.secret.public_key().to_sec1_bytes();
        // RFC 8291 §3.4: the input keying material from the ECDH secret and the auth secret;
        // then RFC 8188 §2.2's content key and nonce (HKDF-SHA256, one-block expands).
        let prk_key = mac(&self.auth, &[shared.raw_secret_bytes().as_slice()]);
        let ikm = mac(&prk_key, &[b"WebPush: info\0", &own_public, sender_public, &[1]]);
        let prk = mac(salt, &[&ikm]);
        let cek = mac(&prk, &[b"Content-Encoding: aes128gcm\0", &[1]]);
        let nonce = mac(&prk, &[b"Content-Encoding: nonce\0", &[1]]);
        let key = ring::aead::UnboundKey::new(&ring::aead::AES_128_GCM, &cek[..16]).ok()?;
        let key = ring::aead::LessSafeKey::new(key);
        let nonce = ring::aead::Nonce::try_assume_unique_for_key(&nonce[..12]).ok()?;
        let mut buf = ciphertext.to_vec();
        let plain = key.open_in_place(nonce, ring::aead::Aad::empty(), &mut buf).ok()?;
        // Padding: the last record ends with its delimiter 0x02 and any number of zeros.
        let end = plain.iter().rposition(|b| *b != 0)?;
        assert_eq!(plain[end], 2, "the last (only) record's delimiter");
        Some(plain[..end].to_vec())
    }
}
