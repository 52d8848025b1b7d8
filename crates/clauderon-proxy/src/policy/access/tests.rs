//! The read-only classifier against the requests a session could dress a write up as
//! (issue 11, item 7): each row is a request and whether read-only lets it through.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use http::HeaderValue;

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(http::HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
    }
    h
}

fn allowed(method: &str, path: &str, head: &[(&str, &str)], body: bool) -> bool {
    match classify(method, path, Some(&headers(head)), body) {
        Verdict::Read | Verdict::GraphqlBody => true,
        Verdict::Write(_) => false,
    }
}

#[test]
fn git_fetch_is_a_read_and_push_is_a_write_in_both_steps() {
    assert_eq!(classify("GET", "/o/r.git/info/refs?service=git-upload-pack", None, false), Verdict::Read);
    assert_eq!(classify("POST", "/o/r.git/git-upload-pack", None, false), Verdict::Read);
    assert_eq!(
        classify("GET", "/o/r.git/info/refs?service=git-receive-pack", None, false),
        Verdict::Write("git push (the git-receive-pack advertisement)".into())
    );
    assert_eq!(
        classify("POST", "/o/r.git/git-receive-pack", None, false),
        Verdict::Write("git push (git-receive-pack)".into())
    );
}

/// Issue 11 item 7: a push or an upload-pack POST spelled so that a suffix check misses it,
/// or so that the server may read another path than the check did.
#[test]
fn git_path_tricks_are_refused() {
    let table: &[(&str, &str, bool)] = &[
        ("POST", "/o/r.git/git-receive-pack/", false),
        ("POST", "/o/r.git/git-receive-pack;x", false),
        ("POST", "/o/r.git/git-receive-pack%3Fx", false),
        ("POST", "/o/r.git/git-receive-pack?x=1", false),
        ("POST", "/o/r.git/git-%72eceive-pack", false),
        ("POST", "/o/r.git/git-%2572eceive-pack", false),
        ("POST", "/o/r.git/GIT-RECEIVE-PACK", false),
        ("POST", "/o/r.git/git-upload-pack/../git-receive-pack", false),
        ("POST", "/o/r.git%2Fgit-receive-pack", false),
        ("GET", "/o/r.git/info/refs?service=git%2Dreceive-pack", false),
        ("GET", "/o/r.git/info/refs?x=%zz&service=git-%72eceive-pack", false),
        ("GET", "/o/r.git/info/refs?service=GIT-RECEIVE-PACK", false),
        ("GET", "/o/r.git/info/refs;x?service=git-receive-pack", false),
        ("GET", "/o/r.git/info/refs?x=1;service=git-receive-pack", false),
        // A fetch dressed up: what the server would run is not clear, so read-only refuses.
        ("POST", "/o/r.git/git-upload-pack;x", false),
        ("POST", "/o/r.git/git-upload-pack/..", false),
        ("POST", "/o/r.git/x/../git-upload-pack", false),
        ("POST", "/o/r.git//git-upload-pack", false),
        ("POST", "/o/r.git/./git-upload-pack", false),
        ("POST", "/o/r.git/git-upload-pack%2F", false),
        ("POST", "/o/r.git/git-upload-pack%00", false),
        ("POST", "/o/r.git/git-upload-pack%zz", false),
        ("POST", "/o/r.git\\git-upload-pack", false),
        // What git itself sends.
        ("GET", "/o/r.git/info/refs?service=git-upload-pack", true),
        ("POST", "/o/r.git/git-upload-pack", true),
        ("POST", "/o/r/git-upload-pack", true),
        ("POST", "/o/r.git/GIT-UPLOAD-PACK", true),
    ];
    for (method, path, want) in table {
        assert_eq!(allowed(method, path, &[], false), *want, "{method} {path}");
    }
}

#[test]
fn repeated_deciding_parameters_are_refused() {
    let table: &[(&str, &str, bool)] = &[
        ("GET", "/o/r.git/info/refs?service=git-upload-pack&service=git-upload-pack", false),
        ("GET", "/o/r.git/info/refs?service=git-upload-pack&Service=x", false),
        ("GET", "/o/r.git/info/refs?service=git-upload-pack&%73ervice=x", false),
        ("GET", "/graphql?query=%7Bviewer%7Blogin%7D%7D&query=%7Bx%7D", false),
        ("GET", "/graphql?query=%7Bviewer%7D&operationName=A&operationName=B", false),
        // Other parameters may repeat.
        ("GET", "/repos/o/r/issues?labels=a&labels=b", true),
    ];
    for (method, path, want) in table {
        assert_eq!(allowed(method, path, &[], false), *want, "{method} {path}");
    }
}

#[test]
fn method_overrides_must_name_a_read() {
    type Row<'a> = (&'a str, &'a [(&'a str, &'a str)], bool);
    let table: &[Row] = &[
        ("GET", &[("x-http-method-override", "DELETE")], false),
        ("GET", &[("x-http-method", "put")], false),
        ("GET", &[("x-method-override", "PATCH")], false),
        ("POST", &[("x-http-method-override", "GET")], false), // a POST to a REST path stays a write
        ("GET", &[("x-http-method-override", "GET"), ("x-http-method-override", "DELETE")], false),
        ("GET", &[("x-http-method-override", "get")], true),
        ("HEAD", &[("x-http-method-override", "HEAD")], true),
    ];
    for (method, head, want) in table {
        assert_eq!(allowed(method, "/repos/o/r", head, false), *want, "{method} {head:?}");
    }
    assert!(!allowed("GET", "/repos/o/r?_method=DELETE", &[], false));
    assert!(allowed("GET", "/repos/o/r?_method=GET", &[], false));
    // The path taken from a header by some frameworks.
    assert!(!allowed(
        "POST",
        "/o/r.git/git-upload-pack",
        &[("x-original-url", "/o/r.git/git-receive-pack")],
        false
    ));
    assert!(!allowed("GET", "/repos/o/r", &[("x-rewrite-url", "/x")], false));
    // A fetch with an override that names a read is still a fetch.
    assert!(allowed("POST", "/o/r.git/git-upload-pack", &[("x-http-method-override", "GET")], false));
}

#[test]
fn reads_with_a_body_are_refused() {
    assert!(!allowed("GET", "/repos/o/r", &[("content-length", "12")], false));
    assert!(!allowed("GET", "/repos/o/r", &[("transfer-encoding", "chunked")], false));
    assert!(!allowed("HEAD", "/repos/o/r", &[], true), "an HTTP/2 stream with data");
    assert!(allowed("GET", "/repos/o/r", &[("content-length", "0")], false));
}

#[test]
fn plain_http_reads_pass_and_writes_do_not() {
    for m in ["GET", "HEAD", "OPTIONS"] {
        assert_eq!(classify(m, "/repos/o/r/issues", None, false), Verdict::Read);
    }
    // Reads keep working on paths a server may read two ways: a read is a read either way.
    assert_eq!(classify("GET", "/repos/o/r/branches/feature%2Fx", None, false), Verdict::Read);
    for m in ["POST", "PUT", "PATCH", "DELETE", "post", "PROPFIND"] {
        assert!(matches!(classify(m, "/repos/o/r/issues", None, false), Verdict::Write(_)), "{m}");
    }
}

#[test]
fn graphql_needs_its_document_in_the_body_or_the_url() {
    assert_eq!(classify("POST", "/graphql", None, false), Verdict::GraphqlBody);
    assert_eq!(classify("POST", "/api/GraphQL/", None, false), Verdict::GraphqlBody);
    assert!(matches!(classify("POST", "/graphql;x", None, false), Verdict::Write(_)));
    assert!(matches!(classify("POST", "/graphql?query=%7Bviewer%7D", None, false), Verdict::Write(_)));
    assert!(matches!(classify("PUT", "/graphql", None, false), Verdict::Write(_)));
    assert_eq!(
        classify("GET", "/graphql?query=%7B%20viewer%20%7B%20login%20%7D%20%7D", None, false),
        Verdict::Read
    );
    assert!(matches!(
        classify("GET", "/graphql?query=mutation%20%7B%20x%20%7D", None, false),
        Verdict::Write(_)
    ));
    assert!(matches!(classify("GET", "/graphql?query=not+graphql", None, false), Verdict::Write(_)));
    // Off a GraphQL path only a real mutation counts: `?query=` is a search elsewhere.
    assert!(matches!(classify("GET", "/api/v4?query=mutation+%7B+x+%7D", None, false), Verdict::Write(_)));
    assert_eq!(classify("GET", "/search?query=cats+and+dogs", None, false), Verdict::Read);
}

#[test]
fn paths_are_decoded_once_and_refused_when_a_server_could_read_them_otherwise() {
    assert_eq!(plain_path("/o/r.git/git-upload-pack"), Ok("/o/r.git/git-upload-pack".into()));
    assert_eq!(plain_path("/O/R%2Egit/Git-Upload-Pack/"), Ok("/o/r.git/git-upload-pack".into()));
    for bad in ["/a/%2e%2e/b", "/a/%252F", "/a;b", "/a%3Bb", "/a/./b", "/a//b", "a/b", "/a%zz", "/a%0a"] {
        assert!(plain_path(bad).is_err(), "{bad}");
    }
    assert_eq!(unfold("/A/%2567it-%72eceive-pack"), "/a/git-receive-pack");
}
