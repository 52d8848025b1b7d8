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
//! and upgrades (WebSocket) still use the pooled clients, and so do HTTP/1.1 sessions whose
//! upstream refuses HTTP/1.1 in ALPN (it speaks HTTP/2 only): [`Unsent::Http2Only`].

use crate::identity::SessionIdentity;
use crate::lenient_eof::{LenientEof, UncleanClose};
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
use std::sync::atomic::{AtomicBool, Ordering};
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

    async fn open(&self, host: &str, port: u16, session: &SessionIdentity) -> Result<Opened, Dial> {
        let name = ServerName::try_from(host.to_string())
            .map_err(|e| Dial::Failed(boxed(format!("{host} is not a valid server name: {e}"))))?;
        let tcp = self
            .wall
            .dial(host, port, Allowance::Session(session))
            .await
            .map_err(|e| Dial::Failed(boxed(e)))?;
        let tls = match self.tls.connect(name, tcp).await {
            Ok(tls) => tls,
            Err(e) if refused_http1(&e) => return Err(Dial::Http2Only),
            Err(e) => return Err(Dial::Failed(boxed(e))),
        };
        let io = LenientEof::new(TokioIo::new(tls));
        let unclean = io.unclean();
        let (sender, conn) =
            hyper::client::conn::http1::handshake(io).await.map_err(|e| Dial::Failed(boxed(e)))?;
        let driver: Driver = Box::pin(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "upstream connection ended with an error");
            }
        });
        Ok(Opened { sender, driver, unclean })
    }
}

/// Did the server end the handshake because it speaks no protocol the proxy offered (only
/// HTTP/1.1 here)? A server that speaks HTTP/2 only does.
fn refused_http1(e: &std::io::Error) -> bool {
    e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()).is_some_and(|e| {
        matches!(e, rustls::Error::AlertReceived(rustls::AlertDescription::NoApplicationProtocol))
    })
}

struct Opened {
    sender: SendRequest<ProxyBody>,
    driver: Driver,
    unclean: UncleanClose,
}

enum Dial {
    Failed(BoxError),
    Http2Only,
}

/// Why [`ConnUpstream::request`] did not send a request.
pub enum Unsent {
    Failed(BoxError),
    /// The upstream speaks no HTTP/1.1: the request, untouched, for a client that speaks HTTP/2.
    Http2Only(Box<Request<ProxyBody>>),
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
    sender: Mutex<Option<(SendRequest<ProxyBody>, UncleanClose)>>,
    drivers: mpsc::UnboundedSender<Driver>,
    /// The upstream refused HTTP/1.1 once: it is not asked again on this connection.
    http2_only: AtomicBool,
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
            http2_only: AtomicBool::new(false),
        };
        (Arc::new(me), Drivers { incoming: rx, running: FuturesUnordered::new() })
    }

    /// Send `req` (origin-form URI, Host set) and wait for the response head. The response's
    /// extensions carry the connection's [`UncleanClose`].
    pub async fn request(&self, req: Request<ProxyBody>) -> Result<Response<Incoming>, Unsent> {
        if self.http2_only.load(Ordering::Relaxed) {
            return Err(Unsent::Http2Only(Box::new(req)));
        }
        let mut slot = self.sender.lock().await;
        let (mut sender, mut unclean) = match slot.take() {
            Some((s, u)) if !s.is_closed() => (s, u),
            _ => match self.open().await {
                Ok(opened) => opened,
                Err(d) => return Err(self.unsent(d, req)),
            },
        };
        // Ready means the previous exchange on it is over; a closed one is replaced once.
        if sender.ready().await.is_err() {
            (sender, unclean) = match self.open().await {
                Ok(opened) => opened,
                Err(d) => return Err(self.unsent(d, req)),
            };
            sender.ready().await.map_err(|e| Unsent::Failed(boxed(e)))?;
        }
        let response = sender.send_request(req);
        *slot = Some((sender, unclean.clone()));
        drop(slot);
        let mut response = response.await.map_err(|e| Unsent::Failed(boxed(e)))?;
        response.extensions_mut().insert(unclean);
        Ok(response)
    }

    /// Why `req` was not sent, when opening a connection for it failed.
    fn unsent(&self, dial: Dial, req: Request<ProxyBody>) -> Unsent {
        match dial {
            Dial::Failed(e) => Unsent::Failed(e),
            Dial::Http2Only => {
                tracing::debug!(host = %self.host, "the upstream speaks no HTTP/1.1: its requests go over HTTP/2");
                self.http2_only.store(true, Ordering::Relaxed);
                Unsent::Http2Only(Box::new(req))
            }
        }
    }

    async fn open(&self) -> Result<(SendRequest<ProxyBody>, UncleanClose), Dial> {
        let opened = self.dialer.open(&self.host, self.port, &self.session).await?;
        self.drivers
            .send(opened.driver)
            .map_err(|_| Dial::Failed(boxed("the session's connection has ended")))?;
        Ok((opened.sender, opened.unclean))
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
