//! What a read-only session's request looks like is the session's to choose: method, path and
//! query, headers, and a GraphQL body. Classifying any of them must not panic.
#![no_main]

use clauderon_proxy::fuzzing::{check_document, check_request_body, classify, parses};
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Layout: method \n path-and-query \n header lines (name: value) ... \n\n body.
    let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&data[..i], &data[i + 2..]),
        None => (data, &[][..]),
    };
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split('\n');
    let method = lines.next().unwrap_or_default();
    let path = lines.next().unwrap_or_default();
    let mut headers = HeaderMap::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name.trim().as_bytes()), HeaderValue::from_str(value.trim()))
        else {
            continue;
        };
        headers.append(name, value);
    }
    let _ = classify(method, path, Some(&headers), !body.is_empty());
    let _ = classify(method, path, None, body.is_empty());
    let _ = check_request_body(body);
    if let Ok(doc) = std::str::from_utf8(body) {
        let _ = check_document(doc);
        let _ = parses(doc);
    }
});
