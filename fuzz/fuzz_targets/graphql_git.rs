//! A read-only session's writes, however they are dressed, must be refused by the daemon's
//! policy engine: `policy_classify` checks that classifying anything does not panic; this
//! target checks what the answers are.
//!
//! - a git push: `git-receive-pack` in the path or the query, each letter as it is, in upper
//!   case, percent-encoded once or twice, anywhere among bytes the input picks;
//! - a GraphQL mutation (or a fragment on `Mutation`) followed by any document text the input
//!   picks, in a JSON body whose escapes, key spelling, extra fields and batch position it
//!   picks, or in a GET's `query` parameter, percent-encoded;
//! - and for any request at all: what a read-only session gets through is a read method, a
//!   `git-upload-pack` POST, or a GraphQL POST whose body is then checked.
//!
//! Input: a mode byte, then the bytes that mode reads.
#![no_main]

use clauderon_proxy::fuzzing::{
    PolicyDecision, PolicyEngine, PolicyRequest, RequestPolicy, SessionIdentity, policy_engine,
};
use clauderon_types::AccessMode;
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// On the built-in allowlist, not a model API: read-only applies in full.
const HOST: &str = "api.github.com";

fn engine() -> &'static (PolicyEngine, SessionIdentity) {
    static ENGINE: OnceLock<(PolicyEngine, SessionIdentity)> = OnceLock::new();
    ENGINE.get_or_init(|| policy_engine(AccessMode::ReadOnly).expect("the policy engine"))
}

/// The input's bytes, read from the front; zeros once it runs out.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn byte(&mut self) -> u8 {
        let Some((&b, rest)) = self.0.split_first() else { return 0 };
        self.0 = rest;
        b
    }

    /// The next `len`-prefixed piece as text (lossy), `len` from the next byte.
    fn text(&mut self) -> String {
        let len = usize::from(self.byte()).min(self.0.len());
        let (piece, rest) = self.0.split_at(len);
        self.0 = rest;
        String::from_utf8_lossy(piece).into_owned()
    }
}

/// `word` with each character spelled as the input picks: as it is, upper case, `%XX`
/// (either case of hex), or `%25XX`.
fn dress(word: &str, input: &mut Bytes<'_>) -> String {
    let mut out = String::new();
    for c in word.chars() {
        let how = input.byte();
        let c = if how & 4 == 4 { c.to_ascii_uppercase() } else { c };
        let hex = if how & 8 == 8 { format!("{:02X}", c as u32) } else { format!("{:02x}", c as u32) };
        match how & 3 {
            1 => out.push_str(&format!("%{hex}")),
            2 => out.push_str(&format!("%25{hex}")),
            _ => out.push(c),
        }
    }
    out
}

fn decide(
    method: &str,
    path: &str,
    headers: Option<&HeaderMap>,
    has_body: bool,
    body: &[u8],
) -> PolicyDecision {
    let (engine, who) = engine();
    let request = PolicyRequest { session: who, method, host: HOST, path: Some(path), headers, has_body };
    match engine.check(&request) {
        PolicyDecision::NeedsBody => engine.check_body(&request, body),
        other => other,
    }
}

const METHODS: [&str; 8] = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE", "get"];

fn git_push(input: &mut Bytes<'_>) {
    let method = METHODS[usize::from(input.byte()) % METHODS.len()];
    let in_query = input.byte() & 1 == 1;
    let before = input.text();
    let after = input.text();
    let name = dress("git-receive-pack", input);
    let path = if in_query {
        format!("/{before}/info/refs?{after}&service={name}")
    } else {
        format!("/{before}/{name}{after}")
    };
    let decision = decide(method, &path, None, false, b"");
    assert!(
        matches!(decision, PolicyDecision::Deny(_)),
        "a push got through: {method} {path:?} -> {decision:?}"
    );
}

/// `text` as a JSON string's inside, each character escaped as `\uXXXX` where the input says.
fn json_escaped(text: &str, input: &mut Bytes<'_>) -> String {
    let mut out = String::new();
    for c in text.chars() {
        let must = c == '"' || c == '\\' || (c as u32) < 0x20;
        if must || input.byte() & 1 == 1 {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A mutation (or a fragment on `Mutation`) first, then any document text the input picks:
/// what follows a whole definition cannot change it, so the document either has the mutation
/// or does not parse. (Text before it could: `query` followed by `mutation { … }` is a query
/// named "mutation", which the first version of this target took for a mutation let through.)
fn mutation_document(input: &mut Bytes<'_>) -> String {
    let suffix = input.text();
    let name: String = input.text().chars().filter(char::is_ascii_alphanumeric).collect();
    let name = if name.starts_with(|c: char| c.is_ascii_digit()) { String::new() } else { name };
    match input.byte() % 3 {
        0 => format!("mutation {name} {{ addStar(input: {{}}) {{ clientMutationId }} }}\n{suffix}"),
        1 => format!("mutation{{x}}\n{suffix}"),
        _ => format!("fragment F{name} on Mutation {{ x }}\n{suffix}"),
    }
}

fn graphql_body(input: &mut Bytes<'_>) {
    let doc = mutation_document(input);
    let key = json_escaped("query", input);
    let mut object = format!("{{\"{key}\": \"{}\"", json_escaped(&doc, input));
    let extras = input.byte();
    if extras & 1 == 1 {
        object.push_str(&format!(", \"operationName\": \"{}\"", json_escaped(&input.text(), input)));
    }
    if extras & 2 == 2 {
        object.push_str(", \"variables\": {}");
    }
    object.push('}');
    let body = match extras >> 2 & 3 {
        0 => object,
        1 => format!("[{object}]"),
        2 => format!("[{{\"query\": \"{{ viewer {{ login }} }}\"}}, {object}]"),
        _ => format!("[{object}, {{\"query\": \"{{ a }}\"}}]"),
    };
    let path = ["/graphql", "/graphql/", "/api/graphql", "/GraphQL"][usize::from(input.byte()) % 4];
    let decision = decide("POST", path, None, true, body.as_bytes());
    assert!(matches!(decision, PolicyDecision::Deny(_)), "a mutation got through: {body:?} -> {decision:?}");
}

/// Percent-encode every byte that is not unreserved (and some that are, as the input says).
fn url_encoded(text: &str, input: &mut Bytes<'_>) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() && input.byte() & 1 == 0 {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn graphql_get(input: &mut Bytes<'_>) {
    let doc = mutation_document(input);
    let path = format!("/graphql?query={}", url_encoded(&doc, input));
    let decision = decide("GET", &path, None, false, b"");
    assert!(matches!(decision, PolicyDecision::Deny(_)), "a mutation got through: {path:?} -> {decision:?}");
}

/// `%XX` decoded once (how a server reads a path); a broken escape is kept as it is.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let hex = |j: usize| bytes.get(j).and_then(|b| (*b as char).to_digit(16));
        match (bytes[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Any request: method, path, header lines, body, each `len`-prefixed.
fn any_request(input: &mut Bytes<'_>) {
    let method = input.text();
    let path = input.text();
    let mut headers = HeaderMap::new();
    for line in input.text().split('\n') {
        let Some((name, value)) = line.split_once(':') else { continue };
        let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name.trim().as_bytes()), HeaderValue::from_str(value.trim()))
        else {
            continue;
        };
        headers.append(name, value);
    }
    let body = input.0;
    let (engine, who) = engine();
    let request = PolicyRequest {
        session: who,
        method: &method,
        host: HOST,
        path: Some(&path),
        headers: Some(&headers),
        has_body: !body.is_empty(),
    };
    let decision = engine.check(&request);
    let read = matches!(method.as_str(), "GET" | "HEAD" | "OPTIONS");
    let plain = percent_decoded(path.split('?').next().unwrap_or_default());
    let plain = plain.trim_end_matches('/').to_ascii_lowercase();
    match decision {
        PolicyDecision::Allow => assert!(
            read || (method == "POST" && plain.ends_with("/git-upload-pack")),
            "a read-only session's {method} {path:?} was allowed"
        ),
        PolicyDecision::NeedsBody => assert!(
            method == "POST" && plain.ends_with("/graphql"),
            "a read-only session's {method} {path:?} went to the GraphQL check"
        ),
        PolicyDecision::Deny(_) => {}
    }
    if read {
        // A read never carries a body the check has not seen.
        assert!(
            body.is_empty() || !matches!(decision, PolicyDecision::Allow),
            "a {method} with a body was allowed"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let mut input = Bytes(rest);
    match mode % 4 {
        0 => git_push(&mut input),
        1 => graphql_body(&mut input),
        2 => graphql_get(&mut input),
        _ => any_request(&mut input),
    }
});
