import { describe, expect, it } from 'vitest';
import { hunkStart, languageOf, splitRows } from './diff';

describe('hunkStart', () => {
  it('reads both starts, with or without counts', () => {
    expect(hunkStart('@@ -12,7 +14,9 @@ fn main() {')).toEqual({ old: 12, new: 14 });
    expect(hunkStart('@@ -1 +1 @@')).toEqual({ old: 1, new: 1 });
    expect(hunkStart('not a header')).toEqual({ old: 1, new: 1 });
  });
});

describe('splitRows', () => {
  it('pairs a removed run with the added run after it and numbers both sides', () => {
    const rows = splitRows('@@ -10,4 +10,5 @@', [' keep', '-old one', '-old two', '+new one', '+new two', '+new three', ' tail']);
    expect(rows.map((r) => [r.left && `${r.left.no}${r.left.kind[0]}:${r.left.text}`, r.right && `${r.right.no}${r.right.kind[0]}:${r.right.text}`])).toEqual([
      ['10c:keep', '10c:keep'],
      ['11d:old one', '11a:new one'],
      ['12d:old two', '12a:new two'],
      [null, '13a:new three'],
      ['13c:tail', '14c:tail'],
    ]);
  });

  it('keeps removals alone when nothing is added, and drops the no-newline note', () => {
    const rows = splitRows('@@ -1,2 +1,1 @@', ['-gone', ' stays', '\\ No newline at end of file']);
    expect(rows).toEqual([
      { left: { no: 1, text: 'gone', kind: 'del' }, right: null },
      { left: { no: 2, text: 'stays', kind: 'context' }, right: { no: 1, text: 'stays', kind: 'context' } },
    ]);
  });

  it('keeps markup as the text it is', () => {
    const rows = splitRows('@@ -0,0 +1 @@', ['+<img src=x onerror=alert(1)>']);
    expect(rows[0].right?.text).toBe('<img src=x onerror=alert(1)>');
  });
});

describe('languageOf', () => {
  const known = (n: string) => ['rust', 'typescript', 'bash', 'makefile', 'json'].includes(n);
  it('maps extensions and names to known languages only', () => {
    expect(languageOf('src/main.rs', known)).toBe('rust');
    expect(languageOf('web/App.TSX', known)).toBe('typescript');
    expect(languageOf('scripts/x.sh', known)).toBe('bash');
    expect(languageOf('Makefile', known)).toBe('makefile');
    expect(languageOf('data.json', known)).toBe('json');
    expect(languageOf('notes.unknownext', known)).toBeNull();
    expect(languageOf('.gitignore', known)).toBeNull();
    expect(languageOf('README', known)).toBeNull();
  });
});
