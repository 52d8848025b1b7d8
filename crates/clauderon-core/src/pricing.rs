//! What model calls cost: a price table in USD per million tokens, keyed by model pattern.
//!
//! The shipped table holds list prices as of 2026; `[[prices]]` in the config overrides or
//! extends it. A configured entry that matches a model always wins over the shipped ones;
//! within each layer the most specific pattern (the longest) wins, so `gpt-5-mini*` beats
//! `gpt-5*` whatever their order.

use crate::error::CoreError;
use clauderon_types::usage::TokenUsage;
use serde::Deserialize;

/// One price, in USD per million tokens of each kind.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelPrice {
    /// The model name, or a pattern where `*` stands for any run of characters
    /// (`claude-sonnet-4*`). A pattern without `*` matches only that exact name.
    pub model: String,
    pub input: f64,
    pub output: f64,
    pub cache_read: f64,
    pub cache_write: f64,
}

/// `[[prices]]` as written in the config. Cache prices default to the input price.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPrice {
    model: String,
    input: f64,
    output: f64,
    cache_read: Option<f64>,
    cache_write: Option<f64>,
}

/// List prices as of 2026; override in config. (model, input, output, cache read, cache write)
const SHIPPED: &[(&str, f64, f64, f64, f64)] = &[
    // Anthropic: cache writes are the 5-minute ones.
    ("claude-opus-4-5*", 5.0, 25.0, 0.5, 6.25),
    ("claude-opus-4*", 15.0, 75.0, 1.5, 18.75),
    ("claude-sonnet-4*", 3.0, 15.0, 0.3, 3.75),
    ("claude-haiku-4*", 1.0, 5.0, 0.1, 1.25),
    ("claude-3-7-sonnet*", 3.0, 15.0, 0.3, 3.75),
    ("claude-3-5-sonnet*", 3.0, 15.0, 0.3, 3.75),
    ("claude-3-5-haiku*", 0.8, 4.0, 0.08, 1.0),
    ("claude-3-opus*", 15.0, 75.0, 1.5, 18.75),
    ("claude-3-haiku*", 0.25, 1.25, 0.03, 0.3),
    // OpenAI: no charge for writing the cache.
    ("gpt-5*", 1.25, 10.0, 0.125, 0.0),
    ("gpt-5-mini*", 0.25, 2.0, 0.025, 0.0),
    ("gpt-5-nano*", 0.05, 0.4, 0.005, 0.0),
    ("gpt-5.1-codex-mini*", 0.25, 2.0, 0.025, 0.0),
    ("gpt-4.1*", 2.0, 8.0, 0.5, 0.0),
    ("gpt-4.1-mini*", 0.4, 1.6, 0.1, 0.0),
    ("gpt-4.1-nano*", 0.1, 0.4, 0.025, 0.0),
    ("gpt-4o*", 2.5, 10.0, 1.25, 0.0),
    ("gpt-4o-mini*", 0.15, 0.6, 0.075, 0.0),
    ("o3*", 2.0, 8.0, 0.5, 0.0),
    ("o3-mini*", 1.1, 4.4, 0.55, 0.0),
    ("o4-mini*", 1.1, 4.4, 0.275, 0.0),
    ("codex-mini*", 1.5, 6.0, 0.375, 0.0),
    // Gemini: the prices for prompts up to 200k tokens.
    ("gemini-3-pro*", 2.0, 12.0, 0.2, 0.0),
    ("gemini-2.5-pro*", 1.25, 10.0, 0.125, 0.0),
    ("gemini-2.5-flash*", 0.3, 2.5, 0.03, 0.0),
    ("gemini-2.5-flash-lite*", 0.1, 0.4, 0.01, 0.0),
    ("gemini-2.0-flash*", 0.1, 0.4, 0.025, 0.0),
    ("gemini-2.0-flash-lite*", 0.075, 0.3, 0.075, 0.0),
];

/// `*` matches any run of characters (including none); everything else matches itself.
fn glob(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = name.strip_prefix(first) else { return false };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else { return rest.is_empty() };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

fn most_specific<'a>(entries: &'a [ModelPrice], model: &str) -> Option<&'a ModelPrice> {
    entries.iter().filter(|p| glob(&p.model, model)).max_by_key(|p| p.model.len())
}

/// The prices in force: the configured ones, then the shipped ones.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceTable {
    configured: Vec<ModelPrice>,
    shipped: Vec<ModelPrice>,
}

impl Default for PriceTable {
    fn default() -> Self {
        let shipped = SHIPPED
            .iter()
            .map(|&(model, input, output, cache_read, cache_write)| ModelPrice {
                model: model.to_owned(),
                input,
                output,
                cache_read,
                cache_write,
            })
            .collect();
        PriceTable { configured: Vec::new(), shipped }
    }
}

impl PriceTable {
    /// The shipped table with `[[prices]]` from the config on top.
    pub fn from_config(raw: Vec<RawPrice>) -> Result<PriceTable, CoreError> {
        let mut table = PriceTable::default();
        for (i, r) in raw.into_iter().enumerate() {
            let at = format!("prices[{i}] (model `{}`)", r.model);
            if r.model.trim().is_empty() {
                return Err(CoreError::Config(format!(
                    "prices[{i}]: `model` is empty: give a model name or a pattern like \"claude-sonnet-4*\""
                )));
            }
            let price = ModelPrice {
                cache_read: r.cache_read.unwrap_or(r.input),
                cache_write: r.cache_write.unwrap_or(r.input),
                model: r.model,
                input: r.input,
                output: r.output,
            };
            for (key, v) in [
                ("input", price.input),
                ("output", price.output),
                ("cache_read", price.cache_read),
                ("cache_write", price.cache_write),
            ] {
                if !v.is_finite() || v < 0.0 {
                    return Err(CoreError::Config(format!(
                        "{at}: {key} = {v} is not a price: give USD per million tokens, 0 or more"
                    )));
                }
            }
            table.configured.push(price);
        }
        Ok(table)
    }

    /// The configured entries (for `clauderon config show`).
    pub fn configured(&self) -> &[ModelPrice] {
        &self.configured
    }

    /// The price of `model` (Gemini's `models/` prefix ignored), or `None` if no entry matches.
    pub fn price(&self, model: &str) -> Option<&ModelPrice> {
        let model = model.strip_prefix("models/").unwrap_or(model);
        most_specific(&self.configured, model).or_else(|| most_specific(&self.shipped, model))
    }

    /// What a call cost in USD, or `None` for a model the table does not know.
    pub fn cost(&self, usage: &TokenUsage) -> Option<f64> {
        let p = self.price(&usage.model)?;
        let tokens = |n: u64, per_million: f64| n as f64 * per_million / 1_000_000.0;
        Some(
            tokens(usage.input_tokens, p.input)
                + tokens(usage.output_tokens, p.output)
                + tokens(usage.cache_read_tokens, p.cache_read)
                + tokens(usage.cache_write_tokens, p.cache_write),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(model: &str, input: u64, output: u64, read: u64, write: u64) -> TokenUsage {
        TokenUsage {
            provider: "anthropic".into(),
            model: model.into(),
            input_tokens: input,
            output_tokens: output,
            cache_read_tokens: read,
            cache_write_tokens: write,
        }
    }

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-9)
    }

    #[test]
    fn globs() {
        assert!(glob("claude-*", "claude-sonnet-4-5"));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(glob("*-mini", "gpt-5-mini"));
        assert!(glob("exact", "exact"));
        assert!(!glob("exact", "exact-2"));
        assert!(!glob("a*b", "ab-c"));
        assert!(!glob("ab*ba", "aba"), "the two ends may not overlap");
    }

    #[test]
    fn the_most_specific_shipped_price_wins() {
        let t = PriceTable::default();
        let price = |m: &str| t.price(m).map(|p| p.model.clone());
        assert_eq!(price("gpt-5-mini-2025-08-07").as_deref(), Some("gpt-5-mini*"));
        assert_eq!(price("gpt-5-codex").as_deref(), Some("gpt-5*"));
        assert_eq!(price("claude-opus-4-5-20251101").as_deref(), Some("claude-opus-4-5*"));
        assert_eq!(price("claude-opus-4-1-20250805").as_deref(), Some("claude-opus-4*"));
        assert_eq!(price("models/gemini-2.5-flash-lite").as_deref(), Some("gemini-2.5-flash-lite*"));
        assert_eq!(t.price("llama-3"), None);
    }

    #[test]
    fn cost_counts_every_kind_at_its_price() {
        let t = PriceTable::default();
        // Sonnet: 3 in, 15 out, 0.30 cache read, 3.75 cache write per million.
        let u = usage("claude-sonnet-4-5", 1_000_000, 100_000, 2_000_000, 400_000);
        assert!(close(t.cost(&u), 3.0 + 1.5 + 0.6 + 1.5), "{:?}", t.cost(&u));
        assert_eq!(t.cost(&usage("unknown-model", 10, 10, 0, 0)), None);
    }

    #[test]
    fn configured_prices_override_and_extend() -> Result<(), CoreError> {
        let raw: Vec<RawPrice> = toml::from_str::<toml::Table>(
            r#"prices = [
                { model = "claude-*", input = 1.0, output = 2.0 },
                { model = "my-local-model", input = 0.5, output = 0.5, cache_read = 0.0, cache_write = 0.0 },
            ]"#,
        )
        .ok()
        .and_then(|t| t.get("prices").cloned())
        .and_then(|v| v.try_into().ok())
        .unwrap_or_default();
        assert_eq!(raw.len(), 2);
        let t = PriceTable::from_config(raw)?;
        // The broad configured pattern beats the more specific shipped one.
        let u = usage("claude-sonnet-4-5", 1_000_000, 1_000_000, 1_000_000, 0);
        assert!(close(t.cost(&u), 1.0 + 2.0 + 1.0), "cache reads default to the input price");
        assert!(close(t.cost(&usage("my-local-model", 2_000_000, 0, 5, 5)), 1.0));
        assert!(close(t.cost(&usage("gpt-4o", 1_000_000, 0, 0, 0)), 2.5), "the rest stays shipped");
        Ok(())
    }

    #[test]
    fn bad_prices_are_clear_errors() {
        for (model, input) in [("m", -1.0), ("m", f64::NAN), ("  ", 1.0)] {
            let raw =
                RawPrice { model: model.into(), input, output: 1.0, cache_read: None, cache_write: None };
            let err = PriceTable::from_config(vec![raw]).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains("prices[0]"), "{err}");
        }
    }
}
