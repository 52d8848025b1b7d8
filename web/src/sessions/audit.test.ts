import { describe, expect, it } from 'vitest';
import type { AuditEntry } from '../api/client';
import { AUDIT_KEEP, mergeAudit } from './audit';

const entry = (id: number, path = '/'): AuditEntry => ({
  id,
  at: '2026-12-01T08:00:00Z',
  method: 'GET',
  host: 'api.example.com',
  path,
  status: 200,
  bytes_up: 0,
  bytes_down: 0,
  duration_ms: 1,
  decision: 'forwarded',
});

describe('mergeAudit', () => {
  it('shows the newest first and each id once', () => {
    const merged = mergeAudit([entry(2), entry(1)], [entry(2, '/again'), entry(3)]);
    expect(merged.map((r) => r.id)).toEqual([3, 2, 1]);
    expect(merged[1].path).toBe('/again');
  });

  it('keeps what it shows when a poll brings nothing', () => {
    const shown = [entry(1)];
    expect(mergeAudit(shown, [])).toBe(shown);
  });

  it('stays bounded', () => {
    const page = Array.from({ length: AUDIT_KEEP + 20 }, (_, i) => entry(i + 1));
    const merged = mergeAudit([], page);
    expect(merged).toHaveLength(AUDIT_KEEP);
    expect(merged[0].id).toBe(AUDIT_KEEP + 20);
  });
});
