//! Token usage records: one row per metered model call, deleted with their session.

use crate::rows::time_text;
use crate::{Store, StoreError};
use chrono::DateTime;
use clauderon_types::SessionId;
use clauderon_types::usage::{TokenUsage, UsageRecord};
use rusqlite::{Row, params};

fn corrupt(what: String) -> StoreError {
    StoreError::Corrupt { what }
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn read_record(row: &Row<'_>) -> Result<UsageRecord, StoreError> {
    let id: i64 = row.get(0)?;
    let at: String = row.get(1)?;
    let session_id: String = row.get(2)?;
    let number = |i: usize| -> Result<u64, StoreError> {
        u64::try_from(row.get::<_, i64>(i)?).map_err(|_| corrupt(format!("usage row {id}: negative count")))
    };
    Ok(UsageRecord {
        at: DateTime::parse_from_rfc3339(&at)
            .map_err(|_| corrupt(format!("usage row {id}: bad time `{at}`")))?
            .to_utc(),
        session_id: session_id.parse().map_err(|_| corrupt(format!("usage row {id}: bad session id")))?,
        session_name: row.get(3)?,
        usage: TokenUsage {
            provider: row.get(4)?,
            model: row.get(5)?,
            input_tokens: number(6)?,
            output_tokens: number(7)?,
            cache_read_tokens: number(8)?,
            cache_write_tokens: number(9)?,
        },
        cost_usd: row.get(10)?,
    })
}

impl Store {
    /// Append usage records in one transaction. Records of sessions that no longer exist
    /// (deleted while their record waited in a queue) are skipped.
    pub fn append_usage(&self, records: &[UsageRecord]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO usage_records (at, session_id, session_name, provider, model, input_tokens, \
                 output_tokens, cache_read_tokens, cache_write_tokens, cost_usd) \
                 SELECT ?1, id, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10 FROM sessions WHERE id = ?2",
            )?;
            for r in records {
                let u = &r.usage;
                stmt.execute(params![
                    time_text(r.at),
                    r.session_id.to_string(),
                    r.session_name,
                    u.provider,
                    u.model,
                    count(u.input_tokens),
                    count(u.output_tokens),
                    count(u.cache_read_tokens),
                    count(u.cache_write_tokens),
                    r.cost_usd,
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// A session's usage records, oldest first.
    pub fn usage_for(&self, session: SessionId) -> Result<Vec<UsageRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT id, at, session_id, session_name, provider, model, input_tokens, output_tokens, \
             cache_read_tokens, cache_write_tokens, cost_usd FROM usage_records WHERE session_id = ?1 \
             ORDER BY at, id",
        )?;
        let mut rows = stmt.query([session.to_string()])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(read_record(row)?);
        }
        Ok(out)
    }

    /// Every session's tokens (all kinds) and dollars so far, to load budgets at start.
    /// Calls of models without a price count no dollars.
    pub fn usage_totals(&self) -> Result<Vec<(SessionId, u64, f64)>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT session_id, \
             SUM(input_tokens + output_tokens + cache_read_tokens + cache_write_tokens), \
             TOTAL(cost_usd) FROM usage_records GROUP BY session_id ORDER BY session_id",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let id: String = row.get(0)?;
            let tokens: i64 = row.get(1)?;
            out.push((
                id.parse().map_err(|_| corrupt(format!("usage of bad session id `{id}`")))?,
                u64::try_from(tokens).unwrap_or(0),
                row.get(2)?,
            ));
        }
        Ok(out)
    }
}
