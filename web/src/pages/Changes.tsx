// The session's work against its base (GET /api/sessions/{name}/diff): commits on the branch,
// changed files with +/- and whether the change is still uncommitted, and each file's hunks as a
// unified or a split (side-by-side) diff, highlighted by the file's language once the
// highlighter's chunk has loaded. Everything here is the session's text: rendered as text (or
// lowlight's token spans around text), never as markup.
import { useCallback, useEffect, useState, type ReactNode } from 'react';
import { ApiError, api, sessionPath, type Schemas, type Session } from '../api/client';
import { languageOf, splitRows, type Side } from '../sessions/diff';
import { Ship } from './Ship';

type Highlighter = typeof import('../highlight');
type View = 'unified' | 'split';
const VIEW_STORAGE = 'clauderon.diffView';

function savedView(): View {
  try {
    return window.localStorage.getItem(VIEW_STORAGE) === 'split' ? 'split' : 'unified';
  } catch {
    return 'unified';
  }
}

type SessionDiff = Schemas['SessionDiff'];
type DiffFile = Schemas['DiffFile'];
type Load = { state: 'loading' } | { state: 'ready'; diff: SessionDiff } | { state: 'error'; message: string };

export function Changes({ session, changes, onSignedOut }: { session: Session; changes: number; onSignedOut: () => void }) {
  const [load, setLoad] = useState<Load>({ state: 'loading' });
  const [view, setView] = useState<View>(savedView);
  const [hl, setHl] = useState<Highlighter | null>(null);
  useEffect(() => {
    let live = true;
    import('../highlight').then((m) => live && setHl(m)).catch(() => {});
    return () => {
      live = false;
    };
  }, []);
  const choose = (v: View) => {
    setView(v);
    try {
      window.localStorage.setItem(VIEW_STORAGE, v);
    } catch {
      // Remembered for this page only.
    }
  };
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
      <Ship session={session} uncommitted={d.files.filter((f) => f.uncommitted).length} onShipped={reload} />
      <div className="view-toggle" role="group" aria-label="Diff layout">
        {(['unified', 'split'] as const).map((v) => (
          <button key={v} aria-pressed={view === v} onClick={() => choose(v)}>
            {v === 'unified' ? 'Unified' : 'Split'}
          </button>
        ))}
      </div>
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
        <FileDiff key={`${f.old_path ?? ''}→${f.path}`} file={f} view={view} hl={hl} />
      ))}
    </div>
  );
}

function FileDiff({ file: f, view, hl }: { file: DiffFile; view: View; hl: Highlighter | null }) {
  const counts = f.binary ? 'binary' : `+${f.additions ?? 0} −${f.deletions ?? 0}`;
  const language = hl ? languageOf(f.path, hl.known) : null;
  const code = (text: string): ReactNode => (hl ? hl.highlight(language, text) : text);
  return (
    <details className="file" data-path={f.path} open={f.hunks.length > 0 && f.hunks.length < 20}>
      <summary>
        <span className={`status status-${f.status}`}>{f.status}</span> <span className="path">{f.old_path ? `${f.old_path} → ${f.path}` : f.path}</span>{' '}
        <span className="counts">{counts}</span>
        {f.uncommitted && <span className="tag">uncommitted</span>}
      </summary>
      {f.omitted && <p className="note">{f.omitted}</p>}
      {f.hunks.map((h, i) =>
        view === 'split' ? (
          <div key={i} className="split-wrap">
            <div className="hunk-header">{h.header}</div>
            <table className="split">
              <tbody>
                {splitRows(h.header, h.lines).map((r, j) => (
                  <tr key={j}>
                    <SideCells side={r.left} code={code} />
                    <SideCells side={r.right} code={code} />
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : (
          <pre key={i} className="hunk">
            <span className="hunk-header">{h.header}</span>
            {'\n'}
            {h.lines.map((l, j) => (
              <span key={j} className={l.startsWith('+') ? 'line add' : l.startsWith('-') ? 'line del' : 'line'}>
                {l.slice(0, 1)}
                {code(l.slice(1))}
                {'\n'}
              </span>
            ))}
          </pre>
        ),
      )}
    </details>
  );
}

function SideCells({ side, code }: { side: Side | null; code: (text: string) => ReactNode }) {
  if (!side)
    return (
      <>
        <td className="no empty" />
        <td className="side empty" />
      </>
    );
  return (
    <>
      <td className="no">{side.no}</td>
      <td className={`side ${side.kind}`}>{code(side.text)}</td>
    </>
  );
}
