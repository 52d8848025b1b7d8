//! What a session writes on its connection to the proxy: request lines (CONNECT among them),
//! `Proxy-Authorization`, headers, chunked bodies, and, inside an intercepted CONNECT, HTTP/1.1
//! or HTTP/2 over TLS. It goes through the proxy's own connection handling over an in-memory
//! stream, to an in-process upstream that echoes each request (its headers, so an injected key,
//! and its body) back. Nothing may panic, every connection must end once the session closes
//! its side, and the key the proxy injects must never come back to the session.
//!
//! Input: a flags byte, a split byte (where the bytes are cut in two writes), then the bytes.
//! Flags: bit 0 read-write session (else read-only); bit 1 the harness opens a CONNECT and TLS
//! first and the bytes go inside; bit 2 offer HTTP/2 (else HTTP/1.1); bits 3-4 which of
//! `FRONT_HOSTS` the CONNECT goes to.
//!
//! The session's side is closed once the proxy is quiet, so no input waits for the proxy's
//! timeouts (30 s for a request head): an end of stream ends every wait.
#![no_main]

use bytes::Bytes;
use clauderon_proxy::fuzzing::{FRONT_HOSTS, FRONT_INJECTED, FRONT_SECRET, FRONT_USER, FrontBench};
use clauderon_types::AccessMode;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use libfuzzer_sys::fuzz_target;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::runtime::Runtime;

struct Harness {
    rt: Runtime,
    bench: Arc<FrontBench>,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        ignore_sigpipe();
        if std::env::var_os("FUZZ_SHOW").is_some() {
            tracing_subscriber::fmt()
                .with_env_filter(std::env::var("FUZZ_LOG").unwrap_or_else(|_| "debug".into()))
                .with_writer(std::io::stderr)
                .init();
        }
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
        let dir = std::env::temp_dir().join(format!("clauderon-fuzz-front-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("the bench's CA folder");
        let bench = rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
            let addr = listener.local_addr().expect("its address");
            let bench = Arc::new(FrontBench::new(&dir, addr).expect("the proxy bench"));
            tokio::spawn(upstream(listener, bench.clone()));
            bench
        });
        Harness { rt, bench }
    })
}

/// A Rust program's `main` ignores SIGPIPE before it starts (so does the daemon): a write to a
/// socket the peer closed is an error, not the end of the process. libFuzzer's C `main` does
/// not, so the harness does it.
fn ignore_sigpipe() {
    // SAFETY: setting a signal's disposition to SIG_IGN, once, before any thread of ours runs.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}

/// The upstream: TLS with a leaf from the proxy's CA (plain HTTP when the first byte is not a
/// TLS handshake), HTTP/1.1 or HTTP/2, each request echoed.
async fn upstream(listener: TcpListener, bench: Arc<FrontBench>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        step();
        // Reset instead of FIN when closing: no TIME_WAIT left on either side, so a long run
        // does not use up the machine's loopback ports.
        let _ = stream.set_zero_linger();
        // As the proxy's own sockets: no Nagle wait (40 ms per response on loopback).
        let _ = stream.set_nodelay(true);
        let bench = bench.clone();
        tokio::spawn(async move {
            let stream = Counted(stream);
            let mut first = [0u8; 1];
            if stream.0.peek(&mut first).await.unwrap_or(0) == 0 {
                return;
            }
            step();
            if first[0] == 0x16 {
                let tls = bench.upstream_tls(stream).await;
                step();
                if let Ok(tls) = tls {
                    serve_echo(tls).await;
                }
            } else {
                serve_echo(stream).await;
            }
            step();
        });
    }
}

/// The upstream's socket, counting every read and write as a step.
struct Counted(tokio::net::TcpStream);

impl tokio::io::AsyncRead for Counted {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let polled = std::pin::Pin::new(&mut self.0).poll_read(cx, buf);
        if polled.is_ready() {
            step();
        }
        polled
    }
}

impl tokio::io::AsyncWrite for Counted {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let polled = std::pin::Pin::new(&mut self.0).poll_write(cx, buf);
        if polled.is_ready() {
            step();
        }
        polled
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

async fn serve_echo<S>(io: S)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let _ = builder.serve_connection_with_upgrades(TokioIo::new(io), service_fn(echo)).await;
}

/// The request's headers and body back as the response body. `x-echo-status`,
/// `x-echo-content-type` and `x-echo-content-encoding` set those of the response; a 101 to a
/// request that asks for an upgrade echoes the upgraded stream.
async fn echo(mut req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    step();
    let header = |name: &str| req.headers().get(name).cloned();
    let status = header("x-echo-status")
        .and_then(|v| v.to_str().ok()?.parse::<u16>().ok())
        .and_then(|n| StatusCode::from_u16(n).ok())
        .unwrap_or(StatusCode::OK);
    let content_type = header("x-echo-content-type");
    let content_encoding = header("x-echo-content-encoding");
    let upgrade = header("upgrade");
    if status == StatusCode::SWITCHING_PROTOCOLS
        && let Some(protocol) = upgrade
    {
        let on = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            if let Ok(upgraded) = on.await {
                step();
                let (mut read, mut write) = tokio::io::split(TokioIo::new(upgraded));
                let mut buf = [0u8; 4096];
                while let Ok(n) = read.read(&mut buf).await {
                    step();
                    if n == 0 || write.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
        });
        let mut resp = Response::new(Full::new(Bytes::new()));
        *resp.status_mut() = status;
        resp.headers_mut().insert("upgrade", protocol);
        resp.headers_mut().insert("connection", HeaderValue::from_static("upgrade"));
        return Ok(resp);
    }
    let mut text = Vec::new();
    for (name, value) in req.headers() {
        text.extend_from_slice(name.as_str().as_bytes());
        text.extend_from_slice(b": ");
        text.extend_from_slice(value.as_bytes());
        text.push(b'\n');
    }
    text.push(b'\n');
    if let Ok(body) = Limited::new(req.into_body(), 1 << 20).collect().await {
        text.extend_from_slice(&body.to_bytes());
    }
    step();
    let mut resp = Response::new(Full::new(Bytes::from(text)));
    // A 1xx other than 101 cannot be a final answer.
    *resp.status_mut() = if status.is_informational() { StatusCode::OK } else { status };
    if let Some(v) = content_type {
        resp.headers_mut().insert("content-type", v);
    }
    if let Some(v) = content_encoding {
        resp.headers_mut().insert("content-encoding", v);
    }
    Ok(resp)
}

fn basic_auth() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let plain = format!("{FRONT_USER}:{FRONT_SECRET}");
    let mut out = String::new();
    for chunk in plain.as_bytes().chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    format!("Basic {out}")
}

/// Read until the end of a response head (CONNECT's answer), at most a few KiB.
async fn read_head<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 8192 || stream.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    Some(head)
}

/// Bumped at every step of the upstream (a connection, bytes read or written, a request).
static UPSTREAM_STEPS: AtomicU64 = AtomicU64::new(0);

fn step() {
    UPSTREAM_STEPS.fetch_add(1, Ordering::Relaxed);
}

const PAUSE_MICROS: u64 = 300;

/// Read what the proxy sends until it is quiet: nothing to read after every task has had its
/// turn, and the upstream not moving, three times in a row with a short real pause between
/// (bytes between the proxy and the upstream cross the kernel's loopback). `false` once the
/// proxy has closed.
async fn read_until_quiet<S: tokio::io::AsyncRead + Unpin>(stream: &mut S, out: &mut Vec<u8>) -> bool {
    let mut buf = vec![0u8; 16 * 1024];
    let mut quiet = 0;
    // At most a second of real time per piece: a proxy still busy then is busy for good.
    for _ in 0..5000 {
        let steps = UPSTREAM_STEPS.load(Ordering::Relaxed);
        // Each yield also polls the sockets (a task that yields lets the runtime poll its drivers).
        for _ in 0..16 {
            tokio::task::yield_now().await;
        }
        match tokio::time::timeout(Duration::ZERO, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return false,
            Ok(Ok(n)) => {
                out.extend_from_slice(&buf[..n]);
                quiet = 0;
                continue;
            }
            Err(_) => {}
        }
        if UPSTREAM_STEPS.load(Ordering::Relaxed) == steps {
            quiet += 1;
            if quiet == 3 {
                return true;
            }
        } else {
            quiet = 0;
        }
        // The runtime goes on meanwhile (the sleep is on a blocking thread).
        let _ = tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_micros(PAUSE_MICROS))).await;
    }
    true
}

/// Write `bytes` in two pieces cut at `split`, let the proxy do all it can with each, close
/// the session's side, and read everything the proxy sends until it closes too.
async fn exchange<S>(mut stream: S, bytes: &[u8], split: usize) -> Vec<u8>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (first, rest) = bytes.split_at(split.min(bytes.len()));
    let mut out = Vec::new();
    for piece in [first, rest] {
        if stream.write_all(piece).await.is_err() || stream.flush().await.is_err() {
            break;
        }
        if !read_until_quiet(&mut stream, &mut out).await {
            return out;
        }
    }
    let _ = stream.shutdown().await;
    // No timeout here: a connection the proxy never ends hangs the input, and libFuzzer's
    // -timeout reports it.
    let mut buf = vec![0u8; 16 * 1024];
    while let Ok(n) = stream.read(&mut buf).await {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else { return };
    let Some((&split, bytes)) = rest.split_first() else { return };
    let split = usize::from(split) * bytes.len() / 256;
    let h = harness();
    h.bench.set_access(if flags & 1 == 1 { AccessMode::ReadWrite } else { AccessMode::ReadOnly });
    let tls = flags & 2 == 2;
    let h2 = flags & 4 == 4;
    let host = FRONT_HOSTS[usize::from(flags >> 3) % FRONT_HOSTS.len()];
    let bench = h.bench.clone();
    let out = h.rt.block_on(async move {
        let (mut client, server) = tokio::io::duplex(1 << 20);
        let serving = tokio::spawn({
            let bench = bench.clone();
            async move { bench.serve(server).await }
        });
        let out = if tls {
            let connect = format!(
                "CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\nProxy-Authorization: {}\r\n\r\n",
                basic_auth()
            );
            let opened = async {
                client.write_all(connect.as_bytes()).await.ok()?;
                let head = read_head(&mut client).await?;
                head.starts_with(b"HTTP/1.1 200").then_some(())?;
                bench.session_tls(client, host, h2).await.ok()
            };
            match opened.await {
                Some(tls) => exchange(tls, bytes, split).await,
                None => panic!("the bench's own CONNECT and TLS handshake to {host} failed"),
            }
        } else {
            exchange(client, bytes, split).await
        };
        let _ = serving.await;
        out
    });
    if std::env::var_os("FUZZ_SHOW").is_some() {
        // What a seed reaches: FUZZ_SHOW=1 [FUZZ_LOG=debug] target/…/proxy_front seeds/proxy_front/x
        eprintln!("{}", String::from_utf8_lossy(&out));
    }
    if !contains(data, FRONT_INJECTED.as_bytes()) {
        assert!(!contains(&out, FRONT_INJECTED.as_bytes()), "the injected key came back to the session");
    }
});
