//! Policy in the proxy's request path, end to end through a real daemon, with real curl:
//! GraphQL mutations refused to read-only sessions however they are dressed up, the egress
//! allowlist with per-session additions and wildcards, and the refusals' messages; requests
//! spelled so that a server reads them otherwise than the check does (issue 11, item 7).
//! (git push under read-only is in proxy_git.rs, with real git.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use clauderon_testkit::http::{Request as ApiRequest, unix};
use clauderon_testkit::{TlsUpstream, UpstreamOptions};
use common::{GITHUB_TOKEN, ProxyFixture, fixture_on};
use serde_json::{Value, json};
use std::time::Duration;

/// `curl -i` through the session's proxy, trusting clauderon's CA and the upstream's (the real
/// certificate of a tunnelled host); returns (status, head and body as text).
async fn curl(fx: &ProxyFixture, url: &str, body: Option<&str>) -> (u16, String) {
    let args: &[&str] = match body {
        Some(b) => &["-H", "content-type: application/json", "--data-binary", b],
        None => &[],
    };
    curl_args(fx, args, url).await
}

/// The same with any curl arguments before the URL (a method, headers, `--path-as-is`).
async fn curl_args(fx: &ProxyFixture, args: &[&str], url: &str) -> (u16, String) {
    let mut cmd = common::curl();
    cmd.args([
        "-sS",
        "-i",
        "-w",
        "\nSTATUS %{http_code} %{http_connect}",
        "--proxy",
        &fx.proxy_url(),
        "--cacert",
    ])
    .arg(common::trust_bundle(fx));
    cmd.args(args);
    cmd.arg(url);
    let out = common::run(cmd).await;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    // The response's status; for a refused CONNECT (no response at all), the CONNECT's.
    let codes: Vec<u16> = text
        .rsplit_once("STATUS ")
        .map(|(_, s)| s.split_whitespace().filter_map(|c| c.parse().ok()).collect())
        .unwrap_or_default();
    let status = match codes.as_slice() {
        [0, connect, ..] => *connect,
        [code, ..] => *code,
        [] => 0,
    };
    (status, format!("{text}{}", String::from_utf8_lossy(&out.stderr)))
}

async fn graphql_fixture() -> ProxyFixture {
    fixture_on(TlsUpstream::start_default().await, &[("GH_TOKEN", GITHUB_TOKEN)], true).await
}

const GRAPHQL: &str = "https://api.github.com/graphql";

#[tokio::test]
async fn read_only_lets_graphql_queries_through_and_refuses_mutations_however_hidden() {
    let fx = graphql_fixture().await;
    common::set_mode(&fx, "read-only").await;

    let query = json!({"query": "query { viewer { login } }"}).to_string();
    let (status, text) = curl(&fx, GRAPHQL, Some(&query)).await;
    assert!(!text.contains("x-clauderon-refused"), "a query was refused: {text}");
    assert_ne!(status, 403, "{text}");
    let seen = fx.up.wait_for_requests(1, Duration::from_secs(5)).await;
    assert_eq!(seen[0].path, "/graphql");
    assert_eq!(
        seen[0].body_json(),
        serde_json::from_str::<Value>(&query).unwrap(),
        "the body arrived changed"
    );
    assert_eq!(seen[0].header("authorization"), Some(format!("Bearer {GITHUB_TOKEN}").as_str()));

    let mutations = [
        json!({"query": "mutation { addStar(input: {starrableId: \"R_1\"}) { clientMutationId } }"}),
        json!({"query": "query Safe { viewer { login } } mutation Evil { deleteRepository(input: {repositoryId: \"R_1\"}) { clientMutationId } }",
               "operationName": "Safe"}),
        json!({"query": "mutation { ...Star } fragment Star on Mutation { addStar(input: {starrableId: \"R_1\"}) { clientMutationId } }"}),
        json!([{"query": "{ viewer { login } }"}, {"query": "mutation { addStar(input: {}) { clientMutationId } }"}]),
    ];
    fx.up.clear();
    for m in &mutations {
        let (status, text) = curl(&fx, GRAPHQL, Some(&m.to_string())).await;
        assert_eq!(status, 403, "{m}: {text}");
        assert!(
            text.contains("read-only") && text.contains("clauderon set-access-mode agent read-write"),
            "{text}"
        );
        assert!(!text.contains(GITHUB_TOKEN));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(fx.up.requests().is_empty(), "a mutation reached GitHub: {:?}", fx.up.requests());
    let audit = common::audit(&fx).await;
    let denied: Vec<&Value> = audit.iter().filter(|e| e["decision"] == "denied").collect();
    assert_eq!(denied.len(), mutations.len(), "{audit:?}");
    assert!(denied.iter().all(|e| e["reason"].as_str().unwrap().contains("GraphQL")), "{denied:?}");

    // A plain REST write is refused too; a read is not.
    let (status, text) = curl(&fx, "https://api.github.com/status/200", Some("{}")).await;
    assert_eq!(status, 403, "{text}");
    let (status, _) = curl(&fx, "https://api.github.com/status/200", None).await;
    assert_eq!(status, 200);

    common::set_mode(&fx, "read-write").await;
    let (status, text) = curl(&fx, GRAPHQL, Some(&mutations[0].to_string())).await;
    assert!(!text.contains("x-clauderon-refused") && status != 403, "{text}");
}

#[tokio::test]
async fn model_calls_stay_allowed_in_read_only() {
    let fx =
        fixture_on(TlsUpstream::start_default().await, &[("ANTHROPIC_API_KEY", common::ANTHROPIC_KEY)], true)
            .await;
    common::set_mode(&fx, "read-only").await;
    let body =
        json!({"model": "claude-test", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]});
    let (status, text) = curl(&fx, "https://api.anthropic.com/v1/messages", Some(&body.to_string())).await;
    assert_eq!(status, 200, "{text}");
}

/// An upstream that answers for names off the default allowlist too.
async fn egress_fixture() -> ProxyFixture {
    let hosts =
        ["api.anthropic.com", "blocked.example", "wild.example", "a.wild.example", "b.c.wild.example"];
    let up = TlsUpstream::start(UpstreamOptions {
        hosts: hosts.iter().map(|h| h.to_string()).collect(),
        ..Default::default()
    })
    .await;
    fixture_on(up, &[], true).await
}

#[tokio::test]
async fn egress_allows_listed_hosts_refuses_others_and_says_how_to_allow_them() {
    let fx = egress_fixture().await;
    let (status, text) = curl(&fx, "https://api.anthropic.com/status/200", None).await;
    assert_eq!(status, 200, "a default host was refused: {text}");

    let (status, text) = curl(&fx, "https://blocked.example/status/200", None).await;
    assert_eq!(status, 403, "{text}");
    let requests_before = fx.up.request_count();

    // The refusal's body, as a plain-HTTP client sees it.
    let (status, text) = curl(&fx, "http://blocked.example/status/200", None).await;
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("not on session `agent`'s egress allowlist"), "{text}");
    assert!(text.contains("clauderon allow-host agent blocked.example"), "{text}");
    assert_eq!(fx.up.request_count(), requests_before, "a refused request reached the host");
    let audit = common::audit(&fx).await;
    assert!(
        audit.iter().any(|e| e["host"] == "blocked.example"
            && e["decision"] == "denied"
            && e["reason"].as_str().unwrap().starts_with("egress")),
        "{audit:?}"
    );

    // Allowed live, through the API `clauderon allow-host` uses: the next request passes.
    let reply = unix(
        fx.d.socket(),
        ApiRequest::new("POST", "/api/sessions/agent/allowed-hosts")
            .json(json!({"host": "blocked.example"}).to_string()),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let (status, text) = curl(&fx, "https://blocked.example/status/200", None).await;
    assert_eq!(status, 200, "{text}");
    let events = unix(fx.d.socket(), ApiRequest::new("GET", "/api/sessions/agent")).await.json();
    assert!(events["events"].as_array().unwrap().iter().any(|e| e["type"] == "host-allowed"), "{events}");
}

#[tokio::test]
async fn wildcards_cover_subdomains_not_the_domain_itself() {
    let fx = egress_fixture().await;
    let bad = unix(
        fx.d.socket(),
        ApiRequest::new("POST", "/api/sessions/agent/allowed-hosts")
            .json(json!({"host": "*.*.example"}).to_string()),
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    let reply = unix(
        fx.d.socket(),
        ApiRequest::new("POST", "/api/sessions/agent/allowed-hosts")
            .json(json!({"host": "*.wild.example"}).to_string()),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    for (host, want) in [("a.wild.example", 200), ("b.c.wild.example", 200), ("wild.example", 403)] {
        let (status, text) = curl(&fx, &format!("https://{host}/status/200"), None).await;
        assert_eq!(status, want, "{host}: {text}");
    }
}

#[tokio::test]
async fn a_session_created_with_allow_host_reaches_it_and_others_do_not() {
    let fx = egress_fixture().await;
    let repo = clauderon_testkit::TestRepo::new().unwrap();
    let body = json!({"repo_path": repo.path(), "prompt": "go", "name": "other", "access_mode": "read-write",
                      "options": {"allow_hosts": ["blocked.example"]}});
    let reply = unix(fx.d.socket(), ApiRequest::new("POST", "/api/sessions").json(body.to_string())).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let other = fx.d.fake.proxy_for("other").unwrap();
    let mut cmd = common::curl();
    cmd.args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--proxy"])
        .arg(format!("http://other:{}@{}", other.secret, fx.d.proxy_addr()))
        .arg("--cacert")
        .arg(common::trust_bundle(&fx))
        .arg("https://blocked.example/status/200");
    let out = common::run(cmd).await;
    assert_eq!(String::from_utf8_lossy(&out.stdout), "200", "{}", String::from_utf8_lossy(&out.stderr));
    // `agent` was not given the host.
    let (status, _) = curl(&fx, "https://blocked.example/status/200", None).await;
    assert_eq!(status, 403);

    let bad = json!({"repo_path": repo.path(), "prompt": "go", "name": "bad", "options": {"allow_hosts": ["http://x"]}});
    let reply = unix(fx.d.socket(), ApiRequest::new("POST", "/api/sessions").json(bad.to_string())).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(reply.body.contains("--allow-host"), "{}", reply.body);
}

/// A token budget: the call that reaches it goes through (its cost is only known after), the
/// next model call is refused with a 429 that says how to raise it, an event says so, and
/// raising the budget lets the session call again — nothing restarted. Other hosts are not
/// model calls and stay reachable.
#[tokio::test]
async fn a_budget_stops_the_next_model_call_until_it_is_raised() {
    let fx =
        fixture_on(TlsUpstream::start_default().await, &[("ANTHROPIC_API_KEY", common::ANTHROPIC_KEY)], true)
            .await;
    let set = |tokens: u64| {
        ApiRequest::new("PUT", "/api/sessions/agent/budget").json(json!({ "tokens": tokens }).to_string())
    };
    assert_eq!(unix(fx.d.socket(), set(25)).await.status, 200);
    let body =
        json!({"model": "claude-test", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]})
            .to_string();
    let call = || curl(&fx, "https://api.anthropic.com/v1/messages", Some(&body));

    // The fake API reports 12 + 7 = 19 tokens a call.
    assert_eq!(call().await.0, 200);
    // Charged after the response: wait until the second call's refusal is due.
    let (status, _) = call().await;
    assert_eq!(status, 200, "19 < 25: the second call still goes");
    let mut refused = None;
    for _ in 0..50 {
        let (status, text) = call().await;
        if status == 429 {
            refused = Some(text);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let text = refused.expect("the budget never stopped a model call");
    assert!(text.contains("used its budget") && text.contains("clauderon set-budget agent"), "{text}");
    let calls = fx.up.requests().iter().filter(|r| r.path == "/v1/messages").count();
    assert_eq!(calls, 2, "a refused call reached the model API");
    let (status, _) = curl(&fx, "https://api.github.com/status/200", None).await;
    assert_eq!(status, 200, "only model calls are stopped");
    let detail = unix(fx.d.socket(), ApiRequest::new("GET", "/api/sessions/agent")).await.json();
    let events = detail["events"].as_array().unwrap();
    assert_eq!(events.iter().filter(|e| e["type"] == "budget-exceeded").count(), 1, "{detail}");

    assert_eq!(unix(fx.d.socket(), set(1000)).await.status, 200);
    assert_eq!(call().await.0, 200, "raising the budget lets the session continue");
}

/// Sends each request as a read-only session, then as a read-write one; returns, per request,
/// whether it reached the upstream in each mode.
async fn reached(fx: &ProxyFixture, requests: &[(&[&str], &str)]) -> Vec<(bool, bool)> {
    let mut out = Vec::new();
    for mode in ["read-only", "read-write"] {
        common::set_mode(fx, mode).await;
        for (i, (args, url)) in requests.iter().enumerate() {
            fx.up.clear();
            let (status, text) = curl_args(fx, args, url).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            let arrived = fx.up.request_count() > 0;
            if mode == "read-only" {
                out.push((arrived, false));
                if !arrived {
                    assert_eq!(status, 403, "{args:?} {url}: {text}");
                    assert!(text.contains("read-only"), "{text}");
                }
            } else {
                out[i].1 = arrived;
            }
        }
    }
    out
}

/// Issue 11, item 7: git-receive-pack (a push) behind path tricks a suffix check misses —
/// `;x`, `%3F`, `/../`, `//`, escapes, case, a repeated `service` parameter. Read-write, each
/// reaches the upstream (so the tricks are real requests); read-only, none does.
#[tokio::test]
async fn read_only_refuses_git_receive_pack_however_the_path_is_spelled() {
    let fx = graphql_fixture().await;
    let post: &[&str] = &[
        "--path-as-is",
        "-X",
        "POST",
        "-H",
        "content-type: application/x-git-receive-pack-request",
        "--data-binary",
        "0000",
    ];
    let get: &[&str] = &["--path-as-is"];
    let requests: Vec<(&[&str], &str)> = vec![
        (post, "https://github.com/o/r.git/git-receive-pack;x"),
        (post, "https://github.com/o/r.git/git-receive-pack%3Fx"),
        (post, "https://github.com/o/r.git/git-upload-pack/../git-receive-pack"),
        (post, "https://github.com/o/r.git//git-receive-pack"),
        (post, "https://github.com/o/r.git/git-%72eceive-pack"),
        (post, "https://github.com/o/r.git/GIT-RECEIVE-PACK"),
        (post, "https://github.com/o/r.git/git-upload-pack;x"),
        (get, "https://github.com/o/r.git/info/refs?service=git-upload-pack&service=git-receive-pack"),
        (get, "https://github.com/o/r.git/info/refs?service=git%2Dreceive%2Dpack"),
        (&["-H", "x-http-method-override: DELETE"], "https://api.github.com/repos/o/r"),
        (
            &["-X", "POST", "-H", "x-original-url: /o/r.git/git-receive-pack", "--data-binary", "0000"],
            "https://github.com/o/r.git/git-upload-pack",
        ),
        (&["-X", "GET", "--data-binary", "{}"], "https://api.github.com/repos/o/r"),
    ];
    for ((ro, rw), (args, url)) in reached(&fx, &requests).await.into_iter().zip(&requests) {
        assert!(rw, "control: {args:?} {url} did not reach the upstream even read-write");
        assert!(!ro, "read-only let {args:?} {url} through");
    }
    // What git itself sends for a fetch still passes read-only.
    common::set_mode(&fx, "read-only").await;
    let (status, text) = curl_args(&fx, post, "https://github.com/o/r.git/git-upload-pack").await;
    assert!(!text.contains("x-clauderon-refused") && status != 403, "{text}");
}

/// Issue 11, item 7: GraphQL documents a server may read otherwise than the check: a key twice
/// (`{"query": Q, "query": M}`, serde_json keeps the last, other servers the first), a
/// mutation in a GET's `query`, a POST with a document in its URL as well as its body.
#[tokio::test]
async fn read_only_refuses_graphql_mutations_in_duplicate_keys_and_urls() {
    let fx = graphql_fixture().await;
    let dup_last = r#"{"query": "{ viewer { login } }", "query": "mutation { addStar(input: {starrableId: \"R_1\"}) { clientMutationId } }"}"#;
    let dup_first = r#"{"query": "mutation { addStar(input: {starrableId: \"R_1\"}) { clientMutationId } }", "query": "{ viewer { login } }"}"#;
    let json = |b: &'static str| -> Vec<&'static str> {
        vec!["-H", "content-type: application/json", "--data-binary", b]
    };
    let a = json(dup_last);
    let b = json(dup_first);
    let c = json(r#"{"query": "{ viewer { login } }"}"#);
    let requests: Vec<(&[&str], &str)> = vec![
        (a.as_slice(), GRAPHQL),
        (b.as_slice(), GRAPHQL),
        (c.as_slice(), "https://api.github.com/graphql?query=mutation%20%7B%20addStar%20%7D"),
        (
            &[],
            "https://api.github.com/graphql?query=mutation%20%7B%20addStar(input%3A%7B%7D)%20%7B%20clientMutationId%20%7D%20%7D",
        ),
    ];
    for ((ro, rw), (args, url)) in reached(&fx, &requests).await.into_iter().zip(&requests) {
        assert!(rw, "control: {args:?} {url} did not reach the upstream even read-write");
        assert!(!ro, "read-only let {args:?} {url} through");
    }
    // The body that reached the upstream read-write is the one sent, both keys and all.
    common::set_mode(&fx, "read-write").await;
    fx.up.clear();
    let _ = curl(&fx, GRAPHQL, Some(dup_last)).await;
    let seen = fx.up.wait_for_requests(1, Duration::from_secs(5)).await;
    assert_eq!(seen[0].body_text(), dup_last);
}
