//! What a read-only session may send: reads. Git's smart HTTP protocol and GraphQL carry
//! their reads in POSTs and their writes behind paths or documents, so they are told apart here.

/// The verdict on one request of a read-only session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Read,
    /// A write; the text says what, for the refusal ("git push (git-receive-pack)").
    Write(String),
    /// A GraphQL request: only its document tells.
    GraphqlBody,
}

/// Classify a request by method and path (with its query).
pub fn classify(method: &str, path_and_query: &str) -> Verdict {
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    let path = path.trim_end_matches('/');
    // git: `info/refs?service=git-receive-pack` advertises refs for a push, `POST
    // …/git-receive-pack` is the push itself. `git-upload-pack` is a fetch, POST or not.
    if path.ends_with("/git-receive-pack") {
        return Verdict::Write("git push (git-receive-pack)".into());
    }
    if path.ends_with("/info/refs") && query_values(query, "service").any(|v| v == "git-receive-pack") {
        return Verdict::Write("git push (the git-receive-pack advertisement)".into());
    }
    if path.ends_with("/git-upload-pack") && method == "POST" {
        return Verdict::Read;
    }
    if path.ends_with("/graphql") {
        return match method {
            "POST" => Verdict::GraphqlBody,
            "GET" | "HEAD" => match query_values(query, "query").next() {
                Some(doc) => match super::graphql::check_document(&doc) {
                    Ok(()) => Verdict::Read,
                    Err(what) => Verdict::Write(what),
                },
                None => Verdict::Read,
            },
            other => Verdict::Write(format!("{other} to a GraphQL endpoint")),
        };
    }
    match method {
        "GET" | "HEAD" | "OPTIONS" => Verdict::Read,
        other => Verdict::Write(format!("{other} {path} (a write)")),
    }
}

/// The decoded values of `key` in a query string.
fn query_values<'a>(query: &'a str, key: &'a str) -> impl Iterator<Item = String> + 'a {
    query.split('&').filter_map(move |pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k) == key).then(|| percent_decode(v))
    })
}

/// `%XX` and `+` decoding; invalid escapes are kept as they are.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_fetch_is_a_read_and_push_is_a_write_in_both_steps() {
        assert_eq!(classify("GET", "/o/r.git/info/refs?service=git-upload-pack"), Verdict::Read);
        assert_eq!(classify("POST", "/o/r.git/git-upload-pack"), Verdict::Read);
        assert!(matches!(classify("GET", "/o/r.git/info/refs?service=git-receive-pack"), Verdict::Write(_)));
        assert!(matches!(
            classify("GET", "/o/r.git/info/refs?x=1&service=git%2Dreceive-pack"),
            Verdict::Write(_)
        ));
        assert!(matches!(classify("POST", "/o/r.git/git-receive-pack"), Verdict::Write(_)));
        assert!(matches!(classify("POST", "/o/r.git/git-receive-pack/"), Verdict::Write(_)));
    }

    #[test]
    fn plain_http_reads_pass_and_writes_do_not() {
        for m in ["GET", "HEAD", "OPTIONS"] {
            assert_eq!(classify(m, "/repos/o/r/issues"), Verdict::Read);
        }
        for m in ["POST", "PUT", "PATCH", "DELETE"] {
            assert!(matches!(classify(m, "/repos/o/r/issues"), Verdict::Write(_)), "{m}");
        }
    }

    #[test]
    fn graphql_needs_its_document() {
        assert_eq!(classify("POST", "/graphql"), Verdict::GraphqlBody);
        assert_eq!(classify("GET", "/graphql?query=%7B%20viewer%20%7B%20login%20%7D%20%7D"), Verdict::Read);
        assert!(matches!(classify("GET", "/graphql?query=mutation%20%7B%20x%20%7D"), Verdict::Write(_)));
        assert!(matches!(classify("PUT", "/graphql"), Verdict::Write(_)));
    }

    #[test]
    fn percent_decoding_keeps_bad_escapes() {
        assert_eq!(percent_decode("a%20b+c"), "a b c");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("%é%41"), "%éA");
    }
}
