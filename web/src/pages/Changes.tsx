// The session's work against its base (GET /api/sessions/{name}/diff): commits on the branch,
// changed files with +/- and whether the change is still uncommitted, and each file's hunks as a
// unified diff. Everything here is the session's text: rendered as text, never as markup.
import { useCallback, useEffect, useState } from 'react';
import { ApiError, api, sessionPath, type Schemas, type Session } from '../api/client';

type SessionDiff = Schemas['SessionDiff'];
type DiffFile = Schemas['DiffFile'];
type Load = { state: 'loading' } | { state: 'ready'; diff: SessionDiff } | { state: 'error'; message: string };

export function Changes({ session, changes, onSignedOut }: { session: Session; changes: number; onSignedOut: () => void }) {
  const [load, setLoad] = useState<Load>({ state: 'loading' });
  const reload = useCallback(() => {
    api<SessionDiff>('GET', `${sessionPath(session.name)}/diff`)
      .then((diff) => setLoad({ state: 'ready', diff }))
      .catch((e: unknown) => {
        if (e instanceof ApiError && e.signedOut) onSignedOut();
        else setLoad({ state: 'error', message: e instanceof Error ? e.message : String(e) });
      });
  }, [session.name, onSignedOut]);
  // Read again when an event about the session arrives (the agent may have committed).
  useEffect(reload, [reload, changes]);

  if (load.state === 'loading') return <p className="state">Reading the changes…</p>;
  if (load.state === 'error')
    return (
      <div className="state error" role="alert">
        <p>{load.message}</p>
        <button onClick={reload}>Try again</button>
      </div>
    );
  const d = load.diff;
  return (
    <div className="changes" data-testid="changes">
      <p className="summary">
        <strong>{d.files.length}</strong> file{d.files.length === 1 ? '' : 's'} changed,{' '}
        <span className="add">+{d.additions}</span> <span className="del">−{d.deletions}</span> against{' '}
        <code title={d.base}>{d.base.slice(0, 12)}</code> · <button onClick={reload}>Refresh</button>
      </p>
      {d.truncated && <p className="note">The patch passed its size cap: some files show only their counts.</p>}
      {d.commits.length > 0 && (
        <details className="commits" open>
          <summary>
            {d.commits.length}
            {d.commits_truncated ? '+' : ''} commit{d.commits.length === 1 ? '' : 's'} on {d.branch}
          </summary>
          <ul>
            {d.commits.map((c) => (
              <li key={c.id}>
                <code>{c.id.slice(0, 12)}</code> {c.summary} <span className="muted">— {c.author}</span>
              </li>
            ))}
          </ul>
        </details>
      )}
      {d.files.length === 0 && <p className="state">No changes yet.</p>}
      {d.files.map((f) => (
        <FileDiff key={`${f.old_path ?? ''}→${f.path}`} file={f} />
      ))}
    </div>
  );
}

function FileDiff({ file: f }: { file: DiffFile }) {
  const counts = f.binary ? 'binary' : `+${f.additions ?? 0} −${f.deletions ?? 0}`;
  return (
    <details className="file" data-path={f.path} open={f.hunks.length > 0 && f.hunks.length < 20}>
      <summary>
        <span className={`status status-${f.status}`}>{f.status}</span> <span className="path">{f.old_path ? `${f.old_path} → ${f.path}` : f.path}</span>{' '}
        <span className="counts">{counts}</span>
        {f.uncommitted && <span className="tag">uncommitted</span>}
      </summary>
      {f.omitted && <p className="note">{f.omitted}</p>}
      {f.hunks.map((h, i) => (
        <pre key={i} className="hunk">
          <span className="hunk-header">{h.header}</span>
          {'\n'}
          {h.lines.map((l, j) => (
            <span key={j} className={l.startsWith('+') ? 'line add' : l.startsWith('-') ? 'line del' : 'line'}>
              {l}
              {'\n'}
            </span>
          ))}
        </pre>
      ))}
    </details>
  );
}
