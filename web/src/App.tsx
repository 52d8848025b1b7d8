import { useCallback, useEffect, useState, type ReactNode } from 'react';
import { ApiError, api, pageKey, signOut } from './api/client';
import { startEvents, stopEvents, useConnection } from './api/events';
import { Create } from './pages/Create';
import { SessionList } from './pages/SessionList';
import { SessionPage } from './pages/SessionPage';
import { SignIn } from './pages/SignIn';
import { Link, route, usePath } from './router';
import { NotifyButton, useWaitingNotifications } from './notify';

type Auth = 'checking' | 'signed-out' | 'signed-in' | { unreachable: string };

export function App() {
  const [auth, setAuth] = useState<Auth>('checking');

  const check = useCallback(() => {
    if (!pageKey()) {
      setAuth('signed-out');
      return;
    }
    setAuth('checking');
    api('GET', '/api/version')
      .then(() => setAuth('signed-in'))
      .catch((e: unknown) => {
        if (e instanceof ApiError && e.signedOut) setAuth('signed-out');
        else setAuth({ unreachable: e instanceof Error ? e.message : String(e) });
      });
  }, []);

  useEffect(check, [check]);
  // Out of reach (offline, the daemon stopped): try again by itself every few seconds.
  useEffect(() => {
    if (typeof auth !== 'object') return;
    const t = setTimeout(check, 3000);
    return () => clearTimeout(t);
  }, [auth, check]);
  useEffect(() => {
    if (auth !== 'signed-in') return;
    startEvents();
    return stopEvents;
  }, [auth]);

  const out = async () => {
    await signOut();
    setAuth('signed-out');
  };

  if (auth === 'checking') return <Shell><p className="state">Loading…</p></Shell>;
  if (auth === 'signed-out') return <Shell><SignIn onSignedIn={() => setAuth('signed-in')} /></Shell>;
  if (typeof auth === 'object')
    return (
      <Shell>
        <div className="state error" role="alert" data-testid="unreachable">
          <p>clauderon's daemon cannot be reached ({auth.unreachable}); trying again every few seconds…</p>
          <button onClick={check}>Try again now</button>
        </div>
      </Shell>
    );
  return (
    <Shell onSignOut={out}>
      <Routes onSignedOut={() => setAuth('signed-out')} />
    </Shell>
  );
}

function Routes({ onSignedOut }: { onSignedOut: () => void }) {
  const r = route(usePath());
  if (r.page === 'list') return <SessionList onSignedOut={onSignedOut} />;
  if (r.page === 'new') return <Create onSignedOut={onSignedOut} />;
  if (r.page === 'session') return <SessionPage key={r.name} name={r.name} onSignedOut={onSignedOut} />;
  return (
    <div className="state" role="alert">
      <h1>Nothing here</h1>
      <p>This page does not exist.</p>
      <Link href="/">Back to the sessions</Link>
    </div>
  );
}

function Shell({ children, onSignOut }: { children: ReactNode; onSignOut?: () => void }) {
  return (
    <>
      <header className="top">
        <Link href="/" className="brand">
          clauderon
        </Link>
        {onSignOut && <ConnectionBadge />}
        {onSignOut && <Notifications />}
        {onSignOut && (
          <button className="quiet" onClick={onSignOut}>
            Sign out
          </button>
        )}
      </header>
      <main>{children}</main>
    </>
  );
}

/** Signed in: notifications of sessions that start waiting for input, and their switch. */
function Notifications() {
  useWaitingNotifications();
  return <NotifyButton />;
}

function ConnectionBadge() {
  const c = useConnection();
  const label = c === 'live' ? 'live' : c === 'connecting' ? 'connecting…' : 'reconnecting…';
  return (
    <span className={`conn conn-${c}`} role="status" data-testid="connection">
      {label}
    </span>
  );
}
