//! Setup shared by the zellij backend's tests: real zellij and real bubblewrap, found on PATH or
//! where `.ci/run` caches zellij. A test that needs them fails with what to install; it never
//! passes without them.

#![allow(dead_code)] // each test binary uses a different part

use clauderon_types::{DataLayout, SandboxLevel};
use clauderon_zellij::{ZellijBackend, ZellijSettings};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The zellij program, or a panic that says how to get it.
pub fn zellij() -> PathBuf {
    let cached = std::env::var("HOME").map(|h| PathBuf::from(h).join(".cache/clauderon/zellij/bin/zellij"));
    let on_path =
        clauderon_zellij::resolve_program(Path::new("zellij"), std::env::var("PATH").ok().as_deref());
    if on_path.is_file() {
        return on_path;
    }
    match cached {
        Ok(p) if p.is_file() => p,
        _ => panic!(
            "zellij is not installed: these tests need the real one. Run .ci/run, or \
             `cargo install --locked zellij --root ~/.cache/clauderon/zellij`"
        ),
    }
}

/// The bubblewrap program, or a panic that says how to get it.
pub fn bwrap() -> PathBuf {
    let p = clauderon_zellij::resolve_program(Path::new("bwrap"), std::env::var("PATH").ok().as_deref());
    assert!(p.is_file(), "bubblewrap is not installed: these tests need it (`apt-get install bubblewrap`)");
    p
}

pub fn relay() -> Vec<String> {
    vec![env!("CARGO_BIN_EXE_clauderon-sandbox-relay").to_string()]
}

/// Settings for a data dir, with the real programs, a fake user HOME and the given default
/// sandbox level.
pub fn settings(data: &Path, user_home: &Path, level: SandboxLevel) -> ZellijSettings {
    let mut s = ZellijSettings::new(&DataLayout::new(data), relay(), |k| std::env::var(k).ok());
    s.program = zellij();
    s.bwrap = bwrap();
    s.user_home = Some(user_home.to_path_buf());
    s.default_sandbox = Some(level);
    s
}

/// A backend on a data dir that lives as long as the test process, with a listening (never
/// answering) proxy socket so `full` sandboxes can bind it.
pub fn backend(level: SandboxLevel) -> Arc<ZellijBackend> {
    let data = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}")).keep();
    let home = data.join("user-home");
    std::fs::create_dir(&home).unwrap_or_else(|e| panic!("home: {e}"));
    let socket = std::os::unix::net::UnixListener::bind(data.join("proxy.sock"))
        .unwrap_or_else(|e| panic!("proxy socket: {e}"));
    std::mem::forget(socket);
    Arc::new(ZellijBackend::new(settings(&data, &home, level)).unwrap_or_else(|e| panic!("backend: {e}")))
}

/// Kill the zellij sessions a backend on `data` made (for tests that stop half-way).
pub fn kill_leftovers(data: &Path) {
    let Ok(entries) = std::fs::read_dir(data.join("zellij")) else { return };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(clauderon_zellij::SESSION_PREFIX) {
            let _ = std::process::Command::new(zellij()).args(["kill-session", &name]).output();
        }
    }
}
pub mod agents;
pub mod daemon_env;
