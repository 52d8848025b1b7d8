//! WebSocket frames from the server, scrubbed by their payloads: the matcher reads the payload
//! bytes of consecutive frames as one run (frame headers left out), so a secret a server
//! splits across frames or fragments is found too, and replaced byte for byte in place —
//! lengths, and so every frame header, stay as they were.
//!
//! Server frames are unmasked (RFC 6455 5.1); a masked one, or a header that cannot be read,
//! makes the rest of the stream scrubbed as plain bytes, as any other upgraded protocol is.

use super::Scrubber;
use std::sync::Arc;

/// Most bytes held back at once, frame headers included: past this, what is held goes out
/// (a stream of empty frames could otherwise grow it without end).
const MAX_HELD: usize = 64 * 1024;

/// Where the parser is in the server's frame stream.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Parse {
    /// Reading a frame header: the bytes of it so far.
    Header(Vec<u8>),
    /// Inside a payload: how many of its bytes are still to come.
    Payload(u64),
    /// Not frames as expected: every byte counts as payload from here on.
    Plain,
}

/// Scrubbing state over one WebSocket connection's server-to-client bytes.
pub struct FrameScrub {
    scrubber: Arc<Scrubber>,
    /// Bytes received and not yet released.
    raw: Vec<u8>,
    /// Where in `raw` each payload byte not yet released is, in order.
    payload: Vec<usize>,
    parse: Parse,
}

impl FrameScrub {
    pub fn new(scrubber: Arc<Scrubber>) -> Self {
        FrameScrub { scrubber, raw: Vec::new(), payload: Vec::new(), parse: Parse::Header(Vec::new()) }
    }

    /// Whether bytes are held back, waiting to see whether a secret follows.
    pub fn holding(&self) -> bool {
        !self.raw.is_empty()
    }

    /// The bytes that can be released after `chunk`; the rest waits.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        for &byte in chunk {
            self.take(byte);
        }
        if self.raw.len() > MAX_HELD {
            return self.finish();
        }
        let projected: Vec<u8> = self.payload.iter().map(|&i| self.raw[i]).collect();
        // As in `ScrubStream::push`: hold from the earliest form still in progress, accept
        // only matches that start before it.
        let cut = projected.len() - self.scrubber.pending_suffix(&projected);
        let end = self.replace_in_place(&projected, cut);
        let keep =
            if end > cut { projected.len() - self.scrubber.pending_suffix(&projected[end..]) } else { cut };
        let raw_keep = self.payload.get(keep).copied().unwrap_or(self.raw.len());
        let rest = self.raw.split_off(raw_keep);
        let released = std::mem::replace(&mut self.raw, rest);
        self.payload = self.payload[keep..].iter().map(|i| i - raw_keep).collect();
        released
    }

    /// Everything held, with every complete form in it replaced.
    pub fn finish(&mut self) -> Vec<u8> {
        let projected: Vec<u8> = self.payload.iter().map(|&i| self.raw[i]).collect();
        self.replace_in_place(&projected, projected.len());
        self.payload.clear();
        std::mem::take(&mut self.raw)
    }

    /// Replace, in `raw`, the forms found in the payload run `projected` that start before
    /// `limit`; returns where the last one ends in `projected` (0 without one).
    fn replace_in_place(&mut self, projected: &[u8], limit: usize) -> usize {
        let mut end = 0;
        for m in self.scrubber.matcher.find_iter(projected).take_while(|m| m.start() < limit) {
            let replacement = &self.scrubber.replacements[m.pattern().as_usize()];
            for (k, &b) in replacement.iter().enumerate() {
                if let Some(&at) = self.payload.get(m.start() + k) {
                    self.raw[at] = b;
                }
            }
            end = m.end();
        }
        end
    }

    /// One more byte from the server.
    fn take(&mut self, byte: u8) {
        let at = self.raw.len();
        self.raw.push(byte);
        match &mut self.parse {
            Parse::Plain => self.payload.push(at),
            Parse::Payload(left) => {
                self.payload.push(at);
                *left -= 1;
                if *left == 0 {
                    self.parse = Parse::Header(Vec::new());
                }
            }
            Parse::Header(head) => {
                head.push(byte);
                self.parse = match header_length(head) {
                    None => return,
                    Some(Err(())) => Parse::Plain,
                    Some(Ok(0)) => Parse::Header(Vec::new()),
                    Some(Ok(n)) => Parse::Payload(n),
                };
            }
        }
    }
}

/// The payload length a complete frame header announces; `None` while the header is not yet
/// complete; `Err` for a masked server frame.
fn header_length(head: &[u8]) -> Option<Result<u64, ()>> {
    let second = *head.get(1)?;
    if second & 0x80 != 0 {
        return Some(Err(()));
    }
    let length = match second & 0x7f {
        126 => u64::from(u16::from_be_bytes([*head.get(2)?, *head.get(3)?])),
        127 => {
            let bytes: [u8; 8] = head.get(2..10)?.try_into().ok()?;
            u64::from_be_bytes(bytes)
        }
        n => u64::from(n),
    };
    Some(Ok(length))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    use crate::scrub::test_scrubber::{SECRET, scrubber};

    /// A server frame: FIN bit as given, opcode, unmasked payload.
    fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![if fin { 0x80 } else { 0 } | opcode];
        match payload.len() {
            n if n < 126 => out.push(n as u8),
            n if n <= 0xffff => {
                out.push(126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(payload);
        out
    }

    fn run(input: &[u8], cuts: &[usize]) -> Vec<u8> {
        let mut s = FrameScrub::new(scrubber());
        let mut out = Vec::new();
        let mut at = 0;
        for &c in cuts.iter().chain(std::iter::once(&input.len())) {
            out.extend_from_slice(&s.push(&input[at..c]));
            at = c;
        }
        out.extend_from_slice(&s.finish());
        out
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn a_secret_split_across_fragments_is_replaced_and_the_frames_keep_their_shape() {
        let message = format!("echo: {SECRET} end");
        let (a, b) = message.as_bytes().split_at(15);
        let (b, c) = b.split_at(9);
        let mut input = frame(false, 1, a);
        input.extend(frame(false, 0, b));
        input.extend(frame(true, 0, c));
        for cut in 0..=input.len() {
            let out = run(&input, &[cut]);
            assert_eq!(out.len(), input.len());
            // The same frame headers where they were; the payloads together, scrubbed.
            assert_eq!(out[0], input[0]);
            let joined: Vec<u8> = [
                &out[2..2 + a.len()],
                &out[4 + a.len()..4 + a.len() + b.len()],
                &out[6 + a.len() + b.len()..],
            ]
            .concat();
            let text = String::from_utf8(joined).unwrap();
            assert!(!text.contains(SECRET) && text.starts_with("echo: placeholder"), "cut {cut}: {text}");
        }
        // Byte by byte.
        let all: Vec<usize> = (1..input.len()).collect();
        assert!(!contains(&run(&input, &all), b"secret-value"));
    }

    #[test]
    fn long_frames_and_plain_streams_are_scrubbed_too() {
        let big = format!("{}{SECRET}{}", "x".repeat(200), "y".repeat(70_000));
        let input = frame(true, 2, big.as_bytes());
        let out = run(&input, &[100, 250]);
        assert_eq!(out.len(), input.len());
        assert!(!contains(&out, SECRET.as_bytes()));
        // A masked frame is no server frame: the rest is scrubbed as plain bytes.
        let mut odd = vec![0x81, 0x80 | 40, 1, 2, 3, 4];
        odd.extend_from_slice(format!("..{SECRET}..").as_bytes());
        assert!(!contains(&run(&odd, &[9]), SECRET.as_bytes()));
    }

    #[test]
    fn header_lengths_are_read_in_all_three_sizes() {
        assert_eq!(header_length(&[0x81]), None);
        assert_eq!(header_length(&[0x81, 5]), Some(Ok(5)));
        assert_eq!(header_length(&[0x82, 126, 1]), None);
        assert_eq!(header_length(&[0x82, 126, 1, 0]), Some(Ok(256)));
        assert_eq!(header_length(&[0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]), Some(Ok(65536)));
        assert_eq!(header_length(&[0x81, 0x85]), Some(Err(())));
    }
}
