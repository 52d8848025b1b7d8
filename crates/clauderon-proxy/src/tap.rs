//! A body that lets the usage meter watch a model API response go by: each chunk is handed on
//! untouched the moment it arrives, and shown to the meter after. When the body ends (or the
//! session hangs up early) the usage read so far goes to the sink.

use crate::identity::SessionIdentity;
use crate::meter::{UsageMeter, UsageSink};
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

pub struct MeterBody<B> {
    inner: B,
    meter: Option<UsageMeter>,
    session: SessionIdentity,
    sink: Arc<dyn UsageSink>,
}

impl<B> MeterBody<B> {
    pub fn new(inner: B, meter: UsageMeter, session: SessionIdentity, sink: Arc<dyn UsageSink>) -> Self {
        MeterBody { inner, meter: Some(meter), session, sink }
    }

    fn report(&mut self) {
        if let Some(usage) = self.meter.take().and_then(UsageMeter::finish) {
            self.sink.record(&self.session, usage);
        }
    }
}

impl<B> Drop for MeterBody<B> {
    fn drop(&mut self) {
        // A stream the session abandoned still used the tokens it reported so far.
        self.report();
    }
}

impl<B> Body for MeterBody<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(data), Some(meter)) = (frame.data_ref(), self.meter.as_mut()) {
                    meter.feed(data);
                }
            }
            Poll::Ready(None) => self.report(),
            _ => {}
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
