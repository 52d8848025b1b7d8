import { useState } from 'react';
import { api, sessionPath, type Schemas, type SessionDetail, type SessionEvent } from '../api/client';

function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u += 1;
  }
  return `${v.toFixed(u === 0 ? 0 : 1)} ${units[u]}`;
}

/** One line about an event: what it is and what it carries, as text. */
function describe(e: SessionEvent): string {
  const { seq: _seq, session_id: _id, session_name: _name, at: _at, type, ...rest } = e as SessionEvent & Record<string, unknown>;
  const fields = Object.entries(rest)
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ');
  return fields ? `${type} (${fields})` : String(type);
}

/** Every field of `clauderon show`. */
export function Details({ detail }: { detail: SessionDetail }) {
  const s = detail.session;
  const rows: [string, string][] = [
    ['name', s.name],
    ['id', s.id],
    ['status', s.status],
    ['archived', s.archived ? 'yes' : 'no'],
    ['repository', s.repo_path],
    ['branch', s.branch],
    ['base commit', s.base_commit],
    ['worktree', s.worktree_path],
    ['worktree exists', detail.worktree.exists ? 'yes' : 'no'],
    ['worktree disk use', bytes(detail.worktree.disk_bytes)],
    ['backend', s.backend],
    ['backend handle', s.backend_handle ?? '—'],
    ['agent', s.agent],
    ['access mode', s.access_mode],
    ['options', JSON.stringify(s.options)],
    ['prompt', s.prompt],
    ['error', s.error ?? '—'],
    ['created', s.created_at],
    ['updated', s.updated_at],
  ];
  return (
    <div className="details">
      <dl>
        {rows.map(([k, v]) => (
          <div key={k} className="field">
            <dt>{k}</dt>
            <dd>{v}</dd>
          </div>
        ))}
      </dl>
      <Environment name={s.name} />
      <h2>Events</h2>
      {detail.events.length === 0 ? (
        <p className="state">No events.</p>
      ) : (
        <ol className="events">
          {detail.events.map((e) => (
            <li key={e.seq}>
              <time dateTime={e.at}>{e.at}</time> {describe(e)}
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}

/** The environment the session's process got, read when opened; the proxy URL's password is
 * masked by the API (`***`), and the credentials there are placeholders, never the real keys. */
function Environment({ name }: { name: string }) {
  const [vars, setVars] = useState<[string, string][] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const read = () => {
    if (vars !== null) return;
    api<Schemas['SessionEnv']>('GET', `${sessionPath(name)}/env`)
      .then((env) => setVars(env.vars))
      .catch((e: unknown) => setError(e instanceof Error ? e.message : String(e)));
  };
  return (
    <details className="env-box" onToggle={(e) => (e.currentTarget.open ? read() : undefined)}>
      <summary>Environment as the agent got it</summary>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {vars === null && !error && <p className="state">Reading…</p>}
      {vars !== null && (
        <dl className="env" data-testid="env">
          {vars.map(([k, v]) => (
            <div key={k} className="field">
              <dt>{k}</dt>
              <dd>{v}</dd>
            </div>
          ))}
        </dl>
      )}
    </details>
  );
}
