import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { ApiError, api, sessionPath, type Session, type SessionEvent } from '../api/client';
import { useEvents } from '../api/events';
import { LIVE_LABEL, age, applyEvent, liveStatus, newestFirst, remove, upsert, visible, type View } from '../sessions/apply';
import { Link, navigate, sessionUrl } from '../router';

type Load = { state: 'loading' } | { state: 'ready' } | { state: 'error'; message: string };

/** Rows put on the page at first, and added each time the end of the list scrolls into view. */
const PAGE = 100;

export function SessionList({ onSignedOut }: { onSignedOut: () => void }) {
  const [sessions, setSessions] = useState<Session[]>([]);
  const [load, setLoad] = useState<Load>({ state: 'loading' });
  const [view, setView] = useState<View>('active');
  const [query, setQuery] = useState('');
  const [selected, setSelected] = useState(0);
  const [limit, setLimit] = useState(PAGE);
  const more = useRef<HTMLLIElement>(null);
  const [now, setNow] = useState(() => Date.now());
  // Model spending so far by session name (spending has no live event: read with the list).
  const [costs, setCosts] = useState<Record<string, number>>({});
  const search = useRef<HTMLInputElement>(null);
  // The list as events last left it: events apply to this synchronously, in order.
  const latest = useRef<Session[]>([]);
  const update = useCallback((change: (list: Session[]) => Session[]) => {
    latest.current = change(latest.current);
    setSessions(latest.current);
  }, []);

  const failed = useCallback(
    (e: unknown) => {
      if (e instanceof ApiError && e.signedOut) onSignedOut();
      else setLoad({ state: 'error', message: e instanceof Error ? e.message : String(e) });
    },
    [onSignedOut],
  );

  const reload = useCallback(() => {
    api<{ sessions: Session[]; costs_usd?: Record<string, number> }>('GET', '/api/sessions?view=all')
      .then((list) => {
        // One sort for the whole list (names are unique in an answer).
        update(() => [...list.sessions].sort(newestFirst));
        setCosts(list.costs_usd ?? {});
        setLoad({ state: 'ready' });
      })
      .catch(failed);
  }, [failed, update]);

  const fetchOne = useCallback((name: string) => {
    api<{ session: Session }>('GET', sessionPath(name))
      .then((detail) => update((list) => upsert(list, detail.session)))
      .catch((e: unknown) => {
        if (e instanceof ApiError && e.status === 404) update((list) => remove(list, name));
      });
  }, [update]);

  const onEvent = useCallback(
    (event: SessionEvent) => {
      const applied = applyEvent(latest.current, event);
      update(() => applied.sessions);
      if (applied.fetch) fetchOne(applied.fetch);
    },
    [fetchOne, update],
  );

  useEffect(reload, [reload]);
  useEvents(onEvent, reload);
  useEffect(() => {
    const t = setInterval(() => {
      setNow(Date.now());
      api<{ costs_usd?: Record<string, number> }>('GET', '/api/sessions?view=all')
        .then((list) => setCosts(list.costs_usd ?? {}))
        .catch(() => {});
    }, 30_000);
    return () => clearInterval(t);
  }, []);

  // A mark once the first list is on screen: the benchmark reads it against the API's answer.
  useEffect(() => {
    if (load.state === 'ready') performance.mark('clauderon:list-rendered');
  }, [load.state]);

  const shown = useMemo(() => visible(sessions, view, query), [sessions, view, query]);
  const current = Math.min(selected, Math.max(0, shown.length - 1));
  // Only the rows up to the limit (and the selected one) are on the page: 1,000 sessions render
  // as fast as 100. The last row in view brings the next page.
  const rendered = shown.slice(0, Math.max(limit, current + 1));
  useEffect(() => {
    const sentinel = more.current;
    if (!sentinel || typeof IntersectionObserver === 'undefined') return;
    const watch = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) setLimit((l) => l + PAGE);
    });
    watch.observe(sentinel);
    return () => watch.disconnect();
  }, [rendered.length]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement | null;
      const typing = target && (target.tagName === 'INPUT' || target.tagName === 'TEXTAREA');
      if (e.key === '/' && !typing) {
        e.preventDefault();
        search.current?.focus();
      } else if (e.key === 'Escape' && typing) {
        target.blur();
      } else if (!typing && (e.key === 'j' || e.key === 'k')) {
        e.preventDefault();
        setSelected((i) => {
          const at = Math.min(i, Math.max(0, shown.length - 1));
          return e.key === 'j' ? Math.min(at + 1, shown.length - 1) : Math.max(at - 1, 0);
        });
      } else if (!typing && e.key === 'c' && !e.ctrlKey && !e.metaKey && !e.altKey) {
        e.preventDefault();
        navigate('/new');
      } else if (!typing && e.key === 'Enter' && shown[current]) {
        navigate(sessionUrl(shown[current].name));
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [shown, current]);

  return (
    <section>
      <div className="toolbar">
        <h1>Sessions</h1>
        <Link href="/new" className="button-link" aria-keyshortcuts="c">
          New session
        </Link>
        <div className="views" role="group" aria-label="Which sessions">
          {(['active', 'archived', 'all'] as View[]).map((v) => (
            <button key={v} aria-pressed={view === v} onClick={() => setView(v)}>
              {v}
            </button>
          ))}
        </div>
        <input
          ref={search}
          type="search"
          placeholder="Search name or repo  ( / )"
          aria-label="Search sessions by name or repository"
          value={query}
          onChange={(e) => {
            setQuery(e.target.value);
            setSelected(0);
          }}
        />
      </div>
      {load.state === 'loading' && <p className="state">Loading sessions…</p>}
      {load.state === 'error' && (
        <div className="state error" role="alert">
          <p>{load.message}</p>
          <button onClick={reload}>Try again</button>
        </div>
      )}
      {load.state === 'ready' && shown.length === 0 && (
        <p className="state" data-testid="empty">
          {sessions.length === 0
            ? 'No sessions yet. Start one with `clauderon create --repo PATH --prompt TEXT`.'
            : 'No session matches.'}
        </p>
      )}
      {shown.length > 0 && (
        <ul className="sessions" aria-label="Sessions">
          {rendered.map((s, i) => (
            <SessionRow key={s.name} session={s} now={now} cost={costs[s.name]} selected={i === current} />
          ))}
          {rendered.length < shown.length && (
            <li ref={more} className="more">
              <button className="quiet" onClick={() => setLimit((l) => l + PAGE)}>
                Show more ({shown.length - rendered.length} left)
              </button>
            </li>
          )}
        </ul>
      )}
    </section>
  );
}

function SessionRow({
  session: s,
  now,
  cost,
  selected,
}: {
  session: Session;
  now: number;
  cost: number | undefined;
  selected: boolean;
}) {
  const live = liveStatus(s.status);
  const row = useRef<HTMLLIElement>(null);
  useEffect(() => {
    if (selected) row.current?.scrollIntoView?.({ block: 'nearest' });
  }, [selected]);
  const classes = ['session', live === 'waiting' ? 'waiting' : '', selected ? 'selected' : ''].join(' ');
  return (
    <li ref={row} className={classes} data-session={s.name} data-status={s.status} aria-current={selected || undefined}>
      <Link href={sessionUrl(s.name)} className="session-link">
        <span className="name">{s.name}</span>
        {live === 'waiting' && <span className="needs-you">needs you</span>}
        <span className="meta">
          <span title="repository">{s.repo_path}</span>
          <span title="branch">{s.branch}</span>
        </span>
        <span className="tags">
          <span className="tag" data-field="status">{s.status}</span>
          {live && (
            <span className={`tag live live-${live}`} data-field="live">
              {LIVE_LABEL[live]}
            </span>
          )}
          <span className="tag" data-field="access">{s.access_mode}</span>
          <span className="tag">{s.backend}</span>
          <span className="tag">{s.agent}</span>
          {s.options?.model && (
            <span className="tag" data-field="model" title="model">
              {s.options.model}
            </span>
          )}
          <span className="tag" data-field="cost" title="model spending so far">
            ${(cost ?? 0).toFixed(2)}
          </span>
          {s.archived && <span className="tag">archived</span>}
          <span className="tag" title={s.created_at}>
            {age(s.created_at, now)}
          </span>
        </span>
      </Link>
    </li>
  );
}
