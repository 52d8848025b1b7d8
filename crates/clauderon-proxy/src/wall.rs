//! The address wall: the proxy never carries a session to the host it runs on or to the
//! networks around it (issue 11, item 3).
//!
//! Every upstream connection the proxy opens for a session — plain forwards, opaque tunnels,
//! intercepted HTTP/1.1 and HTTP/2, WebSocket upgrades — is dialled by `AddressWall::dial`
//! (the pooled clients through [`WallConnector`]). It resolves the name first and judges the
//! **addresses it is about to connect to**, so names that resolve to loopback (`localhost`, a
//! DNS name, `127.1`, `2130706433`, `0x7f000001`) are caught as well as literals, and a
//! name cannot resolve to something else between the check and the connection.
//!
//! Refused: loopback, unspecified, link-local, private, CGNAT, multicast, broadcast and
//! reserved addresses, in IPv4, IPv6 and IPv4-mapped IPv6 form ([`blocked_kind`]). Two
//! exceptions the user names: a host's `proxy.upstream_overrides` address, and an exact IP
//! literal on an allow list (config `[policy] allow_hosts` or the session's own allow-host),
//! when the session asks for that literal. Never, whatever the exceptions: the daemon's own
//! listeners (its API and the proxy itself), which the daemon hands over at launch.

use crate::identity::SessionIdentity;
use crate::policy::RequestPolicy;
use crate::resolver::OverrideResolver;
use futures_util::future::BoxFuture;
use http::Uri;
use hyper_util::rt::TokioIo;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::net::TcpStream;

/// How long dialling an upstream may take.
pub const UPSTREAM_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Why an address is not for sessions, as a phrase ("a loopback address"); `None`: a public one.
pub fn blocked_kind(ip: IpAddr) -> Option<&'static str> {
    match ip.to_canonical() {
        IpAddr::V4(v4) => blocked_v4(v4),
        IpAddr::V6(v6) => blocked_v6(v6),
    }
}

fn blocked_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("a loopback address")
    } else if a == 0 {
        // 0.0.0.0 connects to the host itself on Linux; the rest of 0/8 is "this network".
        Some("an unspecified address")
    } else if ip.is_private() {
        Some("a private address")
    } else if ip.is_link_local() {
        Some("a link-local address")
    } else if a == 100 && (b & 0xc0) == 64 {
        Some("a shared (CGNAT) address")
    } else if ip.is_broadcast() {
        Some("the broadcast address")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else if a >= 240 {
        Some("a reserved address")
    } else {
        None
    }
}

fn blocked_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_unspecified() {
        Some("an unspecified address")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else if (s[0] & 0xffc0) == 0xfe80 {
        Some("a link-local address")
    } else if (s[0] & 0xfe00) == 0xfc00 || (s[0] & 0xffc0) == 0xfec0 {
        Some("a private address")
    } else if s[..5] == [0, 0, 0, 0, 0] {
        // IPv4-compatible (::a.b.c.d) and the rest of ::/80 but mapped: nothing public lives here.
        Some("a reserved address")
    } else if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        // NAT64 (64:ff9b::/96) reaches the IPv4 address it embeds: judge that one.
        let v4 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
        blocked_v4(v4)
    } else {
        None
    }
}

/// Whose allow rules may open the wall for an IP literal.
#[derive(Clone, Copy)]
pub(crate) enum Allowance<'a> {
    /// The global list and this session's own.
    Session(&'a SessionIdentity),
    /// The global list and any session's: the pooled clients' last check at connect time, for
    /// connections shared by sessions; the server has checked the asking session beforehand
    /// ([`AddressWall::check_literal`]).
    AnySession,
}

/// A connection the wall refused: what was asked and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{target} is walled off: {why}")]
pub struct Walled {
    /// `host:port` as the session asked for it.
    pub target: String,
    /// The address the proxy would have connected to (the literal itself, or what the name resolved to).
    pub addr: IpAddr,
    /// A phrase: "a loopback address", or that it is clauderon's own listener.
    pub why: String,
    /// Whether an allow rule could open it (never for clauderon's own listeners).
    pub allowable: bool,
}

/// Why the proxy could not open an upstream connection.
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    #[error(transparent)]
    Walled(#[from] Walled),
    #[error("could not resolve {host}: {reason}")]
    Unresolved { host: String, reason: String },
    #[error("could not reach {target}: {reason}")]
    Unreachable { target: String, reason: String },
    #[error("connecting to {target} timed out")]
    TimedOut { target: String },
}

/// The wall itself: the overrides, the daemon's own listeners, and the policy's allow rules.
pub struct AddressWall {
    overrides: OverrideResolver,
    own: Vec<SocketAddr>,
    policy: Arc<dyn RequestPolicy>,
}

impl std::fmt::Debug for AddressWall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddressWall").field("own", &self.own).finish_non_exhaustive()
    }
}

/// Is `ip` an address of this host? Binding to it succeeds exactly then (no interface list to
/// read, no dependency); asked only about a port a listener of ours holds on all interfaces.
fn is_local(ip: IpAddr) -> bool {
    ip.is_unspecified() || std::net::UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok()
}

impl AddressWall {
    pub fn new(overrides: OverrideResolver, own: Vec<SocketAddr>, policy: Arc<dyn RequestPolicy>) -> Self {
        AddressWall { overrides, own, policy }
    }

    /// Does a connection to `addr` reach one of the daemon's own listeners?
    fn is_own(&self, addr: SocketAddr) -> bool {
        let ip = addr.ip().to_canonical();
        self.own.iter().any(|l| {
            let listener = l.ip().to_canonical();
            l.port() == addr.port()
                && (listener == ip
                    // 0.0.0.0 / :: as a destination is the host itself.
                    || ip.is_unspecified()
                    || (listener.is_unspecified() && is_local(ip)))
        })
    }

    /// Judge one address the session would be connected to.
    fn judge(&self, target: &str, addr: SocketAddr, literal_allowed: bool) -> Result<(), Walled> {
        if self.is_own(addr) {
            return Err(Walled {
                target: target.to_string(),
                addr: addr.ip(),
                why: "that is clauderon's own API or proxy, which sessions may never reach".into(),
                allowable: false,
            });
        }
        match blocked_kind(addr.ip()) {
            Some(kind) if !literal_allowed => Err(Walled {
                target: target.to_string(),
                addr: addr.ip(),
                why: format!("{} is {kind}", addr.ip()),
                allowable: true,
            }),
            _ => Ok(()),
        }
    }

    fn literal_allowed(&self, ip: IpAddr, allowance: Allowance<'_>) -> bool {
        match allowance {
            Allowance::Session(s) => self.policy.names_address(Some(s), ip),
            Allowance::AnySession => self.policy.names_address(None, ip),
        }
    }

    /// The check the server makes before handing a request to a pooled client, which cannot
    /// tell sessions apart: an IP literal must be open to *this* session. Names are judged at
    /// connect time only (their addresses are not known before).
    pub(crate) fn check_literal(
        &self,
        host: &str,
        port: u16,
        session: &SessionIdentity,
    ) -> Result<(), Walled> {
        if self.overrides.lookup(host).is_some() {
            return Ok(());
        }
        match host.parse::<IpAddr>() {
            Ok(ip) => {
                let allowed = self.literal_allowed(ip, Allowance::Session(session));
                self.judge(&format!("{host}:{port}"), SocketAddr::new(ip, port), allowed)
            }
            Err(_) => Ok(()),
        }
    }

    /// The addresses `host:port` may be connected to: resolved (the overrides first), and only
    /// those the wall lets through; an error when none is left.
    pub(crate) async fn resolve(
        &self,
        host: &str,
        port: u16,
        allowance: Allowance<'_>,
    ) -> Result<Vec<SocketAddr>, DialError> {
        let target = format!("{host}:{port}");
        if let Some(addr) = self.overrides.lookup(host) {
            // The user pointed this name here: only clauderon's own listeners stay closed.
            self.judge(&target, addr, true)?;
            return Ok(vec![addr]);
        }
        if let Ok(ip) = host.parse::<IpAddr>() {
            let addr = SocketAddr::new(ip, port);
            self.judge(&target, addr, self.literal_allowed(ip, allowance))?;
            return Ok(vec![addr]);
        }
        // A name: no allow rule opens the wall for it (a rule must name the IP itself).
        let lookup = tokio::net::lookup_host((host, port));
        let found = tokio::time::timeout(UPSTREAM_CONNECT_TIMEOUT, lookup)
            .await
            .map_err(|_| DialError::TimedOut { target: target.clone() })?
            .map_err(|e| DialError::Unresolved { host: host.to_string(), reason: e.to_string() })?;
        let mut first_refusal = None;
        let mut open = Vec::new();
        for addr in found {
            match self.judge(&target, addr, false) {
                Ok(()) => open.push(addr),
                Err(w) => {
                    first_refusal.get_or_insert(w);
                }
            }
        }
        match (open.is_empty(), first_refusal) {
            (true, Some(w)) => Err(w.into()),
            (true, None) => {
                Err(DialError::Unresolved { host: host.to_string(), reason: "no address found".into() })
            }
            (false, _) => Ok(open),
        }
    }

    /// Resolve, judge and connect: the one way the proxy opens a session's upstream connection.
    pub(crate) async fn dial(
        &self,
        host: &str,
        port: u16,
        allowance: Allowance<'_>,
    ) -> Result<TcpStream, DialError> {
        let addrs = self.resolve(host, port, allowance).await?;
        connect_any(&addrs, &format!("{host}:{port}")).await
    }
}

/// Connect to the first of `addrs` that answers (each already judged by the wall).
pub(crate) async fn connect_any(addrs: &[SocketAddr], target: &str) -> Result<TcpStream, DialError> {
    let attempt = async {
        let mut last = String::from("no address");
        for addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    return Ok(stream);
                }
                Err(e) => last = e.to_string(),
            }
        }
        Err(DialError::Unreachable { target: target.to_string(), reason: last })
    };
    tokio::time::timeout(UPSTREAM_CONNECT_TIMEOUT, attempt)
        .await
        .map_err(|_| DialError::TimedOut { target: target.to_string() })?
}

/// The wall's refusal somewhere in an error's chain (the pooled client wraps the connector's).
pub(crate) fn walled_in<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a Walled> {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(w) = e.downcast_ref::<Walled>() {
            return Some(w);
        }
        if let Some(DialError::Walled(w)) = e.downcast_ref::<DialError>() {
            return Some(w);
        }
        cur = e.source();
    }
    None
}

/// The pooled clients' connector: every connection they open goes through the wall. Pooled
/// connections are shared by sessions, so an IP literal passes here when any session may reach
/// it; the server has checked the asking session first.
#[derive(Clone, Debug)]
pub struct WallConnector {
    wall: Arc<AddressWall>,
}

impl WallConnector {
    pub fn new(wall: Arc<AddressWall>) -> Self {
        WallConnector { wall }
    }
}

impl tower_service::Service<Uri> for WallConnector {
    type Response = TokioIo<TcpStream>;
    type Error = DialError;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let wall = self.wall.clone();
        Box::pin(async move {
            let host = uri.host().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
            let default_port = if uri.scheme_str() == Some("https") { 443 } else { 80 };
            let port = uri.port_u16().unwrap_or(default_port);
            let stream = wall.dial(host, port, Allowance::AnySession).await?;
            Ok(TokioIo::new(stream))
        })
    }
}

#[cfg(test)]
mod tests;
