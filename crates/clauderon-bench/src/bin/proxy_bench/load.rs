//! The load the bench puts on a path: one pooled HTTP/1.1 client (hyper, rustls) per way of
//! reaching the upstream, and the measures taken with it.

use super::proc_stat::Watched;
use anyhow::bail;
use bytes::Bytes;
use clauderon_proxy::OverrideResolver;
use http_body_util::{BodyExt, Empty};
use hyper::Uri;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::rt::TokioExecutor;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) type Body = Empty<Bytes>;

/// One way to reach the upstream: a pooled client and the URL prefix to use.
#[derive(Clone)]
pub(crate) struct Path_ {
    pub(crate) client: Client<hyper_rustls::HttpsConnector<Connector>, Body>,
    pub(crate) base: String,
}

#[derive(Clone)]
pub(crate) enum Connector {
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

pub(crate) fn tls(roots: rustls::RootCertStore) -> anyhow::Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

pub(crate) fn make_path(
    connector: Connector,
    roots: rustls::RootCertStore,
    base: String,
) -> anyhow::Result<Path_> {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls(roots)?)
        .https_only()
        .enable_http1()
        .wrap_connector(connector);
    // Room for the soak's 256 connections, and idle ones kept through the scale test's minutes.
    let client = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(512)
        .pool_idle_timeout(Duration::from_secs(600))
        .build(https);
    Ok(Path_ { client, base })
}

/// The body of `GET route` as text.
pub(crate) async fn get_text(path: &Path_, route: &str) -> anyhow::Result<String> {
    let uri: Uri = format!("{}{route}", path.base).parse()?;
    let resp = path.client.get(uri).await?;
    if !resp.status().is_success() {
        bail!("GET {route}: {}", resp.status());
    }
    let body = resp.into_body().collect().await?.to_bytes();
    Ok(String::from_utf8_lossy(&body).into_owned())
}

pub(crate) async fn get(path: &Path_, route: &str) -> anyhow::Result<u64> {
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

pub(crate) struct Latency {
    pub(crate) rps: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
}

pub(crate) fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[(((sorted.len() - 1) as f64) * p).round() as usize]
}

pub(crate) async fn latency(path: &Path_, concurrency: usize, per_task: usize) -> anyhow::Result<Latency> {
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

pub(crate) async fn download(path: &Path_, bytes: u64, runs: usize) -> anyhow::Result<f64> {
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

pub(crate) async fn first_event(path: &Path_, runs: usize) -> anyhow::Result<f64> {
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

pub(crate) struct Sizes {
    pub(crate) n1: usize,
    pub(crate) n64: usize,
    pub(crate) mib: u64,
    pub(crate) runs: usize,
}

pub(crate) struct Results {
    pub(crate) c1: Latency,
    pub(crate) c64: Latency,
    pub(crate) mib_s: f64,
    pub(crate) first_event_ms: f64,
    /// The daemon's CPU time per unit of work, when the path goes through it.
    pub(crate) cpu: Option<CpuCost>,
}

/// CPU the daemon spent (user + system, all threads): a measure of the proxy's own cost that
/// load on the machine disturbs far less than throughput does.
pub(crate) struct CpuCost {
    pub(crate) c1_us_per_request: f64,
    pub(crate) c64_us_per_request: f64,
    pub(crate) ms_per_100_mib: f64,
}

/// Measure `path`; `daemon` is the pid of the proxy it goes through, if any (its CPU time is
/// that of its whole process tree).
pub(crate) async fn measure(path: &Path_, s: &Sizes, daemon: Option<u32>) -> anyhow::Result<Results> {
    let cpu_time = |pid: Option<u32>| pid.map(|p| Watched(p).cpu()).unwrap_or_default();
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

/// The direct path: `api.anthropic.com` resolved to the upstream, its CA trusted.
pub(crate) fn direct_path(up: &clauderon_testkit::TlsUpstream) -> anyhow::Result<Path_> {
    let host = "api.anthropic.com";
    let resolver = OverrideResolver::new(std::collections::HashMap::from([(host.to_string(), up.addr())]));
    let mut http = HttpConnector::new_with_resolver(resolver);
    http.enforce_http(false);
    http.set_nodelay(true);
    make_path(Connector::Direct(http), up.ca().root_store(), format!("https://{host}:{}", up.addr().port()))
}

/// Check that a request through `path` reached the upstream with the key set.
pub(crate) async fn check_injected(
    up: &clauderon_testkit::TlsUpstream,
    path: &Path_,
    key: &str,
    what: &str,
) -> anyhow::Result<()> {
    up.set_recording(true);
    up.clear();
    get(path, "/small").await?;
    let seen = up.wait_for_requests(1, Duration::from_secs(5)).await;
    up.set_recording(false);
    if seen.first().and_then(|r| r.header("x-api-key")) != Some(key) {
        bail!("{what}: the upstream did not receive the key");
    }
    Ok(())
}

/// CPU time of `proxy` per SSE stream (three events), over `n` streams one after another.
pub(crate) async fn sse_cpu_us(path: &Path_, proxy: u32, n: usize) -> anyhow::Result<f64> {
    get(path, "/sse?events=3").await?;
    let before = Watched(proxy).cpu();
    for _ in 0..n {
        get(path, "/sse?events=3").await?;
    }
    Ok((Watched(proxy).cpu() - before).as_secs_f64() * 1e6 / n as f64)
}
