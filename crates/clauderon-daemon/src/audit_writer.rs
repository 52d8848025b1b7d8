//! The proxy's audit sink: records are queued without blocking the request
//! path and written to SQLite in batches by one task.

use crate::batch_writer::{self, BatchQueue};
use clauderon_proxy::audit::{AuditRecord, AuditSink};
use clauderon_store::Store;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct QueueSink(BatchQueue<AuditRecord>);

impl AuditSink for QueueSink {
    fn record(&self, record: AuditRecord) {
        self.0.push(record);
    }
}

/// Start the writer. It drains the queue and exits when `shutdown` turns true,
/// releasing its hold on the store.
pub fn start(store: Arc<Store>, shutdown: watch::Receiver<bool>) -> (Arc<QueueSink>, JoinHandle<()>) {
    let (queue, task) = batch_writer::start("audit", store, Store::append_audit, shutdown);
    (Arc::new(QueueSink(queue)), task)
}
