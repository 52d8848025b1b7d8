//! Response bodies and their `Content-Encoding` come from servers a session can pick; the proxy
//! decodes them (`decode_all`) to scrub and meter what the session will read. Any bytes under
//! any coding list must decode or fail without a panic, and at most a bounded amount is read
//! (a small body may claim to expand a lot). Bodies the input compresses itself, with one or
//! two stacked codings, must come back exactly.
//!
//! Input: a mode byte (bit 0: compress the rest and check it comes back; else the rest is the
//! wire), a piece-size byte, then for the raw mode a `Content-Encoding` line ending in `\n`.
#![no_main]

use async_compression::tokio::write::{BrotliEncoder, GzipEncoder, ZlibEncoder, ZstdEncoder};
use clauderon_proxy::fuzzing::{Decoded, decode_response};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use tokio::io::AsyncWriteExt;
use tokio::runtime::Runtime;

/// The most decoded bytes read of one body.
const LIMIT: usize = 1 << 20;

fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime")
    })
}

const CODINGS: [&str; 5] = ["gzip", "x-gzip", "deflate", "br", "zstd"];

async fn compress(coding: &str, data: &[u8]) -> Vec<u8> {
    async fn run<W: tokio::io::AsyncWrite + Unpin>(mut w: W, data: &[u8]) -> W {
        w.write_all(data).await.expect("compressing into memory");
        w.shutdown().await.expect("finishing the stream");
        w
    }
    match coding {
        "gzip" | "x-gzip" => run(GzipEncoder::new(Vec::new()), data).await.into_inner(),
        "deflate" => run(ZlibEncoder::new(Vec::new()), data).await.into_inner(),
        "br" => run(BrotliEncoder::new(Vec::new()), data).await.into_inner(),
        _ => run(ZstdEncoder::new(Vec::new()), data).await.into_inner(),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let Some((&piece, rest)) = rest.split_first() else { return };
    let piece = usize::from(piece) + 1;
    runtime().block_on(async {
        if mode & 1 == 1 {
            // Codings applied first to last; the header lists them in that order.
            let first = CODINGS[usize::from(mode >> 1) % CODINGS.len()];
            let second = (mode & 0x80 == 0x80).then(|| CODINGS[usize::from(mode >> 4) % CODINGS.len()]);
            let mut wire = compress(first, rest).await;
            let mut header = first.to_string();
            if let Some(second) = second {
                wire = compress(second, &wire).await;
                header = format!("{first}, {second}");
            }
            let decoded = decode_response(&wire, piece, &[&header], LIMIT).await;
            assert_eq!(decoded, Decoded::Body { bytes: rest.to_vec(), failed: false }, "{header}");
        } else {
            let (line, wire) = match rest.iter().position(|b| *b == b'\n') {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, &[][..]),
            };
            let header = String::from_utf8_lossy(line);
            let values: Vec<&str> = header.split('\r').collect();
            if let Decoded::Body { bytes, .. } = decode_response(wire, piece, &values, LIMIT).await {
                assert!(bytes.len() <= LIMIT);
            }
        }
    });
});
