//! Proxy benchmark: the same local TLS upstream reached directly and through a
//! real `clauderon daemon` process's credential proxy (with injection and the
//! audit on), in the same run. HTTP/1.1 on both paths.
//!
//! Usage: proxy-bench [--clauderon PATH] [--quick] [--pin] [--policy | --scrub]
//!        proxy-bench --scrubber-only binary|text MIB

use anyhow::{Context, bail};
use base64::Engine;
use bytes::Bytes;
use chrono::Utc;
use clauderon_proxy::upstream::OverrideResolver;
use clauderon_store::Store;
use clauderon_testkit::TlsUpstream;
use clauderon_types::EventKind;
use http_body_util::{BodyExt, Empty};
use hyper::Uri;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::rt::TokioExecutor;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "proxy_bench/scrub_cost.rs"]
mod scrub_cost;

type Body = Empty<Bytes>;

/// One way to reach the upstream: a pooled client and the URL prefix to use.
#[derive(Clone)]
struct Path_ {
    client: Client<hyper_rustls::HttpsConnector<Connector>, Body>,
    base: String,
}

#[derive(Clone)]
enum Connector {
    Direct(HttpConnector<OverrideResolver>),
    Proxy(Tunnel<HttpConnector>),
}

impl tower_service::Service<Uri> for Connector {
    type Response = hyper_util::rt::TokioIo<tokio::net::TcpStream>;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        match self {
            Connector::Direct(c) => c.poll_ready(cx).map_err(Into::into),
            Connector::Proxy(c) => c.poll_ready(cx).map_err(Into::into),
        }
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        match self {
            Connector::Direct(c) => {
                let f = c.call(uri);
                Box::pin(async move { f.await.map_err(Into::into) })
            }
            Connector::Proxy(c) => {
                let f = c.call(uri);
                Box::pin(async move { f.await.map_err(Into::into) })
            }
        }
    }
}

fn tls(roots: rustls::RootCertStore) -> anyhow::Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

fn make_path(connector: Connector, roots: rustls::RootCertStore, base: String) -> anyhow::Result<Path_> {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls(roots)?)
        .https_only()
        .enable_http1()
        .wrap_connector(connector);
    let client = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(128).build(https);
    Ok(Path_ { client, base })
}

/// The body of `GET route` as text.
async fn get_text(path: &Path_, route: &str) -> anyhow::Result<String> {
    let uri: Uri = format!("{}{route}", path.base).parse()?;
    let resp = path.client.get(uri).await?;
    if !resp.status().is_success() {
        bail!("GET {route}: {}", resp.status());
    }
    let body = resp.into_body().collect().await?.to_bytes();
    Ok(String::from_utf8_lossy(&body).into_owned())
}

async fn get(path: &Path_, route: &str) -> anyhow::Result<u64> {
    let uri: Uri = format!("{}{route}", path.base).parse()?;
    let resp = path.client.get(uri).await?;
    if !resp.status().is_success() {
        bail!("GET {route}: {}", resp.status());
    }
    let mut body = resp.into_body();
    let mut n = 0u64;
    while let Some(frame) = body.frame().await {
        if let Some(d) = frame?.data_ref() {
            n += d.len() as u64;
        }
    }
    Ok(n)
}

struct Latency {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[(((sorted.len() - 1) as f64) * p).round() as usize]
}

async fn latency(path: &Path_, concurrency: usize, per_task: usize) -> anyhow::Result<Latency> {
    for _ in 0..concurrency.max(20) {
        get(path, "/small").await?;
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let path = path.clone();
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::with_capacity(per_task);
            for _ in 0..per_task {
                let t = Instant::now();
                get(&path, "/small").await?;
                samples.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            anyhow::Ok(samples)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_by(f64::total_cmp);
    Ok(Latency { rps: all.len() as f64 / elapsed, p50_ms: pct(&all, 0.5), p99_ms: pct(&all, 0.99) })
}

async fn download(path: &Path_, bytes: u64, runs: usize) -> anyhow::Result<f64> {
    let mut best = 0f64;
    for _ in 0..runs {
        let t = Instant::now();
        let got = get(path, &format!("/bytes/{bytes}")).await?;
        if got != bytes {
            bail!("downloaded {got} bytes, expected {bytes}");
        }
        best = best.max(bytes as f64 / (1024.0 * 1024.0) / t.elapsed().as_secs_f64());
    }
    Ok(best)
}

async fn first_event(path: &Path_, runs: usize) -> anyhow::Result<f64> {
    let mut samples = Vec::new();
    for _ in 0..runs {
        let uri: Uri = format!("{}/sse?events=3", path.base).parse()?;
        let t = Instant::now();
        let resp = path.client.get(uri).await?;
        let mut body = resp.into_body();
        loop {
            match body.frame().await {
                Some(Ok(f)) if f.data_ref().is_some_and(|d| !d.is_empty()) => break,
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => bail!("SSE stream ended without an event"),
            }
        }
        samples.push(t.elapsed().as_secs_f64() * 1000.0);
        while body.frame().await.is_some() {}
    }
    samples.sort_by(f64::total_cmp);
    Ok(pct(&samples, 0.5))
}

struct Sizes {
    n1: usize,
    n64: usize,
    mib: u64,
    runs: usize,
}

struct Results {
    c1: Latency,
    c64: Latency,
    mib_s: f64,
    first_event_ms: f64,
    /// The daemon's CPU time per unit of work, when the path goes through it.
    cpu: Option<CpuCost>,
}

/// CPU the daemon spent (user + system, all threads): a measure of the proxy's own cost that
/// load on the machine disturbs far less than throughput does.
struct CpuCost {
    c1_us_per_request: f64,
    c64_us_per_request: f64,
    ms_per_100_mib: f64,
}

/// CPU time used so far by process `pid` and its threads, dead ones included (`/proc/PID/stat`,
/// in clock ticks of 10 ms: the phases measured are long enough for that).
fn cpu_time(pid: Option<u32>) -> Duration {
    let Some(pid) = pid else { return Duration::ZERO };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name (which may hold spaces) in parentheses.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// Measure `path`; `daemon` is the pid of the daemon it goes through, if any.
async fn measure(path: &Path_, s: &Sizes, daemon: Option<u32>) -> anyhow::Result<Results> {
    let t0 = cpu_time(daemon);
    let c1 = latency(path, 1, s.n1).await?;
    let t1 = cpu_time(daemon);
    let c64 = latency(path, 64, s.n64).await?;
    let t2 = cpu_time(daemon);
    let bytes = s.mib * 1024 * 1024;
    let mib_s = download(path, bytes, s.runs).await?;
    let t3 = cpu_time(daemon);
    let cpu = daemon.map(|_| CpuCost {
        // `latency` sends max(concurrency, 20) warm-up requests first.
        c1_us_per_request: (t1 - t0).as_secs_f64() * 1e6 / (s.n1 + 20) as f64,
        c64_us_per_request: (t2 - t1).as_secs_f64() * 1e6 / (64 * s.n64 + 64) as f64,
        ms_per_100_mib: (t3 - t2).as_secs_f64() * 1e3 * 100.0 / (s.mib as f64 * s.runs as f64),
    });
    Ok(Results { c1, c64, mib_s, first_event_ms: first_event(path, 30).await?, cpu })
}

struct Daemon(Child);

impl Daemon {
    fn pid(&self) -> Option<u32> {
        Some(self.0.id())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> anyhow::Result<SocketAddr> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

/// How much policy the daemon applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Policy {
    /// The defaults: a read-write session, the built-in allowlist, scrubbing on.
    Default,
    /// Everything off: egress open, scrubbing off, a read-write session.
    Off,
    /// Everything on: a read-only session, an allowlist of 50 hosts, scrubbing on.
    On,
}

/// A data dir with one session and its proxy secret already recorded, and a
/// config pointing the proxy at the upstream.
fn prepare(home: &Path, up: &TlsUpstream, policy: Policy) -> anyhow::Result<String> {
    let now = Utc::now();
    let mut session = clauderon_testkit::session::sample("bench");
    if policy == Policy::On {
        session.access_mode = clauderon_types::AccessMode::ReadOnly;
    }
    let secret = clauderon_proxy::identity::new_secret();
    let store = Store::open(&home.join("clauderon.db"))?;
    store.insert_session(&session, &EventKind::Archived, now)?;
    store.set_proxy_secret(session.id, &secret)?;
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
    Ok(secret)
}

/// The intercepted path (CONNECT to `api.anthropic.com`, TLS terminated with the daemon's CA)
/// through the daemon whose data dir is `home`.
fn intercepted_path(home: &Path, proxy: SocketAddr, secret: &str) -> anyhow::Result<Path_> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(home.join("ca/ca.pem"))? {
        roots.add(cert?)?;
    }
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("bench:{secret}"));
    let mut plain = HttpConnector::new();
    plain.set_nodelay(true);
    let tunnel =
        Tunnel::new(format!("http://{proxy}").parse()?, plain).with_auth(format!("Basic {auth}").parse()?);
    make_path(Connector::Proxy(tunnel), roots, "https://api.anthropic.com".into())
}

/// Start `clauderon daemon` on a fresh data dir; returns it with its proxy's address and the
/// session's proxy secret.
async fn start_daemon(
    bin: &Path,
    home: &Path,
    up: &TlsUpstream,
    policy: Policy,
    pin: bool,
) -> anyhow::Result<(Daemon, SocketAddr, String)> {
    let secret = prepare(home, up, policy)?;
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
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(proxy).await.is_ok() {
            return Ok((daemon, proxy, secret));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    bail!("the daemon's proxy did not start on {proxy}")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut bin = std::env::current_exe()?.with_file_name("clauderon");
    let mut quick = false;
    // `--pin`: run the daemon on CPU 1 and this process (load generator + upstream) on CPU 0,
    // so the proxy does not compete with the load for a core.
    let mut pin = false;
    // `--policy`: the intercepted path with policy off and on, side by side (issue 4 §6).
    let mut policy = false;
    // `--scrub`: what scrubbing responses costs, in process and in the daemon (issue 11).
    let mut scrub = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--policy" => policy = true,
            "--scrub" => scrub = true,
            "--scrubber-only" => {
                let body = args.next().context("--scrubber-only binary|text MIB")?;
                let mib =
                    args.next().and_then(|n| n.parse().ok()).context("--scrubber-only binary|text MIB")?;
                return scrub_cost::scrubber_only(&body, mib);
            }
            "--clauderon" => bin = PathBuf::from(args.next().context("--clauderon PATH")?),
            "--quick" => quick = true,
            "--pin" => pin = true,
            other => bail!("unknown argument {other}"),
        }
    }
    if !bin.exists() {
        bail!("{} not found: build it with `cargo build --release -p clauderon`", bin.display());
    }
    let up = TlsUpstream::start_default().await;
    if pin {
        let me = std::process::id().to_string();
        let ok = Command::new("taskset").args(["-a", "-p", "-c", "0", &me]).stdout(Stdio::null()).status()?;
        if !ok.success() {
            bail!("taskset failed: install util-linux, or run without --pin");
        }
    }
    let sizes = if quick {
        Sizes { n1: 300, n64: 20, mib: 16, runs: 1 }
    } else {
        Sizes { n1: 2000, n64: 100, mib: 100, runs: 3 }
    };
    if policy {
        return policy_comparison(&bin, &up, pin, &sizes).await;
    }
    if scrub {
        return scrub_cost::run(&bin, &up, pin, quick).await;
    }
    let home = tempfile::tempdir()?;
    let (daemon, proxy, secret) = start_daemon(&bin, home.path(), &up, Policy::Default, pin).await?;

    let host = "api.anthropic.com";
    let mut direct_roots = rustls::RootCertStore::empty();
    direct_roots.add(up.ca().ca_der())?;
    let resolver = OverrideResolver::new(HashMap::from([(host.to_string(), up.addr())]));
    let mut http = HttpConnector::new_with_resolver(resolver);
    http.enforce_http(false);
    http.set_nodelay(true);
    let direct =
        make_path(Connector::Direct(http), direct_roots, format!("https://{host}:{}", up.addr().port()))?;

    let mut proxy_roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(home.path().join("ca/ca.pem"))? {
        proxy_roots.add(cert?)?;
    }
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("bench:{secret}"));
    let tunnel_to = |proxy: SocketAddr| -> anyhow::Result<Tunnel<HttpConnector>> {
        let mut plain = HttpConnector::new();
        plain.set_nodelay(true);
        Ok(Tunnel::new(format!("http://{proxy}").parse()?, plain).with_auth(format!("Basic {auth}").parse()?))
    };
    let via = make_path(Connector::Proxy(tunnel_to(proxy)?), proxy_roots, format!("https://{host}"))?;
    // other.test has no rule: the proxy passes its TLS through untouched (the floor of the proxy's cost).
    let mut tunnel_roots = rustls::RootCertStore::empty();
    tunnel_roots.add(up.ca().ca_der())?;
    let tunneled = make_path(Connector::Proxy(tunnel_to(proxy)?), tunnel_roots, "https://other.test".into())?;
    // Check the path really goes through the proxy with injection.
    up.clear();
    get(&via, "/small").await?;
    let seen = up.wait_for_requests(1, Duration::from_secs(5)).await;
    if seen[0].header("x-api-key") != Some("sk-ant-bench-not-a-real-key") {
        bail!("the proxy path did not inject the credential");
    }

    let d = measure(&direct, &sizes, None).await?;
    let p = measure(&via, &sizes, daemon.pid()).await?;
    let t = measure(&tunneled, &sizes, daemon.pid()).await?;
    println!("| measure | direct | intercepted + injected | vs direct | tunnelled (no rule) | vs direct |");
    println!("|---|---|---|---|---|---|");
    let ratio = |x: f64, base: f64| format!("{:.2}x", x / base);
    let plus = |x: f64, base: f64| format!("+{:.3} ms", x - base);
    let row = |name: &str, f: &dyn Fn(&Results) -> f64, cmp: &dyn Fn(f64, f64) -> String, digits: usize| {
        println!(
            "| {name} | {:.digits$} | {:.digits$} | {} | {:.digits$} | {} |",
            f(&d),
            f(&p),
            cmp(f(&p), f(&d)),
            f(&t),
            cmp(f(&t), f(&d))
        );
    };
    row("c=1 requests/s (1 KiB)", &|r| r.c1.rps, &ratio, 0);
    row("c=1 p50 latency (ms)", &|r| r.c1.p50_ms, &plus, 3);
    row("c=1 p99 latency (ms)", &|r| r.c1.p99_ms, &plus, 3);
    row("c=64 requests/s (1 KiB)", &|r| r.c64.rps, &ratio, 0);
    row("c=64 p50 latency (ms)", &|r| r.c64.p50_ms, &plus, 2);
    row("c=64 p99 latency (ms)", &|r| r.c64.p99_ms, &plus, 2);
    row(&format!("{} MiB download (MiB/s, best of {})", sizes.mib, sizes.runs), &|r| r.mib_s, &ratio, 0);
    row("time to first SSE event, median (ms)", &|r| r.first_event_ms, &plus, 3);
    if let (Some(pc), Some(tc)) = (&p.cpu, &t.cpu) {
        println!();
        println!(
            "| daemon CPU (user + system) | intercepted + injected | tunnelled (no rule) | intercepted vs tunnelled |"
        );
        println!("|---|---|---|---|");
        let cost = |name: &str, f: &dyn Fn(&CpuCost) -> f64| {
            println!("| {name} | {:.1} | {:.1} | {:.2}x |", f(pc), f(tc), f(pc) / f(tc));
        };
        cost("c=1, µs per request", &|c| c.c1_us_per_request);
        cost("c=64, µs per request", &|c| c.c64_us_per_request);
        cost("download, ms per 100 MiB", &|c| c.ms_per_100_mib);
    }
    Ok(())
}

/// The intercepted path through two daemons, one with every policy off and one with every
/// policy on, measured one after the other in the same run.
async fn policy_comparison(bin: &Path, up: &TlsUpstream, pin: bool, sizes: &Sizes) -> anyhow::Result<()> {
    let mut results = Vec::new();
    for policy in [Policy::Off, Policy::On] {
        let home = tempfile::tempdir()?;
        let (daemon, proxy, secret) = start_daemon(bin, home.path(), up, policy, pin).await?;
        let via = intercepted_path(home.path(), proxy, &secret)?;
        get(&via, "/small").await?;
        results.push(measure(&via, sizes, daemon.pid()).await?);
        drop(daemon);
    }
    let (off, on) = (&results[0], &results[1]);
    println!("| measure | policy off | policy on | on vs off |");
    println!("|---|---|---|---|");
    let ratio = |x: f64, base: f64| format!("{:.2}x", x / base);
    let plus = |x: f64, base: f64| format!("{:+.3} ms", x - base);
    let row = |name: &str, f: &dyn Fn(&Results) -> f64, cmp: &dyn Fn(f64, f64) -> String, digits: usize| {
        println!("| {name} | {:.digits$} | {:.digits$} | {} |", f(off), f(on), cmp(f(on), f(off)));
    };
    row("c=1 requests/s (1 KiB)", &|r| r.c1.rps, &ratio, 0);
    row("c=1 p50 latency (ms)", &|r| r.c1.p50_ms, &plus, 3);
    row("c=64 requests/s (1 KiB)", &|r| r.c64.rps, &ratio, 0);
    row(&format!("{} MiB download (MiB/s, best of {})", sizes.mib, sizes.runs), &|r| r.mib_s, &ratio, 0);
    row("time to first SSE event, median (ms)", &|r| r.first_event_ms, &plus, 3);
    if let (Some(a), Some(b)) = (&off.cpu, &on.cpu) {
        let per = |f: &dyn Fn(&CpuCost) -> f64| format!("{:.1} | {:.1} | {:.2}x", f(a), f(b), f(b) / f(a));
        println!("| daemon CPU, c=1 (µs per request) | {} |", per(&|c| c.c1_us_per_request));
        println!("| daemon CPU, c=64 (µs per request) | {} |", per(&|c| c.c64_us_per_request));
        println!("| daemon CPU, download (ms per 100 MiB) | {} |", per(&|c| c.ms_per_100_mib));
    }
    Ok(())
}
