//! The launch script a session's zellij pane runs, and the folder the backend keeps per session
//! (`<state>/<zellij session name>/`): what the session is (`session-id`), how to start it
//! (`launch.sh`) and how its process ended (`exit-status`). The folder is the resource: it outlives
//! the zellij session across stop and start and daemon restarts, and `delete` removes it.

use std::path::{Path, PathBuf};

/// The files of one session's folder.
#[derive(Debug, Clone)]
pub struct SessionDir(pub PathBuf);

impl SessionDir {
    pub fn launch_script(&self) -> PathBuf {
        self.0.join("launch.sh")
    }
    pub fn session_id(&self) -> PathBuf {
        self.0.join("session-id")
    }
    /// Made by the launch script as soon as the pane runs it.
    pub fn started(&self) -> PathBuf {
        self.0.join("started")
    }
    /// Written by the launch script when the session's process ends.
    pub fn exit_status(&self) -> PathBuf {
        self.0.join("exit-status")
    }
    /// The session's last screen, kept once its process has ended or the session was stopped,
    /// so a stopped session still has logs.
    pub fn last_screen(&self) -> PathBuf {
        self.0.join("last-screen")
    }
    /// The session's environment as its process gets it (`KEY=VALUE`, NUL-separated), for
    /// `clauderon env`.
    pub fn environment(&self) -> PathBuf {
        self.0.join("environment")
    }
    /// The session's working directory, for starting zellij in it.
    pub fn cwd(&self) -> PathBuf {
        self.0.join("cwd")
    }
}

/// What the pane runs.
#[derive(Debug, Clone)]
pub struct LaunchPlan<'a> {
    pub cwd: &'a Path,
    /// The whole environment of the session's process.
    pub env: &'a [(String, String)],
    /// The command line: bwrap and the relay when sandboxed, then the session's command.
    pub argv: &'a [String],
    pub exit_status: &'a Path,
    pub started: &'a Path,
}

/// The script: start in the worktree, run the command with exactly `env` (`env -i`), then record
/// how it ended so the backend reports the session stopped while its screen stays readable.
pub fn script(p: &LaunchPlan<'_>) -> String {
    let mut s =
        String::from("#!/bin/sh\n# Written by clauderon: the session's process, in its zellij pane.\n");
    s.push_str(&format!("rm -f {}\n", quote(&p.exit_status.to_string_lossy())));
    s.push_str(&format!(": > {}\n", quote(&p.started.to_string_lossy())));
    s.push_str(&format!("cd {} || exit 70\n", quote(&p.cwd.to_string_lossy())));
    s.push_str("env -i");
    for (k, v) in p.env {
        s.push_str(" \\\n  ");
        s.push_str(&quote(&format!("{k}={v}")));
    }
    for arg in p.argv {
        s.push_str(" \\\n  ");
        s.push_str(&quote(arg));
    }
    s.push('\n');
    s.push_str(&format!("echo $? > {}\n", quote(&p.exit_status.to_string_lossy())));
    s
}

/// The environment file's text: `KEY=VALUE` entries, each ended by a NUL.
pub fn encode_env(env: &[(String, String)]) -> String {
    env.iter().map(|(k, v)| format!("{k}={v}\0")).collect()
}

/// Read [`encode_env`]'s text back.
pub fn decode_env(text: &str) -> Vec<(String, String)> {
    text.split('\0')
        .filter_map(|entry| entry.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// One shell word in single quotes.
pub fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_environment_file_round_trips_any_value() {
        let env = vec![("A".to_string(), "x=y\nz".to_string()), ("B".to_string(), String::new())];
        assert_eq!(decode_env(&encode_env(&env)), env);
    }

    #[test]
    fn the_script_runs_the_command_with_exactly_the_given_environment() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let status = dir.path().join("status");
        let env = vec![("ONLY".to_string(), "it's \"here\" $HOME".to_string())];
        let argv = vec!["/bin/sh".to_string(), "-c".into(), format!("env > {}; exit 3", out.display())];
        let started = dir.path().join("started");
        let plan =
            LaunchPlan { cwd: dir.path(), env: &env, argv: &argv, exit_status: &status, started: &started };
        let text = script(&plan);
        let path = dir.path().join("launch.sh");
        std::fs::write(&path, text).unwrap();
        let ran = std::process::Command::new("/bin/sh").arg(&path).env("LEAK", "sk-real").status().unwrap();
        assert!(ran.success());
        let seen = std::fs::read_to_string(&out).unwrap();
        assert!(seen.contains("ONLY=it's \"here\" $HOME"), "{seen}");
        assert!(!seen.contains("LEAK"), "the caller's environment must not reach the command: {seen}");
        assert_eq!(std::fs::read_to_string(&status).unwrap().trim(), "3");
        assert!(started.exists());
    }
}
