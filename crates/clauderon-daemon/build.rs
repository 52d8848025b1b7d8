//! Builds the web UI (`web/`, Vite) into `web/dist`, which `src/web.rs` embeds.
//!
//! Cargo reruns this only when a web source changes (the `rerun-if-changed` list below); even
//! then the work is skipped when it is not needed: `npm ci` only when `node_modules` is missing
//! or older than the lock file, `npm run build` only when a source is newer than the built
//! `index.html`. So `cargo build`, `clippy`, `doc` and `nextest` on a fresh clone build the UI
//! once, and afterwards cost nothing here.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

/// What the build reads, relative to `web/`.
const INPUTS: &[&str] =
    &["src", "public", "index.html", "package.json", "package-lock.json", "vite.config.ts", "tsconfig.json"];

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let web = manifest.join("../../web");
    for input in INPUTS {
        println!("cargo:rerun-if-changed={}", web.join(input).display());
    }
    println!("cargo:rerun-if-env-changed=CLAUDERON_NPM");
    if let Err(message) = build(&web) {
        // A panic is how a build script fails with a message that cargo shows in full.
        #[allow(clippy::panic)]
        {
            panic!("\n\nbuilding clauderon's web UI (web/) failed: {message}\n");
        }
    }
}

fn build(web: &Path) -> Result<(), String> {
    let npm = std::env::var("CLAUDERON_NPM").unwrap_or_else(|_| "npm".to_string());
    let lock = web.join("package-lock.json");
    let installed = web.join("node_modules/.package-lock.json");
    if newest(&lock) > newest(&installed) {
        check_node(&npm)?;
        run(web, &npm, &["ci", "--no-audit", "--no-fund", "--loglevel=error"])?;
    }
    let sources = INPUTS.iter().map(|i| newest(&web.join(i))).max().flatten();
    let built = newest(&web.join("dist/index.html"));
    if built.is_none() || sources > built {
        check_node(&npm)?;
        run(web, &npm, &["run", "build", "--silent"])?;
    }
    Ok(())
}

/// The newest modification time under `path` (a file, or a folder walked whole); `None` when
/// nothing is there.
fn newest(path: &Path) -> Option<SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_dir() {
        return meta.modified().ok();
    }
    let mut best = meta.modified().ok();
    for entry in std::fs::read_dir(path).ok()?.flatten() {
        best = best.max(newest(&entry.path()));
    }
    best
}

fn check_node(npm: &str) -> Result<(), String> {
    let works =
        |program: &str| Command::new(program).arg("--version").output().is_ok_and(|o| o.status.success());
    if works("node") && works(npm) {
        return Ok(());
    }
    Err("node and npm are needed to build the web UI that the daemon embeds. Install node 20.19 or \
         later with npm (https://nodejs.org, or on Debian: apt-get install -y nodejs npm, from \
         NodeSource where the distribution's node is older), then run cargo again"
        .to_string())
}

fn run(web: &Path, program: &str, args: &[&str]) -> Result<(), String> {
    let output = Command::new(program)
        .args(args)
        .current_dir(web)
        .output()
        .map_err(|e| format!("could not run `{program} {}`: {e}", args.join(" ")))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "`{program} {}` in {} exited with {}:\n{}\n{}",
        args.join(" "),
        web.display(),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}
