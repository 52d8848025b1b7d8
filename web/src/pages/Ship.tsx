// Review and ship from the Changes tab: commit what the agent left uncommitted (as the user),
// push the session branch to the repository's origin, open a pull request on GitHub and follow
// it. Each is the API the CLI uses (`clauderon commit | push | pr`); the daemon does the work
// with the user's token through its own proxy, and each refusal comes back in the API's words.
import { useState, type FormEvent } from 'react';
import { ApiError, api, sessionPath, type Schemas, type Session } from '../api/client';

type CommitReport = Schemas['CommitReport'];
type PushReport = Schemas['PushReport'];
type PrReport = Schemas['PrReport'];
type PullRequest = Schemas['PullRequest'];
type Outcome = { ok: true; text: string } | { ok: false; text: string } | null;

export function Ship({ session, uncommitted, onShipped }: { session: Session; uncommitted: number; onShipped: () => void }) {
  const [message, setMessage] = useState('');
  const [title, setTitle] = useState('');
  const [draft, setDraft] = useState(false);
  const [busy, setBusy] = useState<string | null>(null);
  const [outcome, setOutcome] = useState<Outcome>(null);
  const path = sessionPath(session.name);

  const run = async (what: string, work: () => Promise<string>) => {
    setBusy(what);
    setOutcome(null);
    try {
      setOutcome({ ok: true, text: await work() });
      onShipped();
    } catch (e: unknown) {
      setOutcome({ ok: false, text: e instanceof ApiError || e instanceof Error ? e.message : String(e) });
    } finally {
      setBusy(null);
    }
  };

  const commit = (e: FormEvent) => {
    e.preventDefault();
    void run('commit', async () => {
      const r = await api<CommitReport>('POST', `${path}/commit`, { message });
      setMessage('');
      return `Committed ${r.files} file${r.files === 1 ? '' : 's'} on ${r.branch} as ${r.commit.slice(0, 12)}.`;
    });
  };
  const push = () =>
    run('push', async () => {
      const r = await api<PushReport>('POST', `${path}/push`, {});
      return pushed(r);
    });
  const pr = (e: FormEvent) => {
    e.preventDefault();
    void run('pr', async () => {
      const r = await api<PrReport>('POST', `${path}/pr`, { title: title.trim() || null, draft });
      return `${pushed(r.push)} Pull request #${r.pull_request.number} is ${r.pull_request.state}.`;
    });
  };
  const refresh = () =>
    run('refresh', async () => {
      await api<unknown>('POST', `${path}/pr/refresh`);
      return 'Pull request read again.';
    });

  const open = session.pull_request;
  return (
    <section className="ship" aria-label="Ship" data-testid="ship">
      <h2>Ship</h2>
      <form className="ship-row" onSubmit={commit}>
        <label htmlFor="commit-message">Commit message</label>
        <input id="commit-message" value={message} onChange={(e) => setMessage(e.target.value)} placeholder={uncommitted ? `${uncommitted} uncommitted file${uncommitted === 1 ? '' : 's'}` : 'nothing uncommitted'} />
        <button type="submit" disabled={busy !== null || message.trim() === '' || uncommitted === 0}>
          {busy === 'commit' ? 'Committing…' : 'Commit'}
        </button>
      </form>
      <div className="ship-row">
        <button onClick={() => void push()} disabled={busy !== null}>
          {busy === 'push' ? 'Pushing…' : `Push ${session.branch}`}
        </button>
      </div>
      {open ? (
        <PrView pr={open} busy={busy !== null} onRefresh={() => void refresh()} />
      ) : (
        <form className="ship-row" onSubmit={pr}>
          <label htmlFor="pr-title">Pull request title</label>
          <input id="pr-title" value={title} onChange={(e) => setTitle(e.target.value)} placeholder="the prompt's first line" />
          <label className="check">
            <input type="checkbox" checked={draft} onChange={(e) => setDraft(e.target.checked)} /> Draft
          </label>
          <button type="submit" disabled={busy !== null}>
            {busy === 'pr' ? 'Opening…' : 'Open pull request'}
          </button>
        </form>
      )}
      {outcome && (
        <p className={outcome.ok ? 'note' : 'error'} role={outcome.ok ? 'status' : 'alert'} data-testid="ship-outcome">
          {outcome.text}
        </p>
      )}
    </section>
  );
}

function pushed(r: PushReport): string {
  const how = { created: 'created', updated: 'updated', forced: 'overwritten (forced)', 'up-to-date': 'already up to date' }[r.outcome];
  return `Pushed ${r.branch} to ${r.remote}: ${how}.${r.note ? ` ${r.note}.` : ''}`;
}

function PrView({ pr, busy, onRefresh }: { pr: PullRequest; busy: boolean; onRefresh: () => void }) {
  const review = { none: 'no review yet', approved: 'approved', 'changes-requested': 'changes requested' }[pr.review];
  return (
    <div className="ship-row pr" data-testid="pull-request" data-state={pr.state}>
      <span>
        <a href={pr.url} target="_blank" rel="noopener noreferrer nofollow">
          #{pr.number}
        </a>{' '}
        {pr.draft ? 'draft, ' : ''}
        <strong>{pr.state}</strong> into {pr.base} · {review} · checks {pr.checks.passed} passed, {pr.checks.failed} failed, {pr.checks.pending} pending
      </span>
      <button onClick={onRefresh} disabled={busy}>
        Refresh
      </button>
    </div>
  );
}
