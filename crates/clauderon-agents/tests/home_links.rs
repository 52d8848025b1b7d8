//! A session replaces its agent's files and folders with links to the host's (issue 11 §4): the
//! settings writer and the transcript readers refuse them, and the host's files stay as they
//! were. Each case first shows the link really reaches the host's file through plain `std::fs`
//! (what the daemon used before), so the refusal is what stops it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use clauderon_agents::AgentsError;
use clauderon_agents::profile::newest_transcript;
use clauderon_agents::profile::{ConfigContext, write_agent_files};
use clauderon_fs::{Found, Place, Refusal};
use clauderon_types::AgentKind;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

const MARKER: &str = "host-only-marker-51c2";
const REFRESH: &str = "sk-ant-ort01-host-refresh-stand-in";

/// The session's HOME and a host folder (the user's own agent folder, say) with marker files.
struct Scene {
    _dir: tempfile::TempDir,
    home: PathBuf,
    host: PathBuf,
}

fn scene() -> Scene {
    let dir = tempfile::tempdir().unwrap();
    let (home, host) = (dir.path().join("home"), dir.path().join("host"));
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(host.join("projects/-work")).unwrap();
    let json = format!("{{\"marker\": \"{MARKER}\", \"refreshToken\": \"{REFRESH}\"}}\n");
    for name in ["settings.json", "state.json", "hooks.json"] {
        std::fs::write(host.join(name), &json).unwrap();
    }
    std::fs::write(host.join("config.toml"), format!("marker = \"{MARKER}\"\ntoken = \"{REFRESH}\"\n"))
        .unwrap();
    let line = format!(
        "{{\"type\":\"user\",\"message\":{{\"role\":\"user\",\"content\":\"{MARKER}\"}},\"timestamp\":\"2026-12-01T00:00:00Z\"}}\n"
    );
    std::fs::write(host.join("projects/-work/chat.jsonl"), line).unwrap();
    Scene { _dir: dir, home, host }
}

/// Every file under the host folder with its bytes, to compare before and after.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() { stack.push(p) } else { out.push((p.clone(), std::fs::read(&p).unwrap())) }
        }
    }
    out.sort();
    out
}

fn refused(result: Result<impl std::fmt::Debug, AgentsError>) -> Refusal {
    match result {
        Err(AgentsError::Refused(r)) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn write(agent: AgentKind, home: &Path) -> Result<Vec<PathBuf>, AgentsError> {
    write_agent_files(agent, &ConfigContext { home, workdir: Path::new("/workspace"), placeholders: &[] })
}

#[test]
fn an_agent_folder_linked_to_the_host_is_refused_and_the_host_keeps_its_files() {
    for (agent, folder, file) in [
        (AgentKind::Claude, ".claude", "settings.json"),
        (AgentKind::Codex, ".codex", "config.toml"),
        (AgentKind::Gemini, ".gemini", "settings.json"),
    ] {
        let s = scene();
        symlink(&s.host, s.home.join(folder)).unwrap();
        // The link works: through it, the session's settings file is the host's.
        let through = std::fs::read_to_string(s.home.join(folder).join(file)).unwrap();
        assert!(through.contains(MARKER), "{agent}: {through}");
        let before = snapshot(&s.host);

        let r = refused(write(agent, &s.home));
        assert_eq!(r, Refusal { place: Place::Home, path: folder.into(), found: Found::Symlink }, "{agent}");
        assert!(!r.to_string().contains(MARKER) && !r.to_string().contains(s.host.to_str().unwrap()));
        assert_eq!(snapshot(&s.host), before, "{agent}: a host file changed");
    }
}

#[test]
fn a_settings_file_linked_to_the_host_is_refused_and_nothing_is_copied_in() {
    let s = scene();
    symlink(s.host.join("state.json"), s.home.join(".claude.json")).unwrap();
    assert!(std::fs::read_to_string(s.home.join(".claude.json")).unwrap().contains(REFRESH));
    let before = snapshot(&s.host);

    let r = refused(write(AgentKind::Claude, &s.home));
    assert_eq!((r.path.as_str(), r.found), (".claude.json", Found::Symlink));
    assert_eq!(snapshot(&s.host), before);
    // What clauderon did write before it met the link holds none of the host's content.
    let settings = std::fs::read_to_string(s.home.join(".claude/settings.json")).unwrap();
    assert!(!settings.contains(MARKER) && !settings.contains(REFRESH), "{settings}");
}

#[test]
fn transcripts_behind_a_linked_folder_or_file_are_refused() {
    let s = scene();
    let projects = s.home.join(".claude/projects");
    std::fs::create_dir_all(projects.parent().unwrap()).unwrap();
    symlink(s.host.join("projects"), &projects).unwrap();
    assert!(std::fs::read_to_string(projects.join("-work/chat.jsonl")).unwrap().contains(MARKER));
    let r = refused(newest_transcript(AgentKind::Claude, &s.home));
    assert_eq!((r.path.as_str(), r.found), (".claude/projects", Found::Symlink));

    // One project folder among real ones linked to the host's.
    std::fs::remove_file(&projects).unwrap();
    std::fs::create_dir_all(projects.join("-workspace")).unwrap();
    symlink(s.host.join("projects/-work"), projects.join("-work")).unwrap();
    let r = refused(newest_transcript(AgentKind::Claude, &s.home));
    assert_eq!(r.path, ".claude/projects/-work");

    // Codex: a date folder; Gemini: one chat file.
    let day = s.home.join(".codex/sessions/2026/12");
    std::fs::create_dir_all(&day).unwrap();
    symlink(s.host.join("projects/-work"), day.join("01")).unwrap();
    assert_eq!(refused(newest_transcript(AgentKind::Codex, &s.home)).path, ".codex/sessions/2026/12/01");
    let chats = s.home.join(".gemini/tmp/p/chats");
    std::fs::create_dir_all(&chats).unwrap();
    symlink(s.host.join("projects/-work/chat.jsonl"), chats.join("session-1.jsonl")).unwrap();
    let r = refused(newest_transcript(AgentKind::Gemini, &s.home));
    assert_eq!((r.path.as_str(), r.found), (".gemini/tmp/p/chats/session-1.jsonl", Found::Symlink));
}
