//! Real Chromium for tests that need a browser: `tests/browser/run_page.mjs` opens a page in
//! Debian's `/usr/bin/chromium` through playwright-core (installed by `npm ci` in
//! `tests/browser`, never a downloaded browser) and prints what the page reported.
//!
//! There is no fallback: when Chromium, node or playwright-core is missing, the test fails and
//! says how to install it (`.ci/run` and `scripts/test.sh` do).

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// The browser the tests drive, unless `CLAUDERON_TEST_CHROMIUM` names another.
pub const DEFAULT_CHROMIUM: &str = "/usr/bin/chromium";

/// `tests/browser` in the repository: the node scripts, pages and their `package.json`.
pub fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/browser")
}

/// A page of `tests/browser` (an attack page a test serves itself).
pub fn page(name: &str) -> String {
    let path = browser_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// What one page run saw.
#[derive(Debug, Clone)]
pub struct PageRun {
    /// The page's own verdict (`window.pageResult`).
    pub result: Value,
    /// Every HTTP response the browser received: `{method, url, status}`.
    pub responses: Vec<Value>,
    /// Every WebSocket handshake the browser attempted: `{url, status}` (status null when no
    /// HTTP answer came back).
    pub websockets: Vec<Value>,
    /// The page's console lines and errors, for failure messages.
    pub console: Vec<Value>,
}

impl PageRun {
    /// The responses whose URL starts with `prefix`.
    pub fn responses_from(&self, prefix: &str) -> Vec<(String, String, u64)> {
        self.responses
            .iter()
            .filter_map(|r| {
                let url = r["url"].as_str()?;
                url.starts_with(prefix).then(|| {
                    (
                        r["method"].as_str().unwrap_or("").to_string(),
                        url.to_string(),
                        r["status"].as_u64().unwrap_or(0),
                    )
                })
            })
            .collect()
    }
}

fn chromium() -> PathBuf {
    std::env::var_os("CLAUDERON_TEST_CHROMIUM").map_or_else(|| PathBuf::from(DEFAULT_CHROMIUM), PathBuf::from)
}

/// Panics, saying how to install it, when something the browser tests need is missing.
pub fn require_browser() {
    let chromium = chromium();
    if !chromium.is_file() {
        panic!(
            "Chromium is missing ({}): the browser tests drive a real Chromium. Install it with \
             `apt-get install -y chromium` (.ci/run does), or point CLAUDERON_TEST_CHROMIUM at one.",
            chromium.display()
        );
    }
    let module = browser_dir().join("node_modules/playwright-core/package.json");
    if !module.is_file() {
        panic!(
            "playwright-core is not installed in {}: run `bash scripts/install-browser-deps.sh` \
             (`npm ci` there, pinned; scripts/test.sh runs it; it never downloads a browser).",
            browser_dir().display()
        );
    }
}

/// Opens `url` in a fresh headless Chromium profile and waits (up to `timeout`) for the page's
/// `window.pageResult`.
pub async fn run_page(url: &str, timeout: Duration) -> PageRun {
    require_browser();
    let script = browser_dir().join("run_page.mjs");
    let child = tokio::process::Command::new("node")
        .arg(&script)
        .arg(url)
        .arg(timeout.as_millis().to_string())
        .env("CLAUDERON_TEST_CHROMIUM", chromium())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "running node {}: {e}. The browser tests need node 20 or later \
                 (apt-get install -y nodejs npm)",
                script.display()
            )
        });
    // Room for Chromium's start and shutdown around the page's own time.
    let output = tokio::time::timeout(timeout + Duration::from_secs(30), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("the browser did not finish within {timeout:?} (+30 s) on {url}"))
        .unwrap_or_else(|e| panic!("waiting for node: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stdout.lines().rev().find(|l| l.starts_with('{')).unwrap_or("");
    let report: Value = serde_json::from_str(line).unwrap_or_else(|e| {
        panic!("run_page.mjs printed no JSON report ({e}; exit {}):\n{stdout}\n{stderr}", output.status)
    });
    if report["ok"] != Value::Bool(true) || !output.status.success() {
        panic!(
            "Chromium could not run the page {url} (exit {}): {}\n{stderr}\nIs Chromium installed \
             (`apt-get install -y chromium`) and playwright-core (`npm ci --prefix tests/browser`)?",
            output.status, report["error"]
        );
    }
    let list = |key: &str| report[key].as_array().cloned().unwrap_or_default();
    PageRun {
        result: report["result"].clone(),
        responses: list("responses"),
        websockets: list("websockets"),
        console: list("console"),
    }
}
