import { useEffect, useState } from 'react';
import { ApiError, api, sessionPath, type Session } from '../api/client';
import { navigate } from '../router';
import { dollarsToCents } from '../sessions/budget';

/** One control's last refusal, shown beside it. */
type Errors = Partial<Record<'run' | 'access' | 'hosts' | 'budget' | 'notify' | 'archive' | 'delete', string>>;


export function Controls({ session: s, onChanged }: { session: Session; onChanged: () => void }) {
  const [errors, setErrors] = useState<Errors>({});
  const [busy, setBusy] = useState(false);
  const [force, setForce] = useState(false);
  const [dropBranch, setDropBranch] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [host, setHost] = useState('');
  const [dollars, setDollars] = useState('');
  const [tokens, setTokens] = useState('');
  // `null`: unknown yet, or this daemon has no web push.
  const [muted, setMuted] = useState<boolean | null>(null);
  useEffect(() => {
    api<{ muted: boolean }>('GET', `${sessionPath(s.name)}/push-mute`)
      .then((m) => setMuted(m.muted))
      .catch(() => setMuted(null));
  }, [s.name]);
  const path = sessionPath(s.name);

  const act = async (which: keyof Errors, method: string, url: string, body?: unknown) => {
    setBusy(true);
    setErrors((e) => ({ ...e, [which]: undefined }));
    try {
      await api(method, url, body);
      onChanged();
      return true;
    } catch (err) {
      setErrors((e) => ({ ...e, [which]: err instanceof ApiError ? err.message : String(err) }));
      return false;
    } finally {
      setBusy(false);
    }
  };

  const stoppable = s.status === 'running' || s.status === 'idle' || s.status === 'waiting-for-input';
  const otherMode = s.access_mode === 'read-only' ? 'read-write' : 'read-only';

  const remove = async () => {
    const query = new URLSearchParams();
    if (force) query.set('force', 'true');
    if (dropBranch) query.set('delete_branch', 'true');
    const q = query.toString();
    if (await act('delete', 'DELETE', q ? `${path}?${q}` : path)) navigate('/');
  };

  const allow = async () => {
    if (await act('hosts', 'POST', `${path}/allowed-hosts`, { host: host.trim() })) setHost('');
  };
  const budget = async () => {
    const cents = dollarsToCents(dollars);
    const count = tokens.trim() === '' ? null : Number(tokens.trim());
    if (Number.isNaN(cents) || (count !== null && (!Number.isInteger(count) || count < 0))) {
      setErrors((e) => ({ ...e, budget: 'Give dollars like 2.50 and tokens as a whole number, or leave a box empty for no limit.' }));
      return;
    }
    await act('budget', 'PUT', `${path}/budget`, { usd_cents: cents, tokens: count });
  };
  const options = s.options ?? {};
  const limits = [
    options.budget_usd_cents != null ? `$${(options.budget_usd_cents / 100).toFixed(2)}` : null,
    options.budget_tokens != null ? `${options.budget_tokens.toLocaleString('en-US')} tokens` : null,
  ].filter(Boolean);
  const allowed = options.allow_hosts ?? [];

  const toggleMute = async () => {
    if (muted === null) return;
    if (await act('notify', 'PUT', `${path}/push-mute`, { muted: !muted })) setMuted(!muted);
  };

  const failure = (which: keyof Errors) =>
    errors[which] && (
      <p className="error" role="alert" data-control={which}>
        {errors[which]}
      </p>
    );

  return (
    <div className="controls">
      <div className="control">
        <h2>Process</h2>
        <p>The agent is {stoppable ? 'running' : s.status}.</p>
        {stoppable ? (
          <button disabled={busy} onClick={() => act('run', 'POST', `${path}/stop`)}>
            Stop
          </button>
        ) : (
          <button disabled={busy} onClick={() => act('run', 'POST', `${path}/start`)}>
            Start
          </button>
        )}
        {failure('run')}
      </div>
      <div className="control">
        <h2>Access mode</h2>
        <p>
          Now <strong data-testid="access-mode">{s.access_mode}</strong>; a change applies to the session's next request.
        </p>
        <button disabled={busy} onClick={() => act('access', 'PUT', `${path}/access-mode`, { mode: otherMode })}>
          Make it {otherMode}
        </button>
        {failure('access')}
      </div>
      <div className="control">
        <h2>Allowed hosts</h2>
        <p data-testid="allowed-hosts">
          {allowed.length === 0 ? 'Only the configured allowlist.' : `Beyond the allowlist: ${allowed.join(', ')}.`}
        </p>
        <form
          className="inline"
          onSubmit={(e) => {
            e.preventDefault();
            void allow();
          }}
        >
          <label htmlFor="allow-host">Allow a host</label>
          <input id="allow-host" value={host} onChange={(e) => setHost(e.target.value)} placeholder="docs.example.com or *.example.com" />
          <button type="submit" disabled={busy || host.trim() === ''}>
            Allow
          </button>
        </form>
        {failure('hosts')}
      </div>
      <div className="control">
        <h2>Budget</h2>
        <p data-testid="budget-now">{limits.length === 0 ? 'No budget: model calls are not limited.' : `Model calls stop at ${limits.join(' or ')}.`}</p>
        <form
          className="inline"
          onSubmit={(e) => {
            e.preventDefault();
            void budget();
          }}
        >
          <label htmlFor="budget-usd">Dollars</label>
          <input id="budget-usd" inputMode="decimal" value={dollars} onChange={(e) => setDollars(e.target.value)} placeholder="e.g. 5.00" />
          <label htmlFor="budget-tokens">Tokens</label>
          <input id="budget-tokens" inputMode="numeric" value={tokens} onChange={(e) => setTokens(e.target.value)} placeholder="e.g. 2000000" />
          <button type="submit" disabled={busy}>
            Set budget
          </button>
        </form>
        {failure('budget')}
      </div>
      {muted !== null && (
        <div className="control">
          <h2>Notifications</h2>
          <p data-testid="push-mute">
            {muted ? 'Muted: no push notifications for this session.' : 'Push notifications on for this session.'}
          </p>
          <button disabled={busy} onClick={() => void toggleMute()}>
            {muted ? 'Unmute notifications' : 'Mute notifications'}
          </button>
          {failure('notify')}
        </div>
      )}
      <div className="control">
        <h2>Archive</h2>
        {s.archived ? (
          <button disabled={busy} onClick={() => act('archive', 'POST', `${path}/unarchive`)}>
            Unarchive
          </button>
        ) : (
          <button disabled={busy} onClick={() => act('archive', 'POST', `${path}/archive`)}>
            Archive
          </button>
        )}
        {failure('archive')}
      </div>
      <div className="control danger">
        <h2>Delete</h2>
        <p>Deletes the session and its worktree. It refuses when the worktree has uncommitted work, unless forced.</p>
        <label className="check">
          <input type="checkbox" checked={force} onChange={(e) => setForce(e.target.checked)} />
          Force: discard uncommitted work
        </label>
        <label className="check">
          <input type="checkbox" checked={dropBranch} onChange={(e) => setDropBranch(e.target.checked)} />
          Delete its branch ({s.branch}) too
        </label>
        {confirming ? (
          <div className="confirm">
            <button className="danger" disabled={busy} onClick={remove}>
              Delete {s.name} for good
            </button>
            <button className="quiet" onClick={() => setConfirming(false)}>
              Cancel
            </button>
          </div>
        ) : (
          <button className="danger" disabled={busy} onClick={() => setConfirming(true)}>
            Delete…
          </button>
        )}
        {failure('delete')}
      </div>
    </div>
  );
}
