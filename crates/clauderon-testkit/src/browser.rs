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

/// One Chromium page a test drives step by step (`tests/browser/drive.mjs`): load it, act on
/// it, wait for what it shows, while the test changes things through the API in between.
/// Every step panics with the page's console when it fails: this is test code.
pub struct Driver {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    stdout: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
}

impl Driver {
    /// A fresh headless Chromium profile; each waiting step gives up after `step_timeout`.
    pub async fn open(step_timeout: Duration) -> Driver {
        use tokio::io::AsyncBufReadExt;
        require_browser();
        let script = browser_dir().join("drive.mjs");
        let mut child = tokio::process::Command::new("node")
            .arg(&script)
            .arg(step_timeout.as_millis().to_string())
            .env("CLAUDERON_TEST_CHROMIUM", chromium())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "running node {}: {e}. The browser tests need node 20 or later \
                     (apt-get install -y nodejs npm)",
                    script.display()
                )
            });
        let stdin = child.stdin.take().unwrap_or_else(|| panic!("node's stdin"));
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("node's stdout"));
        let mut driver = Driver { child, stdin, stdout: tokio::io::BufReader::new(stdout).lines() };
        let ready = driver.answer(Duration::from_secs(60)).await;
        if ready.get("ok") != Some(&Value::Bool(true)) {
            panic!("Chromium did not start (is `apt-get install -y chromium` done?): {ready}");
        }
        driver
    }

    async fn answer(&mut self, within: Duration) -> Value {
        let line = tokio::time::timeout(within, self.stdout.next_line())
            .await
            .unwrap_or_else(|_| panic!("drive.mjs did not answer within {within:?}"))
            .unwrap_or_else(|e| panic!("reading drive.mjs: {e}"))
            .unwrap_or_else(|| panic!("drive.mjs ended"));
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("drive.mjs printed {line:?}: {e}"))
    }

    /// Sends one command; its value, or the error as `Err` (for steps expected to fail).
    pub async fn try_send(&mut self, command: Value) -> Result<Value, String> {
        use tokio::io::AsyncWriteExt;
        let line = format!("{command}\n");
        self.stdin.write_all(line.as_bytes()).await.unwrap_or_else(|e| panic!("writing to drive.mjs: {e}"));
        let reply = self.answer(Duration::from_secs(120)).await;
        if reply["ok"] == Value::Bool(true) {
            return Ok(reply["value"].clone());
        }
        Err(format!("{}\nconsole: {:#}", reply["error"], reply["console"]))
    }

    /// Sends one command and returns its value; panics when it fails.
    pub async fn send(&mut self, command: Value) -> Value {
        let text = command.to_string();
        self.try_send(command).await.unwrap_or_else(|e| panic!("browser step {text} failed: {e}"))
    }

    pub async fn goto(&mut self, url: &str) {
        self.send(serde_json::json!({"op": "goto", "url": url})).await;
    }

    pub async fn click(&mut self, selector: &str) {
        self.send(serde_json::json!({"op": "click", "selector": selector})).await;
    }

    /// Clicks the first element matching `selector` that contains `text`.
    pub async fn click_text(&mut self, selector: &str, text: &str) {
        self.send(serde_json::json!({"op": "click", "selector": selector, "text": text})).await;
    }

    pub async fn fill(&mut self, selector: &str, value: &str) {
        self.send(serde_json::json!({"op": "fill", "selector": selector, "value": value})).await;
    }

    pub async fn press(&mut self, key: &str) {
        self.send(serde_json::json!({"op": "press", "key": key})).await;
    }

    /// Loads the UI at `base_url` and signs in with the daemon's API `token`.
    pub async fn sign_in(&mut self, base_url: &str, token: &str) {
        self.goto(base_url).await;
        self.wait_for("form.signin", None).await;
        self.fill("#token", token).await;
        self.click("form.signin button[type=submit]").await;
        self.wait_for("h1", Some("Sessions")).await;
    }

    /// No horizontal scroll, and no button, link, input or summary smaller than 44 px in height
    /// (checkboxes count by their label).
    pub async fn assert_fits_a_phone(&mut self) {
        let report = self
            .eval(
                "(() => { const small = [...document.querySelectorAll('button, a, input:not([type=checkbox]), textarea, summary, label.check')]
                    .filter(e => e.getBoundingClientRect().height > 0 && e.getBoundingClientRect().height < 44)
                    .map(e => e.outerHTML.slice(0, 80));
                  return {scroll: document.documentElement.scrollWidth, width: window.innerWidth, small}; })()",
            )
            .await;
        assert!(
            report["scroll"].as_u64() <= report["width"].as_u64(),
            "horizontal scroll at phone size: {report}"
        );
        assert_eq!(report["small"], serde_json::json!([]), "touch targets under 44 px: {report}");
    }

    /// Types `text` at the keyboard, into whatever has the focus, a key at a time.
    pub async fn type_text(&mut self, text: &str) {
        self.send(serde_json::json!({"op": "type", "text": text})).await;
    }

    /// Waits until an element matching `selector` (and containing `text`, when given) shows.
    pub async fn wait_for(&mut self, selector: &str, text: Option<&str>) {
        self.send(serde_json::json!({"op": "wait", "selector": selector, "text": text})).await;
    }

    /// Waits until no element matches `selector`.
    pub async fn wait_gone(&mut self, selector: &str) {
        self.send(serde_json::json!({"op": "wait", "selector": selector, "gone": true})).await;
    }

    pub async fn text(&mut self, selector: &str) -> String {
        let v = self.send(serde_json::json!({"op": "text", "selector": selector})).await;
        v.as_str().unwrap_or_default().to_string()
    }

    pub async fn count(&mut self, selector: &str) -> u64 {
        self.send(serde_json::json!({"op": "count", "selector": selector})).await.as_u64().unwrap_or(0)
    }

    /// Evaluates a JavaScript expression in the page (a promise is awaited).
    pub async fn eval(&mut self, expr: &str) -> Value {
        self.send(serde_json::json!({"op": "eval", "expr": expr})).await
    }

    /// axe-core's serious and critical violations (WCAG 2 A and AA) on the page as it is now.
    pub async fn axe(&mut self) -> Vec<Value> {
        match self.send(serde_json::json!({"op": "axe"})).await {
            Value::Array(v) => v,
            other => panic!("axe answered {other}"),
        }
    }

    /// A full-page PNG of the page as it is now, at `path`.
    pub async fn screenshot(&mut self, path: &std::path::Path) {
        self.send(serde_json::json!({"op": "screenshot", "path": path})).await;
    }

    /// Cut the page's network (`true`) or give it back.
    pub async fn offline(&mut self, offline: bool) {
        self.send(serde_json::json!({"op": "offline", "value": offline})).await;
    }

    /// Emulate the system's colour scheme: `light` or `dark`.
    pub async fn scheme(&mut self, scheme: &str) {
        self.send(serde_json::json!({"op": "scheme", "value": scheme})).await;
    }

    pub async fn viewport(&mut self, width: u32, height: u32) {
        self.send(serde_json::json!({"op": "viewport", "width": width, "height": height})).await;
    }

    /// Ends the browser and waits for it.
    pub async fn close(mut self) {
        use tokio::io::AsyncWriteExt;
        let _ = self.stdin.write_all(b"{\"op\": \"close\"}\n").await;
        drop(self.stdin);
        let _ = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await;
    }
}
