//! The upstream HTTP/1.1 connection of one intercepted session connection, driven inside that
//! connection's own task.
//!
//! A pooled client runs every upstream connection in a task of its own, so each request and
//! each body chunk crosses tasks (and often threads) twice more: the session's task hands the
//! request over, the connection's task writes it, reads the answer and wakes the session's
//! task again. An intercepted connection talks to one host, so it gets one upstream
//! connection of its own, opened on its first HTTP/1.1 request and kept while both stay
//! open; its driver is polled by the same task that serves the session
//! ([`ConnUpstream::drive`]), which saves those hand-offs on every request. HTTP/2 sessions
//! and upgrades (WebSocket) still use the pooled clients.

use crate::identity::SessionIdentity;
use crate::upstream::{BoxError, ProxyBody};
use crate::wall::{AddressWall, Allowance};
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesUnordered;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use std::sync::Arc;
use tokio::sync::{Mutex, mpsc};

/// Opens TLS connections to upstream hosts that speak HTTP/1.1, through the address wall
/// (which applies the overrides).
pub struct Dialer {
    tls: tokio_rustls::TlsConnector,
    wall: Arc<AddressWall>,
}

impl Dialer {
    /// `tls` is the upstream client's TLS setup (roots, extra CAs); ALPN is set to HTTP/1.1.
    pub fn new(mut tls: rustls::ClientConfig, wall: Arc<AddressWall>) -> Self {
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        Dialer { tls: tokio_rustls::TlsConnector::from(Arc::new(tls)), wall }
    }

    async fn open(
        &self,
        host: &str,
        port: u16,
        session: &SessionIdentity,
    ) -> Result<(SendRequest<ProxyBody>, Driver), BoxError> {
        let name = ServerName::try_from(host.to_string())
            .map_err(|e| boxed(format!("{host} is not a valid server name: {e}")))?;
        let tcp = self.wall.dial(host, port, Allowance::Session(session)).await.map_err(boxed)?;
        let tls = self.tls.connect(name, tcp).await.map_err(boxed)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.map_err(boxed)?;
        let driver: Driver = Box::pin(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "upstream connection ended with an error");
            }
        });
        Ok((sender, driver))
    }
}

type Driver = BoxFuture<'static, ()>;

fn boxed(e: impl Into<BoxError>) -> BoxError {
    e.into()
}

/// One session connection's upstream: opened on first use, opened again once it has closed.
pub struct ConnUpstream {
    dialer: Arc<Dialer>,
    host: String,
    port: u16,
    session: SessionIdentity,
    sender: Mutex<Option<SendRequest<ProxyBody>>>,
    drivers: mpsc::UnboundedSender<Driver>,
}

/// Where [`ConnUpstream`]'s connections are driven: poll it beside the session's connection.
pub struct Drivers {
    incoming: mpsc::UnboundedReceiver<Driver>,
    running: FuturesUnordered<Driver>,
}

impl ConnUpstream {
    pub fn new(dialer: Arc<Dialer>, host: &str, port: u16, session: SessionIdentity) -> (Arc<Self>, Drivers) {
        let (tx, rx) = mpsc::unbounded_channel();
        let me = ConnUpstream {
            dialer,
            host: host.to_string(),
            port,
            session,
            sender: Mutex::new(None),
            drivers: tx,
        };
        (Arc::new(me), Drivers { incoming: rx, running: FuturesUnordered::new() })
    }

    /// Send `req` (origin-form URI, Host set) and wait for the response head.
    pub async fn request(&self, req: Request<ProxyBody>) -> Result<Response<Incoming>, BoxError> {
        let mut slot = self.sender.lock().await;
        let mut sender = match slot.take() {
            Some(s) if !s.is_closed() => s,
            _ => self.open().await?,
        };
        // Ready means the previous exchange on it is over; a closed one is replaced once.
        if sender.ready().await.is_err() {
            sender = self.open().await?;
            sender.ready().await.map_err(boxed)?;
        }
        let response = sender.send_request(req);
        *slot = Some(sender);
        drop(slot);
        response.await.map_err(boxed)
    }

    async fn open(&self) -> Result<SendRequest<ProxyBody>, BoxError> {
        let (sender, driver) = self.dialer.open(&self.host, self.port, &self.session).await?;
        self.drivers.send(driver).map_err(|_| boxed("the session's connection has ended"))?;
        Ok(sender)
    }
}

impl Drivers {
    /// Drive the upstream connections opened for the session's connection; never returns:
    /// select it beside serving the session's connection, in the same task.
    pub async fn run(&mut self) {
        loop {
            tokio::select! {
                Some(driver) = self.incoming.recv() => self.running.push(driver),
                Some(()) = self.running.next(), if !self.running.is_empty() => {}
                else => std::future::pending::<()>().await,
            }
        }
    }
}
