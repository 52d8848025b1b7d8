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
    charges: tokio::sync::mpsc::UnboundedSender<Charge>,
}

/// One model call's cost, on its way to the session's budget.
struct Charge {
    session: String,
    tokens: u64,
    usd: f64,
}

impl Charging {
    /// The sink, and the task that charges budgets through `manager` until `shutdown`. The
    /// manager lives in that task, not in the sink: the proxy's connections hold the sink, and
    /// must not keep the manager (and its store) open after the daemon stops.
    pub fn start(
        writer: Arc<UsageWriter>,
        manager: clauderon_core::SessionManager,
        shutdown: watch::Receiver<bool>,
    ) -> (Arc<Charging>, JoinHandle<()>) {
        let (charges, mut rx) = tokio::sync::mpsc::unbounded_channel::<Charge>();
        let mut shutdown = shutdown;
        let task = tokio::spawn(async move {
            let stop = async move {
                let _ = shutdown.wait_for(|stop| *stop).await;
            };
            tokio::pin!(stop);
            loop {
                tokio::select! {
                    charge = rx.recv() => {
                        let Some(c) = charge else { break };
                        if let Err(e) = manager.record_spending(&c.session, c.tokens, c.usd).await {
                            tracing::debug!(session = %c.session, error = %e, "could not charge usage to the session's budget");
                        }
                    }
                    _ = &mut stop => break,
                }
            }
        });
        (Arc::new(Charging { writer, charges }), task)
    }
}

impl UsageSink for Charging {
    fn record(&self, session: &SessionIdentity, usage: TokenUsage) {
        let record = self.writer.record_for(session, usage);
        // Saturating: the counts come from upstream, and an overflow must not panic here.
        let tokens = record.usage.total();
        let usd = record.cost_usd.unwrap_or(0.0);
        self.writer.push(record);
        // After shutdown nobody charges: the call is still stored.
        let _ = self.charges.send(Charge { session: session.name.to_string(), tokens, usd });
    }
}
