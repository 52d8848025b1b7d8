//! Token usage read from model API responses, and the per-session usage report.
//!
//! Token kinds are normalised across providers so that a price table applies the same way
//! to all of them: `input_tokens` are the prompt tokens that were neither read from nor
//! written to a cache (OpenAI and Gemini count cached tokens inside their prompt count; the
//! meter subtracts them), `output_tokens` include reasoning ("thinking") tokens.

use crate::id::SessionId;
use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

/// The tokens one model call used.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct TokenUsage {
    /// `anthropic`, `openai` or `gemini`.
    pub provider: String,
    pub model: String,
    /// Prompt tokens not read from or written to a cache.
    pub input_tokens: u64,
    /// Generated tokens, reasoning included.
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
}

impl TokenUsage {
    /// Every token of every kind: what a token budget counts.
    pub fn total(&self) -> u64 {
        self.input_tokens
            .saturating_add(self.output_tokens)
            .saturating_add(self.cache_read_tokens)
            .saturating_add(self.cache_write_tokens)
    }
}

/// One metered model call of one session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UsageRecord {
    pub at: DateTime<Utc>,
    pub session_id: SessionId,
    pub session_name: String,
    pub usage: TokenUsage,
    /// `None` when the price table does not know the model.
    pub cost_usd: Option<f64>,
}

/// The width of the report's time buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum BucketWidth {
    Minute,
    #[default]
    Hour,
    Day,
}

impl BucketWidth {
    pub fn seconds(self) -> u64 {
        match self {
            BucketWidth::Minute => 60,
            BucketWidth::Hour => 3600,
            BucketWidth::Day => 86_400,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UsageQuery {
    /// The width of the time series' buckets: `minute`, `hour` (the default) or `day`.
    #[serde(default)]
    pub bucket: BucketWidth,
}

/// One provider and model's totals.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
pub struct ModelTotals {
    pub provider: String,
    pub model: String,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    /// Metered model calls.
    pub requests: u64,
    /// `None` when no call of this model had a known price.
    pub cost_usd: Option<f64>,
}

/// Usage in one time bucket, `[start, start + width_seconds)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UsageBucket {
    pub start: DateTime<Utc>,
    pub width_seconds: u64,
    /// Input tokens of every kind (uncached, cache read, cache write).
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: Option<f64>,
}

/// `GET /api/sessions/{name}/usage`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UsageReport {
    pub session: String,
    /// Per provider and model, sorted by provider then model.
    pub totals: Vec<ModelTotals>,
    pub total_tokens: u64,
    /// `None` when no call had a known price.
    pub total_cost_usd: Option<f64>,
    /// Buckets that saw at least one call, oldest first.
    pub series: Vec<UsageBucket>,
}

fn add_cost(sum: &mut Option<f64>, cost: Option<f64>) {
    if let Some(c) = cost {
        *sum = Some(sum.unwrap_or(0.0) + c);
    }
}

impl UsageReport {
    /// Sum `records` (in any order) by model and by time bucket.
    pub fn from_records(session: &str, records: &[UsageRecord], width: BucketWidth) -> UsageReport {
        let mut totals: BTreeMap<(&str, &str), ModelTotals> = BTreeMap::new();
        let mut buckets: BTreeMap<i64, UsageBucket> = BTreeMap::new();
        let mut total_tokens = 0u64;
        let mut total_cost_usd = None;
        let step = i64::try_from(width.seconds()).unwrap_or(3600);
        for r in records {
            let u = &r.usage;
            let t = totals.entry((&u.provider, &u.model)).or_insert_with(|| ModelTotals {
                provider: u.provider.clone(),
                model: u.model.clone(),
                ..ModelTotals::default()
            });
            t.input_tokens = t.input_tokens.saturating_add(u.input_tokens);
            t.output_tokens = t.output_tokens.saturating_add(u.output_tokens);
            t.cache_read_tokens = t.cache_read_tokens.saturating_add(u.cache_read_tokens);
            t.cache_write_tokens = t.cache_write_tokens.saturating_add(u.cache_write_tokens);
            t.requests += 1;
            add_cost(&mut t.cost_usd, r.cost_usd);
            total_tokens = total_tokens.saturating_add(u.total());
            add_cost(&mut total_cost_usd, r.cost_usd);

            let start = r.at.timestamp().div_euclid(step) * step;
            let b = buckets.entry(start).or_insert_with(|| UsageBucket {
                start: Utc.timestamp_opt(start, 0).single().unwrap_or(r.at),
                width_seconds: width.seconds(),
                input_tokens: 0,
                output_tokens: 0,
                cost_usd: None,
            });
            b.input_tokens = b.input_tokens.saturating_add(
                u.input_tokens.saturating_add(u.cache_read_tokens).saturating_add(u.cache_write_tokens),
            );
            b.output_tokens = b.output_tokens.saturating_add(u.output_tokens);
            add_cost(&mut b.cost_usd, r.cost_usd);
        }
        UsageReport {
            session: session.to_owned(),
            totals: totals.into_values().collect(),
            total_tokens,
            total_cost_usd,
            series: buckets.into_values().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(at: &str, model: &str, input: u64, output: u64, cost: Option<f64>) -> UsageRecord {
        UsageRecord {
            at: DateTime::parse_from_rfc3339(at).map(|t| t.to_utc()).unwrap_or_default(),
            session_id: SessionId::new(),
            session_name: "s".into(),
            usage: TokenUsage {
                provider: "anthropic".into(),
                model: model.into(),
                input_tokens: input,
                output_tokens: output,
                cache_read_tokens: 1,
                cache_write_tokens: 2,
            },
            cost_usd: cost,
        }
    }

    #[test]
    fn report_sums_by_model_and_by_bucket() {
        let records = [
            record("2026-01-01T10:59:59Z", "b", 10, 5, Some(0.5)),
            record("2026-01-01T10:00:00Z", "a", 100, 50, None),
            record("2026-01-01T11:30:00Z", "b", 1, 1, Some(0.25)),
        ];
        let r = UsageReport::from_records("s", &records, BucketWidth::Hour);
        assert_eq!(r.totals.len(), 2);
        assert_eq!((r.totals[0].model.as_str(), r.totals[0].requests, r.totals[0].cost_usd), ("a", 1, None));
        assert_eq!((r.totals[1].input_tokens, r.totals[1].output_tokens, r.totals[1].requests), (11, 6, 2));
        assert_eq!(r.totals[1].cost_usd, Some(0.75));
        assert_eq!(r.total_tokens, 15 + 150 + 2 + 9);
        assert_eq!(r.total_cost_usd, Some(0.75));
        assert_eq!(r.series.len(), 2);
        assert_eq!(r.series[0].start.to_rfc3339(), "2026-01-01T10:00:00+00:00");
        assert_eq!((r.series[0].input_tokens, r.series[0].output_tokens), (110 + 6, 55));
        assert_eq!(r.series[1].width_seconds, 3600);
        assert_eq!(r.series[1].cost_usd, Some(0.25));

        let by_day = UsageReport::from_records("s", &records, BucketWidth::Day);
        assert_eq!(by_day.series.len(), 1);
        assert_eq!(by_day.series[0].start.to_rfc3339(), "2026-01-01T00:00:00+00:00");
    }

    #[test]
    fn an_empty_report_has_no_cost() {
        let r = UsageReport::from_records("s", &[], BucketWidth::Minute);
        assert_eq!((r.total_tokens, r.total_cost_usd, r.series.len()), (0, None, 0));
    }

    #[test]
    fn bucket_widths_read_from_kebab_case() {
        let q: UsageQuery = serde_json::from_str(r#"{"bucket":"minute"}"#).unwrap_or_default();
        assert_eq!(q.bucket, BucketWidth::Minute);
        assert_eq!(UsageQuery::default().bucket, BucketWidth::Hour);
    }
}
