// The create form: every field of the API's create request; the API's refusal shown beside the
// form and beside the field its sentence names; on success, the new session's page.
import { useEffect, useState, type FormEvent, type ReactNode } from 'react';
import { ApiError, api, type Schemas, type Session } from '../api/client';
import { Link, navigate, sessionUrl } from '../router';
import { EMPTY_FORM, fieldOf, toRequest, type CreateForm, type Field } from '../sessions/create';

type Health = Schemas['Health'];
type RepoCheck = Schemas['RepoCheck'];
type RecentRepos = Schemas['RecentRepos'];
type Refusal = { message: string; field: Field | null };

export function Create({ onSignedOut }: { onSignedOut: () => void }) {
  const [form, setForm] = useState<CreateForm>(EMPTY_FORM);
  const [backends, setBackends] = useState<string[] | null>(null);
  const [busy, setBusy] = useState(false);
  const [refusal, setRefusal] = useState<Refusal | null>(null);
  const [check, setCheck] = useState<RepoCheck | null>(null);
  const [recent, setRecent] = useState<string[]>([]);

  useEffect(() => {
    api<RecentRepos>('GET', '/api/repos/recent')
      .then((r) => setRecent(r.repos))
      .catch(() => setRecent([]));
  }, []);

  // The path checked as it is typed (a quarter second after the last key), as create would see it.
  useEffect(() => {
    const path = form.repo_path.trim();
    if (!path) {
      setCheck(null);
      return;
    }
    let stale = false;
    const timer = setTimeout(() => {
      api<RepoCheck>('GET', `/api/repos/check?path=${encodeURIComponent(path)}`)
        .then((c) => {
          if (!stale) setCheck(c);
        })
        .catch(() => {
          if (!stale) setCheck(null);
        });
    }, 250);
    return () => {
      stale = true;
      clearTimeout(timer);
    };
  }, [form.repo_path]);

  useEffect(() => {
    api<Health>('GET', '/api/health')
      .then((h) => setBackends(h.backends))
      .catch((e: unknown) => {
        if (e instanceof ApiError && e.signedOut) onSignedOut();
        else setBackends([]);
      });
  }, [onSignedOut]);

  const set = (field: Field) => (e: { target: { value: string } }) => setForm((f) => ({ ...f, [field]: e.target.value }));

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const built = toRequest(form);
    if ('field' in built) {
      setRefusal(built);
      return;
    }
    setBusy(true);
    setRefusal(null);
    try {
      const created = await api<Session>('POST', '/api/sessions', built.request);
      navigate(sessionUrl(created.name));
    } catch (err: unknown) {
      if (err instanceof ApiError && err.signedOut) return onSignedOut();
      const message = err instanceof Error ? err.message : String(err);
      setRefusal({ message, field: fieldOf(message) });
      setBusy(false);
    }
  };

  const at = (field: Field) => (refusal?.field === field ? refusal.message : null);
  return (
    <section>
      <div className="session-head">
        <Link href="/" className="back">
          ← Sessions
        </Link>
        <h1>New session</h1>
      </div>
      <form className="create" onSubmit={submit} noValidate>
        {refusal && (
          <p className="error" role="alert" data-testid="create-error">
            {refusal.message}
          </p>
        )}
        <Row id="repo_path" label="Repository path" error={at('repo_path')}>
          <input
            id="repo_path"
            required
            list="recent-repos"
            value={form.repo_path}
            onChange={set('repo_path')}
            placeholder="/home/you/src/project"
            autoFocus
            aria-describedby="repo-check"
          />
          <datalist id="recent-repos">
            {recent.map((r) => (
              <option key={r} value={r} />
            ))}
          </datalist>
          <RepoStatus check={check} />
        </Row>
        <Row id="prompt" label="Prompt" error={at('prompt')}>
          <textarea id="prompt" rows={5} value={form.prompt} onChange={set('prompt')} placeholder="What should the agent do?" />
        </Row>
        <div className="create-grid">
          <Row id="base" label="Base ref" error={at('base')}>
            <input id="base" list="repo-branches" value={form.base} onChange={set('base')} placeholder="HEAD" />
            <datalist id="repo-branches">
              {(check?.branches ?? []).map((b) => (
                <option key={b} value={b} />
              ))}
            </datalist>
          </Row>
          <Row id="name" label="Name" error={at('name')}>
            <input id="name" value={form.name} onChange={set('name')} placeholder="generated" />
          </Row>
          <Row id="backend" label="Backend" error={at('backend')}>
            <select id="backend" value={form.backend} onChange={set('backend')}>
              <option value="">default</option>
              {(backends ?? []).map((b) => (
                <option key={b} value={b}>
                  {b}
                </option>
              ))}
            </select>
          </Row>
          <Row id="agent" label="Agent" error={at('agent')}>
            <select id="agent" value={form.agent} onChange={set('agent')}>
              {['claude', 'codex', 'gemini'].map((a) => (
                <option key={a}>{a}</option>
              ))}
            </select>
          </Row>
          <Row id="model" label="Model" error={at('model')}>
            <input id="model" value={form.model} onChange={set('model')} placeholder="the agent's default" />
          </Row>
          <Row id="access_mode" label="Access mode" error={at('access_mode')}>
            <select id="access_mode" value={form.access_mode} onChange={set('access_mode')}>
              <option value="">default</option>
              <option value="read-only">read-only</option>
              <option value="read-write">read-write</option>
            </select>
          </Row>
        </div>
        <details className="options">
          <summary>Backend options</summary>
          <div className="create-grid">
            <Row id="image" label="Image (Docker)" error={at('image')}>
              <input id="image" value={form.image} onChange={set('image')} placeholder="clauderon's agent image" />
            </Row>
            <Row id="cpus" label="CPUs" error={at('cpus')}>
              <input id="cpus" inputMode="decimal" value={form.cpus} onChange={set('cpus')} placeholder="e.g. 1.5" />
            </Row>
            <Row id="memory" label="Memory" error={at('memory')}>
              <input id="memory" value={form.memory} onChange={set('memory')} placeholder="e.g. 2g" />
            </Row>
            <Row id="sandbox" label="Sandbox" error={at('sandbox')}>
              <select id="sandbox" value={form.sandbox} onChange={set('sandbox')}>
                <option value="">default</option>
                <option value="off">off</option>
                <option value="fs">fs</option>
                <option value="full">full</option>
              </select>
            </Row>
          </div>
        </details>
        <button type="submit" disabled={busy}>
          {busy ? 'Creating…' : 'Create session'}
        </button>
      </form>
    </section>
  );
}

/** What the path check found: a repository (its branch, branch count, changes) or the problem. */
function RepoStatus({ check }: { check: RepoCheck | null }) {
  if (!check) return <p className="field-hint" id="repo-check" data-testid="repo-check" />;
  if (!check.ok) {
    return (
      <p className="field-hint bad" id="repo-check" data-testid="repo-check" data-ok="false">
        {check.problem}
      </p>
    );
  }
  const n = check.branches.length;
  return (
    <p className="field-hint good" id="repo-check" data-testid="repo-check" data-ok="true">
      git repository {check.toplevel} · {check.branch ? `on ${check.branch}` : 'detached HEAD'} · {n} branch
      {n === 1 ? '' : 'es'}
      {check.dirty && ' · tracked files have changes, which the session would not see: set Base ref (HEAD, say) to go ahead'}
    </p>
  );
}

function Row({ id, label, error, children }: { id: Field; label: string; error: string | null; children: ReactNode }) {
  return (
    <div className={error ? 'row invalid' : 'row'} data-field={id}>
      <label htmlFor={id}>{label}</label>
      {children}
      {error && (
        <p className="field-error" id={`${id}-error`}>
          {error}
        </p>
      )}
    </div>
  );
}
