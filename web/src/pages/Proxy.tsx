// The Proxy tab: what the session's requests through the credential proxy were (the audit,
// followed with the `after` cursor while the tab is open) and what its model calls used.
// Every field a session controls (host, path, reasons, notes) is rendered as React text.
import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError, api, sessionPath, type AuditEntry, type AuditList, type Session, type UsageReport } from '../api/client';
import { mergeAudit } from '../sessions/audit';

const POLL_MS = 2000;

export function Proxy({ session, onSignedOut }: { session: Session; onSignedOut: () => void }) {
  const [rows, setRows] = useState<AuditEntry[] | null>(null);
  const [usage, setUsage] = useState<UsageReport | null>(null);
  const [error, setError] = useState<string | null>(null);
  const cursor = useRef<number | null>(null);
  const name = session.name;

  const poll = useCallback(async () => {
    const after = cursor.current === null ? '' : `&after=${cursor.current}`;
    try {
      const [list, report] = await Promise.all([
        api<AuditList>('GET', `${sessionPath(name)}/requests?limit=200${after}`),
        api<UsageReport>('GET', `${sessionPath(name)}/usage`),
      ]);
      if (list.requests.length > 0) cursor.current = Math.max(cursor.current ?? 0, ...list.requests.map((r) => r.id));
      setRows((old) => mergeAudit(old ?? [], list.requests));
      setUsage(report);
      setError(null);
    } catch (e: unknown) {
      if (e instanceof ApiError && e.signedOut) onSignedOut();
      else setError(e instanceof Error ? e.message : String(e));
    }
  }, [name, onSignedOut]);

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | null = null;
    const tick = async () => {
      await poll();
      if (!stopped) timer = setTimeout(tick, POLL_MS);
    };
    void tick();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    };
  }, [poll]);

  return (
    <div className="proxy">
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <h2>Usage</h2>
      {usage === null ? <p className="state">Loading usage…</p> : <Usage report={usage} session={session} />}
      <h2>Requests</h2>
      <p data-testid="proxy-mode">
        Access mode: <strong>{session.access_mode}</strong> —{' '}
        {session.access_mode === 'read-only'
          ? 'requests that would change something on a credentialed host are refused (model calls go through).'
          : 'requests to credentialed hosts go through with their credential, writes included.'}
      </p>
      {rows === null ? (
        <p className="state">Loading the audit…</p>
      ) : rows.length === 0 ? (
        <p className="state" data-testid="no-requests">
          No requests through the proxy yet.
        </p>
      ) : (
        <ol className="audit" data-testid="audit">
          {rows.map((r) => (
            <AuditRow key={r.id} entry={r} />
          ))}
        </ol>
      )}
    </div>
  );
}

function AuditRow({ entry: r }: { entry: AuditEntry }) {
  const reason = 'reason' in r ? r.reason : null;
  return (
    <li className={`audit-row decision-${r.decision}`} data-decision={r.decision} data-id={r.id}>
      <div className="audit-line">
        <span className="method">{r.method}</span>
        <span className="host">{r.host}</span>
        <span className="path">{r.path}</span>
      </div>
      <div className="meta">
        <time dateTime={r.at}>{new Date(r.at).toLocaleTimeString()}</time>
        <span data-field="status">{r.status ?? 'no status'}</span>
        <span data-field="decision">{r.decision}</span>
        <span data-field="credential">{r.credential ? `credential ${r.credential} injected` : 'no credential'}</span>
        <span>{r.duration_ms} ms</span>
      </div>
      {reason && <p className="reason">{reason}</p>}
      {r.note && <p className="note">{r.note}</p>}
    </li>
  );
}

const tokens = (n: number) => n.toLocaleString('en-US');
const dollars = (n: number | null | undefined) => (n === null || n === undefined ? '—' : `$${n.toFixed(4)}`);

function Usage({ report, session }: { report: UsageReport; session: Session }) {
  const budgetTokens = session.options?.budget_tokens ?? null;
  const budgetCents = session.options?.budget_usd_cents ?? null;
  const spent = report.total_cost_usd ?? 0;
  const peak = Math.max(1, ...report.series.map((b) => b.input_tokens + b.output_tokens));
  return (
    <div className="usage" data-testid="usage">
      {report.totals.length === 0 ? (
        <p className="state">No model calls yet.</p>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th>Model</th>
                <th>Calls</th>
                <th>In</th>
                <th>Out</th>
                <th>Cost</th>
              </tr>
            </thead>
            <tbody>
              {report.totals.map((t) => (
                <tr key={`${t.provider}/${t.model}`}>
                  <td>{t.model}</td>
                  <td>{t.requests}</td>
                  <td>{tokens(t.input_tokens + t.cache_read_tokens + t.cache_write_tokens)}</td>
                  <td>{tokens(t.output_tokens)}</td>
                  <td>{dollars(t.cost_usd)}</td>
                </tr>
              ))}
            </tbody>
            <tfoot>
              <tr>
                <th>Total</th>
                <td colSpan={3}>{tokens(report.total_tokens)} tokens</td>
                <td>{dollars(report.total_cost_usd)}</td>
              </tr>
            </tfoot>
          </table>
        </div>
      )}
      <p data-testid="budget">
        {budgetTokens === null && budgetCents === null
          ? 'No budget set.'
          : [
              budgetTokens !== null &&
                `Budget ${tokens(budgetTokens)} tokens, ${tokens(Math.max(0, budgetTokens - report.total_tokens))} left.`,
              budgetCents !== null &&
                `Budget ${dollars(budgetCents / 100)}, ${dollars(Math.max(0, budgetCents / 100 - spent))} left.`,
            ]
              .filter(Boolean)
              .join(' ')}
      </p>
      {report.series.length > 0 && (
        <svg className="series" viewBox={`0 0 ${report.series.length * 12} 40`} role="img" aria-label="tokens per hour">
          {report.series.map((b, i) => {
            const h = Math.max(1, ((b.input_tokens + b.output_tokens) / peak) * 40);
            return (
              <rect key={b.start} x={i * 12 + 1} y={40 - h} width={10} height={h}>
                <title>{`${new Date(b.start).toLocaleString()}: ${tokens(b.input_tokens + b.output_tokens)} tokens`}</title>
              </rect>
            );
          })}
        </svg>
      )}
    </div>
  );
}
