//! Bodies that watch what passes through them without holding it up: each chunk is handed on
//! the moment it arrives and shown to a [`Tap`] on the way. The audit counts bytes with one
//! ([`crate::audit::CountingBody`]); the usage meter reads model API responses with another
//! ([`MeterBody`]).

use crate::identity::SessionIdentity;
use crate::meter::{UsageMeter, UsageSink};
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// What a [`TapBody`] does with what goes by.
pub trait Tap: Unpin {
    /// A data chunk, as it is handed on.
    fn data(&mut self, data: &Bytes);
    /// The body ended, or failed. May come more than once; only the first counts.
    fn end(&mut self);
}

/// `inner`, unchanged, shown to `tap` on the way.
pub struct TapBody<B, T> {
    inner: B,
    tap: T,
}

impl<B, T> TapBody<B, T> {
    pub fn with_tap(inner: B, tap: T) -> Self {
        TapBody { inner, tap }
    }
}

impl<B, T> Body for TapBody<B, T>
where
    B: Body<Data = Bytes> + Unpin,
    T: Tap,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.tap.data(data);
                }
            }
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => this.tap.end(),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A model API response read by the usage meter. When the body ends (or the session hangs up
/// early) the usage read so far goes to the sink.
pub type MeterBody<B> = TapBody<B, Metering>;

pub struct Metering {
    meter: Option<UsageMeter>,
    session: SessionIdentity,
    sink: Arc<dyn UsageSink>,
}

impl<B> MeterBody<B> {
    pub fn new(inner: B, meter: UsageMeter, session: SessionIdentity, sink: Arc<dyn UsageSink>) -> Self {
        TapBody::with_tap(inner, Metering { meter: Some(meter), session, sink })
    }
}

impl Tap for Metering {
    fn data(&mut self, data: &Bytes) {
        if let Some(meter) = self.meter.as_mut() {
            meter.feed(data);
        }
    }

    fn end(&mut self) {
        if let Some(usage) = self.meter.take().and_then(UsageMeter::finish) {
            self.sink.record(&self.session, usage);
        }
    }
}

impl Drop for Metering {
    fn drop(&mut self) {
        // A stream the session abandoned still used the tokens it reported so far.
        self.end();
    }
}
