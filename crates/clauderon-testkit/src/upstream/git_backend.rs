//! Git's smart HTTP protocol on the test upstream, served by the real `git http-backend` CGI,
//! so a test can `git clone`/`fetch`/`push` over real TLS (directly, or through a proxy).
//!
//! A request whose path lies under a repository of the upstream's `git_root`
//! (`/{owner}/{repo}.git/info/refs?service=...`, `.../git-upload-pack`,
//! `.../git-receive-pack`, or the dumb-protocol files) runs one `git http-backend` with the
//! CGI environment; the request body streams into its stdin as it arrives (a gzip body is
//! passed through with `HTTP_CONTENT_ENCODING`, which git inflates itself) and its stdout
//! streams back as the response. Pushes are enabled without any auth config; Basic auth, when
//! present, only sets `REMOTE_USER` (git uses it as the pusher's name in the reflog).
//!
//! The request is recorded like every other, once its body has been read.

use super::body::{self, RespBody};
use super::routes::recorded_head;
use super::{ConnInfo, RecordedRequest, Shared};
use base64::Engine;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::header::{HeaderName, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Response, StatusCode};
use serde_json::json;
use std::convert::Infallible;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::task::JoinHandle;

/// The largest CGI response head read before the response is given up as broken.
const MAX_CGI_HEAD: usize = 64 * 1024;
/// Read size for the CGI's stdout.
const CHUNK: usize = 64 * 1024;

/// The git root to serve `path` from, when `path` lies under one of its repositories: the
/// first segment ending in `.git` names a folder that exists under the root. Paths with
/// empty, `.` or `..` segments are never handed to git.
pub(crate) fn repo_root(root: Option<&Path>, path: &str) -> Option<PathBuf> {
    let root = root?;
    let segments: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
    let repo_end = segments.iter().position(|s| s.len() > ".git".len() && s.ends_with(".git"))?;
    let bad = |s: &&str| s.is_empty() || *s == "." || *s == "..";
    if segments[..=repo_end].iter().any(bad)
        || segments[repo_end + 1..].iter().any(|s| *s == "." || *s == "..")
    {
        return None;
    }
    let repo = segments[..=repo_end].iter().fold(root.to_path_buf(), |p, s| p.join(s));
    repo.is_dir().then(|| root.to_path_buf())
}

/// The CGI environment for one request (RFC 3875, plus what `git http-backend` reads).
fn cgi_env(root: &Path, parts: &Parts) -> Vec<(&'static str, OsString)> {
    let mut env: Vec<(&'static str, OsString)> = vec![
        ("GATEWAY_INTERFACE", "CGI/1.1".into()),
        ("SERVER_PROTOCOL", "HTTP/1.1".into()),
        ("REMOTE_ADDR", "127.0.0.1".into()),
        ("GIT_PROJECT_ROOT", root.into()),
        ("GIT_HTTP_EXPORT_ALL", "1".into()),
        ("REQUEST_METHOD", parts.method.as_str().into()),
        ("PATH_INFO", parts.uri.path().into()),
        ("QUERY_STRING", parts.uri.query().unwrap_or("").into()),
    ];
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(ct) = header("content-type") {
        env.push(("CONTENT_TYPE", ct.into()));
    }
    if let Some(len) = header("content-length") {
        env.push(("CONTENT_LENGTH", len.into()));
    }
    if let Some(user) = header("authorization").and_then(basic_user) {
        env.push(("AUTH_TYPE", "Basic".into()));
        env.push(("REMOTE_USER", user.into()));
    }
    // The request headers git reads: Git-Protocol (protocol v2) and Content-Encoding (gzip).
    for (name, var) in [("git-protocol", "HTTP_GIT_PROTOCOL"), ("content-encoding", "HTTP_CONTENT_ENCODING")]
    {
        if let Some(value) = header(name) {
            env.push((var, value.into()));
        }
    }
    env
}

/// The user name of a `Basic` authorization value.
fn basic_user(value: &str) -> Option<String> {
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(token.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let user = text.split_once(':').map_or(text.as_str(), |(u, _)| u);
    (!user.is_empty()).then(|| user.to_owned())
}

/// `git http-backend` with nothing of the test machine's git config or environment, and
/// pushes enabled (git allows them by default only for an authenticated `REMOTE_USER`).
fn backend_command(root: &Path, parts: &Parts) -> Command {
    let mut cmd = Command::new("git");
    cmd.arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", root)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_COUNT", "1")
        .env("GIT_CONFIG_KEY_0", "http.receivepack")
        .env("GIT_CONFIG_VALUE_0", "true")
        .envs(cgi_env(root, parts))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// Runs `git http-backend` for one request and streams its answer back.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    info: &ConnInfo,
    root: PathBuf,
    parts: Parts,
    host: String,
    incoming: Incoming,
) -> Response<RespBody> {
    let head = recorded_head(&parts, &host, info);
    let mut child = match backend_command(&root, &parts).spawn() {
        Ok(child) => child,
        Err(e) => {
            shared.record(shared.recording().then_some(head));
            return failed(&format!("could not run `git http-backend`: {e}"));
        }
    };
    let (Some(stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        shared.record(shared.recording().then_some(head));
        return failed("`git http-backend` started without its pipes");
    };
    let writer = tokio::spawn(feed_stdin(shared, head, incoming, stdin));
    tokio::spawn(async move {
        // Shown with a failing test's output; a passing test's output is not printed.
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            eprintln!("git http-backend: {line}");
        }
    });
    let mut out = BufReader::with_capacity(CHUNK, stdout);
    let (status, headers) = match read_head(&mut out).await.and_then(|h| cgi_head(&h)) {
        Ok(head) => head,
        Err(e) => return failed(&e),
    };
    let mut b = Response::builder().status(status);
    for (name, value) in headers {
        b = b.header(name, value);
    }
    let output = CgiOutput { out, child, writer: Some(writer) };
    let frames = futures_util::stream::unfold(Some(output), |output| async move {
        let mut output = output?;
        match output.next_chunk().await {
            Some(chunk) => Some((Ok::<_, Infallible>(Frame::data(chunk)), Some(output))),
            None => {
                output.finish().await;
                None
            }
        }
    });
    body::finish(b, StreamBody::new(frames).boxed_unsync())
}

/// Streams the request body into the CGI's stdin, keeping up to the cap for the record, and
/// records the request when the body is done (or the CGI stopped reading it).
async fn feed_stdin(
    shared: Arc<Shared>,
    mut head: RecordedRequest,
    mut incoming: Incoming,
    mut stdin: ChildStdin,
) {
    let mut kept = Vec::new();
    while let Some(Ok(frame)) = incoming.frame().await {
        let Ok(data) = frame.into_data() else { continue };
        head.body_len += data.len() as u64;
        let room = shared.body_cap.saturating_sub(kept.len());
        kept.extend_from_slice(&data[..data.len().min(room)]);
        if stdin.write_all(&data).await.is_err() {
            // The CGI exited or closed its input: what it did not read is of no use to it.
            break;
        }
    }
    drop(stdin); // end of input for the CGI
    head.body = kept.into();
    shared.record(shared.recording().then_some(head));
}

/// The CGI's stdout after its head, and what must finish before the response does.
struct CgiOutput {
    out: BufReader<ChildStdout>,
    child: Child,
    writer: Option<JoinHandle<()>>,
}

impl CgiOutput {
    async fn next_chunk(&mut self) -> Option<Bytes> {
        let buf = self.out.fill_buf().await.ok().filter(|b| !b.is_empty())?;
        let chunk = Bytes::copy_from_slice(buf);
        self.out.consume(chunk.len());
        Some(chunk)
    }

    /// Waits for the request's record and the CGI's exit, so a client that has read the whole
    /// response finds its request in the record.
    async fn finish(mut self) {
        if let Some(writer) = self.writer.take() {
            let _ = writer.await;
        }
        let _ = self.child.wait().await;
    }
}

/// Reads the CGI's response head, up to and without the blank line.
async fn read_head(out: &mut BufReader<ChildStdout>) -> Result<String, String> {
    let mut head = Vec::new();
    loop {
        let start = head.len();
        let n = out
            .read_until(b'\n', &mut head)
            .await
            .map_err(|e| format!("reading `git http-backend`'s output: {e}"))?;
        if n == 0 {
            return Err("`git http-backend` ended before the end of its response head".into());
        }
        if head[start..].iter().all(|b| *b == b'\r' || *b == b'\n') {
            head.truncate(start);
            return String::from_utf8(head)
                .map_err(|_| "`git http-backend` sent a head that is not UTF-8".into());
        }
        if head.len() > MAX_CGI_HEAD {
            return Err(format!("`git http-backend` sent a response head over {MAX_CGI_HEAD} bytes"));
        }
    }
}

/// A CGI response head: `Status: 404 Not Found` gives the status (200 without it), every
/// other line is a response header.
fn cgi_head(head: &str) -> Result<(StatusCode, Vec<(HeaderName, HeaderValue)>), String> {
    let mut status = StatusCode::OK;
    let mut headers = Vec::new();
    for line in head.lines().map(|l| l.trim_end_matches('\r')).filter(|l| !l.is_empty()) {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("`git http-backend` sent a bad header line: {line:?}"))?;
        let value = value.trim();
        if name.trim().eq_ignore_ascii_case("status") {
            let code = value.split_whitespace().next().unwrap_or("");
            status = code
                .parse::<u16>()
                .ok()
                .and_then(|c| StatusCode::from_u16(c).ok())
                .ok_or_else(|| format!("`git http-backend` sent a bad status: {value:?}"))?;
            continue;
        }
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| format!("`git http-backend` sent a bad header name: {name:?}"))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| format!("`git http-backend` sent a bad value for {name}: {value:?}"))?;
        headers.push((name, value));
    }
    Ok((status, headers))
}

fn failed(message: &str) -> Response<RespBody> {
    body::json(StatusCode::BAD_GATEWAY, &json!({"error": message}))
}

/// A bare repository under a git root, seeded with one commit on `main`.
#[derive(Debug, Clone)]
pub struct BareRepo {
    pub path: PathBuf,
    /// The commit `main` points at after seeding.
    pub main: String,
}

impl BareRepo {
    /// Creates `{root}/{name}.git` (`name` like `acme/widgets`) holding `main` with one commit
    /// (README.md). The URL path it is served at is `/{name}.git`.
    pub fn create(root: &Path, name: &str) -> Result<BareRepo, String> {
        let path = root.join(format!("{name}.git"));
        std::fs::create_dir_all(&path).map_err(|e| format!("creating {}: {e}", path.display()))?;
        crate::git::git_in(&path, &["init", "--quiet", "--bare", "--initial-branch=main"])?;
        let seed = crate::TestRepo::new()?;
        let target = path.to_str().ok_or_else(|| format!("{} is not UTF-8", path.display()))?;
        seed.git(&["push", "--quiet", target, "main"])?;
        let main = crate::git::git_in(&path, &["rev-parse", "main"])?;
        Ok(BareRepo { path, main })
    }

    /// Runs git in the bare repository.
    pub fn git(&self, args: &[&str]) -> Result<String, String> {
        crate::git::git_in(&self.path, args)
    }
}

/// A git client that sees nothing of the machine it runs on: the environment is cleared but
/// for `PATH`, `HOME` is `home` (an empty temp dir), system config is off, prompts are off
/// (`GIT_TERMINAL_PROMPT=0`: a credential request fails instead of hanging), no proxy
/// variables, and a fixed identity for commits. Killed when dropped.
pub fn isolated_git(home: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("LC_ALL", "C")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.invalid")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_under_an_existing_repository_go_to_git() {
        let root = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::create_dir_all(root.path().join("acme/widgets.git")).unwrap_or_else(|e| panic!("{e}"));
        let is_git = |path: &str| repo_root(Some(root.path()), path).is_some();
        assert!(is_git("/acme/widgets.git/info/refs"));
        assert!(is_git("/acme/widgets.git/git-upload-pack"));
        assert!(is_git("/acme/widgets.git/git-receive-pack"));
        assert!(!is_git("/acme/missing.git/info/refs"));
        assert!(!is_git("/acme/widgets/info/refs"));
        assert!(!is_git("/small"));
        assert!(!is_git("/acme/../acme/widgets.git/info/refs"));
        assert!(!is_git("//acme/widgets.git/info/refs"));
        assert!(!is_git("/acme/widgets.git/../../../etc/info/refs"));
        assert!(!is_git("/.git/info/refs"));
        assert!(repo_root(None, "/acme/widgets.git/info/refs").is_none());
    }

    #[test]
    fn the_cgi_head_gives_status_and_headers() {
        let (status, headers) = cgi_head(
            "Status: 404 Not Found\r\nContent-Type: text/plain\r\nExpires: Fri, 01 Jan 1980 00:00:00 GMT\r\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(headers.len(), 2);
        assert_eq!(headers[0].0, "content-type");
        assert_eq!(headers[0].1, "text/plain");
        let (status, _) = cgi_head("Content-Type: application/x-git-upload-pack-advertisement\n")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(status, StatusCode::OK);
        assert!(cgi_head("no colon here").is_err());
        assert!(cgi_head("Status: soon").is_err());
    }

    #[test]
    fn the_cgi_environment_carries_what_git_reads() {
        let req = hyper::Request::post("https://github.com/acme/widgets.git/git-upload-pack?x=1")
            .header("content-type", "application/x-git-upload-pack-request")
            .header("content-length", "1234")
            .header("content-encoding", "gzip")
            .header("git-protocol", "version=2")
            .header("authorization", "Basic eC1hY2Nlc3MtdG9rZW46Z2hwX3NlY3JldA==") // x-access-token:ghp_secret
            .body(())
            .unwrap_or_else(|e| panic!("{e}"));
        let (parts, ()) = req.into_parts();
        let env = cgi_env(Path::new("/srv/git"), &parts);
        let get = |k: &str| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string_lossy().into_owned());
        assert_eq!(get("GIT_PROJECT_ROOT").as_deref(), Some("/srv/git"));
        assert_eq!(get("PATH_INFO").as_deref(), Some("/acme/widgets.git/git-upload-pack"));
        assert_eq!(get("QUERY_STRING").as_deref(), Some("x=1"));
        assert_eq!(get("REQUEST_METHOD").as_deref(), Some("POST"));
        assert_eq!(get("CONTENT_TYPE").as_deref(), Some("application/x-git-upload-pack-request"));
        assert_eq!(get("CONTENT_LENGTH").as_deref(), Some("1234"));
        assert_eq!(get("HTTP_CONTENT_ENCODING").as_deref(), Some("gzip"));
        assert_eq!(get("HTTP_GIT_PROTOCOL").as_deref(), Some("version=2"));
        assert_eq!(get("REMOTE_USER").as_deref(), Some("x-access-token"));
        assert!(
            env.iter().all(|(_, v)| !v.to_string_lossy().contains("ghp_secret")),
            "the password went to the CGI"
        );
    }

    #[test]
    fn basic_user_needs_a_basic_value_with_a_user() {
        assert_eq!(basic_user("Bearer abc"), None);
        assert_eq!(basic_user("Basic !!!"), None);
        assert_eq!(basic_user("Basic OnB3"), None); // ":pw"
        assert_eq!(basic_user("basic YWxpY2U6cHc=").as_deref(), Some("alice"));
    }
}
