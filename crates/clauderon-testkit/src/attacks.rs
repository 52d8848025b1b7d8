//! Attacks a session can make on the host, as scripts run by a session's own process (the escape
//! suites run them inside real Docker and Zellij sessions), and what the host checks afterwards.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Plants git configs, hooks, filters, `commondir`/`gitdir` redirections and a submodule in every
/// place a session's git metadata reaches: `sh git_plant.sh NONCE OUT` in the worktree. Each
/// trap, if a git on the host runs it, creates `/tmp/clauderon-pwned-NONCE-<vector>` on the
/// host ([`pwned`]). See the script's header.
pub const GIT_PLANT: &str = include_str!("attacks/git_plant.sh");

/// The [`GIT_PLANT`] writes a session's mounts must refuse: everything that decides what a git on
/// the host runs, the user's own branch. (Other sessions' metadata is refused too, when there is
/// another session.)
pub const GIT_WALLED: &[&str] = &[
    "dotgit",
    "meta-commondir",
    "meta-config-worktree",
    "common-commondir",
    "common-config",
    "common-hooks",
    "common-info",
    "common-alternates",
    "common-user-branch",
];

/// Connects to every Unix socket and reads every file it is given or finds:
/// `sh reach_host.sh OUT ALLOWED_SOCKET PATH...`. See the script's header.
pub const REACH_HOST: &str = include_str!("attacks/reach_host.sh");

/// Calls the daemon's API directly and through the session's proxy, reading, creating an
/// unsandboxed session and making itself read-write: `sh reach_api.sh OUT NAME BASE_URL...`.
pub const REACH_API: &str = include_str!("attacks/reach_api.sh");

/// A session command that runs `script` (one of the attacks above) with `args` from the
/// session's worktree, output in `out/`, then waits (so the session stays up for the host's
/// checks). The attack runs once: a session's command runs again at each start, and a second
/// run (on the host, in a sandbox-off control) would trip the traps the first one planted.
pub fn session_command(script: &str, args: &str) -> String {
    format!(
        "mkdir -p out; [ -f out/finished ] || sh -s {args} <<'CLAUDERON_ATTACK_EOF'\n{script}\nCLAUDERON_ATTACK_EOF\necho finished > out/finished; sleep 600"
    )
}

/// A host Unix socket listener that counts the connections it accepts, and answers each with a
/// one-line HTTP response (so a client sees a working service, as it would a real one).
pub struct SocketTrap {
    pub path: PathBuf,
    accepted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl SocketTrap {
    pub fn bind(path: &Path) -> std::io::Result<SocketTrap> {
        let _ = std::fs::remove_file(path);
        let listener = std::os::unix::net::UnixListener::bind(path)?;
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = accepted.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                std::thread::spawn(move || {
                    use std::io::{Read, Write};
                    let _ = conn.set_read_timeout(Some(std::time::Duration::from_secs(1)));
                    let mut buf = [0u8; 1024];
                    let _ = conn.read(&mut buf);
                    let _ = conn.write_all(b"HTTP/1.0 200 OK\r\ncontent-length: 4\r\n\r\ntrap");
                });
            }
        });
        Ok(SocketTrap { path: path.to_path_buf(), accepted })
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for SocketTrap {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Wait (up to 90 s: a scan of a whole sandbox takes a while on a busy machine) for the file an
/// attack writes when it has finished.
pub async fn wait_for(path: &Path) {
    for _ in 0..900 {
        if path.exists() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{} never appeared: the attack did not finish", path.display());
}

/// The lines of a finished attack's output file (without `done`), or `None` while it runs.
pub fn report(path: &Path) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(path).ok()?;
    if !text.lines().any(|l| l == "done") {
        return None;
    }
    Some(text.lines().filter(|l| *l != "done").map(str::to_string).collect())
}

/// A fresh nonce for one attack's markers.
pub fn nonce() -> String {
    format!("{}-{}", std::process::id(), uuid_like())
}

fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{nanos:x}")
}

/// The marker files of `nonce` that exist on the host: each one is a trap a host-side git ran.
pub fn pwned(nonce: &str) -> Vec<PathBuf> {
    let prefix = format!("clauderon-pwned-{nonce}-");
    let mut found: Vec<PathBuf> = std::fs::read_dir("/tmp")
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// Remove the markers of `nonce` (after a control run that proved the attack works).
pub fn clear_pwned(nonce: &str) {
    for path in pwned(nonce) {
        let _ = std::fs::remove_file(path);
    }
}

/// The outcome file of an attack script: vector -> whether the write went through. `None` while
/// the script has not finished (no `done` line).
pub fn outcomes(path: &Path) -> Option<BTreeMap<String, bool>> {
    let text = std::fs::read_to_string(path).ok()?;
    if !text.lines().any(|l| l == "done") {
        return None;
    }
    Some(
        text.lines()
            .filter_map(|l| l.rsplit_once(' '))
            .map(|(vector, outcome)| (vector.to_string(), outcome == "ok"))
            .collect(),
    )
}

/// Review and ship run host git over what the session wrote: its diff, a commit of its work (as
/// the user), a push (this repository has no origin: refused before any transport). Each may
/// refuse; none may run what the session planted (the caller checks the markers).
pub async fn review_and_ship(socket: &Path, name: &str) {
    let (diff_path, commit_path, push_path) = (
        format!("/api/sessions/{name}/diff"),
        format!("/api/sessions/{name}/commit"),
        format!("/api/sessions/{name}/push"),
    );
    let diff = crate::http::unix(socket, crate::http::Request::new("GET", &diff_path)).await;
    assert_eq!(diff.status, 200, "{}", diff.body);
    let commit = crate::http::unix(
        socket,
        crate::http::Request::new("POST", &commit_path).json(r#"{"message":"work"}"#.to_string()),
    )
    .await;
    assert!([200, 400, 409].contains(&commit.status), "{} {}", commit.status, commit.body);
    let push =
        crate::http::unix(socket, crate::http::Request::new("POST", &push_path).json("{}".to_string())).await;
    assert_eq!(push.status, 400, "{}", push.body);
    assert!(push.body.contains("no `origin` remote"), "{}", push.body);
}

/// What a remote session (a sprite, a pod: it can reach the daemon only through the tunnel the
/// daemon holds) runs to probe its walls, printing one `NAME=value` line per probe and
/// `FINISHED`, then waiting. `api` is the daemon's API address; `secrets` are values that must
/// be nowhere in the session (each split in two in the script, so the script itself, which the
/// session can read, does not hold them). Read the output with [`assert_remote_walls`].
pub fn remote_probe(api: std::net::SocketAddr, secrets: &[&str]) -> String {
    let pattern: Vec<String> = secrets
        .iter()
        .map(|s| {
            let half = s.len() / 2;
            format!("-e \"{}\"\"{}\"", &s[..half], &s[half..])
        })
        .collect();
    let pattern = pattern.join(" ");
    format!(
        r#"
        curl -sS -o /dev/null -w 'STATUS=%{{http_code}}\n' https://api.anthropic.com/small -H "x-api-key: $ANTHROPIC_API_KEY"
        curl -sS -o /dev/null -w 'NOIDENTITY=%{{http_connect}}\n' -x http://127.0.0.1:3128 https://api.anthropic.com/small
        curl -sS -m 5 -o /dev/null -w 'VIATUNNEL=%{{http_code}}\n' --noproxy '' -x "$HTTP_PROXY" http://{api}/api/sessions
        curl -sS -m 3 -o /dev/null http://{api}/api/sessions && echo DIRECT=reached || echo DIRECT=unreachable
        echo SECRETS_IN_ENV=$(env | grep -c {pattern})
        echo SECRETS_IN_HOME=$(grep -rl {pattern} "$HOME" 2>/dev/null | wc -l)
        echo IN_WORKSPACE=$(pwd) $(ls)
        echo FINISHED
        sleep 300
    "#
    )
}

/// The walls [`remote_probe`]'s output must show: the proxy answers with the session's identity
/// (through the tunnel) and 407 without it, the daemon's API answers neither through the proxy
/// nor directly, no secret in the environment or HOME, and none in the output.
pub fn assert_remote_walls(output: &str, secrets: &[&str]) {
    assert!(output.contains("STATUS=200"), "no answer through the tunnel and the proxy: {output}");
    assert!(output.contains("NOIDENTITY=407"), "the proxy took a connection without the identity: {output}");
    assert!(!output.contains("VIATUNNEL=200"), "the daemon's API answered through the tunnel: {output}");
    assert!(output.contains("DIRECT=unreachable"), "the session reached the daemon's API directly: {output}");
    assert!(output.contains("SECRETS_IN_ENV=0"), "a secret is in the session's environment: {output}");
    assert!(output.contains("SECRETS_IN_HOME=0"), "a secret is in the session's HOME: {output}");
    for s in secrets {
        assert!(!output.contains(s), "a secret is in the session's output");
    }
}
