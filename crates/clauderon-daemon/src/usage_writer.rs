//! The proxy's usage sink: each metered model call is priced, queued without blocking the
//! response path, and written to SQLite in batches by one task.
//!
//! Wiring (in `launch`): `let (usage_sink, usage_task) = usage_writer::start(store.clone(),
//! opts.config.prices.clone(), shutdown_rx.clone());` then hand `usage_sink` to the proxy as
//! its `Arc<dyn UsageSink>`, and await `usage_task` at shutdown like the audit task. A sink
//! that also charges budgets can wrap it: `record_for` prices the call, `push` queues it.

use crate::batch_writer::{self, BatchQueue};
use clauderon_core::pricing::PriceTable;
use clauderon_proxy::identity::SessionIdentity;
use clauderon_proxy::meter::UsageSink;
use clauderon_store::Store;
use clauderon_types::usage::{TokenUsage, UsageRecord};
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct UsageWriter {
    queue: BatchQueue<UsageRecord>,
    prices: PriceTable,
}

impl UsageWriter {
    /// The record a call makes: its session, its time (now), its cost at the table's prices.
    pub fn record_for(&self, session: &SessionIdentity, usage: TokenUsage) -> UsageRecord {
        UsageRecord {
            at: std::time::SystemTime::now().into(),
            session_id: session.session_id,
            session_name: session.name.to_string(),
            cost_usd: self.prices.cost(&usage),
            usage,
        }
    }

    /// Queue a record for the store without blocking (a full queue drops it, counted).
    pub fn push(&self, record: UsageRecord) {
        self.queue.push(record);
    }
}

impl UsageSink for UsageWriter {
    fn record(&self, session: &SessionIdentity, usage: TokenUsage) {
        self.push(self.record_for(session, usage));
    }
}

/// Start the writer; it drains the queue and exits when `shutdown` turns true.
pub fn start(
    store: Arc<Store>,
    prices: PriceTable,
    shutdown: watch::Receiver<bool>,
) -> (Arc<UsageWriter>, JoinHandle<()>) {
    let (queue, task) = batch_writer::start("usage", store, Store::append_usage, shutdown);
    (Arc::new(UsageWriter { queue, prices }), task)
}

/// The sink the daemon gives the proxy: each call is stored (through the writer) and charged
/// to its session's budget, which may stop the session's next model call.
pub struct Charging {
    writer: Arc<UsageWriter>,
    manager: clauderon_core::SessionManager,
}

impl Charging {
    pub fn new(writer: Arc<UsageWriter>, manager: clauderon_core::SessionManager) -> Self {
        Charging { writer, manager }
    }
}

impl UsageSink for Charging {
    fn record(&self, session: &SessionIdentity, usage: TokenUsage) {
        let record = self.writer.record_for(session, usage);
        // Saturating: the counts come from upstream, and an overflow must not panic here.
        let tokens = record.usage.total();
        let usd = record.cost_usd.unwrap_or(0.0);
        self.writer.push(record);
        let (manager, name) = (self.manager.clone(), session.name.to_string());
        // Charged in order of arrival per session is not needed: totals only add.
        // A body dropped outside the runtime (at shutdown) is still stored, just not charged.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        runtime.spawn(async move {
            if let Err(e) = manager.record_spending(&name, tokens, usd).await {
                tracing::debug!(session = %name, error = %e, "could not charge usage to the session's budget");
            }
        });
    }
}
