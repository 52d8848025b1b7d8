//! `proxy-bench --scale`: the daemon with thousands of identities and connections (issue 12).
//!
//! - **Identities**: two daemons, one with 10 sessions in its store and one with 10,000 (the
//!   daemon loads them all at start). The CONNECT round trip (TCP connect, `CONNECT` with a
//!   random session's `Proxy-Authorization`, the `200` back) through each, in alternating rounds.
//! - **Connections**: on the daemon with 10,000 identities, 1,000 sessions each open 2
//!   intercepted keep-alive connections (CONNECT, TLS, one request) and leave them idle. The
//!   daemon's RSS and a new request's latency beside 10 such connections and beside 2,000.

use super::daemon::{Identity, Policy, daemon_roots, path_as, start_daemon_with};
use super::load::{Path_, get, latency, pct};
use clauderon_testkit::TlsUpstream;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long the daemons' idle CPU is watched.
const IDLE: Duration = Duration::from_secs(5);

/// One CONNECT through `proxy` as `who`, timed to the end of the proxy's `200` response head.
async fn connect_once(proxy: SocketAddr, who: &Identity) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut s = tokio::net::TcpStream::connect(proxy).await?;
    s.set_nodelay(true)?;
    let head = format!(
        "CONNECT api.anthropic.com:443 HTTP/1.1\r\nHost: api.anthropic.com:443\r\nProxy-Authorization: {}\r\n\r\n",
        who.basic()
    );
    s.write_all(head.as_bytes()).await?;
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 256];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut chunk).await?;
        if n == 0 || buf.len() > 4096 {
            anyhow::bail!("the proxy closed the CONNECT without a response head");
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let elapsed = started.elapsed();
    if !buf.starts_with(b"HTTP/1.1 200") {
        anyhow::bail!("CONNECT refused: {}", String::from_utf8_lossy(&buf).lines().next().unwrap_or(""));
    }
    Ok(elapsed)
}

/// `n` CONNECT round trips as sessions drawn from `ids` (a fixed pseudo-random sequence).
async fn connect_round(
    proxy: SocketAddr,
    ids: &[Identity],
    n: usize,
    seed: &mut u64,
) -> anyhow::Result<Vec<f64>> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        *seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let who = &ids[(*seed >> 33) as usize % ids.len()];
        out.push(connect_once(proxy, who).await?.as_secs_f64() * 1000.0);
    }
    Ok(out)
}

/// The soft and hard limits on open files, from `/proc/self/limits`.
fn nofile() -> (String, String) {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let line = limits.lines().find(|l| l.starts_with("Max open files")).unwrap_or_default();
    let f: Vec<&str> = line.split_whitespace().collect();
    (f.get(3).unwrap_or(&"?").to_string(), f.get(4).unwrap_or(&"?").to_string())
}

/// Raise this process's soft limit on open files to its hard limit (the daemon it starts
/// inherits it): 2,000 held connections are 4,000 sockets here (client and upstream ends) and
/// 4,000 in the daemon. `prlimit` (util-linux) because the crate forbids `unsafe`.
fn raise_nofile() {
    let (soft, hard) = nofile();
    if soft != hard {
        let me = std::process::id().to_string();
        let set = format!("--nofile={hard}:{hard}");
        let ok = std::process::Command::new("prlimit").args(["--pid", &me, &set]).status();
        if !ok.is_ok_and(|s| s.success()) {
            println!("could not raise the open-files limit with prlimit (util-linux)");
        }
    }
    let (soft, hard) = nofile();
    println!("Open files allowed: {soft} (hard limit {hard}); the daemon inherits it.");
}

/// Open 2 idle keep-alive connections as each of `ids`, 50 sessions at a time; the clients
/// that hold them.
async fn hold(
    proxy: SocketAddr,
    roots: &rustls::RootCertStore,
    ids: &[Identity],
) -> anyhow::Result<Vec<Path_>> {
    let mut held = Vec::with_capacity(ids.len());
    for batch in ids.chunks(50) {
        let mut set = tokio::task::JoinSet::new();
        for who in batch {
            let path = path_as(who, proxy, roots.clone(), "https://api.anthropic.com")?;
            set.spawn(async move {
                let (a, b) = tokio::join!(get(&path, "/small"), get(&path, "/small"));
                a?;
                b?;
                anyhow::Ok(path)
            });
        }
        while let Some(p) = set.join_next().await {
            held.push(p??);
        }
    }
    Ok(held)
}

/// p50 and p99 of `n` requests, each on a new connection (CONNECT, TLS, request).
async fn fresh_connections(
    proxy: SocketAddr,
    roots: &rustls::RootCertStore,
    who: &Identity,
    n: usize,
) -> anyhow::Result<(f64, f64)> {
    let mut ms = Vec::with_capacity(n);
    for _ in 0..n {
        let path = path_as(who, proxy, roots.clone(), "https://api.anthropic.com")?;
        let t = Instant::now();
        get(&path, "/small").await?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    Ok((pct(&ms, 0.5), pct(&ms, 0.99)))
}

pub(crate) async fn run(bin: &Path, up: &TlsUpstream, quick: bool) -> anyhow::Result<()> {
    let (many_ids, sessions, rounds, per_round) =
        if quick { (1_000, 100, 2, 200) } else { (10_000, 1_000, 4, 500) };
    raise_nofile();

    let (home_few, home_many) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let t = Instant::now();
    let (few, few_proxy, few_ids) =
        start_daemon_with(bin, home_few.path(), up, Policy::Default, false, 10).await?;
    let few_start = t.elapsed();
    let t = Instant::now();
    let (many, many_proxy, many_ids_v) =
        start_daemon_with(bin, home_many.path(), up, Policy::Default, false, many_ids).await?;
    let many_start = t.elapsed();
    println!(
        "Data dir written and daemon listening: {:.1} s with 10 identities, {:.1} s with {many_ids}.",
        few_start.as_secs_f64(),
        many_start.as_secs_f64()
    );
    // What each daemon does on its own (a background task that walks every session shows here).
    let (fw, mw) = (few.watched(), many.watched());
    let (f0, m0) = (fw.cpu(), mw.cpu());
    tokio::time::sleep(IDLE).await;
    let idle_pct = |d: Duration| d.as_secs_f64() * 100.0 / IDLE.as_secs_f64();
    println!(
        "CPU while idle for {} s after start: {:.1}% of a core with 10 identities, {:.1}% with {many_ids}.",
        IDLE.as_secs(),
        idle_pct(fw.cpu() - f0),
        idle_pct(mw.cpu() - m0)
    );
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let mut seed = 0x5eed_u64;
    connect_round(few_proxy, &few_ids, 50, &mut seed).await?;
    connect_round(many_proxy, &many_ids_v, 50, &mut seed).await?;
    for _ in 0..rounds {
        a.extend(connect_round(few_proxy, &few_ids, per_round, &mut seed).await?);
        b.extend(connect_round(many_proxy, &many_ids_v, per_round, &mut seed).await?);
    }
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    drop(few);
    println!();
    println!(
        "| CONNECT round trip ({} each, alternating rounds) | 10 identities | {many_ids} identities | ratio |",
        a.len()
    );
    println!("|---|---|---|---|");
    for (name, p) in [("p50 (ms)", 0.5), ("p99 (ms)", 0.99)] {
        println!("| {name} | {:.3} | {:.3} | {:.2}x |", pct(&a, p), pct(&b, p), pct(&b, p) / pct(&a, p));
    }

    // Connections, on the daemon with many identities.
    let w = many.watched();
    let roots = daemon_roots(home_many.path())?;
    let probe = path_as(&many_ids_v[0], many_proxy, roots.clone(), "https://api.anthropic.com")?;
    get(&probe, "/small").await?;
    let mut held = hold(many_proxy, &roots, &many_ids_v[1..6]).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (rss_few, fds_few) = (w.rss_kib(), w.open_fds());
    let lat_few = latency(&probe, 1, 2000).await?;
    let fresh_few = fresh_connections(many_proxy, &roots, &many_ids_v[0], 200).await?;
    let t = Instant::now();
    held.extend(hold(many_proxy, &roots, &many_ids_v[6..=sessions]).await?);
    let opened_in = t.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (rss_many, fds_many) = (w.rss_kib(), w.open_fds());
    let lat_many = latency(&probe, 1, 2000).await?;
    let fresh_many = fresh_connections(many_proxy, &roots, &many_ids_v[0], 200).await?;
    let fds_after = w.open_fds();
    let conns_few = 10usize;
    let conns_many = 2 * sessions;
    println!();
    println!(
        "{} sessions × 2 idle intercepted connections opened in {:.1} s; the daemon's open files: {fds_few} \
         beside {conns_few}, {fds_many} beside {conns_many}, {fds_after} after the probes.",
        sessions,
        opened_in.as_secs_f64()
    );
    println!();
    println!("| measure | beside {conns_few} idle connections | beside {conns_many} | difference |");
    println!("|---|---|---|---|");
    let mib = |k: u64| k as f64 / 1024.0;
    println!(
        "| daemon RSS (MiB) | {:.1} | {:.1} | +{:.1} MiB |",
        mib(rss_few),
        mib(rss_many),
        mib(rss_many.saturating_sub(rss_few))
    );
    let per_conn = rss_many.saturating_sub(rss_few) as f64 / (conns_many - conns_few) as f64;
    println!(
        "| request on a kept-alive connection, p50 (ms) | {:.3} | {:.3} | {:+.3} ms |",
        lat_few.p50_ms,
        lat_many.p50_ms,
        lat_many.p50_ms - lat_few.p50_ms
    );
    println!(
        "| request on a kept-alive connection, p99 (ms) | {:.3} | {:.3} | {:+.3} ms |",
        lat_few.p99_ms,
        lat_many.p99_ms,
        lat_many.p99_ms - lat_few.p99_ms
    );
    println!(
        "| request on a new connection, p50 (ms) | {:.3} | {:.3} | {:+.3} ms |",
        fresh_few.0,
        fresh_many.0,
        fresh_many.0 - fresh_few.0
    );
    println!(
        "| request on a new connection, p99 (ms) | {:.3} | {:.3} | {:+.3} ms |",
        fresh_few.1,
        fresh_many.1,
        fresh_many.1 - fresh_few.1
    );
    println!();
    println!(
        "RSS growth per idle intercepted connection: {per_conn:.1} KiB (target ≤ 64 KiB): {}",
        if per_conn <= 64.0 { "met" } else { "NOT met" }
    );
    drop(held);
    Ok(())
}
