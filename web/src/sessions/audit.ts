// Following a session's audit: pages fetched with the `after` cursor merge into what is shown,
// newest first, each id once, and the list stays bounded.
import type { AuditEntry } from '../api/client';

export const AUDIT_KEEP = 500;

export function mergeAudit(shown: AuditEntry[], page: AuditEntry[]): AuditEntry[] {
  if (page.length === 0) return shown;
  const byId = new Map<number, AuditEntry>();
  for (const r of shown) byId.set(r.id, r);
  for (const r of page) byId.set(r.id, r);
  return [...byId.values()].sort((a, b) => b.id - a.id).slice(0, AUDIT_KEEP);
}
