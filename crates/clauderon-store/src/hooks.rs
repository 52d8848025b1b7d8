//! The hook delivery log: one row per command run or webhook delivery (its attempts counted).

use crate::rows::time_text;
use crate::{Store, StoreError, sql_limit};
use chrono::DateTime;
use clauderon_types::hooks::{DeliveryOutcome, HookDelivery};
use rusqlite::{Row, params};

const COLUMNS: &str =
    "id, at, hook, event, session_name, seq, target, outcome, status, attempts, duration_ms, detail";

fn read(row: &Row<'_>) -> Result<HookDelivery, StoreError> {
    let corrupt = |what: String| StoreError::Corrupt { what };
    let at: String = row.get(1)?;
    let outcome: String = row.get(7)?;
    Ok(HookDelivery {
        id: row.get(0)?,
        at: DateTime::parse_from_rfc3339(&at)
            .map_err(|_| corrupt(format!("hook delivery time `{at}`")))?
            .with_timezone(&chrono::Utc),
        hook: row.get(2)?,
        event: row.get(3)?,
        session_name: row.get(4)?,
        seq: row.get(5)?,
        target: row.get(6)?,
        outcome: DeliveryOutcome::parse(&outcome)
            .ok_or_else(|| corrupt(format!("hook outcome `{outcome}`")))?,
        status: row.get(8)?,
        attempts: row.get::<_, i64>(9)?.try_into().unwrap_or(0),
        duration_ms: row.get::<_, i64>(10)?.try_into().unwrap_or(0),
        detail: row.get(11)?,
    })
}

impl Store {
    /// Append one delivery; returns its id.
    pub fn record_delivery(&self, d: &HookDelivery) -> Result<i64, StoreError> {
        let conn = self.conn();
        conn.prepare_cached(
            "INSERT INTO hook_deliveries (at, hook, event, session_name, seq, target, outcome, status, attempts, \
             duration_ms, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?
        .execute(params![
            time_text(d.at),
            d.hook,
            d.event,
            d.session_name,
            d.seq,
            d.target,
            d.outcome.as_str(),
            d.status,
            i64::from(d.attempts),
            i64::try_from(d.duration_ms).unwrap_or(i64::MAX),
            d.detail,
        ])?;
        Ok(conn.last_insert_rowid())
    }

    /// Deliveries after `after` (oldest first), or the latest `limit` when `after` is `None`.
    pub fn deliveries(&self, after: Option<i64>, limit: usize) -> Result<Vec<HookDelivery>, StoreError> {
        let conn = self.conn();
        let sql = match after {
            Some(_) => format!("SELECT {COLUMNS} FROM hook_deliveries WHERE id > ?1 ORDER BY id LIMIT ?2"),
            None => format!(
                "SELECT {COLUMNS} FROM (SELECT * FROM hook_deliveries WHERE ?1 IS NULL ORDER BY id DESC LIMIT ?2) ORDER BY id"
            ),
        };
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(params![after, sql_limit(limit)])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(read(row)?);
        }
        Ok(out)
    }
}
