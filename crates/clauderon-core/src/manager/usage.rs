//! A session's token usage, as the proxy metered it.

use super::SessionManager;
use crate::error::CoreError;
use clauderon_types::usage::{BucketWidth, UsageReport};

impl SessionManager {
    /// Totals per provider and model, and a time series in `bucket`-wide steps.
    pub async fn usage_report(&self, name: &str, bucket: BucketWidth) -> Result<UsageReport, CoreError> {
        let session = self.get(name).await?;
        let id = session.id;
        let records = self.store(move |s| s.usage_for(id)).await?;
        Ok(UsageReport::from_records(session.name.as_str(), &records, bucket))
    }

    /// Add each session's stored spending to the proxy's budget counters, so budgets hold
    /// across restarts. Once, at start (it adds, it does not replace). Returns the sessions.
    pub async fn load_spending(&self) -> Result<usize, CoreError> {
        let totals = self.store(|s| s.usage_totals()).await?;
        for (id, tokens, usd) in &totals {
            self.inner.policies.add_spent(*id, *tokens, *usd);
        }
        Ok(totals.len())
    }
}
