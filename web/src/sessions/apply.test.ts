import { describe, expect, it } from 'vitest';
import type { Session, SessionEvent } from '../api/client';
import { age, applyEvent, liveStatus, upsert, visible } from './apply';

function session(name: string, patch: Partial<Session> = {}): Session {
  return {
    id: `id-${name}`,
    name,
    repo_path: `/src/${name}-repo`,
    branch: `clauderon/${name}`,
    base_commit: 'abc123',
    worktree_path: `/data/worktrees/${name}`,
    backend: 'zellij',
    agent: 'claude',
    access_mode: 'read-only',
    prompt: 'go',
    options: {},
    status: 'running',
    archived: false,
    backend_handle: null,
    error: null,
    created_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z',
    ...patch,
  } as Session;
}

function event(name: string, kind: Record<string, unknown>, id = `id-${name}`): SessionEvent {
  return { seq: 1, session_id: id, session_name: name, at: '2026-01-02T00:00:00Z', ...kind } as SessionEvent;
}

describe('applyEvent', () => {
  it('asks for a session it has not seen, leaving the list as it was', () => {
    const list = [session('a')];
    const applied = applyEvent(list, event('b', { type: 'created', backend: 'zellij', agent: 'claude', access_mode: 'read-only' }));
    expect(applied.fetch).toBe('b');
    expect(applied.sessions).toBe(list);
  });

  it('changes the status live and stamps the time', () => {
    const applied = applyEvent([session('a')], event('a', { type: 'status-changed', from: 'running', to: 'waiting-for-input' }));
    expect(applied.fetch).toBeNull();
    expect(applied.sessions[0].status).toBe('waiting-for-input');
    expect(applied.sessions[0].updated_at).toBe('2026-01-02T00:00:00Z');
  });

  it('records a failure with its message', () => {
    const applied = applyEvent([session('a')], event('a', { type: 'failed', from: 'running', message: 'gone' }));
    expect(applied.sessions[0].status).toBe('failed');
    expect(applied.sessions[0].error).toBe('gone');
  });

  it('follows access mode, archive and unarchive', () => {
    let list = applyEvent([session('a')], event('a', { type: 'access-mode-changed', from: 'read-only', to: 'read-write' })).sessions;
    expect(list[0].access_mode).toBe('read-write');
    list = applyEvent(list, event('a', { type: 'archived' })).sessions;
    expect(list[0].archived).toBe(true);
    list = applyEvent(list, event('a', { type: 'unarchived' })).sessions;
    expect(list[0].archived).toBe(false);
  });

  it('drops a deleted session, but not a newer one that reuses its name', () => {
    expect(applyEvent([session('a')], event('a', { type: 'deleted' })).sessions).toEqual([]);
    const reused = [session('a', { id: 'new-id' })];
    expect(applyEvent(reused, event('a', { type: 'deleted' }, 'old-id')).sessions).toBe(reused);
  });

  it('fetches rather than patching a session of the same name but another id', () => {
    const applied = applyEvent([session('a', { id: 'old' })], event('a', { type: 'status-changed', from: 'creating', to: 'running' }, 'new'));
    expect(applied.fetch).toBe('a');
    expect(applied.sessions[0].id).toBe('old');
  });

  it('ignores events that change nothing the list shows', () => {
    const list = [session('a')];
    expect(applyEvent(list, event('a', { type: 'host-allowed', host: 'x.test' }))).toEqual({ sessions: list, fetch: null });
  });
});

describe('the list', () => {
  it('keeps the newest session first', () => {
    const list = upsert([session('old', { created_at: '2026-01-01T00:00:00Z' })], session('new', { created_at: '2026-02-01T00:00:00Z' }));
    expect(list.map((s) => s.name)).toEqual(['new', 'old']);
    expect(upsert(list, session('old', { status: 'idle' })).find((s) => s.name === 'old')?.status).toBe('idle');
  });

  it('filters by view and searches name or repository', () => {
    const list = [session('login-fix'), session('docs', { archived: true, repo_path: '/src/website' })];
    expect(visible(list, 'active', '').map((s) => s.name)).toEqual(['login-fix']);
    expect(visible(list, 'archived', '').map((s) => s.name)).toEqual(['docs']);
    expect(visible(list, 'all', 'WEBSITE').map((s) => s.name)).toEqual(['docs']);
    expect(visible(list, 'all', 'login').map((s) => s.name)).toEqual(['login-fix']);
    expect(visible(list, 'all', 'nothing')).toEqual([]);
  });

  it('names the live status of the agent', () => {
    expect(liveStatus('running')).toBe('working');
    expect(liveStatus('waiting-for-input')).toBe('waiting');
    expect(liveStatus('idle')).toBe('idle');
    expect(liveStatus('stopped')).toBeNull();
  });

  it('says how old a session is', () => {
    const now = Date.parse('2026-01-02T00:00:00Z');
    expect(age('2026-01-01T23:59:30Z', now)).toBe('30 s');
    expect(age('2026-01-01T23:00:00Z', now)).toBe('1 h');
    expect(age('2025-12-30T00:00:00Z', now)).toBe('3 d');
  });
});
