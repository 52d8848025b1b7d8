//! Each attack is shown working through plain `std::fs` (what the daemon did before issue 11
//! §4), then refused here, with the host side unchanged.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use std::os::unix::fs::symlink;

const HOST_SETTINGS: &str =
    "{\"marker\": \"host-settings-7f3a\", \"refreshToken\": \"sk-ant-ort01-stand-in\"}\n";

/// A session HOME and a host folder beside it holding a settings file the session must not reach.
struct Scene {
    _dir: tempfile::TempDir,
    home: PathBuf,
    host: PathBuf,
}

fn scene() -> Scene {
    let dir = tempfile::tempdir().unwrap();
    let (home, host) = (dir.path().join("home"), dir.path().join("host"));
    std::fs::create_dir(&home).unwrap();
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("settings.json"), HOST_SETTINGS).unwrap();
    Scene { _dir: dir, home, host }
}

fn root(s: &Scene) -> SessionRoot {
    SessionRoot::open(&s.home, Place::Home).unwrap()
}

fn refusal(e: FsError) -> Refusal {
    match e {
        FsError::Refused(r) => r,
        other => panic!("expected a refusal, got {other}"),
    }
}

fn host_listing(s: &Scene) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(&s.host)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into())
        .collect();
    names.sort();
    names
}

#[test]
fn a_symlinked_file_is_refused_for_reading_and_writing() {
    let s = scene();
    let link = s.home.join(".claude.json");
    symlink(s.host.join("settings.json"), &link).unwrap();
    // Without the wall: std::fs reads the host's file through the link.
    assert_eq!(std::fs::read_to_string(&link).unwrap(), HOST_SETTINGS);

    let r = root(&s);
    let refused = refusal(r.read(".claude.json", 1 << 20).unwrap_err());
    assert_eq!(refused, Refusal { place: Place::Home, path: ".claude.json".into(), found: Found::Symlink });
    let message = refused.to_string();
    assert!(message.contains("HOME has a symlink at .claude.json"), "{message}");
    assert!(!message.contains(s.host.to_str().unwrap()), "the link's target leaked: {message}");

    assert_eq!(refusal(r.write(".claude.json", b"{}", 0o600).unwrap_err()).found, Found::Symlink);
    assert_eq!(std::fs::read_to_string(s.host.join("settings.json")).unwrap(), HOST_SETTINGS);
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link stays as evidence");
}

#[test]
fn a_symlinked_folder_on_the_way_is_refused() {
    let s = scene();
    symlink(&s.host, s.home.join(".claude")).unwrap();
    // Without the wall: a write into ~/.claude/settings.json lands in the host's folder.
    let before = host_listing(&s);
    std::fs::write(s.home.join(".claude/probe"), "x").unwrap();
    assert_eq!(host_listing(&s).len(), before.len() + 1);
    std::fs::remove_file(s.host.join("probe")).unwrap();

    let r = root(&s);
    for err in [
        r.read(".claude/settings.json", 1 << 20).unwrap_err(),
        r.write(".claude/settings.json", b"{\"hooks\":1}", 0o600).unwrap_err(),
        r.write(".claude/new.json", b"{}", 0o600).unwrap_err(),
        r.dir(".claude/projects").unwrap_err(),
        r.create_dirs(".claude/projects/x", 0o700).unwrap_err(),
    ] {
        let refused = refusal(err);
        assert_eq!((refused.path.as_str(), refused.found), (".claude", Found::Symlink));
    }
    assert_eq!(host_listing(&s), before, "nothing appeared in the host folder");
    assert_eq!(std::fs::read_to_string(s.host.join("settings.json")).unwrap(), HOST_SETTINGS);
}

#[test]
fn a_link_to_the_parent_folder_is_refused() {
    let s = scene();
    symlink("..", s.home.join(".claude")).unwrap();
    // Without the wall: ~/.claude/host/settings.json is the host's file.
    assert_eq!(std::fs::read_to_string(s.home.join(".claude/host/settings.json")).unwrap(), HOST_SETTINGS);
    let r = root(&s);
    let refused = refusal(r.read(".claude/host/settings.json", 1 << 20).unwrap_err());
    assert_eq!((refused.path.as_str(), refused.found), (".claude", Found::Symlink));
    assert!(matches!(r.read("../host/settings.json", 1 << 20), Err(FsError::BadPath { .. })));
    assert!(matches!(r.write("/etc/x", b"", 0o600), Err(FsError::BadPath { .. })));
    assert!(matches!(r.write("a//b", b"", 0o600), Err(FsError::BadPath { .. })));
}

#[test]
fn a_dangling_link_is_refused_and_never_created_through() {
    let s = scene();
    let target = s.host.join("created-by-the-daemon");
    symlink(&target, s.home.join(".gitconfig")).unwrap();
    // Without the wall: `exists()` says no, and a write creates the host file.
    assert!(!s.home.join(".gitconfig").exists());
    std::fs::write(s.home.join(".gitconfig"), "x").unwrap();
    assert!(target.exists());
    std::fs::remove_file(&target).unwrap();

    let r = root(&s);
    assert_eq!(refusal(r.kind(".gitconfig").unwrap_err()).found, Found::Symlink);
    assert_eq!(refusal(r.write(".gitconfig", b"[user]\n", 0o644).unwrap_err()).found, Found::Symlink);
    assert_eq!(refusal(r.read(".gitconfig", 1024).unwrap_err()).found, Found::Symlink);
    assert!(!target.exists(), "the daemon created a host file through a dangling link");
}

#[test]
fn a_folder_swapped_for_a_link_after_it_was_opened_is_not_followed() {
    let s = scene();
    let r = root(&s);
    let claude = r.create_dirs(".claude", 0o700).unwrap();
    // The session moves the real folder away and puts a link to the host in its place.
    std::fs::rename(s.home.join(".claude"), s.home.join("moved")).unwrap();
    symlink(&s.host, s.home.join(".claude")).unwrap();
    // The descriptor still names the real folder: the write lands there, not on the host.
    claude.write("settings.json", b"{\"ours\":true}", 0o600).unwrap();
    assert_eq!(std::fs::read_to_string(s.home.join("moved/settings.json")).unwrap(), "{\"ours\":true}");
    assert_eq!(std::fs::read_to_string(s.host.join("settings.json")).unwrap(), HOST_SETTINGS);
    // A fresh walk from the root sees the link and refuses it.
    assert_eq!(refusal(r.write(".claude/settings.json", b"{}", 0o600).unwrap_err()).found, Found::Symlink);
}

/// A session swapping a file and a link to the host as fast as it can while the daemon writes:
/// whichever it finds, the host file never changes (a write either is refused or replaces the
/// link itself by rename).
#[test]
fn a_racing_swap_between_file_and_link_never_reaches_the_host() {
    let s = scene();
    let (home, host) = (s.home.clone(), s.host.join("settings.json"));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let swapper = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let (name, staged) = (home.join(".claude.json"), home.join("staged"));
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = symlink(&host, &staged);
                let _ = std::fs::rename(&staged, &name);
                let _ = std::fs::write(&staged, "{}");
                let _ = std::fs::rename(&staged, &name);
            }
        })
    };
    let r = root(&s);
    let (mut written, mut refused) = (0, 0);
    for _ in 0..2000 {
        match r.write(".claude.json", b"{\"ours\":true}", 0o600) {
            Ok(()) => written += 1,
            Err(FsError::Refused(_)) => refused += 1,
            Err(e) => panic!("{e}"),
        }
        let _ = r.read(".claude.json", 1024);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    swapper.join().unwrap();
    assert_eq!(std::fs::read_to_string(s.host.join("settings.json")).unwrap(), HOST_SETTINGS);
    assert_eq!(host_listing(&s), ["settings.json"]);
    assert!(written > 0 && refused > 0, "the race was not exercised: {written} written, {refused} refused");
}

#[test]
fn writes_replace_through_a_rename_and_make_their_folders() {
    let s = scene();
    let r = root(&s);
    r.write(".codex/config.toml", b"a = 1\n", 0o600).unwrap();
    r.write(".codex/config.toml", b"a = 2\n", 0o600).unwrap();
    let path = s.home.join(".codex/config.toml");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "a = 2\n");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(s.home.join(".codex")).unwrap().permissions().mode() & 0o777, 0o700);
    let names: Vec<String> = std::fs::read_dir(s.home.join(".codex"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into())
        .collect();
    assert_eq!(names, ["config.toml"], "no temporary file left behind");
    assert_eq!(r.read(".codex/config.toml", 1024).unwrap().unwrap(), b"a = 2\n");
    assert_eq!(r.read(".codex/missing.toml", 1024).unwrap(), None);
    assert_eq!(r.read(".nothing/missing.toml", 1024).unwrap(), None);
}

#[test]
fn a_fifo_a_hard_link_and_a_huge_file_are_refused_without_hanging() {
    let s = scene();
    let status = std::process::Command::new("mkfifo").arg(s.home.join(".claude.json")).status().unwrap();
    assert!(status.success());
    std::fs::hard_link(s.host.join("settings.json"), s.home.join("settings.json")).unwrap();
    std::fs::write(s.home.join("big"), vec![b'x'; 2048]).unwrap();
    let r = root(&s);
    assert_eq!(refusal(r.read(".claude.json", 1024).unwrap_err()).found, Found::Special);
    assert_eq!(refusal(r.read("settings.json", 1024).unwrap_err()).found, Found::HardLink);
    assert!(matches!(r.read("big", 1024), Err(FsError::TooLarge { limit: 1024, .. })));
    assert_eq!(r.read("big", 4096).unwrap().unwrap().len(), 2048);
}

#[test]
fn listings_show_links_as_links_and_a_linked_root_is_refused() {
    let s = scene();
    std::fs::create_dir(s.home.join("real")).unwrap();
    symlink(&s.host, s.home.join("link")).unwrap();
    std::fs::write(s.home.join("file"), "").unwrap();
    let r = root(&s);
    let mut entries = r.top().entries().unwrap();
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let kinds: Vec<(&str, EntryKind)> = entries.iter().map(|e| (e.name.as_str(), e.kind)).collect();
    assert_eq!(kinds, [("file", EntryKind::File), ("link", EntryKind::Symlink), ("real", EntryKind::Folder)]);

    let linked = s.home.with_file_name("linked-home");
    symlink(&s.host, &linked).unwrap();
    assert_eq!(refusal(SessionRoot::open(&linked, Place::Home).unwrap_err()).found, Found::Symlink);
    assert!(SessionRoot::open_existing(&s.home.with_file_name("none"), Place::Home).unwrap().is_none());
}
