import { describe, expect, it } from 'vitest';
import { dollarsToCents } from './budget';

describe('dollarsToCents', () => {
  it('reads dollars as typed', () => {
    expect(dollarsToCents('2.50')).toBe(250);
    expect(dollarsToCents('$3')).toBe(300);
    expect(dollarsToCents(' 0.07 ')).toBe(7);
    expect(dollarsToCents('')).toBeNull();
  });
  it('refuses anything else', () => {
    for (const bad of ['2.505', '-1', 'abc', '1e3', '1,000']) expect(dollarsToCents(bad)).toBeNaN();
  });
});
