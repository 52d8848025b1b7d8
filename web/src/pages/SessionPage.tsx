import { useCallback, useEffect, useState } from 'react';
import { ApiError, api, sessionPath, type SessionDetail, type SessionEvent } from '../api/client';
import { useEvents } from '../api/events';
import { LIVE_LABEL, liveStatus } from '../sessions/apply';
import { Link } from '../router';
import { Changes } from './Changes';
import { Chat } from './Chat';
import { Controls } from './Controls';
import { Details } from './Details';
import { Proxy } from './Proxy';
import { Terminal } from './Terminal';

type Tab = 'chat' | 'terminal' | 'changes' | 'proxy' | 'details' | 'controls';
const TABS: Tab[] = ['chat', 'terminal', 'changes', 'proxy', 'details', 'controls'];
type Load =
  | { state: 'loading' }
  | { state: 'ready'; detail: SessionDetail }
  | { state: 'missing' }
  | { state: 'error'; message: string };

export function SessionPage({ name, onSignedOut }: { name: string; onSignedOut: () => void }) {
  const [load, setLoad] = useState<Load>({ state: 'loading' });
  const [tab, setTab] = useState<Tab>('chat');
  // Bumped by every event about this session: the chat reloads on it.
  const [changes, setChanges] = useState(0);

  const reload = useCallback(() => {
    api<SessionDetail>('GET', sessionPath(name))
      .then((detail) => setLoad({ state: 'ready', detail }))
      .catch((e: unknown) => {
        if (e instanceof ApiError && e.signedOut) onSignedOut();
        else if (e instanceof ApiError && e.status === 404) setLoad({ state: 'missing' });
        else setLoad((l) => (l.state === 'ready' ? l : { state: 'error', message: e instanceof Error ? e.message : String(e) }));
      });
  }, [name, onSignedOut]);

  const onEvent = useCallback(
    (event: SessionEvent) => {
      if (event.session_name !== name) return;
      setChanges((n) => n + 1);
      reload();
    },
    [name, reload],
  );

  useEffect(reload, [reload]);
  useEvents(onEvent, reload);

  if (load.state === 'loading') return <p className="state">Loading {name}…</p>;
  if (load.state === 'missing')
    return (
      <div className="state" role="alert" data-testid="missing">
        <h1>No session named “{name}”</h1>
        <p>It may have been deleted, or the link is wrong.</p>
        <Link href="/">Back to the sessions</Link>
      </div>
    );
  if (load.state === 'error')
    return (
      <div className="state error" role="alert">
        <p>{load.message}</p>
        <button onClick={reload}>Try again</button>
      </div>
    );

  const s = load.detail.session;
  const live = liveStatus(s.status);
  return (
    <section>
      <div className="session-head">
        <Link href="/" className="back">
          ← Sessions
        </Link>
        <h1>{s.name}</h1>
        <span className="tags">
          <span className="tag" data-field="status">{s.status}</span>
          {live && <span className={`tag live live-${live}`}>{LIVE_LABEL[live]}</span>}
          <span className="tag" data-field="access">{s.access_mode}</span>
          {s.archived && <span className="tag">archived</span>}
        </span>
      </div>
      <div className="tabs" role="tablist">
        {TABS.map((t) => (
          <button key={t} role="tab" aria-selected={tab === t} onClick={() => setTab(t)}>
            {t}
          </button>
        ))}
      </div>
      <div role="tabpanel">
        {tab === 'chat' && <Chat session={s} changes={changes} />}
        {tab === 'terminal' && <Terminal name={s.name} />}
        {tab === 'changes' && <Changes session={s} changes={changes} onSignedOut={onSignedOut} />}
        {tab === 'proxy' && <Proxy session={s} onSignedOut={onSignedOut} />}
        {tab === 'details' && <Details detail={load.detail} />}
        {tab === 'controls' && <Controls session={s} onChanged={reload} />}
      </div>
    </section>
  );
}
