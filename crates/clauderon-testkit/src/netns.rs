//! Network namespaces for the test kit's stand-ins of remote places (a sprite, a pod): a
//! namespace with only loopback up, so what runs in it reaches nothing of this machine. Needs
//! root and `ip` (iproute2). Dropping one kills what still runs in it and removes it.

use std::path::Path;
use std::process::Command;

pub struct Netns {
    pub name: String,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip").args(args).output().map_err(|e| format!("ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// A name no other stand-in of this run or another uses.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}{:x}{n:x}{:x}", std::process::id(), nanos & 0xfff)
}

impl Netns {
    pub fn new(prefix: &str) -> Result<Netns, String> {
        let name = unique(prefix);
        ip(&["netns", "add", &name])?;
        let ns = Netns { name };
        ip(&["-n", &ns.name, "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// How many processes run in it.
    pub fn pids(&self) -> Vec<String> {
        Command::new("ip")
            .args(["netns", "pids", &self.name])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).split_whitespace().map(str::to_string).collect())
            .unwrap_or_default()
    }

    pub fn kill_all(&self) {
        for pid in self.pids() {
            let _ = Command::new("kill").args(["-9", &pid]).status();
        }
    }

    /// `ip netns exec <ns> unshare -m … sh -c SCRIPT <args…>`: a program in the namespace, in a
    /// private mount namespace where `script` (which gets `args` as `$0`, `$1`…) binds what it
    /// needs before it `exec`s the program.
    pub fn argv(&self, script: &str, args: &[String]) -> (String, Vec<String>) {
        let mut argv: Vec<String> =
            ["netns", "exec", &self.name, "unshare", "-m", "--propagation", "private", "sh", "-c", script]
                .iter()
                .map(|s| s.to_string())
                .collect();
        argv.extend(args.iter().cloned());
        ("ip".into(), argv)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        self.kill_all();
        let _ = ip(&["netns", "del", &self.name]);
    }
}

/// Create the empty folders `targets` on this machine (mount points for the stand-ins' bind
/// mounts: `/home/sprite`, `/workspace`…).
pub fn mount_points(targets: &[&str]) {
    for t in targets {
        let path = Path::new(t);
        if !path.exists() {
            std::fs::create_dir_all(path).unwrap_or_else(|e| panic!("creating the mount point {t}: {e}"));
        }
    }
}
