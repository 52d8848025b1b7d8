//! `proxy-bench --soak`: 100,000 requests (1 KiB) at c=256 through the daemon, intercepted
//! and then tunnelled; errors counted (every failed or short request), the daemon's resident
//! memory sampled every 100 ms. Bounded: a path stops after its requests or after
//! [`TIME_LIMIT`], whichever comes first.

use super::daemon::{Identity, Policy, intercepted_path, path_as, start_daemon};
use super::load::{Path_, check_injected, get, pct};
use super::peers::KEY;
use super::proc_stat::Watched;
use clauderon_testkit::TlsUpstream;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const CONCURRENCY: usize = 256;
const TIME_LIMIT: Duration = Duration::from_secs(240);

struct Soak {
    sent: usize,
    errors: usize,
    first_errors: Vec<String>,
    secs: f64,
    p50_ms: f64,
    p99_ms: f64,
    rss_start: u64,
    rss_warm: u64,
    rss_peak: u64,
    rss_end: u64,
    rss_idle: u64,
}

async fn soak(path: &Path_, daemon: Watched, total: usize) -> anyhow::Result<Soak> {
    let rss_start = daemon.rss_kib();
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (done, stop) = (done.clone(), stop.clone());
        tokio::spawn(async move {
            // (requests done, RSS in KiB) every 100 ms.
            let mut samples = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                samples.push((done.load(Ordering::Relaxed), daemon.rss_kib()));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            samples
        })
    };
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (path, next, done) = (path.clone(), next.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let (mut ms, mut errors) = (Vec::new(), Vec::new());
            while next.fetch_add(1, Ordering::Relaxed) < total && started.elapsed() < TIME_LIMIT {
                let t = Instant::now();
                match get(&path, "/small").await {
                    Ok(1024) => ms.push(t.elapsed().as_secs_f64() * 1000.0),
                    Ok(n) => errors.push(format!("{n} bytes instead of 1024")),
                    Err(e) => errors.push(format!("{e:#}")),
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
            (ms, errors)
        }));
    }
    let (mut all, mut errors) = (Vec::new(), Vec::new());
    for t in tasks {
        let (ms, e) = t.await?;
        all.extend(ms);
        errors.extend(e);
    }
    let secs = started.elapsed().as_secs_f64();
    let rss_end = daemon.rss_kib();
    stop.store(true, Ordering::Relaxed);
    let samples = sampler.await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_idle = daemon.rss_kib();
    all.sort_by(f64::total_cmp);
    let sent = all.len() + errors.len();
    // Warm-up: the first tenth of the requests.
    let rss_warm = samples.iter().find(|(n, _)| *n >= sent / 10).map_or(rss_end, |(_, r)| *r);
    let rss_peak = samples.iter().map(|(_, r)| *r).chain([rss_end]).max().unwrap_or(rss_end);
    let mut first_errors = errors.clone();
    first_errors.dedup();
    first_errors.truncate(3);
    Ok(Soak {
        sent,
        errors: errors.len(),
        first_errors,
        secs,
        p50_ms: if all.is_empty() { f64::NAN } else { pct(&all, 0.5) },
        p99_ms: if all.is_empty() { f64::NAN } else { pct(&all, 0.99) },
        rss_start,
        rss_warm,
        rss_peak,
        rss_end,
        rss_idle,
    })
}

pub(crate) async fn run(bin: &Path, up: &TlsUpstream, quick: bool) -> anyhow::Result<()> {
    let total = if quick { 10_000 } else { 100_000 };
    let home = tempfile::tempdir()?;
    let (daemon, proxy, secret) = start_daemon(bin, home.path(), up, Policy::Default, false).await?;
    let bench = Identity { name: "bench".into(), secret: secret.clone() };
    let intercepted = intercepted_path(home.path(), proxy, &secret)?;
    let tunnelled = path_as(&bench, proxy, up.ca().root_store(), "https://other.test")?;
    check_injected(up, &intercepted, KEY, "clauderon").await?;
    let w = daemon.watched();
    println!(
        "{total} requests (1 KiB) at c={CONCURRENCY} per path, one daemon, not pinned; at most {} s a path.",
        TIME_LIMIT.as_secs()
    );
    let i = soak(&intercepted, w, total).await?;
    let t = soak(&tunnelled, w, total).await?;
    println!();
    println!("| measure | intercepted + injected | tunnelled (no rule) |");
    println!("|---|---|---|");
    let row = |name: &str, f: &dyn Fn(&Soak) -> String| println!("| {name} | {} | {} |", f(&i), f(&t));
    let mib = |kib: u64| format!("{:.1}", kib as f64 / 1024.0);
    row("requests sent", &|s| s.sent.to_string());
    row("errors", &|s| s.errors.to_string());
    row("seconds", &|s| format!("{:.1}", s.secs));
    row("requests/s", &|s| format!("{:.0}", s.sent as f64 / s.secs));
    row("p50 latency (ms)", &|s| format!("{:.2}", s.p50_ms));
    row("p99 latency (ms)", &|s| format!("{:.2}", s.p99_ms));
    row("daemon RSS before (MiB)", &|s| mib(s.rss_start));
    row("daemon RSS after the first 10% (MiB)", &|s| mib(s.rss_warm));
    row("daemon RSS peak, 100 ms samples (MiB)", &|s| mib(s.rss_peak));
    row("daemon RSS at the end (MiB)", &|s| mib(s.rss_end));
    row("daemon RSS 2 s after (MiB)", &|s| mib(s.rss_idle));
    for (name, s) in [("intercepted", &i), ("tunnelled", &t)] {
        for e in &s.first_errors {
            println!("{name}: error: {e}");
        }
    }
    let ok = i.errors == 0 && t.errors == 0 && i.sent == total && t.sent == total;
    println!("\nTarget 0 errors over {total} requests a path: {}", if ok { "met" } else { "NOT met" });
    Ok(())
}
