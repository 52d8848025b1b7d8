//! The real `clauderon` binary against a daemon in a temp data dir. The daemon
//! runs in this test process with the test kit's fake backend, because no real
//! backend exists yet; the CLI reaches it through the Unix socket (and HTTP),
//! exactly as it would reach `clauderon daemon`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use clauderon_testkit::{TestDaemon, TestRepo};
use common::run;

async fn ok(d: &TestDaemon, args: &[&str]) -> String {
    let (success, stdout, stderr) = run(d, args).await;
    assert!(success, "clauderon {args:?} failed: {stderr}");
    stdout
}

/// `list --json` prints the API's `SessionList`.
fn list_json(stdout: &str) -> Vec<serde_json::Value> {
    let list: serde_json::Value = serde_json::from_str(stdout).expect("list --json");
    list["sessions"].as_array().expect("a `sessions` array").clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_lifecycle_through_the_cli() {
    let mut d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    let repo_path = repo.path().to_string_lossy().to_string();

    let out =
        ok(&d, &["create", "--repo", &repo_path, "--prompt", "fix the login bug", "--name", "login-fix"])
            .await;
    assert!(out.contains("created login-fix"), "{out}");
    let worktree = d.data.path().join("worktrees/login-fix");
    assert!(worktree.join("README.md").exists(), "no worktree");
    assert!(repo.branches().unwrap().contains(&"clauderon/login-fix".to_string()));

    let table = ok(&d, &["list"]).await;
    let row =
        table.lines().find(|l| l.starts_with("login-fix")).unwrap_or_else(|| panic!("not listed:\n{table}"));
    assert!(row.contains("running") && row.contains("zellij") && row.contains("read-only"), "{row}");

    let shown = ok(&d, &["show", "login-fix"]).await;
    assert!(shown.contains("worktree disk:") && shown.contains("B"), "{shown}");
    assert!(shown.contains("creating -> running"), "{shown}");

    // Survives a daemon restart.
    d.restart().await;
    let sessions = list_json(&ok(&d, &["list", "--json"]).await);
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["name"], "login-fix");
    assert_eq!(sessions[0]["status"], "running");

    ok(&d, &["set-access-mode", "login-fix", "read-write"]).await;
    assert_eq!(list_json(&ok(&d, &["list", "--json"]).await)[0]["access_mode"], "read-write");

    ok(&d, &["archive", "login-fix"]).await;
    assert!(list_json(&ok(&d, &["list", "--json"]).await).is_empty());
    assert_eq!(list_json(&ok(&d, &["list", "--archived", "--json"]).await).len(), 1);
    ok(&d, &["unarchive", "login-fix"]).await;
    assert_eq!(list_json(&ok(&d, &["list", "--json"]).await).len(), 1);

    std::fs::write(worktree.join("wip.txt"), "unsaved").unwrap();
    let (success, _, stderr) = run(&d, &["delete", "login-fix"]).await;
    assert!(!success);
    assert!(stderr.starts_with("error: ") && stderr.contains("--force"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "errors are one line: {stderr}");

    let out = ok(&d, &["delete", "login-fix", "--force"]).await;
    assert!(out.contains("branch clauderon/login-fix is kept"), "{out}");
    assert!(!worktree.exists());
    assert!(list_json(&ok(&d, &["list", "--all", "--json"]).await).is_empty());
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_one_clear_line_and_non_zero() {
    let mut d = TestDaemon::start().await;
    let not_repo = tempfile::tempdir().unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["show".into(), "nobody".into()], "no session named `nobody`"),
        (vec!["show".into(), "../etc".into()], "only letters, digits and dashes"),
        (
            vec![
                "create".into(),
                "--repo".into(),
                not_repo.path().to_string_lossy().into(),
                "--prompt".into(),
                "x".into(),
            ],
            "not inside a git repository",
        ),
        (
            vec![
                "create".into(),
                "--repo".into(),
                "/definitely/missing".into(),
                "--prompt".into(),
                "x".into(),
            ],
            "does not exist",
        ),
        (
            vec![
                "create".into(),
                "--repo".into(),
                ".".into(),
                "--prompt".into(),
                "x".into(),
                "--name".into(),
                "bad name".into(),
            ],
            "only letters, digits and dashes",
        ),
        (vec!["archive".into(), "ghost".into()], "no session named `ghost`"),
    ];
    for (args, want) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (success, _, stderr) = run(&d, &args).await;
        assert!(!success, "{args:?} succeeded");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
        assert_eq!(
            stderr.trim_end().lines().filter(|l| l.starts_with("error:")).count(),
            1,
            "{args:?}: {stderr}"
        );
    }
    d.stop().await;
}

/// Over HTTP every request needs the API token (issue 11). With a loopback `--url` and no
/// CLAUDERON_API_TOKEN (`common::command` removes it) the CLI reads the data dir's token file;
/// without that file it is refused with what to do; the variable wins over the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reaches_the_daemon_over_http_with_the_data_dirs_token() {
    let mut d = TestDaemon::start().await;
    let url = d.base_url();
    let out = ok(&d, &["--url", &url, "list", "--json"]).await;
    assert_eq!(list_json(&out).len(), 0);
    let out = ok(&d, &["--url", &url, "version"]).await;
    assert!(out.contains("API v1"), "{out}");
    assert_eq!(ok(&d, &["config", "api-token"]).await.trim(), d.api_token());
    let doctor: serde_json::Value =
        serde_json::from_str(&run(&d, &["--url", &url, "doctor", "--json"]).await.1).unwrap();
    let daemon = doctor["checks"].as_array().unwrap().iter().find(|c| c["name"] == "daemon").unwrap();
    assert_eq!(daemon["level"], "ok", "{daemon}");

    // The file is what authenticated the CLI: set aside, the same command is refused.
    let file = d.layout().api_token();
    let aside = file.with_file_name("api-token.aside");
    std::fs::rename(&file, &aside).unwrap();
    let (success, _, stderr) = run(&d, &["--url", &url, "list"]).await;
    assert!(!success, "listed without a token");
    assert!(
        stderr.contains("Authorization: Bearer") && stderr.contains("clauderon config api-token"),
        "{stderr}"
    );
    let err = run(&d, &["config", "api-token"]).await.2;
    assert!(err.contains("no API token yet") && err.contains("`clauderon daemon`"), "{err}");
    let with_env = |token: &str| {
        let token = token.to_string();
        let mut c = common::command(&d, &["--url", &url, "list"]);
        tokio::task::block_in_place(move || c.env("CLAUDERON_API_TOKEN", token).output().unwrap())
    };
    assert!(with_env(d.api_token()).status.success(), "the variable's token was not sent");
    std::fs::rename(&aside, &file).unwrap();
    let wrong = with_env("a-wrong-token-0123456789");
    assert!(!wrong.status.success(), "CLAUDERON_API_TOKEN must win over the file");
    d.stop().await;
}

/// `show` prints the session's usage (tokens per model, cost); `--json` carries the usage
/// report beside the detail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_prints_tokens_per_model_and_cost() {
    use clauderon_types::usage::{TokenUsage, UsageRecord};
    let mut d = TestDaemon::start().await;
    let repo = TestRepo::new().unwrap();
    let repo_path = repo.path().to_string_lossy().to_string();
    ok(&d, &["create", "--repo", &repo_path, "--prompt", "go", "--name", "spender"]).await;
    assert!(ok(&d, &["show", "spender"]).await.contains("usage: no model calls metered yet"));

    let store = clauderon_store::Store::open(&d.layout().database()).unwrap();
    let session = store.list(clauderon_types::api::ListView::All).unwrap().remove(0);
    let record = UsageRecord {
        at: chrono::Utc::now(),
        session_id: session.id,
        session_name: "spender".into(),
        usage: TokenUsage {
            provider: "openai".into(),
            model: "gpt-5-codex".into(),
            input_tokens: 4000,
            output_tokens: 250,
            cache_read_tokens: 1000,
            cache_write_tokens: 0,
        },
        cost_usd: Some(0.0076),
    };
    store.append_usage(&[record.clone(), record]).unwrap();

    let shown = ok(&d, &["show", "spender"]).await;
    assert!(shown.contains("usage: 10500 tokens, $0.0152"), "{shown}");
    let row = shown.lines().find(|l| l.contains("gpt-5-codex")).unwrap_or_else(|| panic!("{shown}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells, ["openai", "gpt-5-codex", "8000", "500", "2000", "0", "2", "$0.0152"], "{shown}");

    let json: serde_json::Value =
        serde_json::from_str(&ok(&d, &["show", "spender", "--json"]).await).unwrap();
    assert_eq!(json["session"]["name"], "spender", "the detail is still there");
    assert_eq!(json["usage"]["total_tokens"], 10500);
    assert_eq!(json["usage"]["totals"][0]["requests"], 2);
    d.stop().await;
}
