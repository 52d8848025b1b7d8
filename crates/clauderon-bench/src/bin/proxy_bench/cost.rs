//! `proxy-bench --peers`: what clauderon's proxy costs beside nginx and mitmproxy, all in one
//! run against the same upstream (issue 12). Every proxy runs on CPU 1 and this process (the
//! load generator and the upstream) on CPU 0, so the throughput rows compare proxies that
//! each have one core; the CPU rows (user + system time of the proxy's processes from
//! `/proc/PID/stat`, per unit of work) do not depend on that.

use super::daemon::{Identity, Policy, intercepted_path, path_as, start_daemon};
use super::load::{Path_, Results, Sizes, check_injected, direct_path, measure, sse_cpu_us};
use super::peers::{self, KEY, Peer};
use super::proc_stat::Watched;
use clauderon_testkit::TlsUpstream;
use std::path::{Path, PathBuf};

/// SSE streams per CPU measure.
const SSE_STREAMS: usize = 300;

/// One column of the table.
struct Column {
    name: &'static str,
    /// Why the column is empty, when it is.
    skipped: Option<String>,
    m: Option<Measured>,
}

struct Measured {
    r: Results,
    sse_us: f64,
    rss_mib: f64,
    peak_mib: f64,
}

async fn run_column(path: &Path_, proxy: Option<Watched>, sizes: &Sizes) -> anyhow::Result<Measured> {
    let r = measure(path, sizes, proxy.map(Watched::pid)).await?;
    let Some(p) = proxy else {
        return Ok(Measured { r, sse_us: f64::NAN, rss_mib: f64::NAN, peak_mib: f64::NAN });
    };
    let sse_us = sse_cpu_us(path, p.pid(), SSE_STREAMS).await?;
    let mib = |kib: u64| kib as f64 / 1024.0;
    Ok(Measured { r, sse_us, rss_mib: mib(p.rss_kib()), peak_mib: mib(p.peak_rss_kib()) })
}

fn skipped(name: &'static str, why: String) -> Column {
    println!("{name}: skipped: {why}");
    Column { name, skipped: Some(why), m: None }
}

/// Measure one peer, or the reason it has no column.
async fn peer_column(
    name: &'static str,
    started: anyhow::Result<Peer>,
    up: &TlsUpstream,
    sizes: &Sizes,
) -> anyhow::Result<Column> {
    let peer = match started {
        Ok(p) => p,
        Err(e) => return Ok(skipped(name, format!("{e:#}"))),
    };
    if let Err(e) = check_injected(up, &peer.path, KEY, name).await {
        anyhow::bail!("{e:#}; its log:\n{}", peer.log_tail());
    }
    let m = run_column(&peer.path, Some(peer.watched()), sizes).await?;
    Ok(Column { name, skipped: None, m: Some(m) })
}

pub(crate) async fn run(
    bin: &Path,
    up: &TlsUpstream,
    sizes: &Sizes,
    mitmdump: Option<PathBuf>,
) -> anyhow::Result<()> {
    println!(
        "Each proxy on CPU 1 (`taskset -c 1`), this process (load generator + upstream) on CPU 0; \
         the direct path has CPU 0 alone. CPU time: user + system of the proxy's processes \
         (nginx: master + worker), /proc/PID/stat, 10 ms ticks."
    );
    let home = tempfile::tempdir()?;
    let (daemon, proxy, secret) = start_daemon(bin, home.path(), up, Policy::Default, true).await?;
    let bench = Identity { name: "bench".into(), secret: secret.clone() };
    let intercepted = intercepted_path(home.path(), proxy, &secret)?;
    let tunnelled = path_as(&bench, proxy, up.ca().root_store(), "https://other.test")?;
    check_injected(up, &intercepted, KEY, "clauderon").await?;

    let direct = direct_path(up)?;
    let mut cols =
        vec![Column { name: "direct", skipped: None, m: Some(run_column(&direct, None, sizes).await?) }];
    let d = Some(daemon.watched());
    cols.push(Column {
        name: "clauderon intercepted",
        skipped: None,
        m: Some(run_column(&intercepted, d, sizes).await?),
    });
    cols.push(Column {
        name: "clauderon tunnelled",
        skipped: None,
        m: Some(run_column(&tunnelled, d, sizes).await?),
    });
    drop(daemon);

    let nginx = match peers::nginx_binary() {
        Some(bin) => peers::start_nginx(&bin, up, true).await,
        None => Err(anyhow::anyhow!("nginx is not installed (`apt-get install nginx`)")),
    };
    cols.push(peer_column("nginx", nginx, up, sizes).await?);
    let mitm = match mitmdump.filter(|p| p.exists()) {
        Some(bin) => peers::start_mitmproxy(&bin, up, true).await,
        None => Err(anyhow::anyhow!("mitmdump not found: scripts/bench.sh installs it in a venv")),
    };
    cols.push(peer_column("mitmproxy", mitm, up, sizes).await?);

    print_table(&cols, sizes);
    print_targets(&cols);
    Ok(())
}

fn print_table(cols: &[Column], sizes: &Sizes) {
    println!();
    let names: Vec<&str> = cols.iter().map(|c| c.name).collect();
    println!("| measure | {} |", names.join(" | "));
    println!("|---|{}", "---|".repeat(cols.len()));
    let row = |name: &str, f: &dyn Fn(&Measured) -> f64, digits: usize| {
        let cells: Vec<String> = cols
            .iter()
            .map(|c| match &c.m {
                Some(m) if f(m).is_finite() => format!("{:.digits$}", f(m)),
                Some(_) => "—".into(),
                None => "not run".into(),
            })
            .collect();
        println!("| {name} | {} |", cells.join(" | "));
    };
    row("c=1 requests/s (1 KiB)", &|m| m.r.c1.rps, 0);
    row("c=1 p50 latency (ms)", &|m| m.r.c1.p50_ms, 3);
    row("c=1 p99 latency (ms)", &|m| m.r.c1.p99_ms, 3);
    row("c=64 requests/s (1 KiB)", &|m| m.r.c64.rps, 0);
    row("c=64 p50 latency (ms)", &|m| m.r.c64.p50_ms, 2);
    row("c=64 p99 latency (ms)", &|m| m.r.c64.p99_ms, 2);
    row(&format!("{} MiB download (MiB/s, best of {})", sizes.mib, sizes.runs), &|m| m.r.mib_s, 0);
    row("time to first SSE event, median (ms)", &|m| m.r.first_event_ms, 3);
    let cpu = |f: fn(&super::load::CpuCost) -> f64| move |m: &Measured| m.r.cpu.as_ref().map_or(f64::NAN, f);
    row("proxy CPU, c=1 (µs per request)", &cpu(|c| c.c1_us_per_request), 1);
    row("proxy CPU, c=64 (µs per request)", &cpu(|c| c.c64_us_per_request), 1);
    row("proxy CPU, download (µs per MiB)", &cpu(|c| c.ms_per_100_mib * 10.0), 0);
    row(&format!("proxy CPU, SSE (µs per stream of 3 events, {SSE_STREAMS} streams)"), &|m| m.sse_us, 0);
    row("proxy RSS after its run (MiB)", &|m| m.rss_mib, 1);
    row("proxy peak RSS (VmHWM, MiB)", &|m| m.peak_mib, 1);
    for c in cols {
        if let Some(why) = &c.skipped {
            println!("\n{}: not run: {why}", c.name);
        }
    }
}

/// The targets, met or not, with the figures.
fn print_targets(cols: &[Column]) {
    let get = |name: &str| cols.iter().find(|c| c.name == name).and_then(|c| c.m.as_ref());
    let (Some(direct), Some(ours)) = (get("direct"), get("clauderon intercepted")) else { return };
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    println!();
    let added = ours.r.c1.p50_ms - direct.r.c1.p50_ms;
    println!("- c=1 added p50 over direct: +{added:.3} ms (target ≤ 0.15 ms): {}", verdict(added <= 0.15));
    match get("nginx").and_then(|n| Some((ours.r.cpu.as_ref()?, n.r.cpu.as_ref()?))) {
        Some((o, n)) => {
            let c1 = o.c1_us_per_request / n.c1_us_per_request;
            let c64 = o.c64_us_per_request / n.c64_us_per_request;
            let mib = o.ms_per_100_mib / n.ms_per_100_mib;
            println!(
                "- CPU per request vs nginx: {c1:.2}x at c=1, {c64:.2}x at c=64 (target ≤ 1.5x): {}",
                verdict(c1 <= 1.5 && c64 <= 1.5)
            );
            println!("- CPU per MiB vs nginx: {mib:.2}x (target ≤ 1.2x): {}", verdict(mib <= 1.2));
        }
        None => println!("- CPU vs nginx: nginx not run"),
    }
    match get("mitmproxy") {
        Some(m) => {
            let x = ours.r.c64.rps / m.r.c64.rps;
            println!("- c=64 throughput vs mitmproxy: {x:.1}x (target ≥ 30x): {}", verdict(x >= 30.0));
        }
        None => println!("- throughput vs mitmproxy: mitmproxy not run"),
    }
}
