//! The `zellij` command line, run with a clean environment: the zellij server a session starts
//! inherits its creator's environment, so it gets only what zellij itself needs (PATH, HOME for
//! its caches, where its sockets live, the locale), never the daemon's credentials.

use crate::ZellijError;
use std::path::{Path, PathBuf};
use std::process::Output;
use tokio::process::Command;

/// Variables the zellij server may inherit from the daemon. None of them is a secret; the
/// session's own process gets its environment from the launch script, not from these.
pub const PASSED_TO_ZELLIJ: &[&str] =
    &["PATH", "HOME", "USER", "LOGNAME", "XDG_RUNTIME_DIR", "ZELLIJ_SOCKET_DIR", "TMPDIR", "LANG", "LC_ALL"];

/// How long the screen must stay still after a paste before Enter is pressed.
pub const PASTE_QUIET: std::time::Duration = std::time::Duration::from_millis(150);
/// The longest Enter waits for a paste to be drawn.
pub const PASTE_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// How to run zellij: the program, the config file clauderon writes for its sessions, and the
/// environment it runs in.
#[derive(Debug, Clone)]
pub struct ZellijCli {
    pub program: PathBuf,
    pub config: PathBuf,
    pub env: Vec<(String, String)>,
    /// Shared by every clauderon process of the user (see `ZellijCli::lock`).
    pub lock_file: PathBuf,
}

/// How long a killed session's server may take to go before it gets a signal.
const KILL_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// How long a session may take to start before clauderon gives up on it.
pub const START_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// One line of `zellij list-sessions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedSession {
    pub name: String,
    /// Killed but kept for resurrection (only with session serialization on).
    pub exited: bool,
    /// The server's process, when read from the process table.
    pub pid: Option<u32>,
}

/// zellij's settings for clauderon's sessions: no first-run wizard, tips or release notes in
/// the way of the session's pane, nothing kept when a session is killed, and no key bindings
/// (a session keeps those it was created with, for every client): every key reaches the agent,
/// and nothing typed into a terminal clauderon relays can quit the session (zellij's Ctrl-q),
/// or open a pane beside it. Clients detach by closing (`clauderon attach` has its own key).
pub const CONFIG_KDL: &str = "// Written by clauderon for its sessions.
show_startup_tips false
show_release_notes false
session_serialization false
keybinds clear-defaults=true {
}
";

impl ZellijCli {
    /// The daemon's values of [`PASSED_TO_ZELLIJ`], from `lookup`.
    pub fn new(program: PathBuf, config: PathBuf, lookup: impl Fn(&str) -> Option<String>) -> Self {
        let mut env: Vec<(String, String)> =
            PASSED_TO_ZELLIJ.iter().filter_map(|k| lookup(k).map(|v| ((*k).to_string(), v))).collect();
        env.push(("TERM".into(), "xterm-256color".into()));
        let lock_dir = env
            .iter()
            .find(|(k, _)| k == "XDG_RUNTIME_DIR")
            .map(|(_, v)| PathBuf::from(v))
            .unwrap_or_else(std::env::temp_dir);
        let user = env.iter().find(|(k, _)| k == "USER").map_or("user", |(_, v)| v.as_str());
        let lock_file = lock_dir.join(format!("clauderon-zellij-{user}.lock"));
        ZellijCli { program, config, env, lock_file }
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.env_clear().envs(self.env.iter().map(|(k, v)| (k, v))).kill_on_drop(true);
        cmd.stdin(std::process::Stdio::null());
        cmd
    }

    /// Run zellij with `args`; `Err` when it could not be started at all.
    pub async fn run(&self, args: &[&str]) -> Result<Output, ZellijError> {
        let run = self.command().args(args).output();
        match tokio::time::timeout(START_TIMEOUT, run).await {
            Ok(out) => out.map_err(|e| self.spawn_error(e)),
            Err(_) => Err(ZellijError::TimedOut { command: args.join(" "), after: START_TIMEOUT }),
        }
    }

    fn spawn_error(&self, e: std::io::Error) -> ZellijError {
        ZellijError::NotInstalled { program: self.program.clone(), reason: e.to_string() }
    }

    /// `zellij --version`.
    pub async fn version(&self) -> Result<String, ZellijError> {
        let out = self.run(&["--version"]).await?;
        if !out.status.success() {
            let what = format!("`{} --version` failed", self.program.display());
            return Err(ZellijError::Refused { what, said: stderr(&out) });
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Every zellij server running as some user's session, by name, read from the process table
    /// (`zellij --server <socket dir>/<name>`). zellij's own `list-sessions` probes each
    /// session's socket, and a server probed before its first client is set up dies (zellij
    /// 0.45), so clauderon never probes to learn what runs. Where there is no `/proc`, zellij's
    /// list it is.
    pub async fn list(&self) -> Result<Vec<ListedSession>, ZellijError> {
        let read = tokio::task::spawn_blocking(servers_in_proc).await;
        let read = read.map_err(|e| ZellijError::file("reading the process table", Path::new("/proc"), e))?;
        if let Some(found) = read {
            return Ok(found);
        }
        let _guard = self.lock(false).await?;
        let out = self.run(&["list-sessions", "--no-formatting"]).await?;
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() && !text.trim().is_empty() {
            return Err(ZellijError::Refused {
                what: "`zellij list-sessions` failed".into(),
                said: stderr(&out),
            });
        }
        // With no session zellij exits 1 and says so on stderr.
        Ok(parse_list(&text))
    }

    /// Hold the lock that keeps clauderon's zellij commands (which all probe every session's
    /// socket) away from a server that is starting: exclusive while one starts, shared otherwise.
    /// Released when the returned file is dropped.
    pub(crate) async fn lock(&self, exclusive: bool) -> Result<std::fs::File, ZellijError> {
        let path = self.lock_file.clone();
        let locking = tokio::task::spawn_blocking(move || {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(|e| ZellijError::file("opening the zellij lock", &path, e))?;
            let locked = if exclusive { file.lock() } else { file.lock_shared() };
            locked.map_err(|e| ZellijError::file("locking", &path, e))?;
            Ok(file)
        });
        locking.await.map_err(|e| ZellijError::file("locking", &self.lock_file, e))?
    }

    /// Start a background session named `name` whose first pane runs `script` in `cwd`, and wait
    /// until the pane has run (the script creates `started`), so no other zellij command probes
    /// the new server before it is set up. The server zellij forks keeps the client's stdout and
    /// stderr, so they go to `/dev/null` and to `err_log` (a pipe would never reach its end).
    pub async fn create_background(
        &self,
        name: &str,
        cwd: &Path,
        script: &Path,
        started: &Path,
        err_log: &Path,
    ) -> Result<(), ZellijError> {
        let config = self.config.to_string_lossy().into_owned();
        let script_arg = script.to_string_lossy().into_owned();
        let log = std::fs::File::create(err_log).map_err(|e| ZellijError::file("creating", err_log, e))?;
        let _ = std::fs::remove_file(started);
        let _guard = self.lock(true).await?;
        let run = self
            .command()
            .current_dir(cwd)
            .args(["--config", &config, "attach", "--create-background", name, "--", "/bin/sh", &script_arg])
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .status();
        let status = match tokio::time::timeout(START_TIMEOUT, run).await {
            Ok(status) => status.map_err(|e| self.spawn_error(e))?,
            Err(_) => return Err(self.start_failure(name, err_log, "zellij did not return")),
        };
        if !status.success() {
            return Err(self.start_failure(name, err_log, &status.to_string()));
        }
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        while !started.exists() {
            if tokio::time::Instant::now() > deadline {
                return Err(self.start_failure(name, err_log, "its pane never ran the session's command"));
            }
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        Ok(())
    }

    fn start_failure(&self, name: &str, err_log: &Path, what: &str) -> ZellijError {
        let log = std::fs::read_to_string(err_log).unwrap_or_default();
        let log = log.trim();
        let why = if log.is_empty() { what.to_string() } else { format!("{what}: {log}") };
        ZellijError::StartFailed { name: name.to_string(), why }
    }

    /// Kill a session (its processes get SIGHUP). Fine when it is already gone.
    pub async fn kill(&self, name: &str) -> Result<(), ZellijError> {
        let guard = self.lock(false).await?;
        let out = self.run(&["kill-session", name]).await?;
        drop(guard);
        // The server takes a moment to go: wait, so a new session of the same name can start. A
        // server that no longer answers on its socket (zellij 0.45 can wedge when probed while it
        // starts) is ended by signal.
        let started = tokio::time::Instant::now();
        let mut signalled = None;
        loop {
            let Some(server) = self.list().await?.into_iter().find(|s| s.name == name && !s.exited) else {
                return Ok(());
            };
            let waited = started.elapsed();
            let signal = match waited {
                w if w > START_TIMEOUT => {
                    let what = format!("zellij could not kill session `{name}`");
                    return Err(ZellijError::Refused { what, said: stderr(&out) });
                }
                w if w > KILL_GRACE * 2 => "-KILL",
                w if w > KILL_GRACE => "-TERM",
                _ => "",
            };
            if let Some(pid) = server.pid
                && !signal.is_empty()
                && signalled != Some(signal)
            {
                tracing::warn!(session = name, pid, signal, "the zellij server did not stop: signalling it");
                let _ = Command::new("kill").args([signal, &pid.to_string()]).output().await;
                signalled = Some(signal);
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Type `text` into the session's first pane (the session's process) once its screen is
    /// still (`wait_still`), as a paste when the program there turned bracketed paste
    /// on (zellij knows), then press Enter.
    ///
    /// Enter waits until the program has drawn the paste (its screen changed, then stayed still
    /// for [`PASTE_QUIET`]; [`PASTE_WAIT`] at most), then [`clauderon_backend::SUBMIT_DELAY`]:
    /// on a loaded machine a TUI (Gemini CLI) that had not yet read the paste took an Enter
    /// sent a fixed time after it as part of the paste, a line break in its input.
    pub async fn send_text(&self, name: &str, text: &str) -> Result<(), ZellijError> {
        let enter = clauderon_backend::ENTER.to_string();
        let before = self.wait_still(name).await;
        self.action(name, &["paste", "--pane-id", "terminal_0", "--", text])
            .await
            .map_err(|e| e.doing(format!("zellij could not type into `{name}`")))?;
        self.wait_drawn(name, &before).await;
        tokio::time::sleep(clauderon_backend::SUBMIT_DELAY).await;
        self.action(name, &["write", "--pane-id", "terminal_0", &enter])
            .await
            .map_err(|e| e.doing(format!("zellij could not press Enter in `{name}`")))?;
        Ok(())
    }

    /// Wait until the pane's screen has stayed the same for [`clauderon_backend::SETTLE_QUIET`]
    /// (at most [`clauderon_backend::SETTLE_WAIT`]): an agent TUI still animating (a spinner
    /// while its hooks run) is not ready for a prompt. Returns the screen.
    pub(crate) async fn wait_still(&self, name: &str) -> String {
        let started = std::time::Instant::now();
        let mut last = self.dump_screen(name).await.unwrap_or_default();
        let mut still_since = std::time::Instant::now();
        while started.elapsed() < clauderon_backend::SETTLE_WAIT
            && still_since.elapsed() < clauderon_backend::SETTLE_QUIET
        {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            let Ok(now) = self.dump_screen(name).await else { break };
            if now != last {
                last = now;
                still_since = std::time::Instant::now();
            }
        }
        last
    }

    /// Wait until the pane's screen differs from `before` and then stays the same for
    /// [`PASTE_QUIET`], or [`PASTE_WAIT`] has passed.
    async fn wait_drawn(&self, name: &str, before: &str) {
        let started = std::time::Instant::now();
        let mut last = before.to_string();
        let mut still_since: Option<std::time::Instant> = None;
        while started.elapsed() < PASTE_WAIT {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            let Ok(now) = self.dump_screen(name).await else { return };
            if now != last {
                last = now;
                still_since = Some(std::time::Instant::now());
            } else if still_since.is_some_and(|t| t.elapsed() >= PASTE_QUIET) {
                return;
            }
        }
    }

    /// The screen and scrollback of the session's first pane (the session's process).
    pub async fn dump_screen(&self, name: &str) -> Result<String, ZellijError> {
        self.action(name, &["dump-screen", "--full", "--pane-id", "terminal_0"])
            .await
            .map_err(|e| e.doing(format!("zellij could not read the screen of `{name}`")))
    }

    /// `zellij --session NAME action ARGS`, its output. zellij finds the session by asking each
    /// server, and one too busy to answer in time (a loaded machine, a server just started)
    /// looks absent: it then prints "Session 'NAME' not found" on stderr (or "There is no
    /// active session!" when no server answered), sometimes with exit status 0, and does
    /// nothing. So that answer is a failure, tried again while the server is in the process
    /// table, for up to [`ACTION_RETRY_FOR`].
    async fn action(&self, name: &str, args: &[&str]) -> Result<String, ZellijError> {
        let argv = [&["--session", name, "action"][..], args].concat();
        let deadline = tokio::time::Instant::now() + ACTION_RETRY_FOR;
        let mut pause = std::time::Duration::from_millis(20);
        loop {
            let guard = self.lock(false).await?;
            let out = self.run(&argv).await?;
            drop(guard);
            let err = stderr(&out);
            let missing = looks_absent(&err);
            if out.status.success() && !missing {
                return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
            }
            let alive = missing && self.list().await?.iter().any(|s| s.name == name && !s.exited);
            if !alive || tokio::time::Instant::now() > deadline {
                return Err(ZellijError::Refused { what: format!("`zellij {}`", args.join(" ")), said: err });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(std::time::Duration::from_millis(200));
        }
    }
}

/// Is this zellij's answer for a session it could not reach (see [`ZellijCli::action`])?
fn looks_absent(stderr: &str) -> bool {
    stderr.contains("not found") || stderr.contains("There is no active session")
}

/// How long [`ZellijCli::action`] keeps trying a session whose server runs but did not answer.
const ACTION_RETRY_FOR: std::time::Duration = std::time::Duration::from_secs(5);

/// `zellij --server <socket dir>/<name>` processes, by name; `None` without a readable `/proc`.
fn servers_in_proc() -> Option<Vec<ListedSession>> {
    let entries = std::fs::read_dir("/proc").ok()?;
    let mut found = Vec::new();
    for entry in entries.filter_map(Result::ok) {
        let pid = entry.file_name();
        if !pid.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
        if let Some(name) = server_name(&cmdline) {
            let pid = pid.to_string_lossy().parse().ok();
            found.push(ListedSession { name, exited: false, pid });
        }
    }
    Some(found)
}

/// The session name in a zellij server's command line (NUL-separated arguments).
pub fn server_name(cmdline: &[u8]) -> Option<String> {
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    let program = Path::new(std::str::from_utf8(args.first()?).ok()?);
    if program.file_name()? != "zellij" || args.get(1)? != b"--server" {
        return None;
    }
    let socket = Path::new(std::str::from_utf8(args.get(2)?).ok()?);
    Some(socket.file_name()?.to_str()?.to_string())
}

fn stderr(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stderr);
    let text = text.trim();
    if text.is_empty() {
        format!("exit status {}", out.status)
    } else {
        text.lines().take(5).collect::<Vec<_>>().join(" / ")
    }
}

/// Parse `zellij list-sessions --no-formatting`: one session per line, its name first
/// (`NAME [Created 3s ago] (EXITED - attach to resurrect)`).
pub fn parse_list(text: &str) -> Vec<ListedSession> {
    text.lines()
        .filter_map(|line| {
            let name = line.split_whitespace().next()?;
            Some(ListedSession { name: name.to_string(), exited: line.contains("(EXITED"), pid: None })
        })
        .collect()
}

/// The last `tail` lines of a screen dump, without the blank lines below the output.
pub fn tail_lines(screen: &str, tail: usize) -> String {
    // zellij pads empty cells of a dumped screen with NULs.
    let lines: Vec<&str> =
        screen.lines().map(|l| l.trim_end_matches(|c: char| c.is_whitespace() || c == '\0')).collect();
    let end = lines.iter().rposition(|l| !l.is_empty()).map_or(0, |i| i + 1);
    let start = end.saturating_sub(tail);
    let mut out = lines[start..end].join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_parses_names_and_exited_sessions() {
        let text = "clauderon-a-1 [Created 3s ago] \nclauderon-a-10 [Created 1m ago] (EXITED - attach to resurrect)\n\n";
        assert_eq!(
            parse_list(text),
            vec![
                ListedSession { name: "clauderon-a-1".into(), exited: false, pid: None },
                ListedSession { name: "clauderon-a-10".into(), exited: true, pid: None },
            ]
        );
        assert!(parse_list("").is_empty());
    }

    #[test]
    fn both_of_zellijs_answers_for_an_unreachable_session_count_as_absent() {
        // zellij 0.45.1, `--session S action …` while S's server is too busy to answer.
        assert!(looks_absent("Session 'clauderon-a-1' not found. The following sessions are active:\n"));
        assert!(looks_absent("There is no active session!\n"));
        assert!(!looks_absent(""));
        assert!(!looks_absent("Error: the pane terminal_0 does not exist"));
    }

    #[test]
    fn servers_are_found_by_their_exact_socket_name() {
        let line = b"/x/bin/zellij\0--server\0/tmp/zellij-0/contract_version_1/clauderon-a-1\0";
        assert_eq!(server_name(line).as_deref(), Some("clauderon-a-1"));
        assert_eq!(server_name(b"/x/bin/zellij\0attach\0clauderon-a-1\0"), None);
        assert_eq!(server_name(b"/bin/sh\0--server\0/tmp/x/clauderon-a-1\0"), None);
    }

    #[test]
    fn tail_keeps_the_last_lines_of_output() {
        assert_eq!(tail_lines("a\nb\nc\n\n   \n", 2), "b\nc\n");
        assert_eq!(tail_lines("a\n", 10), "a\n");
        assert_eq!(tail_lines("\n\n", 3), "");
        assert_eq!(tail_lines("out\n\0\n", 5), "out\n", "NUL padding is not output");
    }

    #[test]
    fn zellij_gets_only_the_passed_variables() {
        let cli = ZellijCli::new("zellij".into(), "/c.kdl".into(), |k| match k {
            "PATH" => Some("/bin".into()),
            "ANTHROPIC_API_KEY" => Some("sk-real".into()),
            _ => None,
        });
        assert_eq!(cli.env, vec![("PATH".into(), "/bin".into()), ("TERM".into(), "xterm-256color".into())]);
    }
}
