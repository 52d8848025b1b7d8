//! The proxy's tables: each session's proxy secret (deleted with the session)
//! and the request audit (append-only, written in batches).

use crate::rows::time_text;
use crate::{Store, StoreError, sql_limit};
use chrono::DateTime;
use clauderon_types::audit::{AuditEntry, Decision};
use clauderon_types::{SessionId, SessionName};
use rusqlite::{OptionalExtension, Row, params};

fn corrupt(what: String) -> StoreError {
    StoreError::Corrupt { what }
}

fn read_entry(row: &Row<'_>) -> Result<AuditEntry, StoreError> {
    let id: i64 = row.get(0)?;
    let at: String = row.get(1)?;
    let session_id: Option<String> = row.get(2)?;
    let decision: String = row.get(12)?;
    let reason: Option<String> = row.get(13)?;
    let reason = || reason.clone().unwrap_or_default();
    let number = |i: usize| -> Result<u64, StoreError> {
        u64::try_from(row.get::<_, i64>(i)?).map_err(|_| corrupt(format!("audit row {id}: negative count")))
    };
    Ok(AuditEntry {
        id,
        at: DateTime::parse_from_rfc3339(&at)
            .map_err(|_| corrupt(format!("audit row {id}: bad time `{at}`")))?
            .to_utc(),
        session_id: session_id
            .map(|s| s.parse::<SessionId>().map_err(|_| corrupt(format!("audit row {id}: bad session id"))))
            .transpose()?,
        session_name: row.get(3)?,
        method: row.get(4)?,
        host: row.get(5)?,
        path: row.get(6)?,
        status: row.get::<_, Option<i64>>(7)?.and_then(|s| u16::try_from(s).ok()),
        bytes_up: number(8)?,
        bytes_down: number(9)?,
        duration_ms: number(10)?,
        credential: row.get(11)?,
        note: row.get(14)?,
        decision: match decision.as_str() {
            "injected" => Decision::Injected,
            "forwarded" => Decision::Forwarded,
            "tunneled" => Decision::Tunneled,
            "denied" => Decision::Denied { reason: reason() },
            "failed" => Decision::Failed { reason: reason() },
            "answered" => Decision::Answered { reason: reason() },
            other => return Err(corrupt(format!("audit row {id}: unknown decision `{other}`"))),
        },
    })
}

const AUDIT_COLUMNS: &str = "id, at, session_id, session_name, method, host, path, status, bytes_up, bytes_down, \
     duration_ms, credential, decision, reason, note";

impl Store {
    /// Record a session's proxy secret (replacing any earlier one).
    pub fn set_proxy_secret(&self, id: SessionId, secret: &str) -> Result<(), StoreError> {
        let changed = self
            .conn()
            .prepare_cached(
                "INSERT INTO session_proxy_secrets (session_id, secret) SELECT id, ?2 FROM sessions WHERE id = ?1 \
                 ON CONFLICT(session_id) DO UPDATE SET secret = excluded.secret",
            )?
            .execute(params![id.to_string(), secret])?;
        if changed == 0 {
            return Err(StoreError::NotFound(format!("session {id}")));
        }
        Ok(())
    }

    pub fn proxy_secret(&self, id: SessionId) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn()
            .prepare_cached("SELECT secret FROM session_proxy_secrets WHERE session_id = ?1")?
            .query_row([id.to_string()], |r| r.get(0))
            .optional()?)
    }

    /// Every live session's proxy secret, to fill the proxy's registry at start.
    pub fn proxy_secrets(&self) -> Result<Vec<(SessionId, SessionName, String)>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT s.id, s.name, p.secret FROM session_proxy_secrets p JOIN sessions s ON s.id = p.session_id",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let id: String = row.get(0)?;
            let name: String = row.get(1)?;
            out.push((
                id.parse().map_err(|_| corrupt(format!("proxy secret of bad session id `{id}`")))?,
                SessionName::parse(&name).map_err(|e| corrupt(e.to_string()))?,
                row.get(2)?,
            ));
        }
        Ok(out)
    }

    /// Append audit entries in one transaction; their ids are assigned here.
    pub fn append_audit(&self, entries: &[AuditEntry]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(&format!(
                "INSERT INTO proxy_requests ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                &AUDIT_COLUMNS["id, ".len()..]
            ))?;
            for e in entries {
                let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
                stmt.execute(params![
                    time_text(e.at),
                    e.session_id.map(|i| i.to_string()),
                    e.session_name,
                    e.method,
                    e.host,
                    e.path,
                    e.status.map(i64::from),
                    count(e.bytes_up),
                    count(e.bytes_down),
                    count(e.duration_ms),
                    e.credential,
                    e.decision.label(),
                    e.decision.reason(),
                    e.note,
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Audit entries after `after_id`, oldest first, for one session name or all.
    pub fn audit(
        &self,
        session: Option<&str>,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {AUDIT_COLUMNS} FROM proxy_requests WHERE id > ?1 AND (?2 IS NULL OR session_name = ?2) \
             ORDER BY id LIMIT ?3"
        ))?;
        let mut rows = stmt.query(params![after_id, session, sql_limit(limit)])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(read_entry(row)?);
        }
        Ok(out)
    }

    /// The latest `limit` entries (oldest first) for one session name or all.
    pub fn audit_tail(&self, session: Option<&str>, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {AUDIT_COLUMNS} FROM (SELECT * FROM proxy_requests WHERE (?1 IS NULL OR session_name = ?1) \
             ORDER BY id DESC LIMIT ?2) ORDER BY id"
        ))?;
        let mut rows = stmt.query(params![session, sql_limit(limit)])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(read_entry(row)?);
        }
        Ok(out)
    }
}
