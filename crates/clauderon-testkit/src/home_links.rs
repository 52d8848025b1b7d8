//! Issue 11 §4 from inside a real session, for every backend: the session's command replaces
//! its agents' files and folders in its HOME (`~/.claude`, `~/.claude.json`, `~/.codex`,
//! `~/.gemini`) with links to a host folder the test made, holding marker files (settings with
//! a stand-in refresh token, a transcript). The test then stops and starts the session through
//! the API and checks that nothing crossed: the host files are byte for byte the same, the
//! session's HOME holds none of their content, the messages API serves none of the planted
//! transcript, and the refusals are events on the session. Each backend's daemon test drives
//! [`HostFolder::plant_command`] and [`assert_links_refused`] with its own fixture.

use crate::files::files_containing;
use crate::http::{Request, unix};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// In every file of the host folder; never to be found in the session's HOME or an answer.
pub const MARKER: &str = "host-only-marker-3e9b";
/// A stand-in Claude refresh token in the host's settings.
pub const REFRESH: &str = "sk-ant-ort01-host-refresh-stand-in-77";
/// What the session's command prints once its links are in place.
pub const PLANTED: &str = "links-planted";

/// The links the command plants, relative to HOME, and what each points at in the host folder.
const LINKS: &[(&str, &str)] =
    &[(".claude", ""), (".claude.json", "state.json"), (".codex", ""), (".gemini", "")];

/// A host folder standing in for the user's own agent folders.
pub struct HostFolder {
    dir: tempfile::TempDir,
}

impl Default for HostFolder {
    fn default() -> Self {
        Self::new()
    }
}

impl HostFolder {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let json = format!("{{\"marker\": \"{MARKER}\", \"refreshToken\": \"{REFRESH}\"}}\n");
        let line = format!(
            "{{\"type\":\"user\",\"message\":{{\"role\":\"user\",\"content\":\"{MARKER}\"}},\"timestamp\":\"2026-12-01T00:00:00Z\"}}\n"
        );
        let files = [
            ("settings.json", json.clone()),
            ("state.json", json),
            ("config.toml", format!("marker = \"{MARKER}\"\n")),
            ("projects/-workspace/chat.jsonl", line),
        ];
        for (rel, text) in files {
            let path = dir.path().join(rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{}: {e}", parent.display()));
            }
            std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
        HostFolder { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Every file under the folder with its bytes, to compare before and after.
    pub fn snapshot(&self) -> Vec<(PathBuf, Vec<u8>)> {
        fn walk(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
            let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                    out.push((path, bytes));
                }
            }
        }
        let mut out = Vec::new();
        walk(self.path(), &mut out);
        out.sort();
        out
    }

    /// The session's command: replace the agent files with links to this folder, say so, and
    /// keep running (the test stops it through the API). Only the first run plants.
    pub fn plant_command(&self) -> String {
        // Once only: a start after the test removed the links runs the command again.
        let mut cmd = String::from("if [ ! -e \"$HOME/.planted\" ]; then touch \"$HOME/.planted\"; ");
        for (name, target) in LINKS {
            let target = self.path().join(target);
            let target = target.to_string_lossy();
            let target = target.trim_end_matches('/');
            cmd.push_str(&format!("rm -rf \"$HOME/{name}\"; ln -s '{target}' \"$HOME/{name}\"; "));
        }
        cmd.push_str(&format!("fi; echo {PLANTED}; sleep 600"));
        cmd
    }
}

fn has_link(home: &Path, name: &str) -> bool {
    std::fs::symlink_metadata(home.join(name)).is_ok_and(|m| m.file_type().is_symlink())
}

/// Wait until the session's command has planted every link in `home` (the session's HOME on
/// the host).
pub async fn wait_for_links(home: &Path) {
    for _ in 0..600 {
        if LINKS.iter().all(|(name, _)| has_link(home, name)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the session never planted its links in {}", home.display());
}

async fn post(socket: &Path, name: &str, action: &str) -> crate::http::Reply {
    unix(socket, Request::new("POST", &format!("/api/sessions/{name}/{action}"))).await
}

/// The session's `containment-refused` events as `(during, path)` (each checked to be a link
/// in its HOME).
async fn refusal_events(socket: &Path, name: &str) -> Vec<(String, String)> {
    let reply = unix(socket, Request::new("GET", &format!("/api/sessions/{name}"))).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let detail = reply.json();
    let events = detail["events"].as_array().cloned().unwrap_or_default();
    events
        .iter()
        .filter(|e| e["type"] == "containment-refused")
        .map(|e| {
            assert_eq!(e["place"], "home", "{e}");
            assert_eq!(e["found"], "symlink", "{e}");
            (
                e["during"].as_str().unwrap_or_default().to_string(),
                e["path"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn assert_nothing_leaked(text: &str, host: &HostFolder, what: &str) {
    assert!(!text.contains(MARKER) && !text.contains(REFRESH), "{what} holds host content: {text}");
    let host_path = host.path().to_string_lossy();
    assert!(!text.contains(host_path.as_ref()), "{what} names the link's target: {text}");
}

/// The whole check, once [`wait_for_links`] returned: the links really reach the host folder
/// (what the daemon followed before issue 11 §4), then stop and start through the API refuse
/// them, nothing crossed either way, and removing the links (as the message says) lets the
/// session start again with fresh files.
pub async fn assert_links_refused(socket: &Path, name: &str, home: &Path, host: &HostFolder) {
    // The attack is real: through the links, the session's settings are the host's.
    assert_eq!(std::fs::read_link(home.join(".claude")).ok().as_deref(), Some(host.path()));
    let through = std::fs::read_to_string(home.join(".claude/settings.json")).unwrap_or_default();
    assert!(through.contains(REFRESH), "the planted link does not reach the host folder: {through}");
    let before = host.snapshot();

    let stopped = post(socket, name, "stop").await;
    assert_eq!(stopped.status, 200, "stop: {}", stopped.body);
    let started = post(socket, name, "start").await;
    assert_eq!(started.status, 409, "a start over planted links: {}", started.body);
    let body = started.json();
    assert_eq!(body["error"], "containment-refused", "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains("symlink at .claude") && message.contains("rm '"), "{message}");
    assert_nothing_leaked(message, host, "the start's error");

    let messages = unix(socket, Request::new("GET", &format!("/api/sessions/{name}/messages"))).await;
    assert_eq!(messages.status, 409, "messages behind a linked ~/.claude: {}", messages.body);
    assert_nothing_leaked(&messages.body, host, "the messages answer");
    // A second read records no second event.
    let _ = unix(socket, Request::new("GET", &format!("/api/sessions/{name}/messages"))).await;

    let events = refusal_events(socket, name).await;
    let want = [
        ("start".to_string(), ".claude".to_string()),
        ("reading messages".to_string(), ".claude".to_string()),
    ];
    assert_eq!(events, want, "the refusals as events");
    assert_nothing_crossed(home, host, &before);

    // The way out the message gives: remove the links (not what they point at), start again.
    for (link, _) in LINKS {
        std::fs::remove_file(home.join(link)).unwrap_or_else(|e| panic!("removing {link}: {e}"));
    }
    let started = post(socket, name, "start").await;
    assert_eq!(started.status, 200, "a start once the links are gone: {}", started.body);
    let settings = std::fs::read_to_string(home.join(".claude/settings.json")).unwrap_or_default();
    assert!(settings.contains("status-hook"), "clauderon's hooks are written afresh: {settings}");
    assert_nothing_crossed(home, host, &before);
}

/// The host folder is as it was, and none of its content is in the session's HOME.
fn assert_nothing_crossed(home: &Path, host: &HostFolder, before: &[(PathBuf, Vec<u8>)]) {
    assert_eq!(host.snapshot(), before, "a host file changed");
    for needle in [MARKER, REFRESH] {
        assert_eq!(
            files_containing(home, needle),
            Vec::<PathBuf>::new(),
            "host content in the session's HOME"
        );
    }
}
