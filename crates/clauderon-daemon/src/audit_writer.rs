//! The proxy's audit sink: records are queued without blocking the request
//! path and written to SQLite in batches by one task.

use clauderon_proxy::audit::{AuditRecord, AuditSink};
use clauderon_store::Store;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// Records waiting to be written; past this the newest are dropped (and counted).
const QUEUE: usize = 16 * 1024;
const BATCH: usize = 512;
const FLUSH_EVERY: Duration = Duration::from_millis(100);

pub struct QueueSink {
    tx: mpsc::Sender<AuditRecord>,
    dropped: Arc<AtomicU64>,
}

impl AuditSink for QueueSink {
    fn record(&self, record: AuditRecord) {
        if self.tx.try_send(record).is_err() {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!(dropped = n, "audit queue full: records dropped");
            }
        }
    }
}

fn write(store: &Arc<Store>, batch: Vec<AuditRecord>) {
    if batch.is_empty() {
        return;
    }
    if let Err(e) = store.append_audit(&batch) {
        tracing::error!(error = %e, lost = batch.len(), "writing the audit failed");
    }
}

/// Write everything queued so far, in batches.
async fn drain(store: &Arc<Store>, rx: &mut mpsc::Receiver<AuditRecord>) {
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
        let _ = tokio::task::spawn_blocking(move || write(&s, batch)).await;
        if !more {
            return;
        }
    }
}

/// Start the writer. It drains the queue and exits when `shutdown` turns true,
/// releasing its hold on the store.
pub fn start(store: Arc<Store>, mut shutdown: watch::Receiver<bool>) -> (Arc<QueueSink>, JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel::<AuditRecord>(QUEUE);
    let sink = Arc::new(QueueSink { tx, dropped: Arc::new(AtomicU64::new(0)) });
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
            drain(&store, &mut rx).await;
            if stopping {
                break;
            }
        }
    });
    (sink, task)
}
