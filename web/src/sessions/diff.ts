// A unified diff hunk laid out for a split (side-by-side) view, with line numbers from its
// header. Pure: what the Changes tab renders, tested alone.

export type SideKind = 'context' | 'del' | 'add';

export interface Side {
  /** The line's number in the old (left) or new (right) file. */
  no: number;
  /** The line without its diff marker. */
  text: string;
  kind: SideKind;
}

/** One row of the split view: the old line on the left, the new one on the right. */
export interface SplitRow {
  left: Side | null;
  right: Side | null;
}

/** Where a hunk starts in the old and new file (`@@ -12,7 +12,9 @@ …`); 1 and 1 when unreadable. */
export function hunkStart(header: string): { old: number; new: number } {
  const m = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(header);
  return m ? { old: Number(m[1]), new: Number(m[2]) } : { old: 1, new: 1 };
}

/**
 * The hunk's rows: context on both sides; a run of removed lines paired row by row with the run
 * of added lines after it (the longer run's rest against nothing). git's "\ No newline at end of
 * file" notes belong to no side and are left out.
 */
export function splitRows(header: string, lines: string[]): SplitRow[] {
  const start = hunkStart(header);
  let oldNo = start.old;
  let newNo = start.new;
  const rows: SplitRow[] = [];
  let dels: Side[] = [];
  let adds: Side[] = [];
  const flush = () => {
    for (let i = 0; i < Math.max(dels.length, adds.length); i++) rows.push({ left: dels[i] ?? null, right: adds[i] ?? null });
    dels = [];
    adds = [];
  };
  for (const line of lines) {
    if (line.startsWith('\\')) continue;
    if (line.startsWith('-')) dels.push({ no: oldNo++, text: line.slice(1), kind: 'del' });
    else if (line.startsWith('+')) adds.push({ no: newNo++, text: line.slice(1), kind: 'add' });
    else {
      flush();
      const text = line.slice(1);
      rows.push({ left: { no: oldNo++, text, kind: 'context' }, right: { no: newNo++, text, kind: 'context' } });
    }
  }
  flush();
  return rows;
}

/** The highlighting language for a file, by its extension or name; `null` when there is none. */
export function languageOf(path: string, known: (name: string) => boolean): string | null {
  const base = path.split('/').pop() ?? path;
  const byName: Record<string, string> = { Makefile: 'makefile', Dockerfile: 'dockerfile', 'Cargo.lock': 'ini' };
  if (byName[base] && known(byName[base])) return byName[base];
  const dot = base.lastIndexOf('.');
  if (dot <= 0) return null;
  const ext = base.slice(dot + 1).toLowerCase();
  const alias: Record<string, string> = { rs: 'rust', py: 'python', js: 'javascript', mjs: 'javascript', ts: 'typescript', tsx: 'typescript', jsx: 'javascript', md: 'markdown', sh: 'bash', yml: 'yaml', toml: 'ini', h: 'c', hpp: 'cpp', cc: 'cpp', kt: 'kotlin', rb: 'ruby' };
  const name = alias[ext] ?? ext;
  return known(name) ? name : null;
}
