//! The usage section of `show`: tokens per model and what they cost.

use super::{Style, finish};
use clauderon_types::usage::UsageReport;
use comfy_table::Cell;

/// `$0.0123`: cents alone hide what small calls cost.
fn dollars(usd: Option<f64>) -> String {
    match usd {
        Some(v) if v >= 100.0 => format!("${v:.2}"),
        Some(v) => format!("${v:.4}"),
        None => "unknown".to_string(),
    }
}

impl Style {
    /// The usage section, or a line saying why there is none.
    pub fn usage_section(&self, usage: Result<&UsageReport, &str>) -> String {
        let r = match usage {
            Ok(r) => r,
            Err(why) => return format!("\n\nusage: unavailable ({why})"),
        };
        if r.totals.is_empty() {
            return "\n\nusage: no model calls metered yet".to_string();
        }
        let mut out = format!("\n\nusage: {} tokens, {}", r.total_tokens, dollars(r.total_cost_usd));
        if r.totals.iter().any(|m| m.cost_usd.is_none()) {
            out.push_str(
                " (without the models that have no price: add them with `[[prices]]` in the config)",
            );
        }
        let mut t = self.table();
        t.set_header(self.header(&[
            "PROVIDER",
            "MODEL",
            "INPUT",
            "OUTPUT",
            "CACHE READ",
            "CACHE WRITE",
            "CALLS",
            "COST",
        ]));
        for m in &r.totals {
            t.add_row(vec![
                Cell::new(&m.provider),
                Cell::new(&m.model),
                Cell::new(m.input_tokens),
                Cell::new(m.output_tokens),
                Cell::new(m.cache_read_tokens),
                Cell::new(m.cache_write_tokens),
                Cell::new(m.requests),
                Cell::new(dollars(m.cost_usd)),
            ]);
        }
        let table = finish(t);
        for line in table.lines() {
            out.push_str(&format!("\n  {line}"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use clauderon_types::SessionId;
    use clauderon_types::usage::{BucketWidth, TokenUsage, UsageRecord};

    fn record(model: &str, input: u64, cost: Option<f64>) -> UsageRecord {
        UsageRecord {
            at: Utc.with_ymd_and_hms(2026, 1, 1, 10, 0, 0).single().unwrap_or_default(),
            session_id: SessionId::new(),
            session_name: "s".into(),
            usage: TokenUsage {
                provider: "anthropic".into(),
                model: model.into(),
                input_tokens: input,
                output_tokens: 7,
                cache_read_tokens: 0,
                cache_write_tokens: 0,
            },
            cost_usd: cost,
        }
    }

    #[test]
    fn usage_lists_tokens_and_cost_per_model() {
        let records = [record("claude-sonnet-4-5", 12, Some(0.000141)), record("local-llm", 5, None)];
        let report = UsageReport::from_records("s", &records, BucketWidth::Hour);
        let out = Style { color: false }.usage_section(Ok(&report));
        assert!(out.contains("usage: 31 tokens, $0.0001"), "{out}");
        let row = out.lines().find(|l| l.contains("claude-sonnet-4-5")).unwrap_or_default();
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells, ["anthropic", "claude-sonnet-4-5", "12", "7", "0", "0", "1", "$0.0001"], "{out}");
        assert!(out.lines().any(|l| l.contains("local-llm") && l.trim_end().ends_with("unknown")), "{out}");
    }

    #[test]
    fn no_usage_says_so() {
        let empty = UsageReport::from_records("s", &[], BucketWidth::Hour);
        let style = Style { color: false };
        assert!(style.usage_section(Ok(&empty)).contains("no model calls metered yet"));
        assert!(style.usage_section(Err("daemon too old")).contains("unavailable (daemon too old)"));
    }
}
