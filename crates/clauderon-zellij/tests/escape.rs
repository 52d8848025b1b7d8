//! The escape suite for Zellij sessions (issue 11): a session whose own process is an attack
//! script, in each sandbox level, and the host checking afterwards that nothing got out. Each
//! attack is first shown to work where there is no wall (a plain host process, or `--sandbox
//! off`), so a wall that stops holding fails a test.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use clauderon_testkit::attacks::{self, GIT_PLANT, REACH_HOST, SocketTrap};
use clauderon_testkit::http::{Request, unix};
use clauderon_types::SandboxLevel;
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::daemon_env::Env;

async fn api(e: &Env, method: &str, path: &str) -> (u16, String) {
    let reply = unix(&e.socket(), Request::new(method, path)).await;
    (reply.status, reply.body)
}

async fn wait_status(e: &Env, name: &str, want: &str) {
    for _ in 0..200 {
        if e.session(name).await["session"]["status"] == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{name} never became {want}: {}", e.session(name).await);
}

/// Plant git traps from inside a session, then drive everything that runs git on the host:
/// stop, start, a delete that checks for uncommitted work, another create from the same
/// repository, a forced delete. Returns what the attack could write, the markers clauderon's
/// own git left, and the markers after the user's own `git status` in their checkout.
async fn git_attack(
    level: SandboxLevel,
) -> (std::collections::BTreeMap<String, bool>, Vec<PathBuf>, Vec<PathBuf>) {
    let e = Env::start().await;
    let nonce = attacks::nonce();
    let name = format!("zj-git-{level}");
    e.create(&name, level, &attacks::session_command(GIT_PLANT, &format!("{nonce} out/outcomes"))).await;
    let wt = e.worktree(&name);
    attacks::wait_for(&wt.join("out/finished")).await;
    let outcomes = attacks::outcomes(&wt.join("out/outcomes")).expect("the attack wrote its outcomes");

    assert_eq!(api(&e, "POST", &format!("/api/sessions/{name}/stop")).await.0, 200);
    wait_status(&e, &name, "stopped").await;
    let (code, body) = api(&e, "POST", &format!("/api/sessions/{name}/start")).await;
    assert_eq!(code, 200, "{body}");
    let (code, body) = api(&e, "DELETE", &format!("/api/sessions/{name}")).await;
    assert_eq!(code, 409, "the planted files are uncommitted work: {body}");
    attacks::review_and_ship(&e.socket(), &name).await;
    e.create(&format!("{name}-next"), level, "sleep 600").await;
    e.delete(&format!("{name}-next")).await;
    let by_clauderon = attacks::pwned(&nonce);

    // The user's own git in their checkout, while the session's files are still there.
    let user = std::process::Command::new("git").arg("-C").arg(e.repo.path()).arg("status").output().unwrap();
    let _ = user.status;
    let after_user = attacks::pwned(&nonce);
    attacks::clear_pwned(&nonce);
    e.delete(&name).await;
    assert_eq!(attacks::pwned(&nonce), Vec::<PathBuf>::new(), "the forced delete ran a planted program");
    (outcomes, by_clauderon, after_user)
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_sandbox_the_git_attack_works_on_the_users_git_but_not_on_clauderons() {
    let (outcomes, by_clauderon, after_user) = git_attack(SandboxLevel::Off).await;
    assert_eq!(outcomes.get("common-commondir"), Some(&true), "{outcomes:?}");
    assert_eq!(by_clauderon, Vec::<PathBuf>::new(), "clauderon's own git ran a planted program");
    assert!(!after_user.is_empty(), "control: the user's git follows the planted commondir");
}

/// A sandboxed session's git attack: every walled write refused, nothing run on the host.
async fn assert_git_walled(level: SandboxLevel) {
    let (outcomes, by_clauderon, after_user) = git_attack(level).await;
    for vector in attacks::GIT_WALLED {
        assert_eq!(outcomes.get(*vector), Some(&false), "{level}: {vector} went through: {outcomes:?}");
    }
    assert_eq!(by_clauderon, Vec::<PathBuf>::new());
    assert_eq!(after_user, Vec::<PathBuf>::new(), "{level}: the user's git ran what the session planted");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_sandbox_cannot_plant_anything_a_host_git_runs() {
    assert_git_walled(SandboxLevel::Full).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_fs_sandbox_cannot_plant_anything_a_host_git_runs() {
    assert_git_walled(SandboxLevel::Fs).await;
}

/// Host places the reach attack is pointed at: socket traps where host services keep theirs,
/// the daemon's own socket, Docker's, and the user's files (dotfiles, another checkout, the
/// user's repository's working files, a secret made after the session started).
struct Targets {
    traps: Vec<SocketTrap>,
    paths: Vec<PathBuf>,
}

fn targets(e: &Env, nonce: &str) -> Targets {
    let home = e.user_home.path();
    std::fs::create_dir_all(home.join("src/other")).unwrap();
    std::fs::write(home.join(".bashrc"), "export SECRET=bashrc-secret").unwrap();
    std::fs::write(home.join("src/other/.env"), "TOKEN=other-checkout-secret").unwrap();
    std::fs::create_dir_all(home.join(".gnupg")).unwrap();
    let traps = vec![
        SocketTrap::bind(Path::new(&format!("/run/clauderon-escape-{nonce}.sock"))).unwrap(),
        SocketTrap::bind(Path::new(&format!("/tmp/clauderon-escape-{nonce}.sock"))).unwrap(),
        SocketTrap::bind(&home.join(".gnupg/S.gpg-agent")).unwrap(),
    ];
    let mut paths: Vec<PathBuf> = traps.iter().map(|t| t.path.clone()).collect();
    paths.push(e.socket());
    paths.push(PathBuf::from("/var/run/docker.sock"));
    paths.push(home.join(".bashrc"));
    paths.push(home.join("src/other/.env"));
    paths.push(e.repo.path().join("README.md"));
    paths.push(home.join("late-secret"));
    Targets { traps, paths }
}

fn args(t: &Targets, allowed: &str) -> String {
    let mut a = format!("out/reach '{allowed}'");
    for p in &t.paths {
        a.push_str(&format!(" '{}'", p.display()));
    }
    a
}

#[tokio::test(flavor = "multi_thread")]
async fn sandboxed_sessions_reach_no_host_socket_and_no_file_of_the_user() {
    let e = Env::start().await;
    let nonce = attacks::nonce();
    let t = targets(&e, &nonce);

    // Control: the same attack as a plain host process reaches every trap and file.
    let control = tempfile::tempdir().unwrap();
    std::fs::create_dir(control.path().join("out")).unwrap();
    std::fs::write(e.user_home.path().join("late-secret"), "late").unwrap();
    let script = control.path().join("reach.sh");
    std::fs::write(&script, REACH_HOST).unwrap();
    let mut cmd = std::process::Command::new("sh");
    cmd.arg(&script).arg("out/reach").arg("-").args(&t.paths).current_dir(control.path());
    cmd.env("CLAUDERON_REACH_NO_SCAN", "1");
    assert!(cmd.status().unwrap().success());
    let report = attacks::report(&control.path().join("out/reach")).unwrap();
    for trap in &t.traps {
        assert!(report.contains(&format!("{} connected", trap.path.display())), "{report:?}");
        assert!(trap.accepted() > 0, "control: {} never accepted", trap.path.display());
    }
    assert!(report.contains(&format!("{} connected", e.socket().display())), "{report:?}");
    assert!(report.contains(&format!("{} read", e.user_home.path().join(".bashrc").display())), "{report:?}");
    std::fs::remove_file(e.user_home.path().join("late-secret")).unwrap();
    let before: Vec<usize> = t.traps.iter().map(SocketTrap::accepted).collect();

    for level in [SandboxLevel::Full, SandboxLevel::Fs] {
        let name = format!("zj-reach-{level}");
        // The sandbox's one way out: the folder with the link to the proxy's socket.
        let allowed = e.data.path().join("zellij/proxy").to_string_lossy().into_owned();
        let command = format!(
            "while [ ! -f go ]; do sleep 0.1; done; {}",
            attacks::session_command(REACH_HOST, &args(&t, &allowed))
        );
        e.create(&name, level, &command).await;
        let wt = e.worktree(&name);
        // A secret made after the session started.
        std::fs::write(e.user_home.path().join("late-secret"), "late-secret-value").unwrap();
        std::fs::write(wt.join("go"), "").unwrap();
        attacks::wait_for(&wt.join("out/finished")).await;
        let report = attacks::report(&wt.join("out/reach")).expect("the attack finished");
        for line in &report {
            let reached = line.ends_with(" connected") || line.ends_with(" read");
            assert!(!reached, "{level}: the session reached `{line}`\n{report:#?}");
        }
        if level == SandboxLevel::Full {
            assert!(report.contains(&"abstract 0".to_string()), "{level}: {report:?}");
        }
        let after: Vec<usize> = t.traps.iter().map(SocketTrap::accepted).collect();
        assert_eq!(after, before, "{level}: a host socket trap accepted a connection from the session");
        std::fs::remove_file(e.user_home.path().join("late-secret")).unwrap();
        e.delete(&name).await;
    }
}

/// The daemon's TCP API, called from inside sandboxed sessions directly and through their own
/// proxy (whose test config allows 127.0.0.1 and localhost: the worst case), by every loopback
/// name: no call gets a 2xx, the session stays read-only and nothing is created. Control: the
/// same API answers the test process (with the token) and the same script run on the host reaches
/// it (a 401 without the token, not a dead port).
#[tokio::test(flavor = "multi_thread")]
async fn sandboxed_sessions_get_nothing_from_the_daemon_api() {
    let e = Env::start().await;
    let daemon = e.daemon.as_ref().unwrap();
    let api_port = daemon.http_addr.port();
    let bases = [
        format!("http://127.0.0.1:{api_port}"),
        format!("http://localhost:{api_port}"),
        format!("http://[::1]:{api_port}"),
        format!("http://127.0.0.2:{api_port}"),
        format!("http://127.0.0.1:{}", daemon.proxy_addr.port()),
    ];
    let urls = bases.iter().map(|b| format!("'{b}'")).collect::<Vec<_>>().join(" ");

    let control = tempfile::tempdir().unwrap();
    let script = control.path().join("reach_api.sh");
    std::fs::write(&script, attacks::REACH_API).unwrap();
    let out = control.path().join("out");
    let status = std::process::Command::new("sh")
        .arg(&script)
        .arg(&out)
        .arg("nobody")
        .arg(&bases[0])
        .env_remove("HTTPS_PROXY")
        .env_remove("http_proxy")
        .status()
        .unwrap();
    assert!(status.success());
    let host = attacks::report(&out).unwrap();
    assert!(
        host.iter().any(|l| l.starts_with("direct GET") && !l.ends_with(" 000")),
        "control: the API answers on the host: {host:?}"
    );

    for level in [SandboxLevel::Full, SandboxLevel::Fs] {
        let name = format!("zj-api-{level}");
        let command = attacks::session_command(attacks::REACH_API, &format!("out/api {name} {urls}"));
        e.create(&name, level, &command).await;
        let wt = e.worktree(&name);
        attacks::wait_for(&wt.join("out/finished")).await;
        let report = attacks::report(&wt.join("out/api")).expect("the attack finished");
        for line in &report {
            let code = line.rsplit(' ').next().unwrap_or("");
            assert!(!code.starts_with('2'), "{level}: the session got `{line}` from the daemon\n{report:#?}");
        }
        let session = e.session(&name).await;
        assert_eq!(session["session"]["access_mode"], "read-only", "{session}");
        let (_, list) = api(&e, "GET", "/api/sessions?view=all").await;
        assert!(!list.contains("\"name\":\"escaped\""), "the session created a session: {list}");
        e.delete(&name).await;
    }
}
