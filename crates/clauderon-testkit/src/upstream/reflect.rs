//! `GET /echo-forms?header=NAME`: a request header's value echoed back encoded every way a
//! server might carry it — base64 in both alphabets, padded or not, at each byte alignment
//! inside a longer string, in a JWT and in a Basic credential, percent-encoded, JSON-escaped,
//! hex — one `form=text` line each, so a test can decode each line and look for the secret.

use super::body::{self, RespBody};
use super::routes::Req;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use hyper::body::Bytes;
use hyper::{Response, StatusCode};

/// The base64 engines, by the names the lines carry (`base64-std-pad-1=...`).
pub const BASE64_FORMS: &[(&str, base64::engine::GeneralPurpose)] = &[
    ("std-pad", STANDARD),
    ("std-nopad", STANDARD_NO_PAD),
    ("url-pad", URL_SAFE),
    ("url-nopad", URL_SAFE_NO_PAD),
];

/// What goes before the value in the base64 lines: one per byte alignment.
pub const PREFIXES: [&str; 3] = ["", "u", "us"];

pub(crate) fn echo_forms(req: &Req) -> Response<RespBody> {
    let name = req.query("header").unwrap_or_else(|| "authorization".into());
    let value = req.header(&name).unwrap_or("").as_bytes().to_vec();
    let mut lines: Vec<(String, String)> = Vec::new();
    for (engine_name, engine) in BASE64_FORMS {
        for (k, prefix) in PREFIXES.iter().enumerate() {
            let text = [prefix.as_bytes(), &value, b"-tail"].concat();
            lines.push((format!("base64-{engine_name}-{k}"), engine.encode(text)));
        }
    }
    let claims = [b"{\"sub\":\"".as_slice(), &value, b"\"}"].concat();
    lines.push((
        "jwt".into(),
        format!("eyJhbGciOiJIUzI1NiJ9.{}.c2lnbmF0dXJl", URL_SAFE_NO_PAD.encode(claims)),
    ));
    let basic = [b"x-access-token:".as_slice(), &value].concat();
    lines.push(("basic".into(), format!("Basic {}", STANDARD.encode(basic))));
    lines.push(("percent-upper".into(), value.iter().map(|b| format!("%{b:02X}")).collect()));
    lines.push(("percent-lower".into(), value.iter().map(|b| format!("%{b:02x}")).collect()));
    lines.push(("percent-reserved".into(), value.iter().map(|b| percent_if_reserved(*b)).collect()));
    lines.push(("json-u".into(), value.iter().map(|b| format!("\\u{b:04x}")).collect()));
    lines.push(("json-slash".into(), String::from_utf8_lossy(&value).replace('/', "\\/")));
    lines.push(("hex".into(), value.iter().map(|b| format!("{b:02x}")).collect()));
    let text: String = lines.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    body::full(StatusCode::OK, "text/plain", Bytes::from(text))
}

fn percent_if_reserved(b: u8) -> String {
    if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
        (b as char).to_string()
    } else {
        format!("%{b:02X}")
    }
}
