// The daemon's HTTP API, same origin. Every request carries the page key (see
// crates/clauderon-daemon/src/security.rs): the HttpOnly cookie alone is not enough, because
// browsers send a host's cookies to all its ports, and a page a session serves on another
// loopback port must get nothing from them.
import type { components } from './schema';

export type Schemas = components['schemas'];
export type Session = Schemas['Session'];
export type SessionDetail = Schemas['SessionDetail'];
export type SessionEvent = Schemas['SessionEvent'];
export type MessagePage = Schemas['MessagePage'];
export type ChatMessage = Schemas['Message'];
export type AccessMode = Schemas['AccessMode'];
export type SessionStatus = Schemas['SessionStatus'];

const KEY_STORAGE = 'clauderon.pageKey';

/** What the page sends beside the cookie. Not the API token: an HMAC of it, useless alone. */
export function pageKey(): string | null {
  try {
    return window.localStorage.getItem(KEY_STORAGE);
  } catch {
    return null;
  }
}

function setPageKey(key: string | null): void {
  try {
    if (key === null) window.localStorage.removeItem(KEY_STORAGE);
    else window.localStorage.setItem(KEY_STORAGE, key);
  } catch {
    // Storage refused (private mode): the page signs in again next time.
  }
}

/** An answer the API refused, with its own sentence. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }

  get signedOut(): boolean {
    return this.status === 401;
  }
}

async function failure(resp: Response): Promise<ApiError> {
  try {
    const body = (await resp.json()) as { error?: string; message?: string };
    return new ApiError(resp.status, body.error ?? 'error', body.message ?? resp.statusText);
  } catch {
    return new ApiError(resp.status, 'error', `the daemon answered ${resp.status} ${resp.statusText}`);
  }
}

/** One API call; JSON in and out. Throws ApiError (refusals) or TypeError (no daemon). */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const key = pageKey();
  if (key) headers['x-clauderon-key'] = key;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let resp: Response;
  try {
    resp = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    });
  } catch {
    throw new ApiError(0, 'unreachable', 'the daemon is not answering: is `clauderon daemon` running?');
  }
  if (!resp.ok) throw await failure(resp);
  if (resp.status === 204) return undefined as T;
  return (await resp.json()) as T;
}

export async function signIn(token: string): Promise<void> {
  const { page_key } = await api<{ page_key: string }>('POST', '/auth/session', { token });
  setPageKey(page_key);
}

export async function signOut(): Promise<void> {
  setPageKey(null);
  await api<void>('DELETE', '/auth/session').catch(() => undefined);
}

export const sessionPath = (name: string) => `/api/sessions/${encodeURIComponent(name)}`;
export type AuditEntry = Schemas['AuditEntry'];
export type AuditList = Schemas['AuditList'];
export type UsageReport = Schemas['UsageReport'];
