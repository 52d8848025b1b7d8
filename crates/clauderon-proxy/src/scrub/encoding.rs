//! Content codings: a response body is scrubbed (and metered) as the session will read it, so
//! every coding on it is decoded first — stacked ones in reverse order, `identity` skipped. A
//! coding the proxy cannot decode is named, so the caller can refuse the response rather than
//! pass a secret it cannot see; and requests only ever offer upstream what the proxy decodes.

use crate::upstream::{BoxError, ProxyBody};
use futures_util::TryStreamExt as _;
use http::header::{self, HeaderMap, HeaderValue};
use http_body::Frame;
use http_body_util::BodyExt as _;

/// Content encodings the proxy can see through.
pub const DECODABLE: &[&str] = &["gzip", "x-gzip", "deflate", "br", "zstd"];

/// The content codings of a response, in the order the server applied them, `identity` left
/// out. `Err` names what the proxy cannot decode: an unknown content coding, or a transfer
/// coding other than `chunked` (hyper undoes only that one, the rest would reach the session
/// still encoded, unscrubbed).
pub fn content_codings(headers: &HeaderMap) -> Result<Vec<String>, String> {
    let mut codings = Vec::new();
    for value in headers.get_all(header::CONTENT_ENCODING) {
        let text = value.to_str().map_err(|_| "a Content-Encoding that is not text".to_string())?;
        for coding in text.split(',').map(|c| c.trim().to_ascii_lowercase()) {
            if coding.is_empty() || coding == "identity" {
                continue;
            }
            if !DECODABLE.contains(&coding.as_str()) {
                return Err(format!("Content-Encoding `{coding}`"));
            }
            codings.push(coding);
        }
    }
    for value in headers.get_all(header::TRANSFER_ENCODING) {
        let text = value.to_str().map_err(|_| "a Transfer-Encoding that is not text".to_string())?;
        for coding in text.split(',').map(|c| c.trim().to_ascii_lowercase()) {
            if !coding.is_empty() && coding != "chunked" {
                return Err(format!("Transfer-Encoding `{coding}`"));
            }
        }
    }
    Ok(codings)
}

/// The body with every coding in `codings` (as [`content_codings`] lists them) undone, last
/// applied first. A decoding failure ends the body with an error, never with silently cut data.
pub fn decode_all(mut body: ProxyBody, codings: &[String]) -> ProxyBody {
    for coding in codings.iter().rev() {
        body = decode(body, coding);
    }
    body
}

/// One coding undone (`coding` is one of [`DECODABLE`]).
fn decode(body: ProxyBody, coding: &str) -> ProxyBody {
    use async_compression::tokio::bufread::{BrotliDecoder, GzipDecoder, ZlibDecoder, ZstdDecoder};
    let stream = body.into_data_stream().map_err(std::io::Error::other);
    let reader = tokio_util::io::StreamReader::new(stream);
    match coding {
        "gzip" | "x-gzip" => {
            let mut d = GzipDecoder::new(reader);
            d.multiple_members(true);
            reader_body(d)
        }
        "deflate" => reader_body(ZlibDecoder::new(reader)),
        "br" => reader_body(BrotliDecoder::new(reader)),
        _ => reader_body(ZstdDecoder::new(reader)),
    }
}

fn reader_body<R: tokio::io::AsyncRead + Send + Sync + 'static>(reader: R) -> ProxyBody {
    let frames =
        tokio_util::io::ReaderStream::new(reader).map_ok(Frame::data).map_err(|e| Box::new(e) as BoxError);
    http_body_util::StreamBody::new(frames).boxed()
}

/// Limit a request's `Accept-Encoding` to what the proxy can decode, so every response it may
/// have to scrub is one it can read. No `Accept-Encoding` at all means "anything" to a server:
/// it becomes `identity`.
pub fn restrict_accept_encoding(headers: &mut HeaderMap) {
    let value = headers.get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok()).unwrap_or("");
    let kept: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|item| {
            let coding = item.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
            coding == "identity" || DECODABLE.contains(&coding.as_str())
        })
        .collect();
    let new = if kept.is_empty() { "identity".to_string() } else { kept.join(", ") };
    if let Ok(v) = HeaderValue::from_str(&new) {
        headers.insert(header::ACCEPT_ENCODING, v);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use bytes::Bytes;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(http::HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn codings_are_listed_in_order_identity_skipped_unknown_named() {
        let list = |pairs: &[(&str, &str)]| content_codings(&headers(pairs));
        assert_eq!(list(&[]), Ok(vec![]));
        assert_eq!(list(&[("content-encoding", "identity")]), Ok(vec![]));
        assert_eq!(list(&[("content-encoding", "gzip, Br")]), Ok(vec!["gzip".into(), "br".into()]));
        assert_eq!(
            list(&[("content-encoding", "gzip"), ("content-encoding", "identity, zstd")]),
            Ok(vec!["gzip".into(), "zstd".into()])
        );
        assert_eq!(
            list(&[("content-encoding", "gzip, x-custom")]),
            Err("Content-Encoding `x-custom`".into())
        );
        assert_eq!(list(&[("content-encoding", "compress")]), Err("Content-Encoding `compress`".into()));
        assert_eq!(list(&[("transfer-encoding", "chunked")]), Ok(vec![]));
        assert_eq!(list(&[("transfer-encoding", "gzip, chunked")]), Err("Transfer-Encoding `gzip`".into()));
    }

    async fn compress(coding: &str, data: &[u8]) -> Vec<u8> {
        use async_compression::tokio::write::{BrotliEncoder, GzipEncoder};
        use tokio::io::AsyncWriteExt;
        match coding {
            "gzip" => {
                let mut w = GzipEncoder::new(Vec::new());
                w.write_all(data).await.unwrap();
                w.shutdown().await.unwrap();
                w.into_inner()
            }
            _ => {
                let mut w = BrotliEncoder::new(Vec::new());
                w.write_all(data).await.unwrap();
                w.shutdown().await.unwrap();
                w.into_inner()
            }
        }
    }

    #[tokio::test]
    async fn stacked_codings_are_undone_last_first() {
        // `Content-Encoding: gzip, br`: gzip applied first, then br.
        let wire = compress("br", &compress("gzip", b"the plain text").await).await;
        let body = http_body_util::Full::new(Bytes::from(wire)).map_err(|never| match never {}).boxed();
        let decoded = decode_all(body, &["gzip".into(), "br".into()]).collect().await.unwrap().to_bytes();
        assert_eq!(&decoded[..], b"the plain text");
    }

    #[test]
    fn accept_encoding_keeps_only_what_can_be_decoded() {
        let mut h = headers(&[("accept-encoding", "gzip, compress;q=0.5, br, x-custom, *")]);
        restrict_accept_encoding(&mut h);
        assert_eq!(h[header::ACCEPT_ENCODING], "gzip, br");
        let mut h = headers(&[("accept-encoding", "compress")]);
        restrict_accept_encoding(&mut h);
        assert_eq!(h[header::ACCEPT_ENCODING], "identity");
        let mut h = HeaderMap::new();
        restrict_accept_encoding(&mut h);
        assert_eq!(h[header::ACCEPT_ENCODING], "identity", "none at all means anything to a server");
    }
}
