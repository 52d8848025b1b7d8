//! Secret-echo scrubbing: if a response carries a real secret the proxy holds (an upstream that
//! reflects request headers, an error page quoting the key), the secret is replaced by its
//! placeholder before the session reads it — in headers and in the body, streamed, across chunk
//! boundaries, through the content encodings the proxy can decode.
//!
//! The body is never delayed more than it must be: after each chunk only the bytes that could
//! still become a secret (a suffix that is the start of one) are held back, so a stream whose
//! chunks end in `\n\n` (SSE) passes through at once. A secret is replaced by its placeholder
//! fitted to the secret's length (padded with `_`, or cut), so a body keeps its length and its
//! `Content-Length`.
//!
//! Each secret is searched in every form a server realistically echoes it in (see `forms`):
//! raw, base64 at any alignment inside a longer string, percent-encoded, JSON-escaped, hex.
//! Upgraded (WebSocket) streams are scrubbed server to session too (see `upgrade`).

mod encoding;
mod forms;
mod frames;
mod upgrade;

pub use encoding::{DECODABLE, content_codings, decode_all, restrict_accept_encoding};
pub use upgrade::{HOLD_LIMIT, relay_upgraded};

use aho_corasick::{AhoCorasick, MatchKind};
use bytes::{Bytes, BytesMut};
use http::header::{HeaderMap, HeaderValue};
use http_body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};

/// Secrets shorter than this are not scrubbed: they would match ordinary text.
pub const MIN_SECRET_LEN: usize = 8;

/// The secrets the proxy holds, each with what replaces it. Filled as credentials are resolved
/// for injection; read on every response.
#[derive(Default)]
pub struct KnownSecrets {
    pairs: RwLock<Vec<(String, String)>>,
    scrubber: RwLock<Option<Arc<Scrubber>>>,
}

impl std::fmt::Debug for KnownSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.pairs.read().map(|p| p.len()).unwrap_or(0);
        write!(f, "KnownSecrets({n}, values ***)")
    }
}

impl KnownSecrets {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether this secret is known already (a read lock: the injector asks on every request).
    pub fn contains(&self, secret: &str) -> bool {
        self.pairs.read().map(|p| p.iter().any(|(s, _)| s == secret)).unwrap_or(false)
    }

    /// Remember a secret (idempotent; a changed value, after a token refresh, adds the new one).
    /// `placeholder` is fitted to the secret's length (see [`fit`]).
    pub fn insert(&self, secret: &str, placeholder: &str) {
        if secret.len() < MIN_SECRET_LEN {
            return;
        }
        let placeholder = fit(placeholder, secret.len());
        let Ok(mut pairs) = self.pairs.write() else { return };
        if pairs.iter().any(|(s, _)| s == secret) {
            return;
        }
        pairs.push((secret.to_string(), placeholder));
        let built = Scrubber::new(&pairs).map(Arc::new);
        if let Ok(mut s) = self.scrubber.write() {
            *s = built;
        }
    }

    /// The scrubber for the secrets known now; `None` while there are none.
    pub fn scrubber(&self) -> Option<Arc<Scrubber>> {
        self.scrubber.read().ok().and_then(|s| s.clone())
    }
}

/// `placeholder` made exactly `len` bytes long: padded with `_`, or cut (placeholders are ASCII).
pub fn fit(placeholder: &str, len: usize) -> String {
    let mut out: String = placeholder.chars().filter(char::is_ascii).take(len).collect();
    while out.len() < len {
        out.push('_');
    }
    out
}

/// Finds and replaces a fixed set of secrets, in each of their forms.
pub struct Scrubber {
    matcher: AhoCorasick,
    /// Every form of every secret (what the matcher searches).
    secrets: Vec<Vec<u8>>,
    replacements: Vec<Vec<u8>>,
    /// How many secrets those forms are of.
    count: usize,
}

impl std::fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Scrubber({} secrets in {} forms ***)", self.count, self.secrets.len())
    }
}

impl Scrubber {
    /// `pairs` of secret and placeholder, the placeholder as long as the secret (see [`fit`]).
    pub fn new(pairs: &[(String, String)]) -> Option<Self> {
        if pairs.is_empty() {
            return None;
        }
        let (secrets, replacements): (Vec<Vec<u8>>, Vec<Vec<u8>>) =
            pairs.iter().flat_map(|(s, p)| forms::forms(s.as_bytes(), fit(p, s.len()).as_bytes())).unzip();
        let matcher = AhoCorasick::builder().match_kind(MatchKind::LeftmostLongest).build(&secrets).ok()?;
        Some(Scrubber { matcher, secrets, replacements, count: pairs.len() })
    }

    /// Replace every secret in `input`; `None` when there is none (the common case: no copy).
    pub fn replace(&self, input: &[u8]) -> Option<Vec<u8>> {
        let (mut out, end) = self.replace_matches(input);
        if let Some(o) = out.as_mut() {
            o.extend_from_slice(&input[end..]);
        }
        out
    }

    /// One pass over `input`: everything up to the end of the last secret found, with the
    /// secrets replaced (`None` when there is none), and where that end is (0 without one).
    fn replace_matches(&self, input: &[u8]) -> (Option<Vec<u8>>, usize) {
        self.replace_matches_before(input, input.len())
    }

    /// The same, for the matches that start before `limit` only.
    fn replace_matches_before(&self, input: &[u8], limit: usize) -> (Option<Vec<u8>>, usize) {
        let mut out: Option<Vec<u8>> = None;
        let mut at = 0;
        for m in self.matcher.find_iter(input).take_while(|m| m.start() < limit) {
            let o = out.get_or_insert_with(|| Vec::with_capacity(input.len()));
            o.extend_from_slice(&input[at..m.start()]);
            o.extend_from_slice(&self.replacements[m.pattern().as_usize()]);
            at = m.end();
        }
        (out, at)
    }

    /// Scrub every header value in place.
    pub fn scrub_headers(&self, headers: &mut HeaderMap) {
        for value in headers.values_mut() {
            if let Some(clean) = self.replace(value.as_bytes())
                && let Ok(v) = HeaderValue::from_bytes(&clean)
            {
                *value = v;
            }
        }
    }

    /// Length of the longest suffix of `tail` that is the start (not the whole) of a secret.
    fn pending_suffix(&self, tail: &[u8]) -> usize {
        let mut longest = 0;
        for s in &self.secrets {
            let window = tail.len().min(s.len() - 1);
            let from = tail.len() - window;
            // The first position from the left whose rest is a prefix of `s` is the longest.
            for i in memchr::memchr_iter(s[0], &tail[from..]).map(|i| i + from) {
                let rest = &tail[i..];
                if rest.len() > longest && s.starts_with(rest) {
                    longest = rest.len();
                    break;
                }
            }
        }
        longest
    }
}

/// Scrubbing state across the chunks of one body.
pub struct ScrubStream {
    scrubber: Arc<Scrubber>,
    carry: BytesMut,
}

impl ScrubStream {
    pub fn new(scrubber: Arc<Scrubber>) -> Self {
        ScrubStream { scrubber, carry: BytesMut::new() }
    }

    /// The bytes that can be released after `chunk`; the rest waits for the next chunk.
    ///
    /// One form can sit inside another (the base64 of a secret inside the base64 of
    /// `user:secret`), so what is held is decided first, over all of `data`: from the earliest
    /// start of a form still in progress. Only matches starting before that are final; one
    /// starting inside the held bytes waits, as a longer form around it may still complete.
    pub fn push(&mut self, chunk: Bytes) -> Bytes {
        let data: Bytes = if self.carry.is_empty() {
            chunk
        } else {
            self.carry.extend_from_slice(&chunk);
            self.carry.split().freeze()
        };
        let cut = data.len() - self.scrubber.pending_suffix(&data);
        let (released, end) = self.scrubber.replace_matches_before(&data, cut);
        // A final match may reach into the held bytes: hold again from its end.
        let keep_from = if end > cut { data.len() - self.scrubber.pending_suffix(&data[end..]) } else { cut };
        self.carry.extend_from_slice(&data[keep_from..]);
        match released {
            None => data.slice(..keep_from),
            Some(mut head) => {
                head.extend_from_slice(&data[end..keep_from]);
                Bytes::from(head)
            }
        }
    }

    /// Whether bytes are held back, waiting to see whether a secret follows.
    pub fn holding(&self) -> bool {
        !self.carry.is_empty()
    }

    /// What is still held at the end of the body: it never became the form it started, but a
    /// shorter form may lie complete inside it.
    pub fn finish(&mut self) -> Bytes {
        let held = self.carry.split().freeze();
        match self.scrubber.replace(&held) {
            Some(clean) => Bytes::from(clean),
            None => held,
        }
    }
}

/// A response body with secrets replaced as it streams.
pub struct ScrubBody<B> {
    inner: B,
    state: ScrubStream,
    /// Trailers that arrived while held bytes still had to go out first.
    trailers: Option<Frame<Bytes>>,
    done: bool,
}

impl<B> ScrubBody<B> {
    pub fn new(inner: B, scrubber: Arc<Scrubber>) -> Self {
        ScrubBody { inner, state: ScrubStream::new(scrubber), trailers: None, done: false }
    }
}

impl<B> Body for ScrubBody<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        loop {
            if let Some(t) = self.trailers.take() {
                return Poll::Ready(Some(Ok(t)));
            }
            if self.done {
                return Poll::Ready(None);
            }
            match Pin::new(&mut self.inner).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => {
                        let out = self.state.push(data);
                        if !out.is_empty() {
                            return Poll::Ready(Some(Ok(Frame::data(out))));
                        }
                    }
                    Err(mut trailers_frame) => {
                        if let Some(trailers) = trailers_frame.trailers_mut() {
                            self.state.scrubber.scrub_headers(trailers);
                        }
                        self.done = true;
                        let rest = self.state.finish();
                        if rest.is_empty() {
                            return Poll::Ready(Some(Ok(trailers_frame)));
                        }
                        self.trailers = Some(trailers_frame);
                        return Poll::Ready(Some(Ok(Frame::data(rest))));
                    }
                },
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => {
                    self.done = true;
                    let rest = self.state.finish();
                    return Poll::Ready(if rest.is_empty() { None } else { Some(Ok(Frame::data(rest))) });
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        // Replacements are as long as what they replace (see [`fit`]).
        self.inner.size_hint()
    }
}

/// The scrubber the stream modules' tests share: one secret, fitted placeholder.
#[cfg(test)]
pub(crate) mod test_scrubber {
    #![allow(clippy::unwrap_used)]
    use super::{Scrubber, fit};
    use std::sync::Arc;

    pub const SECRET: &str = "sk-ant-REAL-secret-value-123";

    pub fn scrubber() -> Arc<Scrubber> {
        Arc::new(Scrubber::new(&[(SECRET.to_string(), fit("placeholder", SECRET.len()))]).unwrap())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "sk-ant-REAL-secret-value-123";
    const PLACEHOLDER: &str = "sk-ant-api03-clauderon-placeholder";

    fn scrubber() -> Arc<Scrubber> {
        Arc::new(
            Scrubber::new(&[
                (SECRET.to_string(), PLACEHOLDER.to_string()),
                ("ghp_REALtoken_abcdef".to_string(), "ghp_clauderonplaceholder".to_string()),
            ])
            .unwrap(),
        )
    }

    /// Feed `text` cut at every split point given, collect the output.
    fn run(text: &str, cuts: &[usize]) -> String {
        let mut s = ScrubStream::new(scrubber());
        let mut out = Vec::new();
        let mut at = 0;
        for &c in cuts.iter().chain(std::iter::once(&text.len())) {
            out.extend_from_slice(&s.push(Bytes::copy_from_slice(&text.as_bytes()[at..c])));
            at = c;
        }
        out.extend_from_slice(&s.finish());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_secret_split_anywhere_across_chunks_is_replaced() {
        let text = format!("{{\"echo\": \"x-api-key: {SECRET}\", \"t\": \"ghp_REALtoken_abcdef\"}} end");
        let want = text
            .replace(SECRET, &fit(PLACEHOLDER, SECRET.len()))
            .replace("ghp_REALtoken_abcdef", &fit("ghp_clauderonplaceholder", 20));
        for a in 0..=text.len() {
            assert_eq!(run(&text, &[a]), want, "cut at {a}");
        }
        // One byte at a time.
        let all: Vec<usize> = (1..text.len()).collect();
        assert_eq!(run(&text, &all), want);
    }

    /// The base64 of the token alone lies inside the base64 of `user:token`, which the injector
    /// also remembers (with a replacement that decodes to `user:placeholder`): however the body
    /// is cut, the outer form must win, and nothing held at the end may go out unscrubbed.
    #[test]
    fn a_form_inside_a_longer_form_never_wins_by_arriving_first() {
        use base64::Engine as _;
        let b64 = |v: &str| base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{v}"));
        let token = "ghp_REAL_githubtoken42";
        let fitted = fit("ghp_clauderonplaceholder", token.len());
        let sc = Arc::new(
            Scrubber::new(&[(token.to_string(), fitted.clone()), (b64(token), b64(&fitted))]).unwrap(),
        );
        let text = format!("{{\"authorization\":\"Basic {}\"}}", b64(token));
        let want = text.replace(&b64(token), &b64(&fitted));
        for cut in 0..=text.len() {
            let mut s = ScrubStream::new(sc.clone());
            let mut out = s.push(Bytes::copy_from_slice(&text.as_bytes()[..cut])).to_vec();
            out.extend_from_slice(&s.push(Bytes::copy_from_slice(&text.as_bytes()[cut..])));
            out.extend_from_slice(&s.finish());
            assert_eq!(String::from_utf8(out).unwrap(), want, "cut at {cut}");
        }
        // The body ends inside the outer form: the inner one, complete, is still replaced.
        let truncated = &text[..text.len() - 4];
        let mut s = ScrubStream::new(sc.clone());
        let mut out = s.push(Bytes::copy_from_slice(truncated.as_bytes())).to_vec();
        out.extend_from_slice(&s.finish());
        let out = String::from_utf8(out).unwrap();
        let start = "{\"authorization\":\"Basic ".len();
        // 48 characters: 36 whole bytes, `x-access-token:` and 21 of the token's.
        let decoded =
            base64::engine::general_purpose::STANDARD_NO_PAD.decode(&out[start..start + 48]).unwrap();
        assert!(decoded.starts_with(b"x-access-token:"));
        assert!(!decoded.windows(10).any(|w| w == &token.as_bytes()[5..15]), "{out}");
    }

    #[test]
    fn only_a_possible_secret_start_is_held_back() {
        let mut s = ScrubStream::new(scrubber());
        assert_eq!(s.push(Bytes::from_static(b"data: {\"a\":1}\n\n")), "data: {\"a\":1}\n\n");
        assert_eq!(s.push(Bytes::from_static(b"value sk-an")), "value ");
        assert_eq!(s.push(Bytes::from_static(b"d more")), "sk-and more");
        assert_eq!(s.finish(), "");
        let mut s = ScrubStream::new(scrubber());
        assert_eq!(s.push(Bytes::from_static(b"ends with sk-ant-REAL")), "ends with ");
        assert_eq!(s.finish(), "sk-ant-REAL", "a prefix that never completes is released at the end");
    }

    #[test]
    fn headers_are_scrubbed_and_clean_input_is_not_copied() {
        let sc = scrubber();
        let mut h = HeaderMap::new();
        h.insert("x-echo", HeaderValue::from_str(&format!("Bearer {SECRET}")).unwrap());
        h.insert("x-other", HeaderValue::from_static("fine"));
        sc.scrub_headers(&mut h);
        assert_eq!(h["x-echo"], format!("Bearer {}", fit(PLACEHOLDER, SECRET.len())).as_str());
        assert_eq!(h["x-other"], "fine");
        assert!(sc.replace(b"nothing here").is_none());
    }

    #[test]
    fn placeholders_are_fitted_to_the_secrets_length() {
        assert_eq!(fit("abc", 6), "abc___");
        assert_eq!(fit("placeholder", 5), "place");
        let k = KnownSecrets::new();
        k.insert(SECRET, "ph");
        let out = k.scrubber().unwrap().replace(format!("a {SECRET} b").as_bytes()).unwrap();
        assert_eq!(out.len(), SECRET.len() + 4);
        assert!(String::from_utf8(out).unwrap().starts_with("a ph___"));
    }

    #[test]
    fn known_secrets_grow_and_ignore_short_values() {
        let k = KnownSecrets::new();
        assert!(k.scrubber().is_none());
        k.insert("short", "p");
        assert!(k.scrubber().is_none());
        k.insert(SECRET, PLACEHOLDER);
        k.insert(SECRET, PLACEHOLDER);
        assert_eq!(k.scrubber().unwrap().count, 1);
        assert!(!format!("{k:?}").contains(SECRET));
    }
}
