//! The proxies clauderon is compared with, started by the bench in front of the same local TLS
//! upstream, each setting the same API key header that clauderon injects:
//!
//! - **nginx** as a TLS-terminating reverse proxy: TLS in (a leaf the upstream's CA signs, so the
//!   bench's client trusts it), HTTP parse, TLS out to the upstream (verified against its CA),
//!   one worker process, keep-alive to the upstream, no response buffering (SSE);
//! - **mitmproxy** (`mitmdump`) as an intercepting proxy in regular mode: the client CONNECTs to
//!   it and trusts its CA; a few lines of addon (written here) send each CONNECT to the
//!   upstream's address, since `api.anthropic.com` must not resolve to the real host, and set
//!   the key header.

use super::daemon::free_port;
use super::load::{Connector, Path_, make_path};
use super::proc_stat::Watched;
use anyhow::{Context, bail};
use base64::Engine;
use clauderon_proxy::OverrideResolver;
use clauderon_testkit::TlsUpstream;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The key every proxy in the bench sets (the daemon's `ANTHROPIC_API_KEY`).
pub(crate) const KEY: &str = "sk-ant-bench-not-a-real-key";
const HOST: &str = "api.anthropic.com";

/// A peer proxy process, stopped when dropped.
pub(crate) struct Peer {
    child: Child,
    /// Its config, certificates and logs.
    dir: tempfile::TempDir,
    /// Its error log, in `dir`.
    log: &'static str,
    pub(crate) path: Path_,
}

impl Peer {
    /// The end of its error log, for a failure's message.
    pub(crate) fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join(self.log)).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(10)..].join("\n")
    }

    pub(crate) fn watched(&self) -> Watched {
        Watched(self.child.id())
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // SIGTERM first: nginx's master then stops its worker, which SIGKILL would orphan.
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        for _ in 0..40 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `command`, on CPU 1 when `pin`.
fn command(program: &Path, pin: bool) -> Command {
    if pin {
        let mut c = Command::new("taskset");
        c.args(["-c", "1"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// DER as PEM.
fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Wait until `addr` accepts connections, or `child` exits, for up to 30 s.
async fn wait_listening(child: &mut Child, addr: SocketAddr, what: &str, log: &Path) -> anyhow::Result<()> {
    for _ in 0..600 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            bail!("{what} exited ({status}) before listening on {addr}: {}", log.trim());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("{what} did not listen on {addr} within 30 s")
}

/// The nginx binary, if installed.
pub(crate) fn nginx_binary() -> Option<PathBuf> {
    ["/usr/sbin/nginx", "/usr/bin/nginx"].iter().map(PathBuf::from).find(|p| p.exists())
}

/// Start nginx in front of `up`.
pub(crate) async fn start_nginx(nginx: &Path, up: &TlsUpstream, pin: bool) -> anyhow::Result<Peer> {
    let dir = tempfile::tempdir()?;
    let d = dir.path();
    let (chain, key) = up.ca().issue(&[HOST.to_string()]);
    let cert_pem: String = chain.iter().map(|c| pem("CERTIFICATE", c)).collect();
    let key_pem = match &key {
        PrivateKeyDer::Pkcs8(k) => pem("PRIVATE KEY", k.secret_pkcs8_der()),
        _ => bail!("the test CA issued a key that is not PKCS#8"),
    };
    std::fs::write(d.join("cert.pem"), cert_pem)?;
    std::fs::write(d.join("key.pem"), key_pem)?;
    let upstream_ca = up.ca().write_pem(d);
    let addr = free_port()?;
    let dirs = d.display();
    // Access log buffered and flushed every 100 ms, as clauderon's audit writer does.
    let config = format!(
        "worker_processes 1;
daemon off;
pid {dirs}/nginx.pid;
error_log {dirs}/error.log warn;
events {{ worker_connections 8192; }}
http {{
  access_log {dirs}/access.log combined buffer=64k flush=100ms;
  client_body_temp_path {dirs}/client_body;
  proxy_temp_path {dirs}/proxy_temp;
  fastcgi_temp_path {dirs}/fastcgi;
  uwsgi_temp_path {dirs}/uwsgi;
  scgi_temp_path {dirs}/scgi;
  upstream api {{
    server {up_addr};
    keepalive 256;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
  }}
  server {{
    listen {addr} ssl;
    ssl_certificate {dirs}/cert.pem;
    ssl_certificate_key {dirs}/key.pem;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    location / {{
      proxy_pass https://api;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      proxy_set_header Host {HOST};
      proxy_set_header x-api-key \"{KEY}\";
      proxy_ssl_server_name on;
      proxy_ssl_name {HOST};
      proxy_ssl_verify on;
      proxy_ssl_trusted_certificate {ca};
      proxy_ssl_session_reuse on;
      proxy_buffering off;
    }}
  }}
}}
",
        up_addr = up.addr(),
        ca = upstream_ca.display(),
    );
    let conf = d.join("nginx.conf");
    std::fs::write(&conf, config)?;
    let log = d.join("error.log");
    let mut child = command(nginx, pin)
        .arg("-p")
        .arg(d)
        .arg("-e")
        .arg(&log)
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting nginx")?;
    wait_listening(&mut child, addr, "nginx", &log).await?;
    let resolver = OverrideResolver::new(HashMap::from([(HOST.to_string(), addr)]));
    let mut http = HttpConnector::new_with_resolver(resolver);
    http.enforce_http(false);
    http.set_nodelay(true);
    let path =
        make_path(Connector::Direct(http), up.ca().root_store(), format!("https://{HOST}:{}", addr.port()))?;
    Ok(Peer { child, dir, log: "error.log", path })
}

/// Where `scripts/bench.sh` installs mitmproxy.
pub(crate) fn default_mitmdump() -> Option<PathBuf> {
    let home = std::env::var_os("HOME")?;
    Some(PathBuf::from(home).join(".cache/clauderon/bench-venv/bin/mitmdump"))
}

/// Start `mitmdump` in regular (forward proxy) mode, intercepting TLS, in front of `up`.
pub(crate) async fn start_mitmproxy(mitmdump: &Path, up: &TlsUpstream, pin: bool) -> anyhow::Result<Peer> {
    let dir = tempfile::tempdir()?;
    let d = dir.path();
    let upstream_ca = up.ca().write_pem(d);
    let addon = d.join("bench_addon.py");
    std::fs::write(
        &addon,
        format!(
            "# Written by clauderon's proxy-bench: every CONNECT goes to the bench's local upstream,
# and each request gets the API key header, as clauderon and the bench's nginx set it.
UPSTREAM = (\"127.0.0.1\", {port})


def http_connect(flow):
    flow.request.host, flow.request.port = UPSTREAM


def request(flow):
    flow.request.headers[\"x-api-key\"] = \"{KEY}\"
",
            port = up.addr().port()
        ),
    )?;
    let addr = free_port()?;
    let log = d.join("mitmdump.log");
    let mut child = command(mitmdump, pin)
        .args(["--mode", "regular", "--listen-host", "127.0.0.1", "--listen-port"])
        .arg(addr.port().to_string())
        .arg("--set")
        .arg(format!("confdir={}", d.display()))
        .arg("--set")
        .arg(format!("ssl_verify_upstream_trusted_ca={}", upstream_ca.display()))
        // Stream bodies over 1 MiB instead of holding them whole (the 100 MiB download).
        // `upstream_cert=false`: mitmproxy's certificate library rejects the test kit leaf's
        // explicit `cA: FALSE` when it reads the upstream's names to copy them; the leaf it
        // makes is then for the SNI alone, which is all the bench's client checks. OpenSSL
        // still verifies the upstream against its CA.
        .args([
            "--set",
            "stream_large_bodies=1m",
            "--set",
            "upstream_cert=false",
            "--set",
            "flow_detail=0",
            "--set",
            "termlog_verbosity=warn",
            "-s",
        ])
        .arg(&addon)
        .stdout(std::fs::File::create(&log)?)
        .stderr(Stdio::null())
        .spawn()
        .context("starting mitmdump")?;
    wait_listening(&mut child, addr, "mitmdump", &log).await?;
    let ca = d.join("mitmproxy-ca-cert.pem");
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&ca).with_context(|| format!("reading {}", ca.display()))? {
        roots.add(cert?)?;
    }
    let mut plain = HttpConnector::new();
    plain.set_nodelay(true);
    let tunnel = Tunnel::new(format!("http://{addr}").parse()?, plain);
    let path = make_path(Connector::Proxy(tunnel), roots, format!("https://{HOST}"))?;
    Ok(Peer { child, dir, log: "mitmdump.log", path })
}
