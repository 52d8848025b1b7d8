// The session list as events change it: pure functions, so the list's behaviour is tested
// without a browser (apply.test.ts) and the component only holds state.
import type { Session, SessionEvent, SessionStatus } from '../api/client';

export type View = 'active' | 'archived' | 'all';

/** The agent's own status, read from the lifecycle: null when no agent is live. */
export type LiveStatus = 'working' | 'waiting' | 'idle';

export function liveStatus(status: SessionStatus): LiveStatus | null {
  switch (status) {
    case 'running':
      return 'working';
    case 'waiting-for-input':
      return 'waiting';
    case 'idle':
      return 'idle';
    default:
      return null;
  }
}

export const LIVE_LABEL: Record<LiveStatus, string> = {
  working: 'working',
  waiting: 'waiting for input',
  idle: 'idle',
};

/** What applying one event did: the new list, and a session to fetch whole when the event
 * names one the list does not hold (an event carries only what changed). */
export interface Applied {
  sessions: Session[];
  fetch: string | null;
}

export function newestFirst(a: Session, b: Session): number {
  return b.created_at.localeCompare(a.created_at) || a.name.localeCompare(b.name);
}

/** Put a whole session in (a fetch's answer), replacing the one of that name. */
export function upsert(sessions: Session[], session: Session): Session[] {
  const rest = sessions.filter((s) => s.name !== session.name);
  return [...rest, session].sort(newestFirst);
}

export function remove(sessions: Session[], name: string): Session[] {
  return sessions.filter((s) => s.name !== name);
}

export function applyEvent(sessions: Session[], event: SessionEvent): Applied {
  const name = event.session_name;
  const index = sessions.findIndex((s) => s.name === name);
  const known = index >= 0 ? sessions[index] : undefined;
  // A name reused after a delete is another session: the old record is gone.
  const same = known !== undefined && known.id === event.session_id;
  if (event.type === 'deleted') {
    return { sessions: same ? remove(sessions, name) : sessions, fetch: null };
  }
  if (!same) {
    // Created, or anything about a session the list has not seen (or an older one of that name).
    return { sessions, fetch: name };
  }
  const change = (patch: Partial<Session>): Applied => {
    const next = sessions.slice();
    next[index] = { ...known, ...patch, updated_at: event.at };
    return { sessions: next, fetch: null };
  };
  switch (event.type) {
    case 'status-changed':
      if (event.to === 'deleted') return { sessions: remove(sessions, name), fetch: null };
      return change({ status: event.to });
    case 'failed':
      return change({ status: 'failed', error: event.message });
    case 'access-mode-changed':
      return change({ access_mode: event.to });
    case 'archived':
      return change({ archived: true });
    case 'unarchived':
      return change({ archived: false });
    default:
      return { sessions, fetch: null };
  }
}

/** The sessions a view and a search show. The search matches name or repository path. */
export function visible(sessions: Session[], view: View, query: string): Session[] {
  const q = query.trim().toLowerCase();
  return sessions.filter((s) => {
    if (view === 'active' && s.archived) return false;
    if (view === 'archived' && !s.archived) return false;
    if (!q) return true;
    return s.name.toLowerCase().includes(q) || s.repo_path.toLowerCase().includes(q);
  });
}

/** "3 m", "2 h", "5 d": how long ago `iso` was, from `now`. */
export function age(iso: string, now: number): string {
  const seconds = Math.max(0, Math.floor((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} m`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h`;
  return `${Math.floor(seconds / 86400)} d`;
}
