//! The `clauderon daemon` process the bench measures: a data dir with its sessions and
//! proxy identities written to the store first, a config pointing the proxy at the upstream.

use super::load::{Connector, Path_, make_path};
use super::proc_stat::Watched;
use anyhow::{Context, bail};
use base64::Engine;
use chrono::Utc;
use clauderon_store::Store;
use clauderon_testkit::TlsUpstream;
use clauderon_types::EventKind;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub(crate) struct Daemon(Child);

impl Daemon {
    pub(crate) fn pid(&self) -> Option<u32> {
        Some(self.0.id())
    }

    pub(crate) fn watched(&self) -> Watched {
        Watched(self.0.id())
    }
}

/// A session's proxy identity: its name and secret, as a session sends them in
/// `Proxy-Authorization`.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    pub(crate) name: String,
    pub(crate) secret: String,
}

impl Identity {
    /// The `Proxy-Authorization` value.
    pub(crate) fn basic(&self) -> String {
        let pair = format!("{}:{}", self.name, self.secret);
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn free_port() -> anyhow::Result<SocketAddr> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

/// How much policy the daemon applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Policy {
    /// The defaults: a read-write session, the built-in allowlist, scrubbing on.
    Default,
    /// Everything off: egress open, scrubbing off, a read-write session.
    Off,
    /// Everything on: a read-only session, an allowlist of 50 hosts, scrubbing on.
    On,
}

/// A data dir with `identities` sessions (the first named `bench`, the others `bench-N`) and
/// their proxy secrets already recorded, and a config pointing the proxy at the upstream.
/// The daemon loads every identity from the store when it starts, as after a restart.
pub(crate) fn prepare(
    home: &Path,
    up: &TlsUpstream,
    policy: Policy,
    identities: usize,
) -> anyhow::Result<Vec<Identity>> {
    let now = Utc::now();
    let store = Store::open(&home.join("clauderon.db"))?;
    let mut made = Vec::with_capacity(identities);
    for i in 0..identities.max(1) {
        let name = if i == 0 { "bench".to_string() } else { format!("bench-{i}") };
        let mut session = clauderon_testkit::session::sample(&name);
        if policy == Policy::On {
            session.access_mode = clauderon_types::AccessMode::ReadOnly;
        }
        let secret = clauderon_proxy::identity::new_secret();
        store.insert_session(&session, &EventKind::Archived, now)?;
        store.set_proxy_secret(session.id, &secret)?;
        made.push(Identity { name, secret });
    }
    store.close()?;
    let ca_file = up.ca().write_pem(home);
    let mut config = format!(
        "[proxy]\nextra_ca_files = [{:?}]\n[proxy.upstream_overrides]\n",
        ca_file.display().to_string()
    );
    for (host, addr) in up.overrides() {
        config.push_str(&format!("{host:?} = \"{addr}\"\n"));
    }
    match policy {
        Policy::Default => config.push_str("[policy]\nallow_hosts = [\"other.test\"]\n"),
        Policy::Off => config.push_str("[policy]\negress = \"open\"\nscrub = false\n"),
        Policy::On => {
            // 50 hosts: the bench's own two and 48 others, none of the built-in list.
            let mut hosts = vec!["\"api.anthropic.com\"".to_string(), "\"other.test\"".to_string()];
            hosts.extend((0..48).map(|i| format!("\"*.registry-{i}.example\"")));
            config.push_str(&format!(
                "[policy]\nbuiltin_allow_hosts = false\nallow_hosts = [{}]\nscrub = true\n",
                hosts.join(", ")
            ));
        }
    }
    std::fs::write(home.join("config.toml"), config)?;
    Ok(made)
}

/// The intercepted path (CONNECT to `api.anthropic.com`, TLS terminated with the daemon's CA)
/// through the daemon whose data dir is `home`.
pub(crate) fn intercepted_path(home: &Path, proxy: SocketAddr, secret: &str) -> anyhow::Result<Path_> {
    let bench = Identity { name: "bench".into(), secret: secret.into() };
    path_as(&bench, proxy, daemon_roots(home)?, "https://api.anthropic.com")
}

/// The roots that trust the CA of the daemon whose data dir is `home`.
pub(crate) fn daemon_roots(home: &Path) -> anyhow::Result<rustls::RootCertStore> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(home.join("ca/ca.pem"))? {
        roots.add(cert?)?;
    }
    Ok(roots)
}

/// A path through the proxy at `proxy` as session `who`, trusting `roots`, to `base`.
pub(crate) fn path_as(
    who: &Identity,
    proxy: SocketAddr,
    roots: rustls::RootCertStore,
    base: &str,
) -> anyhow::Result<Path_> {
    let mut plain = HttpConnector::new();
    plain.set_nodelay(true);
    let tunnel = Tunnel::new(format!("http://{proxy}").parse()?, plain).with_auth(who.basic().parse()?);
    make_path(Connector::Proxy(tunnel), roots, base.into())
}

/// Start `clauderon daemon` on a fresh data dir; returns it with its proxy's address and the
/// session's proxy secret.
pub(crate) async fn start_daemon(
    bin: &Path,
    home: &Path,
    up: &TlsUpstream,
    policy: Policy,
    pin: bool,
) -> anyhow::Result<(Daemon, SocketAddr, String)> {
    let (daemon, proxy, mut ids) = start_daemon_with(bin, home, up, policy, pin, 1).await?;
    let bench = ids.swap_remove(0);
    Ok((daemon, proxy, bench.secret))
}

/// [`start_daemon`] with `identities` sessions in the store (the first is `bench`).
pub(crate) async fn start_daemon_with(
    bin: &Path,
    home: &Path,
    up: &TlsUpstream,
    policy: Policy,
    pin: bool,
    identities: usize,
) -> anyhow::Result<(Daemon, SocketAddr, Vec<Identity>)> {
    let ids = prepare(home, up, policy, identities)?;
    let (api, proxy) = (free_port()?, free_port()?);
    let mut command = if pin {
        let mut c = Command::new("taskset");
        c.args(["-c", "1"]).arg(bin);
        c
    } else {
        Command::new(bin)
    };
    let child = command
        .args(["daemon", "--bind", &api.to_string(), "--proxy-bind", &proxy.to_string(), "--log", "warn"])
        .env("CLAUDERON_HOME", home)
        .env("ANTHROPIC_API_KEY", "sk-ant-bench-not-a-real-key")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting the daemon")?;
    let daemon = Daemon(child);
    // Up to 30 s: a daemon with 10,000 sessions to load takes longer than one with one.
    for _ in 0..1200 {
        if tokio::net::TcpStream::connect(proxy).await.is_ok() {
            return Ok((daemon, proxy, ids));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    bail!("the daemon's proxy did not start on {proxy}")
}
