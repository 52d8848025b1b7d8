//! Upstreams unlike the test kit's usual one (issue 12): HTTP/1.1 only, HTTP/2 only, bodies
//! that end when the connection closes (with and without TLS close_notify), HTTP/1.0 status
//! lines, 1xx responses, trailers, very long headers, `Expect: 100-continue` uploads, and a
//! close after every response. A real client (curl) speaks HTTP/2 or HTTP/1.1 to the proxy,
//! as the session chooses; the proxy must carry any of them to any of those upstreams.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use clauderon_testkit::upstream::TlsUpstream;
use common::{ANTHROPIC_KEY, ProxyFixture, audit, fixture_on};
use serde_json::Value;

/// The session's side of one exchange, as curl saw it.
struct Seen {
    ok: bool,
    /// What `--write-out` printed after the body: `<http_version> <status>`.
    version: String,
    status: String,
    body: String,
    /// The body's length in bytes (`body` is its lossy text).
    body_len: usize,
    stderr: String,
}

/// `curl` through the proxy as the `agent` session, speaking `version` (`--http2` or
/// `--http1.1`) to it; `extra` more arguments before the URLs.
async fn curl(fx: &ProxyFixture, version: &str, extra: &[&str], urls: &[&str]) -> Seen {
    let mut cmd = common::curl();
    cmd.args(["-sS", version, "--proxy", &fx.proxy_url(), "--cacert"]).arg(fx.d.ca_cert());
    cmd.args(["--write-out", "\n%{http_version} %{http_code}"]);
    cmd.args(extra).args(urls);
    let out = common::run(cmd).await;
    let split = out.stdout.iter().rposition(|b| *b == b'\n').unwrap_or(0);
    let (body, tail) = out.stdout.split_at(split);
    let tail = String::from_utf8_lossy(tail).trim().to_string();
    let (version, status) = tail.split_once(' ').unwrap_or(("", ""));
    Seen {
        ok: out.status.success(),
        version: version.to_string(),
        status: status.to_string(),
        body: String::from_utf8_lossy(body).into_owned(),
        body_len: body.len(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

async fn daemon_before(up: TlsUpstream) -> ProxyFixture {
    let fx = fixture_on(up, &[("ANTHROPIC_API_KEY", ANTHROPIC_KEY)], true).await;
    fx.up.require_header("api.anthropic.com", "x-api-key", ANTHROPIC_KEY);
    fx
}

fn describe(seen: &Seen) -> String {
    format!(
        "curl ok={} version={} status={}\n--- stderr\n{}\n--- body\n{}",
        seen.ok, seen.version, seen.status, seen.stderr, seen.body
    )
}

/// The upstream's `/echo` answer in `seen`'s body.
fn echo(seen: &Seen) -> Value {
    serde_json::from_str(&seen.body).unwrap_or_else(|e| panic!("not the echo ({e}): {}", describe(seen)))
}

#[tokio::test]
async fn an_http2_session_reaches_an_http1_only_upstream() {
    let fx = daemon_before(TlsUpstream::start_http1_only().await).await;
    // A request with a body, the key injected.
    let seen =
        curl(&fx, "--http2", &["--data-binary", "hello over h2"], &["https://api.anthropic.com/echo"]).await;
    assert!(seen.ok && seen.status == "200", "{}", describe(&seen));
    assert_eq!(seen.version, "2", "the session spoke HTTP/2 to the proxy: {}", describe(&seen));
    let e = echo(&seen);
    assert_eq!(e["version"], "HTTP/1.1", "{e:#}");
    assert_eq!(e["body"], "hello over h2", "{e:#}");
    let sent = fx.up.requests();
    assert!(sent.iter().all(|r| r.alpn.as_deref() == Some("http/1.1")), "{sent:#?}");

    // A streamed body of 3 MiB arrives whole.
    let seen = curl(&fx, "--http2", &[], &["https://api.anthropic.com/bytes/3145728"]).await;
    assert!(seen.ok && seen.status == "200", "{}", seen.stderr);
    assert_eq!(seen.body_len, 3_145_728);

    // An SSE stream: every event.
    fx.up.open_gate("h1");
    let seen = curl(&fx, "--http2", &["-N"], &["https://api.anthropic.com/sse?events=3&gate=h1"]).await;
    assert!(seen.ok && seen.status == "200", "{}", describe(&seen));
    assert_eq!(seen.body.matches("data:").count(), 3, "{}", describe(&seen));

    let entries = audit(&fx).await;
    assert!(entries.iter().all(|e| e["status"] == 200 && e["decision"] == "injected"), "{entries:#?}");
}

#[tokio::test]
async fn an_http1_session_reaches_an_http2_only_upstream() {
    let up = TlsUpstream::start(clauderon_testkit::upstream::UpstreamOptions {
        alpn: clauderon_testkit::upstream::Alpn::Http2,
        ..Default::default()
    })
    .await;
    let fx = daemon_before(up).await;
    // Two requests on one session connection: the second knows the upstream wants HTTP/2.
    let urls = ["https://api.anthropic.com/echo", "https://api.anthropic.com/echo?second=1"];
    let seen = curl(&fx, "--http1.1", &[], &urls).await;
    assert!(seen.ok && seen.status == "200", "{}", describe(&seen));
    assert_eq!(seen.version, "1.1");
    let sent = fx.up.requests();
    assert_eq!(sent.len(), 2, "{sent:#?}");
    for r in &sent {
        assert_eq!(r.version, hyper::Version::HTTP_2, "{r:#?}");
        assert_eq!(r.header("x-api-key"), Some(ANTHROPIC_KEY));
    }
}

/// Every way a session and a close-delimited upstream meet: HTTP/1.1 and HTTP/2 sessions,
/// a plain body, an SSE stream, and two requests in a row on one session connection (each
/// upstream connection closes after its response).
async fn close_delimited_bodies_end_cleanly(close_notify: bool) {
    let fx = daemon_before(TlsUpstream::start_close_delimited(close_notify).await).await;
    fx.up.open_gate("cd");
    for version in ["--http1.1", "--http2"] {
        let seen = curl(&fx, version, &[], &["https://api.anthropic.com/bytes/1000000"]).await;
        assert!(seen.ok && seen.status == "200", "{version}: {}", seen.stderr);
        assert_eq!(seen.body_len, 1_000_000, "{version}");

        let seen = curl(&fx, version, &["-N"], &["https://api.anthropic.com/sse?events=4&gate=cd"]).await;
        assert!(seen.ok && seen.status == "200", "{version}: {}", describe(&seen));
        assert_eq!(seen.body.matches("data:").count(), 4, "{version}: {}", describe(&seen));

        let urls = ["https://api.anthropic.com/echo?n=1", "https://api.anthropic.com/echo?n=2"];
        let seen = curl(&fx, version, &[], &urls).await;
        assert!(seen.ok && seen.status == "200", "{version}: {}", describe(&seen));
        assert_eq!(seen.body.matches("/echo?n=").count(), 2, "{version}: {}", describe(&seen));
    }
    let entries = audit(&fx).await;
    let bodies: Vec<&Value> = entries.iter().filter(|e| e["path"] != "").collect();
    assert_eq!(bodies.len(), 8, "{entries:#?}");
    for e in &bodies {
        assert_eq!(e["status"], 200, "{e:#}");
        assert_eq!(e["decision"], "injected", "{e:#}");
        // The audit says when a body was ended by a close without close_notify, and only then.
        let noted = e["note"].as_str().is_some_and(|n| n.contains("close_notify"));
        assert_eq!(noted, !close_notify, "{e:#}");
    }
}

#[tokio::test]
async fn close_delimited_bodies_end_cleanly_with_close_notify() {
    close_delimited_bodies_end_cleanly(true).await;
}

#[tokio::test]
async fn close_delimited_bodies_end_cleanly_without_close_notify() {
    close_delimited_bodies_end_cleanly(false).await;
}

#[tokio::test]
async fn odd_response_shapes_reach_the_session_whole() {
    let fx = daemon_before(TlsUpstream::start_close_delimited(false).await).await;
    for version in ["--http1.1", "--http2"] {
        let seen = curl(&fx, version, &[], &["https://api.anthropic.com/raw/http10"]).await;
        assert!(seen.ok && seen.status == "200", "{version}: {}", describe(&seen));
        assert_eq!(seen.body, "an HTTP/1.0 body", "{version}");

        let seen = curl(&fx, version, &[], &["https://api.anthropic.com/raw/early-hints"]).await;
        assert!(seen.ok && seen.status == "200", "{version}: {}", describe(&seen));
        assert!(seen.body.ends_with("after hints"), "{version}: {}", describe(&seen));

        let seen = curl(&fx, version, &[], &["https://api.anthropic.com/raw/trailers"]).await;
        assert!(seen.ok && seen.status == "200", "{version}: {}", describe(&seen));
        assert_eq!(seen.body, "hello world", "{version}");

        // A 48 KiB header value (the proxy's own limit for what sessions send is 64 KiB).
        let seen =
            curl(&fx, version, &["-D", "-"], &["https://api.anthropic.com/raw/long-header?bytes=49152"])
                .await;
        assert!(seen.ok && seen.status == "200", "{version}: {}", seen.stderr);
        let long =
            seen.body.lines().find(|l| l.to_ascii_lowercase().starts_with("x-long:")).unwrap_or_default();
        assert_eq!(long.trim_end().len(), "x-long: ".len() + 49152, "{version}");
        assert!(seen.body.ends_with("long"), "{version}");
    }
}

#[tokio::test]
async fn an_upload_that_expects_100_continue_arrives_whole() {
    let fx = daemon_before(TlsUpstream::start_close_delimited(true).await).await;
    let file = tempfile::NamedTempFile::new().unwrap();
    let body: Vec<u8> = (0..2_500_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(file.path(), &body).unwrap();
    let data = format!("@{}", file.path().display());
    for version in ["--http1.1", "--http2"] {
        fx.up.clear();
        let args = ["-H", "Expect: 100-continue", "--data-binary", data.as_str()];
        let seen = curl(&fx, version, &args, &["https://api.anthropic.com/echo"]).await;
        assert!(seen.ok && seen.status == "200", "{version}: {}", describe(&seen));
        let sent = fx.up.requests();
        assert_eq!(sent.len(), 1, "{version}: {sent:#?}");
        assert_eq!(sent[0].body_len, body.len() as u64, "{version}");
    }
}

/// The peak resident memory of this test's process (nextest runs each test in its own), KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_large_response_streams_through_without_being_held_in_memory() {
    // The proxy, the upstream and this test share the process: had the proxy held the body,
    // the peak would grow by the body's size. (Debug builds scrub slowly, hence 48 MiB; the
    // bench's soak runs far more through a release build.)
    let fx = daemon_before(TlsUpstream::start_close_delimited(false).await).await;
    const SIZE: u64 = 48 << 20;
    let before = peak_rss_kib();
    for version in ["--http1.1", "--http2"] {
        let url = format!("https://api.anthropic.com/bytes/{SIZE}");
        let seen = curl(
            &fx,
            version,
            &["-o", "/dev/null", "--write-out", "%{size_download}\n%{http_version} %{http_code}"],
            &[&url],
        )
        .await;
        assert!(seen.ok && seen.status == "200", "{version}: {}", describe(&seen));
        assert!(seen.body.starts_with(&SIZE.to_string()), "{version}: {}", describe(&seen));
    }
    let grown_mib = peak_rss_kib().saturating_sub(before) / 1024;
    assert!(grown_mib < 24, "the process's peak memory grew by {grown_mib} MiB for two 48 MiB downloads");
}
