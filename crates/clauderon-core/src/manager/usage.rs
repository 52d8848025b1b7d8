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
}
