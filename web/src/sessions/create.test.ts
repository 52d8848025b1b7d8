import { describe, expect, it } from 'vitest';
import { EMPTY_FORM, fieldOf, parseMemory, toRequest } from './create';

describe('toRequest', () => {
  it('sends only what was filled in', () => {
    const r = toRequest({ ...EMPTY_FORM, repo_path: ' /src/app ', prompt: 'fix it\nthen test' });
    expect(r).toEqual({ request: { repo_path: '/src/app', prompt: 'fix it\nthen test', agent: 'claude', options: {} } });
  });

  it('turns cores and sizes into the API units', () => {
    const r = toRequest({ ...EMPTY_FORM, repo_path: '/r', prompt: 'p', cpus: '1.5', memory: '512m', sandbox: 'fs' });
    expect(r).toMatchObject({ request: { options: { milli_cpus: 1500, memory_bytes: 512 * 1024 ** 2, sandbox: 'fs' } } });
  });

  it('names the field it cannot send', () => {
    expect(toRequest({ ...EMPTY_FORM, cpus: 'lots' })).toMatchObject({ field: 'cpus' });
    expect(toRequest({ ...EMPTY_FORM, memory: 'big' })).toMatchObject({ field: 'memory' });
  });
});

describe('parseMemory', () => {
  it('reads the sizes the CLI takes', () => {
    expect(parseMemory('2g')).toBe(2 * 1024 ** 3);
    expect(parseMemory('2GiB')).toBe(2 * 1024 ** 3);
    expect(parseMemory('1048576')).toBe(1048576);
    expect(parseMemory('two')).toBeNull();
  });
});

describe('fieldOf', () => {
  it('places a sentence next to the field it names', () => {
    expect(fieldOf('--model `a b` is not a model name')).toBe('model');
    expect(fieldOf('/nope is not a git repository')).toBe('repo_path');
    expect(fieldOf('the daemon is busy')).toBeNull();
  });
});
