// The create form's values turned into the API's request, and the API's refusal placed next to
// the field it names. Pure, so Vitest covers it.
import type { Schemas } from '../api/client';

export type CreateRequest = Schemas['CreateSessionRequest'];

export interface CreateForm {
  repo_path: string;
  base: string;
  name: string;
  backend: string;
  agent: string;
  model: string;
  access_mode: string;
  prompt: string;
  image: string;
  cpus: string;
  memory: string;
  sandbox: string;
}

export type Field = keyof CreateForm;

export const EMPTY_FORM: CreateForm = {
  repo_path: '',
  base: '',
  name: '',
  backend: '',
  agent: 'claude',
  model: '',
  access_mode: '',
  prompt: '',
  image: '',
  cpus: '',
  memory: '',
  sandbox: '',
};

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** `512m`, `2g`, `1.5G`, `1048576` into bytes; null when it is none of those. */
export function parseMemory(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)i?b?\s*$/i.exec(text);
  if (!m) return null;
  return Math.round(Number(m[1]) * UNITS[m[2].toLowerCase()]);
}

/** The request, or the field that cannot be sent as it is and why. */
export function toRequest(f: CreateForm): { request: CreateRequest } | { field: Field; message: string } {
  const options: CreateRequest['options'] = {};
  if (f.model.trim()) options.model = f.model.trim();
  if (f.image.trim()) options.image = f.image.trim();
  if (f.sandbox) options.sandbox = f.sandbox as Schemas['SandboxLevel'];
  if (f.cpus.trim()) {
    const cpus = Number(f.cpus);
    if (!Number.isFinite(cpus) || cpus <= 0)
      return { field: 'cpus', message: 'CPUs is a number of cores, such as 1 or 1.5' };
    options.milli_cpus = Math.round(cpus * 1000);
  }
  if (f.memory.trim()) {
    const bytes = parseMemory(f.memory);
    if (bytes === null) return { field: 'memory', message: 'memory is a size such as 512m or 2g' };
    options.memory_bytes = bytes;
  }
  const request: CreateRequest = { repo_path: f.repo_path.trim(), prompt: f.prompt, options };
  if (f.base.trim()) request.base = f.base.trim();
  if (f.name.trim()) request.name = f.name.trim();
  if (f.backend) request.backend = f.backend as Schemas['BackendKind'];
  if (f.agent) request.agent = f.agent as Schemas['AgentKind'];
  if (f.access_mode) request.access_mode = f.access_mode as Schemas['AccessMode'];
  return { request };
}

// Words in the API's sentences that name a field, most specific first.
const FIELD_WORDS: [RegExp, Field][] = [
  [/--model|\bmodel\b/i, 'model'],
  [/--cpus|\bcpu/i, 'cpus'],
  [/--memory|\bmemory\b/i, 'memory'],
  [/--image|\bimage\b/i, 'image'],
  [/--sandbox|\bsandbox\b/i, 'sandbox'],
  [/\bbase\b|\bref\b/i, 'base'],
  [/\bbackend\b|docker|zellij/i, 'backend'],
  [/\bname\b/i, 'name'],
  [/\bprompt\b/i, 'prompt'],
  [/repositor|repo_path|\bgit\b|\bpath\b|director|folder/i, 'repo_path'],
];

/** Which field an API error sentence is about, if it names one. */
export function fieldOf(message: string): Field | null {
  for (const [re, field] of FIELD_WORDS) if (re.test(message)) return field;
  return null;
}
