//! The daemon's API, as any client may call it: a method, a path with its query, a few headers
//! (the token, an Origin, a Host, a content type) and a body, sent through the real router
//! (`clauderon_daemon::router`) with `oneshot`, to a session manager over an in-memory store,
//! a real git repository and the test kit's fake backend. Nothing may panic, and no request is
//! answered 500: a bad request is the client's error, and says so with a 4xx.
//!
//! Input: a method byte, a flags byte, the path line (`\n`), then the body. `$REPO` in the body
//! stands for the test repository's path. A create naming any other repository is skipped: the
//! harness must never make worktrees or branches in a repository of this machine.
//! Flags: bit 0 over TCP (else the Unix socket, which checks nothing); bit 1 with the token;
//! bit 2 `Content-Type: application/json`; bit 3 an Origin (bit 4: another site's); bit 5 a
//! Host that is not the daemon.
#![no_main]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use clauderon_daemon::{AppState, Guard, router};
use clauderon_testkit::{FakeBackend, TestRepo};
use clauderon_types::ApiToken;
use libfuzzer_sys::fuzz_target;
use std::path::{Component, Path};
use std::sync::{Arc, OnceLock};
use tokio::runtime::Runtime;
use tower::ServiceExt;

const TOKEN: &str = "fuzz-api-token-0123456789abcdef";
const BIND: &str = "127.0.0.1:3030";
const METHODS: [&str; 7] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];

struct Harness {
    rt: Runtime,
    tcp: Router,
    socket: Router,
    repo: TestRepo,
    _data: tempfile::TempDir,
    _shutdown: tokio::sync::watch::Sender<bool>,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
        let data = tempfile::tempdir().expect("a data folder");
        let repo = TestRepo::new().expect("a test repository");
        let (tx, rx) = tokio::sync::watch::channel(false);
        let (tcp, socket) = rt.block_on(async {
            let manager = clauderon_testkit::daemon::manager(data.path(), FakeBackend::new());
            let credentials = Arc::new(clauderon_proxy::credentials::CredentialStore::new(
                data.path().join("secrets"),
                Vec::new(),
                |_| None,
            ));
            let state = AppState::new(manager, rx, credentials, Arc::from("fuzz CA"));
            let bind = BIND.parse().expect("an address");
            (router(state.clone(), Guard::tcp(ApiToken::new(TOKEN), bind)), router(state, Guard::Socket))
        });
        Harness { rt, tcp, socket, repo, _data: data, _shutdown: tx }
    })
}

/// Whether a body's `repo_path`, if it has one, is inside the test repository.
fn stays_in(repo: &Path, body: &[u8]) -> bool {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(body) else {
        return true;
    };
    match map.get("repo_path") {
        None => true,
        Some(serde_json::Value::String(p)) => {
            let p = Path::new(p);
            p.starts_with(repo) && !p.components().any(|c| c == Component::ParentDir)
        }
        // Not a string: refused before anything reads it.
        Some(_) => true,
    }
}

fuzz_target!(|data: &[u8]| {
    let [method, flags, rest @ ..] = data else { return };
    let (path, body) = match rest.iter().position(|b| *b == b'\n') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let Ok(path) = std::str::from_utf8(path) else { return };
    let h = harness();
    let repo = h.repo.path().to_string_lossy().into_owned();
    let body = String::from_utf8_lossy(body).replace("$REPO", &repo).into_bytes();
    if !stays_in(h.repo.path(), &body) {
        return;
    }
    let method = METHODS[usize::from(*method) % METHODS.len()];
    let mut req = Request::builder().method(method).uri(path);
    req = req.header("host", if flags & 32 == 32 { "evil.example" } else { BIND });
    if flags & 2 == 2 {
        req = req.header("authorization", format!("Bearer {TOKEN}"));
    }
    if flags & 4 == 4 {
        req = req.header("content-type", "application/json");
    }
    if flags & 8 == 8 {
        req = req
            .header("origin", if flags & 16 == 16 { "http://evil.example" } else { "http://127.0.0.1:3030" });
    }
    let Ok(req) = req.body(Body::from(body)) else { return };
    let app = if flags & 1 == 1 { h.tcp.clone() } else { h.socket.clone() };
    let status = h.rt.block_on(async move {
        let resp = app.oneshot(req).await.expect("the router never fails");
        let status = resp.status();
        let _ = axum::body::to_bytes(resp.into_body(), 1 << 24).await;
        status
    });
    assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "{method} {path}");
});
