//! `proxy-bench --scrub`: what scrubbing responses costs (issue 11). Two measures that load
//! on the machine disturbs little:
//!
//! - **the scrubber alone, in this process**: the daemon's key remembered the way the injector
//!   remembers it (`KnownSecrets::insert`), then 1 MiB buffers fed through a `ScrubStream` in
//!   16 KiB chunks (the size of a TLS record): a binary body (the upstream's `/bytes` pattern,
//!   every byte value once in 251) and a text body (model-API-like SSE JSON). Best of N runs.
//!   `--scrubber-only binary|text MIB` runs only this, once, for an instruction count under
//!   valgrind.
//! - **the daemon's CPU per MiB downloaded**: two daemons, scrubbing on (the defaults: the key
//!   is known, so every byte of every response passes the scrubber) and off, each downloading
//!   4 MiB bodies through the intercepted path, in alternating rounds; the daemons' CPU time
//!   (user + system, `/proc/PID/stat`) over the bytes moved. On minus off is the scrubber's
//!   share.

use super::daemon::{Policy, intercepted_path, start_daemon};
use super::load::{Path_, get};
use super::proc_stat::cpu_time;
use anyhow::{Context, bail};
use bytes::Bytes;
use clauderon_proxy::scrub::{KnownSecrets, ScrubStream};
use clauderon_testkit::TlsUpstream;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The key the bench's daemons inject (see `start_daemon`).
const KEY: &str = "sk-ant-bench-not-a-real-key";
/// The built-in placeholder of `anthropic_api_key`.
const PLACEHOLDER: &str = "sk-ant-api03-clauderon-placeholder";
const MIB: usize = 1024 * 1024;
const CHUNK: usize = 16 * 1024;
/// Each download of the daemon part.
const BODY: u64 = 4 * MIB as u64;

/// The upstream's `/bytes` pattern (it repeats every 251 bytes).
fn binary_body() -> Bytes {
    (0..MIB).map(|i| (i % 251) as u8).collect::<Vec<u8>>().into()
}

/// Text like a model's streamed answer: SSE events of JSON with English-like words.
fn text_body() -> Bytes {
    const WORDS: &[&str] = &[
        "the", "proxy", "session", "request", "token", "and", "of", "a", "to", "in", "response", "Rust",
        "function", "returns", "value", "error", "is", "with", "for", "code", "file", "test",
    ];
    let mut out = String::with_capacity(MIB + 256);
    let mut seed = 0x2545_f491_u64;
    while out.len() < MIB {
        out.push_str("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,");
        out.push_str("\"delta\":{\"type\":\"text_delta\",\"text\":\"");
        for _ in 0..12 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            out.push_str(WORDS[(seed >> 33) as usize % WORDS.len()]);
            out.push(' ');
        }
        out.push_str("\"}}\n\n");
    }
    out.truncate(MIB);
    out.into()
}

/// The scrubber for the daemon's key, built as the injector builds it.
fn scrubber() -> anyhow::Result<Arc<clauderon_proxy::scrub::Scrubber>> {
    let known = KnownSecrets::new();
    known.insert(KEY, PLACEHOLDER);
    known.scrubber().context("the key was not remembered")
}

/// `mib` MiB of `body` through a fresh `ScrubStream` in 16 KiB chunks; the time it took.
fn scrub_once(
    scrubber: &Arc<clauderon_proxy::scrub::Scrubber>,
    body: &Bytes,
    mib: usize,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut s = ScrubStream::new(scrubber.clone());
    let mut out = 0usize;
    for _ in 0..mib {
        for at in (0..body.len()).step_by(CHUNK) {
            out += s.push(body.slice(at..(at + CHUNK).min(body.len()))).len();
        }
    }
    out += s.finish().len();
    let took = started.elapsed();
    if out != mib * body.len() {
        bail!("the scrubber changed the body's length: {out} bytes out of {}", mib * body.len());
    }
    Ok(took)
}

/// `--scrubber-only binary|text MIB`: `mib` MiB of one body through the scrubber once, nothing
/// else (for an instruction count under valgrind: the difference of two sizes is per MiB).
pub(crate) fn scrubber_only(body: &str, mib: usize) -> anyhow::Result<()> {
    let sc = scrubber()?;
    let data = match body {
        "binary" => binary_body(),
        "text" => text_body(),
        other => bail!("--scrubber-only takes binary or text, not {other}"),
    };
    scrub_once(&sc, &data, mib)?;
    println!("{sc:?}: {mib} MiB of the {body} body scrubbed");
    Ok(())
}

fn in_process(quick: bool) -> anyhow::Result<()> {
    let sc = scrubber()?;
    let (mib, runs) = if quick { (32, 3) } else { (128, 7) };
    println!("In process: {sc:?}, {mib} MiB per run in 16 KiB chunks, best of {runs}");
    println!();
    println!("| body | scrubber MiB/s (best) | ns per KiB |");
    println!("|---|---|---|");
    for (name, body) in [("binary (/bytes pattern)", binary_body()), ("text (SSE JSON)", text_body())] {
        let mut best = Duration::MAX;
        for _ in 0..runs {
            best = best.min(scrub_once(&sc, &body, mib)?);
        }
        let secs = best.as_secs_f64();
        println!("| {name} | {:.0} | {:.1} |", mib as f64 / secs, secs * 1e9 / (mib * 1024) as f64);
    }
    Ok(())
}

/// One round: `n` downloads of `BODY` bytes through `path`; the daemon's CPU and the wall time.
async fn round(path: &Path_, pid: Option<u32>, n: usize) -> anyhow::Result<(Duration, Duration)> {
    let (cpu0, t0) = (cpu_time(pid), Instant::now());
    for _ in 0..n {
        let got = get(path, &format!("/bytes/{BODY}")).await?;
        if got != BODY {
            bail!("downloaded {got} bytes, expected {BODY}");
        }
    }
    Ok((cpu_time(pid) - cpu0, t0.elapsed()))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub(crate) async fn run(bin: &Path, up: &TlsUpstream, pin: bool, quick: bool) -> anyhow::Result<()> {
    in_process(quick)?;
    let (rounds, per_round) = if quick { (3, 8) } else { (7, 32) };
    let mut daemons = Vec::new();
    for policy in [Policy::Off, Policy::Default] {
        let home = tempfile::tempdir()?;
        let (daemon, proxy, secret) = start_daemon(bin, home.path(), up, policy, pin).await?;
        let path = intercepted_path(home.path(), proxy, &secret)?;
        // The first injection makes the key known; from then on the daemon with scrubbing on
        // must replace it in what the upstream echoes.
        get(&path, "/small").await?;
        let echoed = super::load::get_text(&path, "/echo").await?;
        let scrubbed = !echoed.contains(KEY);
        if scrubbed != (policy == Policy::Default) {
            bail!("scrubbing is {} with {policy:?}", if scrubbed { "on" } else { "off" });
        }
        daemons.push((daemon, home, path));
    }
    let mut cpu = [Vec::new(), Vec::new()];
    let mut rate = [Vec::new(), Vec::new()];
    let mut total = [Duration::ZERO; 2];
    for _ in 0..rounds {
        for (i, (daemon, _, path)) in daemons.iter().enumerate() {
            let (c, wall) = round(path, daemon.pid(), per_round).await?;
            let mib = (per_round as u64 * BODY) as f64 / MIB as f64;
            total[i] += c;
            cpu[i].push(c.as_secs_f64() * 1e3 * 100.0 / mib);
            rate[i].push(mib / wall.as_secs_f64());
        }
    }
    let all_mib = (rounds * per_round) as f64 * BODY as f64 / MIB as f64;
    let per100 = |d: Duration| d.as_secs_f64() * 1e3 * 100.0 / all_mib;
    println!();
    println!(
        "Through the daemon: {rounds} alternating rounds of {per_round} x {} MiB downloads (intercepted, key injected)",
        BODY / MIB as u64
    );
    println!();
    println!("| measure | scrubbing off | scrubbing on | on vs off | on minus off |");
    println!("|---|---|---|---|---|");
    let (off, on) = (per100(total[0]), per100(total[1]));
    println!(
        "| daemon CPU, ms per 100 MiB (all rounds) | {off:.1} | {on:.1} | {:.2}x | {:+.1} ms |",
        on / off,
        on - off
    );
    let (moff, mon) = (median(cpu[0].clone()), median(cpu[1].clone()));
    println!(
        "| daemon CPU, ms per 100 MiB (median round) | {moff:.1} | {mon:.1} | {:.2}x | {:+.1} ms |",
        mon / moff,
        mon - moff
    );
    let (roff, ron) = (median(rate[0].clone()), median(rate[1].clone()));
    println!("| download MiB/s (median round) | {roff:.0} | {ron:.0} | {:.2}x | |", ron / roff);
    Ok(())
}
