//! Pushing a session's branch to its repository's origin, on the host, through clauderon's
//! proxy ([`push_branch`]).
//!
//! The push is clauderon's, not the session's: the session can write its worktree, its
//! worktree's git metadata, the object store and its own branch, so nothing it could have
//! written may steer the push. The push therefore runs in a scratch repository clauderon makes
//! for it: no global or system config, a config of its own with nothing in it, the session's
//! commit reached through `objects/info/alternates` pointing at the repository's object store
//! (read-only), and the URL and ref given on the command line. The session's worktree, index,
//! hooks and config are never read by the pushing git.
//!
//! No credential reaches git: it talks to the proxy (`http.proxy`, with a one-push identity in
//! its environment, never in an argument) and trusts only clauderon's CA; the proxy puts the
//! token on the request to the origin's host, as it does for sessions.

use super::git;
use crate::error::CoreError;
use clauderon_backend::host_git;
use clauderon_types::ship::PushOutcome;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a push may take before it is stopped.
const PUSH_TIMEOUT: Duration = Duration::from_secs(600);

/// Variables of the daemon's environment that would send git's traffic elsewhere or change
/// what it trusts; removed from the pushing git's environment.
const CURL_VARIABLES: &[&str] = &[
    "http_proxy",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
    "CURL_CA_BUNDLE",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

/// An origin clauderon can push to: HTTPS, no user part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpsRemote {
    pub url: String,
    /// Lower-case, without port: the host the proxy lets the push reach.
    pub host: String,
    /// Set when the origin was written another way (SSH) and this is its HTTPS form.
    pub note: Option<String>,
}

/// The origin as written, with any user part (a token, a password) cut out, for messages.
fn redacted(raw: &str) -> String {
    let (scheme, rest) = match raw.split_once("://") {
        Some((s, r)) => (format!("{s}://"), r),
        None => (String::new(), raw),
    };
    let end = rest.find('/').unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}…@{}", &rest[at + 1..]),
        None => raw.to_string(),
    }
}

fn valid_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        && !host.starts_with(['-', '.'])
}

fn valid_path(path: &str) -> bool {
    !path.trim_matches('/').is_empty()
        && !path.chars().any(|c| c.is_control() || c.is_whitespace() || matches!(c, '?' | '#' | '\\'))
}

/// The HTTPS URL to push `raw` (the origin's push URL) to. HTTPS URLs keep their host, port
/// and path; SSH URLs (`ssh://git@host/o/r.git`, `git@host:o/r.git`) become the same path on
/// `https://host/`, which is how GitHub, GitLab and most forges serve both. Anything else is
/// refused with what to do.
pub fn https_remote(raw: &str) -> Result<HttpsRemote, CoreError> {
    let shown = redacted(raw);
    let refuse = |why: &str| CoreError::Invalid(format!("origin `{shown}` {why}"));
    let (host_port, path, note) = if let Some(rest) = raw.strip_prefix("https://") {
        let (host_port, path) = host_and_path(rest);
        (host_port.to_string(), path.to_string(), None)
    } else if raw.starts_with("http://") {
        return Err(refuse(
            "is plain HTTP: clauderon pushes only over HTTPS, where the proxy can put the token on the \
             request; change the origin to its https:// form (git remote set-url origin https://…)",
        ));
    } else if let Some(rest) = raw.strip_prefix("ssh://") {
        let (host_port, path) = host_and_path(rest);
        // An SSH port says nothing of the HTTPS one.
        let host = host_port.split(':').next().unwrap_or_default();
        (host.to_string(), path.to_string(), Some(()))
    } else if !raw.contains("://")
        && let Some((before, path)) = raw.split_once(':')
        && !before.contains('/')
        && !before.is_empty()
    {
        let host = before.rsplit_once('@').map_or(before, |(_, h)| h);
        (host.to_string(), format!("/{}", path.trim_start_matches('/')), Some(()))
    } else {
        return Err(refuse(
            "is not a network URL clauderon can push to (it pushes over HTTPS through its proxy); \
             push this branch with git yourself, or set an https:// origin",
        ));
    };
    let host = host_port.split(':').next().unwrap_or_default().to_ascii_lowercase();
    let port = host_port.split_once(':').map(|(_, p)| p);
    if !valid_host(&host) || port.is_some_and(|p| p.parse::<u16>().is_err()) || !valid_path(&path) {
        return Err(refuse("is not a URL clauderon understands: expected https://HOST/OWNER/REPO.git"));
    }
    let authority = match port {
        Some(p) => format!("{host}:{p}"),
        None => host.clone(),
    };
    let url = format!("https://{authority}{path}");
    let note = note.map(|()| format!("origin `{shown}` is SSH; pushed to its HTTPS form {url}"));
    Ok(HttpsRemote { url, host, note })
}

/// A URL's `HOST[:PORT]` (its user information dropped) and path, from what follows the scheme.
fn host_and_path(rest: &str) -> (&str, &str) {
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    (authority.rsplit_once('@').map_or(authority, |(_, h)| h), path)
}

/// The origin's push URL as git reads it from the user's repository (its `pushurl`, and
/// `pushInsteadOf` rules, applied), or a clear error when there is none.
pub async fn origin_push_url(repo: &Path) -> Result<String, CoreError> {
    git(repo, &["remote", "get-url", "--push", "origin"]).await.map_err(|_| {
        CoreError::Invalid(format!(
            "repository `{}` has no `origin` remote: add one (git remote add origin https://github.com/OWNER/REPO.git), \
             then push again",
            repo.display()
        ))
    })
}

/// Where git may reach the proxy, and as whom.
pub struct PushProxy {
    /// `http://user:secret@127.0.0.1:port`: goes into git's environment only.
    pub url: String,
    /// The secret inside `url`, cut out of anything git prints before it is shown.
    pub secret: String,
    /// clauderon's CA certificate, the only one the pushing git trusts.
    pub ca_cert: PathBuf,
}

/// What one push did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    pub commit: String,
    pub outcome: PushOutcome,
}

/// Push `branch` of the repository whose git dir is `common_dir` to `remote`, to the branch of
/// the same name. `force` overwrites a remote branch that moved on.
pub async fn push_branch(
    repo: &Path,
    common_dir: &Path,
    branch: &str,
    remote: &HttpsRemote,
    proxy: &PushProxy,
    force: bool,
) -> Result<Pushed, CoreError> {
    let commit = git(repo, &["rev-parse", "--verify", "--quiet", &format!("refs/heads/{branch}^{{commit}}")])
        .await
        .map_err(|_| {
            CoreError::Conflict(format!(
                "branch `{branch}` is no longer in `{}`: there is nothing to push",
                repo.display()
            ))
        })?;
    let scratch = tempfile::Builder::new()
        .prefix("clauderon-push-")
        .tempdir()
        .map_err(|e| CoreError::Internal(format!("a temporary folder for the push: {e}")))?;
    let git_dir = scratch.path().join("repo.git");
    tokio::fs::create_dir(&git_dir)
        .await
        .map_err(|e| CoreError::Internal(format!("a scratch repository for the push: {e}")))?;
    super::run(
        host_git::isolated(&git_dir),
        "a scratch repository",
        &["init", "--bare", "--quiet", "--template="],
    )
    .await?;
    let objects = common_dir.join("objects");
    tokio::fs::write(git_dir.join("objects/info/alternates"), format!("{}\n", objects.display()))
        .await
        .map_err(|e| CoreError::Internal(format!("writing the scratch repository's alternates: {e}")))?;

    let mut cmd = host_git::isolated(&git_dir);
    for key in CURL_VARIABLES {
        cmd.env_remove(key);
    }
    // HOME: no ~/.netrc or other file of the user's is read by git or curl.
    cmd.env("HOME", scratch.path())
        .env("GIT_CONFIG_COUNT", "1")
        .env("GIT_CONFIG_KEY_0", "http.proxy")
        .env("GIT_CONFIG_VALUE_0", &proxy.url);
    let ca = format!("http.sslCAInfo={}", proxy.ca_cert.display());
    for setting in [
        "protocol.https.allow=always",
        &ca,
        "http.sslVerify=true",
        "http.proxyAuthMethod=basic",
        "http.followRedirects=false",
        "push.gpgSign=false",
    ] {
        cmd.arg("-c").arg(setting);
    }
    let refspec = format!("{}{commit}:refs/heads/{branch}", if force { "+" } else { "" });
    cmd.args(["push", "--porcelain", "--no-verify", &remote.url, &refspec]);
    let mut cmd = tokio::process::Command::from(cmd);
    cmd.kill_on_drop(true).stdin(std::process::Stdio::null());
    let out = match tokio::time::timeout(PUSH_TIMEOUT, cmd.output()).await {
        Ok(out) => out.map_err(|e| CoreError::Internal(format!("running git push: {e}")))?,
        Err(_) => {
            return Err(CoreError::Git(format!(
                "push to {} took longer than {} s and was stopped",
                remote.url,
                PUSH_TIMEOUT.as_secs()
            )));
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout).replace(&proxy.secret, "***");
    let stderr = String::from_utf8_lossy(&out.stderr).replace(&proxy.secret, "***");
    let line = stdout.lines().find(|l| l.contains(&format!(":refs/heads/{branch}\t")));
    let flag = line.and_then(|l| l.chars().next());
    match (out.status.success(), flag) {
        (true, Some('*')) => Ok(Pushed { commit, outcome: PushOutcome::Created }),
        (true, Some(' ')) => Ok(Pushed { commit, outcome: PushOutcome::Updated }),
        (true, Some('+')) => Ok(Pushed { commit, outcome: PushOutcome::Forced }),
        (true, Some('=')) => Ok(Pushed { commit, outcome: PushOutcome::UpToDate }),
        (_, Some('!'))
            if line.is_some_and(|l| l.contains("non-fast-forward") || l.contains("fetch first")) =>
        {
            Err(CoreError::Conflict(format!(
                "the remote branch `{branch}` at {} has commits the session's branch does not: \
                 `clauderon push NAME --force` overwrites it",
                remote.url
            )))
        }
        _ => Err(CoreError::Git(push_failure(&remote.url, &stdout, &stderr))),
    }
}

/// What to tell the user about a failed push, from git's output (no secret in it: the only
/// one git holds, the proxy identity's, is cut out before this).
fn push_failure(url: &str, stdout: &str, stderr: &str) -> String {
    let text = format!("{stderr}\n{stdout}");
    if text.contains("Authentication failed")
        || text.contains("could not read Username")
        || text.contains(" 401")
    {
        return format!(
            "push to {url} was refused for want of a credential: configure a token for this host in clauderon \
             (`clauderon doctor` lists the credential sources), then push again"
        );
    }
    if text.contains(" 403") {
        return format!(
            "push to {url} was refused (403): the token clauderon holds may lack write access to this repository \
             (the daemon's proxy audit, `clauderon audit NAME`, shows the request)"
        );
    }
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("fatal:") || l.starts_with("error:") || l.starts_with('!'))
        .or_else(|| text.lines().map(str::trim).find(|l| !l.is_empty()))
        .unwrap_or("failed");
    format!("push to {url} failed: {first}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ok(raw: &str) -> HttpsRemote {
        https_remote(raw).unwrap()
    }

    fn refused(raw: &str) -> String {
        match https_remote(raw) {
            Err(CoreError::Invalid(m)) => m,
            other => panic!("{raw}: expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn https_origins_keep_host_port_and_path_and_lose_the_user_part() {
        let r = ok("https://github.com/acme/widgets.git");
        assert_eq!(
            (r.url.as_str(), r.host.as_str(), r.note),
            ("https://github.com/acme/widgets.git", "github.com", None)
        );
        let r = ok("https://x-access-token:ghp_SECRET@GitHub.com:8443/acme/widgets");
        assert_eq!(r.url, "https://github.com:8443/acme/widgets");
        assert_eq!(r.host, "github.com");
    }

    #[test]
    fn ssh_origins_become_their_https_form_with_a_note() {
        for raw in [
            "git@github.com:acme/widgets.git",
            "ssh://git@github.com/acme/widgets.git",
            "ssh://git@github.com:22/acme/widgets.git",
            "github.com:acme/widgets.git",
        ] {
            let r = ok(raw);
            assert_eq!(r.url, "https://github.com/acme/widgets.git", "{raw}");
            assert!(r.note.as_deref().is_some_and(|n| n.contains("SSH")), "{raw}");
        }
    }

    #[test]
    fn other_origins_are_refused_with_what_to_do_and_never_echo_a_secret() {
        let m = refused("http://user:hunter2@example.com/acme/w.git");
        assert!(m.contains("plain HTTP") && !m.contains("hunter2"), "{m}");
        for raw in [
            "/srv/git/widgets.git",
            "file:///srv/git/w.git",
            "https://",
            "https://exa mple.com/a",
            "https://example.com/",
            "https://example.com:99999/a",
            "https://example.com/a?x=1",
            "git@-evil:a/b",
        ] {
            let m = refused(raw);
            assert!(m.contains("origin `"), "{raw}: {m}");
        }
        assert!(!refused("https://tok:hunter2@/a").contains("hunter2"));
    }
}
