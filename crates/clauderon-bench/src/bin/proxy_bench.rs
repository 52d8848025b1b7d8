//! Proxy benchmark: the same local TLS upstream reached directly and through a
//! real `clauderon daemon` process's credential proxy (with injection and the
//! audit on), in the same run. HTTP/1.1 on both paths.
//!
//! Usage: proxy-bench [--clauderon PATH] [--quick] [--pin] [--policy | --scrub]
//!        proxy-bench [--clauderon PATH] [--quick] --peers [--mitmdump PATH]
//!        proxy-bench [--clauderon PATH] [--quick] --scale | --soak
//!        proxy-bench --scrubber-only binary|text MIB

use anyhow::{Context, bail};
use base64::Engine;
use clauderon_testkit::TlsUpstream;
use daemon::{Policy, intercepted_path, start_daemon};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use load::{Connector, CpuCost, Results, Sizes, get, make_path, measure};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

#[path = "proxy_bench/cost.rs"]
mod cost;
#[path = "proxy_bench/daemon.rs"]
mod daemon;
#[path = "proxy_bench/load.rs"]
mod load;
#[path = "proxy_bench/peers.rs"]
mod peers;
#[path = "proxy_bench/proc_stat.rs"]
mod proc_stat;
#[path = "proxy_bench/scale.rs"]
mod scale;
#[path = "proxy_bench/scrub_cost.rs"]
mod scrub_cost;
#[path = "proxy_bench/soak.rs"]
mod soak;

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
    // `--peers`: beside nginx and mitmproxy, the proxies pinned to CPU 1 (issue 12).
    let mut peers = false;
    let mut mitmdump = peers::default_mitmdump();
    // `--scale`: idle connections and identities by the thousand (issue 12).
    let mut scale = false;
    // `--soak`: 100,000 requests at c=256, errors and memory over the run (issue 12).
    let mut soak = false;
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
            "--peers" => peers = true,
            "--mitmdump" => mitmdump = Some(PathBuf::from(args.next().context("--mitmdump PATH")?)),
            "--scale" => scale = true,
            "--soak" => soak = true,
            other => bail!("unknown argument {other}"),
        }
    }
    if !bin.exists() {
        bail!("{} not found: build it with `cargo build --release -p clauderon`", bin.display());
    }
    let up = TlsUpstream::start_default().await;
    // The peers' throughput rows need each proxy on a core of its own.
    pin |= peers;
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
    if peers {
        let sizes = if quick { sizes } else { Sizes { n1: 4000, ..sizes } };
        return cost::run(&bin, &up, &sizes, mitmdump).await;
    }
    if scale {
        return scale::run(&bin, &up, quick).await;
    }
    if soak {
        return soak::run(&bin, &up, quick).await;
    }
    if policy {
        return policy_comparison(&bin, &up, pin, &sizes).await;
    }
    if scrub {
        return scrub_cost::run(&bin, &up, pin, quick).await;
    }
    let home = tempfile::tempdir()?;
    let (daemon, proxy, secret) = start_daemon(&bin, home.path(), &up, Policy::Default, pin).await?;

    let host = "api.anthropic.com";
    let direct = load::direct_path(&up)?;

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
