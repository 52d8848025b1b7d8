//! A session controls its `Proxy-Authorization` header: any value must be refused or accepted
//! without a panic, and only the registered user with its exact secret gets in.
#![no_main]

use clauderon_proxy::fuzzing::{IdentityRegistry, SessionIdentity};
use clauderon_types::{SessionId, SessionName};
use libfuzzer_sys::fuzz_target;

const USER: &str = "fuzz";
const SECRET: &str = "s3cret-for-fuzzing";

fuzz_target!(|data: &[u8]| {
    let Ok(header) = std::str::from_utf8(data) else { return };
    let Ok(name) = SessionName::parse(USER) else { return };
    let registry = IdentityRegistry::new();
    registry.insert(SessionIdentity { session_id: SessionId::new(), name }, SECRET.to_string());
    if registry.authenticate(Some(header)).is_some() {
        // Whatever spelling got in must decode to exactly our user and secret.
        let encoded = header.trim().split_once(' ').map(|(_, e)| e.trim()).unwrap_or_default();
        let decoded = base64_decode(encoded);
        assert_eq!(decoded.as_deref(), Some(format!("{USER}:{SECRET}").as_bytes()), "{header:?}");
    }
});

/// Standard base64 with padding, written here so the check does not reuse the code it checks.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let body = text.trim_end_matches('=');
    let mut bits = 0u32;
    let mut nbits = 0;
    let mut out = Vec::new();
    for b in body.bytes() {
        let v = ALPHABET.iter().position(|a| *a == b)? as u32;
        bits = (bits << 6) | v;
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    Some(out)
}
