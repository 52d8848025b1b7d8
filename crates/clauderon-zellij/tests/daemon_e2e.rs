//! End to end through a real daemon (in-process, port 0) with the zellij backend, real zellij
//! and real bubblewrap: a session's command makes requests through the proxy and gets the
//! credential injected at the test kit's TLS upstream; its environment and what it can read
//! hold no real secret; in the sandbox the user's ~/.ssh is unreadable and a direct TCP
//! connection to a loopback port other than the proxy fails. A session survives a daemon
//! restart and stays attachable.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use clauderon_backend::{BackendStatus, SessionBackend};
use clauderon_types::SandboxLevel;
use clauderon_zellij::ZellijBackend;
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::daemon_env::{Env, REAL_KEY, wait_for_file};

/// The probe every session runs: a request through the proxy (the credential must be injected),
/// its environment, a read of the planted SSH key, a direct connection to a loopback port that is
/// not the proxy, and a search for the real key wherever it could be read. `done` is written last.
fn probe_command(user_home: &Path, direct_port: u16, data_dir: &Path) -> String {
    // The key is searched for in two halves so this command line does not hold it.
    let (a, b) = REAL_KEY.split_at(10);
    format!(
        "curl -sS -o out/api.json -w '%{{http_code}}' https://api.anthropic.com/echo > out/api.code 2> out/api.err; \
         env > out/env.txt; \
         cat {home}/.ssh/id_ed25519 > out/ssh.txt 2>&1; echo $? > out/ssh.code; \
         curl -sS --noproxy '*' --max-time 3 http://127.0.0.1:{direct_port}/ > out/direct.txt 2>&1; echo $? > out/direct.code; \
         ls {data} > out/data.txt 2>&1; \
         k='{a}'; k=\"$k\"'{b}'; grep -rls \"$k\" /proc/[0-9]*/environ /proc/[0-9]*/cmdline \"$HOME\" . {data} /tmp > out/grep.txt 2>/dev/null; \
         echo done > out/done; sleep 300",
        home = user_home.display(),
        data = data_dir.display(),
    )
}

/// A loopback server on the host that is not the proxy: answers any request with `direct-ok`.
fn direct_server() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            use std::io::{Read, Write};
            let Ok(mut c) = conn else { continue };
            let mut buf = [0u8; 1024];
            let _ = c.read(&mut buf);
            let _ =
                c.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\nconnection: close\r\n\r\ndirect-ok");
        }
    });
    port
}

struct Probe {
    api_code: String,
    api_body: String,
    env: String,
    ssh: String,
    ssh_code: String,
    direct: String,
    direct_code: String,
    data: String,
    grep: String,
}

async fn run_probe(e: &Env, name: &str, level: SandboxLevel) -> Probe {
    let port = direct_server();
    // The command writes into the worktree (the one place every level may write), in a folder
    // made before the session starts so the command only needs to `cd`.
    let command = format!("mkdir -p out; {}", probe_command(e.user_home.path(), port, e.data.path()));
    e.create(name, level, &command).await;
    let out = e.worktree(name).join("out");
    wait_for_file(&out.join("done")).await;
    let read = |f: &str| std::fs::read_to_string(out.join(f)).unwrap_or_default();
    Probe {
        api_code: read("api.code"),
        api_body: read("api.json") + &read("api.err"),
        env: read("env.txt"),
        ssh: read("ssh.txt"),
        ssh_code: read("ssh.code").trim().to_string(),
        direct: read("direct.txt"),
        direct_code: read("direct.code").trim().to_string(),
        data: read("data.txt"),
        grep: read("grep.txt"),
    }
}

fn assert_no_secret_and_injected(e: &Env, p: &Probe) {
    assert_eq!(p.api_code, "200", "the request through the proxy failed: {}", p.api_body);
    let injected =
        e.up.requests().iter().any(|r| r.path == "/echo" && r.header("x-api-key") == Some(REAL_KEY));
    assert!(injected, "the upstream never got the real key from the proxy");
    assert!(p.env.contains("HTTPS_PROXY=http://"), "no proxy in the session's environment: {}", p.env);
    assert!(!p.env.contains(REAL_KEY), "the real key is in the session's environment");
    assert!(p.env.contains("ANTHROPIC_API_KEY="), "no placeholder in the environment: {}", p.env);
    assert!(p.grep.trim().is_empty(), "files the session can read hold the real key: {}", p.grep);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_sandbox_gets_credentials_only_through_the_proxy_and_sees_no_secret() {
    let e = Env::start().await;
    let p = run_probe(&e, "zj-full", SandboxLevel::Full).await;
    assert_no_secret_and_injected(&e, &p);
    assert_ne!(p.ssh_code, "0", "the sandbox could read the planted ~/.ssh key: {}", p.ssh);
    assert!(!p.ssh.contains("planted-by-the-test"), "{}", p.ssh);
    assert_ne!(p.direct_code, "0", "a direct connection to a loopback port worked: {}", p.direct);
    assert!(!p.direct.contains("direct-ok"), "{}", p.direct);
    assert!(!p.data.contains("clauderon.db"), "the data dir is visible in the sandbox: {}", p.data);
    assert!(p.env.contains("CLAUDERON_SANDBOX=full"), "{}", p.env);
    e.delete("zj-full").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_fs_sandbox_hides_secrets_but_keeps_the_host_network() {
    let e = Env::start().await;
    let p = run_probe(&e, "zj-fs", SandboxLevel::Fs).await;
    assert_no_secret_and_injected(&e, &p);
    assert_ne!(p.ssh_code, "0", "the sandbox could read the planted ~/.ssh key: {}", p.ssh);
    assert_eq!(p.direct_code, "0", "fs keeps the host network: {}", p.direct);
    assert!(!p.data.contains("clauderon.db"), "the data dir is visible in the sandbox: {}", p.data);
    e.delete("zj-fs").await;
}

/// Without a sandbox the environment is still clean, and the same probe *can* read ~/.ssh and
/// connect directly: the sandboxed tests above would see it if the sandbox failed.
#[tokio::test(flavor = "multi_thread")]
async fn without_a_sandbox_the_environment_is_clean_and_the_probe_can_see_the_host() {
    let e = Env::start().await;
    let p = run_probe(&e, "zj-off", SandboxLevel::Off).await;
    assert_eq!(p.api_code, "200", "{}", p.api_body);
    assert!(!p.env.contains(REAL_KEY), "the real key is in the session's environment");
    assert_eq!(p.ssh_code, "0", "{}", p.ssh);
    assert!(p.ssh.contains("planted-by-the-test"));
    assert_eq!(p.direct_code, "0", "{}", p.direct);
    assert!(p.direct.contains("direct-ok"));
    e.delete("zj-off").await;
}

async fn find(b: &ZellijBackend, name: &str) -> clauderon_backend::BackendResource {
    let all = b.list().await.unwrap();
    all.into_iter().find(|r| r.detail.contains(name)).unwrap_or_else(|| panic!("{name} not listed"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_survives_a_daemon_restart_and_stays_attachable() {
    let mut e = Env::start().await;
    // On each `go` file, a request through the proxy: the sandbox's way to the proxy must
    // outlive the daemon's socket, which a restart makes anew.
    let command = "mkdir -p out; echo restart-marker; while :; do if [ -f go ]; then rm go; \
                   curl -sS -o /dev/null -w '%{http_code}' https://api.anthropic.com/echo > out/code.tmp 2>&1; \
                   mv out/code.tmp out/code; fi; sleep 0.05; done";
    e.create("zj-restart", SandboxLevel::Full, command).await;
    let wt = e.worktree("zj-restart");
    let through_proxy = |wt: PathBuf| async move {
        let _ = std::fs::remove_file(wt.join("out/code"));
        std::fs::write(wt.join("go"), "").unwrap();
        wait_for_file(&wt.join("out/code")).await
    };
    assert_eq!(through_proxy(wt.clone()).await, "200", "before the restart");
    let before = find(&e.backend, "zj-restart").await;
    e.restart().await;
    // The backend renews the sandbox's link to the new socket within CHECK_EVERY.
    tokio::time::sleep(clauderon_zellij::proxy_link::CHECK_EVERY * 3).await;
    assert_eq!(through_proxy(wt.clone()).await, "200", "after the restart");
    let session = e.session("zj-restart").await;
    let dir = e.data.path().join("zellij").join(before.handle.as_str());
    assert_eq!(
        session["session"]["status"],
        "running",
        "{session}\nexit status: {:?}\nlogs: {:?}",
        std::fs::read_to_string(dir.join("exit-status")),
        e.backend.logs(&before.handle, 20).await
    );
    let after = find(&e.backend, "zj-restart").await;
    assert_eq!(after.handle, before.handle);
    assert_eq!(e.backend.status(&after.handle).await.unwrap(), BackendStatus::Running);
    let mut logs = String::new();
    for _ in 0..50 {
        logs = e.backend.logs(&after.handle, 20).await.unwrap();
        if logs.contains("restart-marker") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(logs.contains("restart-marker"), "{logs}");
    let clauderon_backend::AttachTarget::Command { program, args } =
        e.backend.attach_target(&after.handle).await.unwrap();
    // `zellij attach` needs a terminal; the same zellij answering for the session by name is
    // what attaching relies on.
    let out = std::process::Command::new(&program)
        .args(["--session", &args[1], "action", "list-panes"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    e.delete("zj-restart").await;
    assert_eq!(e.backend.status(&after.handle).await.unwrap(), BackendStatus::Missing);
}

/// Issue 11, item 3: an `fs` sandbox shares the host's network, so its agent can reach the
/// daemon's TCP API on loopback. Its command attacks it as a prompt-injected agent would: list
/// sessions, create an unsandboxed one, switch itself to read-write, read the token file the
/// user's CLI reads, and use the Unix socket. (Stopping itself is left to `api_containment`:
/// a stop that worked would end this command before it could write what it saw.) Every answer must be a refusal (401: the daemon
/// was reached and said no), nothing may change, and the same request from the test process
/// with the token gets a 200, so only the token made the difference.
#[tokio::test(flavor = "multi_thread")]
async fn a_session_in_an_fs_sandbox_cannot_act_on_the_daemon_api() {
    let e = Env::start().await;
    let daemon = e.daemon.as_ref().unwrap();
    let api = format!("http://{}", daemon.http_addr);
    let data = e.data.path().display().to_string();
    // What the session would run on the host, unsandboxed, if the create went through.
    let marker = e.user_home.path().join("escaped-marker");
    let create = json!({
        "repo_path": e.repo.path(), "prompt": "", "name": "escaped", "backend": "zellij",
        "options": {"command": format!("touch {}", marker.display()), "sandbox": "off"},
    });
    let command = format!(
        "mkdir -p out; c() {{ curl -sS --noproxy '*' --max-time 5 -o /dev/null -w '%{{http_code}}' \"$@\"; }}; \
         c {api}/api/sessions > out/list.code 2>> out/err; \
         c -X POST -H 'content-type: application/json' -d '{create}' {api}/api/sessions > out/create.code 2>> out/err; \
         c -X PUT -H 'content-type: application/json' -d '{{\"mode\":\"read-write\"}}' \
           {api}/api/sessions/zj-attacker/access-mode > out/mode.code 2>> out/err; \
         tok=$(cat {data}/api-token 2>/dev/null); echo \"${{#tok}}\" > out/token.len; \
         c -H \"Authorization: Bearer $tok\" {api}/api/sessions > out/read-token.code 2>> out/err; \
         c --unix-socket {data}/clauderon.sock http://localhost/api/sessions > out/socket.code 2>> out/err; \
         echo done > out/done; sleep 300",
    );
    e.create("zj-attacker", SandboxLevel::Fs, &command).await;
    let out = e.worktree("zj-attacker").join("out");
    wait_for_file(&out.join("done")).await;
    let read = |f: &str| std::fs::read_to_string(out.join(f)).unwrap_or_default().trim().to_string();
    let errors = read("err");
    for probe in ["list", "create", "mode", "read-token"] {
        assert_eq!(read(&format!("{probe}.code")), "401", "{probe} from inside the session ({errors})");
    }
    assert_eq!(read("token.len"), "0", "the session read the API token file");
    assert_eq!(read("socket.code"), "000", "the session reached the daemon's Unix socket");

    let me = e.session("zj-attacker").await;
    assert_eq!(me["session"]["access_mode"], "read-only", "{me}");
    assert_eq!(me["session"]["status"], "running", "{me}");
    let list = unix(&e.socket(), Request::new("GET", "/api/sessions?view=all")).await.json();
    let names: Vec<&str> =
        list["sessions"].as_array().unwrap().iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(names, ["zj-attacker"], "the session created another one");
    assert!(!marker.exists(), "an unsandboxed session ran on the host");

    // The same curl from the test process: refused alike without the token, 200 with it.
    let curl = |auth: Option<String>| {
        let mut c = std::process::Command::new("curl");
        c.args(["-sS", "--noproxy", "*", "--max-time", "5", "-o", "/dev/null", "-w", "%{http_code}"]);
        if let Some(auth) = auth {
            c.args(["-H", &auth]);
        }
        let out = c.arg(format!("{api}/api/sessions")).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(curl(None), "401");
    assert_eq!(curl(Some(format!("Authorization: Bearer {}", daemon.api_token.expose()))), "200");
    e.delete("zj-attacker").await;
}
