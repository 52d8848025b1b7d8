//! One task that writes queued records to the store in batches, off the request path:
//! the proxy's audit and its usage records both go through it.

use clauderon_store::{Store, StoreError};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// Records waiting to be written; past this the newest are dropped (and counted).
const QUEUE: usize = 16 * 1024;
const BATCH: usize = 512;
const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// Writes one batch in one transaction.
pub(crate) type WriteBatch<T> = fn(&Store, &[T]) -> Result<(), StoreError>;

/// The sending side: `push` never blocks.
pub(crate) struct BatchQueue<T> {
    tx: mpsc::Sender<T>,
    dropped: AtomicU64,
    what: &'static str,
}

impl<T> BatchQueue<T> {
    pub(crate) fn push(&self, record: T) {
        if self.tx.try_send(record).is_err() {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!(dropped = n, "{} queue full: records dropped", self.what);
            }
        }
    }
}

/// Write everything queued so far, in batches.
async fn drain<T: Send + 'static>(
    store: &Arc<Store>,
    rx: &mut mpsc::Receiver<T>,
    write: WriteBatch<T>,
    what: &'static str,
) {
    loop {
        let mut batch = Vec::with_capacity(BATCH);
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        if batch.is_empty() {
            return;
        }
        let more = batch.len() == BATCH;
        let s = store.clone();
        let _ = tokio::task::spawn_blocking(move || {
            if let Err(e) = write(&s, &batch) {
                tracing::error!(error = %e, lost = batch.len(), "writing the {what} failed");
            }
        })
        .await;
        if !more {
            return;
        }
    }
}

/// Start the writer. It drains the queue and exits when `shutdown` turns true,
/// releasing its hold on the store. `what` names the records in log lines.
pub(crate) fn start<T: Send + 'static>(
    what: &'static str,
    store: Arc<Store>,
    write: WriteBatch<T>,
    mut shutdown: watch::Receiver<bool>,
) -> (BatchQueue<T>, JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel::<T>(QUEUE);
    let queue = BatchQueue { tx, dropped: AtomicU64::new(0), what };
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(FLUSH_EVERY);
        loop {
            // Wake on the clock, not per record: a wake-up per record would cost every
            // proxied request a cross-thread hand-off.
            let stopping = tokio::select! {
                _ = tick.tick() => false,
                // The flag only ever turns true; a closed channel means the daemon is gone.
                _ = shutdown.changed() => true,
            };
            drain(&store, &mut rx, write, what).await;
            if stopping {
                break;
            }
        }
    });
    (queue, task)
}
