//! The forms a secret takes when a server echoes it inside something else: base64 (a Basic
//! header, a JWT, `Bearer base64(user:secret)`), percent-encoding (a URL in an error page),
//! JSON string escapes, hex. Each form of the secret comes with the same form of its
//! placeholder, byte for byte as long, so a body keeps its length and `Content-Length`.
//!
//! What no fixed form covers (said in ARCHITECTURE.md): a secret cut into pieces inside a body
//! (split across JSON fields), mixed escapes (some characters `%XX`, others not, beyond
//! the "only what must be" form), and any encoding not listed here (gzip inside base64...).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};

/// One searchable form of a secret and what replaces it (the same length).
pub type Form = (Vec<u8>, Vec<u8>);

/// Every form of `secret` the scrubber looks for, each with its replacement: the same encoding
/// of `placeholder`, which must be exactly as long as `secret` (see [`super::fit`]).
pub fn forms(secret: &[u8], placeholder: &[u8]) -> Vec<Form> {
    let mut out: Vec<Form> = Vec::new();
    let mut add = |form: Form| {
        // Forms that come out the same (a secret with nothing to escape) are searched once.
        if form.0.len() == form.1.len() && !form.0.is_empty() && !out.iter().any(|(s, _)| *s == form.0) {
            out.push(form);
        }
    };
    if secret.len() != placeholder.len() {
        return Vec::new();
    }
    add((secret.to_vec(), placeholder.to_vec()));
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        for offset in 0..3 {
            // The replacement uses neither alphabet's own characters (`+/`, `-_`): a core the
            // two alphabets share is searched once, and its replacement fits either.
            let mut replacement = base64_core(engine, placeholder, offset);
            for c in &mut replacement {
                if matches!(*c, b'+' | b'/' | b'-' | b'_') {
                    *c = b'A';
                }
            }
            add((base64_core(engine, secret, offset), replacement));
        }
    }
    for upper in [true, false] {
        add(escaped(secret, placeholder, |b| Some(percent(b, upper))));
        add(escaped(secret, placeholder, |b| (!is_unreserved(b)).then(|| percent(b, upper))));
        if secret.is_ascii() {
            add(escaped(secret, placeholder, |b| Some(json_u(b, upper))));
        }
        add(hex_form(secret, placeholder, upper));
    }
    // What JSON encoders write: `"` and `\` always, controls as `\u00XX`, `/` as `\/` by some.
    add(escaped(secret, placeholder, |b| json_minimal(b, true)));
    add(escaped(secret, placeholder, |b| json_minimal(b, false)));
    out
}

/// The base64 characters that depend on `secret` alone when it starts `offset` bytes (0, 1
/// or 2) into a longer base64-encoded string. The characters at either edge mix in bits of
/// the bytes around it and are left out, so at most 4 bits of the secret's first and last
/// byte stay visible next to the replaced part.
fn base64_core(engine: &base64::engine::GeneralPurpose, secret: &[u8], offset: usize) -> Vec<u8> {
    let mut shifted = vec![0u8; offset];
    shifted.extend_from_slice(secret);
    let encoded = engine.encode(&shifted).into_bytes();
    // Characters of the first group that carry bits of the `offset` unknown bytes before it.
    let start = [0, 2, 3][offset];
    // Full groups are known; of a last partial group, the characters before the unknown byte.
    let total = shifted.len();
    let end = (total / 3 * 4 + total % 3).min(encoded.len());
    encoded.get(start..end).map(<[u8]>::to_vec).unwrap_or_default()
}

/// `secret` with each byte written as `encode` says (`None`: as it is), and `placeholder`
/// written token for token in the same lengths, so both come out equally long.
fn escaped(secret: &[u8], placeholder: &[u8], encode: impl Fn(u8) -> Option<Vec<u8>>) -> Form {
    let mut form = Vec::with_capacity(secret.len() * 3);
    let mut replacement = Vec::with_capacity(secret.len() * 3);
    for (&s, &p) in secret.iter().zip(placeholder) {
        let token = encode(s).unwrap_or_else(|| vec![s]);
        replacement.extend_from_slice(&same_length_token(&token, p));
        form.extend_from_slice(&token);
    }
    (form, replacement)
}

/// The placeholder byte `p` written as long as `token`: `%XX` or `\u00XX` as the token was,
/// else the byte itself, padded with `_` (a two-character JSON escape has no twin for a
/// letter). A placeholder byte that would need escaping itself becomes `_`.
fn same_length_token(token: &[u8], p: u8) -> Vec<u8> {
    let p = if is_unreserved(p) { p } else { b'_' };
    let upper = token.iter().any(u8::is_ascii_uppercase);
    let mut out = match token {
        [b'%', _, _] => percent(p, upper),
        [b'\\', b'u', ..] if token.len() == 6 => json_u(p, upper),
        _ => vec![p],
    };
    out.resize(token.len(), b'_');
    out
}

/// RFC 3986's unreserved characters: what percent-encoding leaves alone.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn hex_digits(b: u8, upper: bool) -> [u8; 2] {
    let digits: &[u8; 16] = if upper { b"0123456789ABCDEF" } else { b"0123456789abcdef" };
    [digits[usize::from(b >> 4)], digits[usize::from(b & 0xf)]]
}

fn percent(b: u8, upper: bool) -> Vec<u8> {
    let [hi, lo] = hex_digits(b, upper);
    vec![b'%', hi, lo]
}

fn json_u(b: u8, upper: bool) -> Vec<u8> {
    let [hi, lo] = hex_digits(b, upper);
    vec![b'\\', b'u', b'0', b'0', hi, lo]
}

fn json_minimal(b: u8, slash: bool) -> Option<Vec<u8>> {
    match b {
        b'"' | b'\\' => Some(vec![b'\\', b]),
        b'/' if slash => Some(b"\\/".to_vec()),
        0..=0x1f => Some(json_u(b, false)),
        _ => None,
    }
}

fn hex_form(secret: &[u8], placeholder: &[u8], upper: bool) -> Form {
    let hex = |bytes: &[u8]| bytes.iter().flat_map(|b| hex_digits(*b, upper)).collect::<Vec<u8>>();
    (hex(secret), hex(placeholder))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};

    const SECRET: &[u8] = b"sk-ant-REAL/secret+value=123";
    const PLACEHOLDER: &[u8] = b"sk-ant-api03-clauderon-place";

    /// `text` with every form replaced, as the scrubber does it (leftmost, longest first).
    fn scrub(text: &[u8]) -> Vec<u8> {
        let forms = forms(SECRET, PLACEHOLDER);
        let ac = aho_corasick::AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::LeftmostLongest)
            .build(forms.iter().map(|(s, _)| s))
            .unwrap();
        let mut out = Vec::new();
        ac.replace_all_with_bytes(text, &mut out, |m, _, dst| {
            dst.extend_from_slice(&forms[m.pattern().as_usize()].1);
            true
        });
        assert_eq!(out.len(), text.len(), "a replacement changed the length");
        out
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn every_form_has_a_replacement_of_its_own_length() {
        let all = forms(SECRET, PLACEHOLDER);
        assert!(all.len() >= 12, "{}", all.len());
        for (form, replacement) in &all {
            assert_eq!(form.len(), replacement.len());
            assert!(form.len() >= 8);
        }
        assert!(forms(SECRET, b"short").is_empty());
    }

    #[test]
    fn base64_at_each_alignment_with_and_without_padding_in_both_alphabets() {
        for engine in [&STANDARD, &URL_SAFE, &STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            for prefix in ["", "u", "us", "x-access-token:", "Bearer ", "{\"sub\":\""] {
                for suffix in ["", "x", "xy", "\"}"] {
                    let plain = [prefix.as_bytes(), SECRET, suffix.as_bytes()].concat();
                    let encoded = engine.encode(&plain);
                    let jwt = format!("eyJhbGciOiJIUzI1NiJ9.{encoded}.c2lnbmF0dXJl");
                    let clean = scrub(jwt.as_bytes());
                    assert_ne!(clean, jwt.as_bytes(), "{prefix:?}+{suffix:?}: not found");
                    let body = std::str::from_utf8(&clean).unwrap().split('.').nth(1).unwrap();
                    let decoded = engine.decode(body).expect("still valid base64");
                    assert!(!contains(&decoded, SECRET), "{prefix:?}+{suffix:?}: the secret survived");
                    assert!(!contains(&decoded, b"secret+value"), "{prefix:?}: most of it survived");
                }
            }
        }
    }

    #[test]
    fn percent_encoded_fully_or_only_where_needed_in_either_case() {
        let full_upper: String = SECRET.iter().map(|b| format!("%{b:02X}")).collect();
        let full_lower: String = SECRET.iter().map(|b| format!("%{b:02x}")).collect();
        let minimal = "sk-ant-REAL%2Fsecret%2Bvalue%3D123";
        for text in [
            full_upper,
            full_lower,
            minimal.to_string(),
            minimal.replace("%2F", "%2f").replace("%2B", "%2b").replace("%3D", "%3d"),
        ] {
            let url = format!("https://x.test/cb?token={text}&next=1");
            let clean = String::from_utf8(scrub(url.as_bytes())).unwrap();
            let decoded = percent_decode(&clean);
            assert!(!decoded.contains("secret+value"), "{url} -> {clean}");
            assert!(decoded.contains("sk-ant-api03-clauderon-place"), "{clean}");
        }
    }

    fn percent_decode(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%'
                && i + 3 <= b.len()
                && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
            {
                out.push(v);
                i += 3;
                continue;
            }
            out.push(b[i]);
            i += 1;
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn json_escapes_every_char_or_only_slashes() {
        let all_u: String = SECRET.iter().map(|b| format!("\\u{:04x}", b)).collect();
        let all_upper: String = SECRET.iter().map(|b| format!("\\u{:04X}", b)).collect();
        let slashes = "sk-ant-REAL\\/secret+value=123";
        for escaped in [all_u, all_upper, slashes.to_string()] {
            let doc = format!("{{\"echo\":\"{escaped}\",\"n\":1}}");
            let clean = scrub(doc.as_bytes());
            let value: serde_json::Value = serde_json::from_slice(&clean).expect("still JSON");
            let echo = value["echo"].as_str().unwrap();
            assert!(!echo.contains("secret+value"), "{doc} -> {echo}");
            assert_eq!(value["n"], 1);
        }
    }

    #[test]
    fn hex_in_either_case() {
        let lower: String = SECRET.iter().map(|b| format!("{b:02x}")).collect();
        let clean = scrub(format!("digest {lower} end").as_bytes());
        assert!(!contains(&clean, lower.as_bytes()));
        let upper = lower.to_ascii_uppercase();
        assert!(!contains(&scrub(upper.as_bytes()), upper.as_bytes()));
    }
}
