//! What a read-only session may send: reads. Git's smart HTTP protocol and GraphQL carry
//! their reads in POSTs and their writes behind paths or documents, so they are told apart here.
//!
//! Servers read a request in different ways (which of two `service` parameters counts, whether
//! `;x` ends a path, whether `%2F` is a slash, whether a header overrides the method), and a
//! read-only check that reads it another way can be walked around. So the check decides on one
//! view of the request and refuses what that view cannot settle:
//! - a write method (anything but GET, HEAD, OPTIONS) is let through only to a plain path —
//!   percent-decoded, with no `;`, `\`, dot or empty segments, no escaped `/`, `?` or `%` —
//!   that ends in `/git-upload-pack` (POST) or `/graphql` (POST, then its document decides);
//! - `git-receive-pack` anywhere in the path or query, decoded and in any case, is a push;
//! - a parameter that decides (`service`, `query`, `_method`, `operationName`) may appear once;
//! - a method override (`X-HTTP-Method-Override` and kin, `_method=`) must name a read, and a
//!   path override (`X-Original-URL`, `X-Rewrite-URL`) is refused;
//! - a read method carries no body;
//! - a GraphQL document in a GET's `query` parameter is checked like a POSTed one.

use http::HeaderMap;

/// The verdict on one request of a read-only session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Read,
    /// A write; the text says what, for the refusal ("git push (git-receive-pack)").
    Write(String),
    /// A GraphQL request: only its document tells.
    GraphqlBody,
}

/// Headers with which clients and frameworks tunnel another method through a POST or GET.
const METHOD_OVERRIDES: &[&str] = &["x-http-method-override", "x-http-method", "x-method-override"];

/// Headers with which some frameworks (IIS, Symfony, Zend) take the path from a header
/// instead of the request line: the check would read one path, the server another.
const PATH_OVERRIDES: &[&str] = &["x-original-url", "x-rewrite-url"];

/// Query parameters whose value decides the verdict (or, for `operationName`, what a server runs).
const DECIDING_PARAMS: &[&str] = &["service", "query", "_method", "operationname"];

fn is_read_method(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "OPTIONS")
}

/// Classify a request by method, path (with its query), headers and whether it has a body.
pub fn classify(method: &str, path_and_query: &str, headers: Option<&HeaderMap>, has_body: bool) -> Verdict {
    if let Some(what) = headers.and_then(method_override) {
        return Verdict::Write(what);
    }
    if let Some(name) = PATH_OVERRIDES.iter().find(|h| headers.is_some_and(|m| m.contains_key(**h))) {
        return Verdict::Write(format!("a request with {name} (the path could be read from it instead)"));
    }
    let (raw_path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    let params = query_params(query);
    for key in DECIDING_PARAMS {
        if params.iter().filter(|(k, _)| k.eq_ignore_ascii_case(key)).count() > 1 {
            return Verdict::Write(format!(
                "a request that repeats the `{key}` parameter (servers differ on which one counts)"
            ));
        }
    }
    if let Some((_, m)) = params.iter().find(|(k, _)| k.eq_ignore_ascii_case("_method"))
        && !is_read_method(&m.trim().to_ascii_uppercase())
    {
        return Verdict::Write(format!("a method override to `{m}` (the `_method` parameter)"));
    }
    // git: `info/refs?service=git-receive-pack` advertises refs for a push, `POST
    // …/git-receive-pack` is the push itself. However it is spelled, that name means a push.
    let unfolded = unfold(path_and_query);
    if unfolded.contains("git-receive-pack") {
        return Verdict::Write(if unfolded.contains("/info/refs") {
            "git push (the git-receive-pack advertisement)".into()
        } else {
            "git push (git-receive-pack)".into()
        });
    }
    let get_param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    if is_read_method(method) {
        if has_body || headers.is_some_and(announces_body) {
            return Verdict::Write(format!(
                "a {method} with a body (servers differ on whether they read it)"
            ));
        }
        // GraphQL over GET: the document is in `query`. Off a GraphQL path, only a document
        // that parses and holds a mutation counts (`?query=` is a search on most sites).
        if let Some(doc) = get_param("query") {
            let graphql_path = plain_path(raw_path).is_ok_and(|p| p.ends_with("/graphql"));
            if let Err(what) = super::graphql::check_document(doc)
                && (graphql_path || super::graphql::parses(doc))
            {
                return Verdict::Write(what);
            }
        }
        return Verdict::Read;
    }
    let path = match plain_path(raw_path) {
        Ok(p) => p,
        Err(why) => return Verdict::Write(format!("{method} to a path that is not plain ({why})")),
    };
    if method == "POST" && path.ends_with("/git-upload-pack") {
        return Verdict::Read;
    }
    if path.ends_with("/graphql") {
        return match (method, get_param("query")) {
            ("POST", None) => Verdict::GraphqlBody,
            // Some servers take the URL's document over the body's: which one runs is unclear.
            ("POST", Some(_)) => Verdict::Write("a GraphQL POST with a document in its URL too".into()),
            (other, _) => Verdict::Write(format!("{other} to a GraphQL endpoint")),
        };
    }
    Verdict::Write(format!("{method} {path} (a write)"))
}

/// `Some(refusal)` when a method-override header names anything but a read (or is repeated).
fn method_override(headers: &HeaderMap) -> Option<String> {
    for name in METHOD_OVERRIDES {
        let values: Vec<&[u8]> = headers.get_all(*name).iter().map(|v| v.as_bytes()).collect();
        match values.as_slice() {
            [] => {}
            [one] if is_read_method(&String::from_utf8_lossy(one).trim().to_ascii_uppercase()) => {}
            [one] => {
                return Some(format!(
                    "a method override to `{}` ({name})",
                    String::from_utf8_lossy(one).trim()
                ));
            }
            _ => return Some(format!("a request with more than one {name} header")),
        }
    }
    None
}

/// Whether the headers say a body follows (HTTP/1.1 framing; HTTP/2 is told by the stream).
fn announces_body(headers: &HeaderMap) -> bool {
    let length = headers.get_all(http::header::CONTENT_LENGTH).iter().any(|v| v.as_bytes() != b"0");
    length || headers.contains_key(http::header::TRANSFER_ENCODING)
}

/// The path as the check reads it: percent-decoded and lower-case (hosts differ on case).
/// `Err` says why a server could read it otherwise.
fn plain_path(raw: &str) -> Result<String, &'static str> {
    let bytes = decode(raw, false).ok_or("a broken %-escape")?;
    let path = String::from_utf8(bytes).map_err(|_| "not UTF-8 once decoded")?;
    if !path.starts_with('/') {
        return Err("not an absolute path");
    }
    if path.contains(['%', ';', '\\', '?', '#']) || path.chars().any(char::is_control) {
        return Err("an escaped or special character: %, ;, \\, ?, # or a control");
    }
    if raw.to_ascii_lowercase().contains("%2f") {
        return Err("an escaped /");
    }
    let segments: Vec<&str> = path[1..].split('/').collect();
    let last = segments.len().saturating_sub(1);
    for (i, segment) in segments.iter().enumerate() {
        if *segment == "." || *segment == ".." {
            return Err("a . or .. segment");
        }
        if segment.is_empty() && i != last {
            return Err("an empty segment (//)");
        }
    }
    Ok(path.trim_end_matches('/').to_ascii_lowercase())
}

/// `text` percent-decoded until nothing changes (at most a few rounds: double encoding),
/// lower-case: where a name means the same to any server however it is spelled.
fn unfold(text: &str) -> String {
    let mut current = text.to_string();
    for _ in 0..4 {
        let next = String::from_utf8_lossy(&decode_lenient(&current, true).0).into_owned();
        if next == current {
            break;
        }
        current = next;
    }
    current.to_ascii_lowercase()
}

/// The decoded `(key, value)` pairs of a query string, in order.
fn query_params(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (lossy(k), lossy(v))
        })
        .collect()
}

fn lossy(text: &str) -> String {
    String::from_utf8_lossy(&decode_lenient(text, true).0).into_owned()
}

/// `%XX` decoding (and `+` as a space in a query); `None` for a broken escape.
fn decode(text: &str, plus_is_space: bool) -> Option<Vec<u8>> {
    let (bytes, intact) = decode_lenient(text, plus_is_space);
    intact.then_some(bytes)
}

/// `%XX` decoding that keeps a broken escape as it is; also says whether every escape was whole.
fn decode_lenient(text: &str, plus_is_space: bool) -> (Vec<u8>, bool) {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut intact = true;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' if plus_is_space => out.push(b' '),
            b'%' => {
                match (bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
                    (Some(hi), Some(lo)) => {
                        out.push(hi << 4 | lo);
                        i += 3;
                        continue;
                    }
                    _ => {
                        intact = false;
                        out.push(b'%');
                    }
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    (out, intact)
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests;
