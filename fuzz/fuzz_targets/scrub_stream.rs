//! Response bodies come from servers a session can pick: the scrubber must not panic on any of
//! them, and a known secret placed anywhere in the body, split across chunks anywhere, must not
//! come out.
#![no_main]

use bytes::Bytes;
use clauderon_proxy::fuzzing::{KnownSecrets, ScrubStream, Scrubber};
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};

/// No proper prefix of it is also a suffix, and it has no `_` (the placeholder padding), so no
/// replacement next to other bytes can spell it again.
const SECRET: &str = "sk-ant-FUZZ0123456789";

/// Built once: making the automaton for every input would cost more than scrubbing it.
fn scrubber() -> Option<Arc<Scrubber>> {
    static SCRUBBER: OnceLock<Option<Arc<Scrubber>>> = OnceLock::new();
    SCRUBBER
        .get_or_init(|| {
            let known = KnownSecrets::new();
            known.insert(SECRET, "PLACEHOLDER");
            known.scrubber()
        })
        .clone()
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else { return };
    let Some((&chunking, body)) = rest.split_first() else { return };
    let Some(scrubber) = scrubber() else { return };

    // The secret goes in at a position the input picks.
    let at = if body.is_empty() { 0 } else { usize::from(control) % (body.len() + 1) };
    let mut plain = body[..at].to_vec();
    plain.extend_from_slice(SECRET.as_bytes());
    plain.extend_from_slice(&body[at..]);

    let whole = scrubber.replace(&plain).unwrap_or_else(|| plain.clone());
    assert!(!contains(&whole, SECRET.as_bytes()), "one-shot replace let the secret through");

    let mut stream = ScrubStream::new(scrubber);
    let step = usize::from(chunking % 17) + 1;
    let mut out = Vec::new();
    for chunk in plain.chunks(step) {
        out.extend_from_slice(&stream.push(Bytes::copy_from_slice(chunk)));
    }
    out.extend_from_slice(&stream.finish());
    assert!(!stream.holding());
    assert!(!contains(&out, SECRET.as_bytes()), "streamed scrub let the secret through");
    assert_eq!(out.len(), plain.len(), "placeholders keep the length");
});

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
