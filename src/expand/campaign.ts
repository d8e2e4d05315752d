/**
 * Campaign files (YAML or JSON): a new campaign's task values and where its seed users
 * are. Validated here into a Campaign, every problem a one-line error naming the file and
 * the key; files named inside are resolved against the campaign file's folder and read
 * later (id-list.ts), so a service can validate a campaign before any work.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, resolve } from 'node:path';
import { closest } from 'fastest-levenshtein';
import { parseUid, type Uid } from '../data/uid.js';
import { UserError } from '../util/errors.js';
import { checkInputFile, MAX_TEXT_BYTES } from '../util/files.js';
import { parseYamlBounded } from '../util/yaml.js';

/** Seed users given inline (uids) or as a file of uids. */
export type UidSource = { file: string } | { uids: Uid[] };
/** Labelled users (uid, label) given inline or as a file. */
export type ExampleSource = { file: string } | { rows: { uid: Uid; label: 0 | 1 }[] };

export interface Campaign {
  /** Names the output folder: letters, digits, `.`, `_`, `-`. */
  name: string;
  /** The campaign file, or a description of the object it came from (for messages). */
  source: string;
  /**
   * Seeds the adaptation's shuffles, as a task's aid does in `infer` (key `aid`); without
   * one, a hash of the name.
   */
  key: number;
  /** Task field values as given (raw values, or codes when `codes`). */
  task: Record<string, number>;
  codes: boolean;
  seeds: UidSource | null;
  negatives: UidSource | null;
  examples: ExampleSource | null;
}

export class CampaignError extends UserError {
  override name = 'CampaignError';
}

const KEYS = ['name', 'aid', 'task', 'codes', 'seeds', 'negatives', 'examples'];
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** A stable 31-bit key from a campaign name (FNV-1a), for campaigns without an aid. */
export function nameKey(name: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(name, 'utf8')) h = Math.imul(h ^ b, 0x01000193);
  return (h >>> 0) & 0x7fffffff;
}

function isUid(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/**
 * An inline uid: a safe integer, or a string of digits (the way to write one above 2^53,
 * which a YAML or JSON number has already rounded); undefined when neither.
 */
function inlineUid(v: unknown): Uid | undefined {
  if (isUid(v)) return v;
  return typeof v === 'string' ? parseUid(v) : undefined;
}

const UID_WANTED = 'a uid (a non-negative integer; above 2^53 as a string of digits)';

/**
 * Validate a parsed campaign document. `baseDir` resolves the files it names; `where`
 * names it in errors (the file path, or e.g. "request body").
 */
export function parseCampaign(doc: unknown, baseDir: string, where = 'campaign'): Campaign {
  const fail = (msg: string): never => {
    throw new CampaignError(`${where}: ${msg}`);
  };
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return fail('expected a mapping with keys name, task, seeds (or examples)');
  const o = doc as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!KEYS.includes(k)) fail(`unknown key "${k}" (did you mean "${closest(k, KEYS)}"?)`);
  }
  if (typeof o.name !== 'string' || !NAME.test(o.name)) {
    fail(`key "name" must be a name of letters, digits, ".", "_" or "-" (it names the output folder), found ${JSON.stringify(o.name)}`);
  }
  const name = o.name as string;
  if (o.aid !== undefined && !(isUid(o.aid) && o.aid <= 0x7fffffff)) fail(`key "aid" must be a non-negative 32-bit integer, found ${JSON.stringify(o.aid)}`);
  if (o.codes !== undefined && typeof o.codes !== 'boolean') fail(`key "codes" must be true or false, found ${JSON.stringify(o.codes)}`);
  const task: Record<string, number> = {};
  if (o.task !== undefined && o.task !== null) {
    if (typeof o.task !== 'object' || Array.isArray(o.task)) fail('key "task" must map task field names to values');
    for (const [k, v] of Object.entries(o.task as Record<string, unknown>)) {
      // null, like an absent field, asks for the missing value's code
      if (v === null) continue;
      const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
      if (!isUid(n)) fail(`key "task.${k}" must be a non-negative integer, found ${JSON.stringify(v)}`);
      task[k] = n as number;
    }
  }
  const file = (key: string, v: string): string => (v === '' ? fail(`key "${key}" is empty`) : isAbsolute(v) ? v : resolve(baseDir, v));
  const uids = (key: string): UidSource | null => {
    const v = o[key];
    if (v === undefined || v === null) return null;
    if (typeof v === 'string') return { file: file(key, v) };
    if (Array.isArray(v)) {
      const out = v.map(inlineUid);
      const bad = out.indexOf(undefined);
      if (bad >= 0) fail(`key "${key}[${bad}]" must be ${UID_WANTED}, found ${JSON.stringify(v[bad])}`);
      return { uids: out as Uid[] };
    }
    return fail(`key "${key}" must be a file name or a list of uids, found ${JSON.stringify(v)}`);
  };
  const seeds = uids('seeds');
  const negatives = uids('negatives');
  let examples: ExampleSource | null = null;
  if (o.examples !== undefined && o.examples !== null) {
    if (seeds || negatives) fail('give either "examples" or "seeds" (and "negatives"), not both');
    const v = o.examples;
    if (typeof v === 'string') examples = { file: file('examples', v) };
    else if (Array.isArray(v)) {
      examples = {
        rows: v.map((r: unknown, i) => {
          const e = r as { uid?: unknown; label?: unknown } | null;
          const uid = e && typeof e === 'object' ? inlineUid(e.uid) : undefined;
          if (uid === undefined || (e!.label !== 0 && e!.label !== 1)) fail(`key "examples[${i}]" must be {uid: <non-negative integer; above 2^53 a string of digits>, label: 0 or 1}, found ${JSON.stringify(r)}`);
          return { uid: uid!, label: e!.label as 0 | 1 };
        }),
      };
    } else fail(`key "examples" must be a file name or a list of {uid, label}, found ${JSON.stringify(v)}`);
  }
  if (!seeds && !examples) fail('no seed users: give "seeds" (a file or a list of uids) or "examples"');
  return {
    name,
    source: where,
    key: o.aid !== undefined ? (o.aid as number) : nameKey(name),
    task,
    codes: (o.codes as boolean | undefined) ?? false,
    seeds,
    negatives,
    examples,
  };
}

/** The files a campaign is read from: its own and those it names (outputs must not replace them). */
export function campaignFiles(c: Campaign): string[] {
  return [c.source, ...[c.seeds, c.negatives, c.examples].flatMap((s) => (s && 'file' in s ? [s.file] : []))];
}

/** Read and validate a campaign file (YAML or JSON, by content: JSON is YAML). */
export function loadCampaignFile(path: string): Campaign {
  let text: string;
  // a missing file gets the message below; a device or FIFO is refused before reading
  if (existsSync(path)) checkInputFile(path, MAX_TEXT_BYTES);
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new CampaignError(`${path}: cannot read the campaign file (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  let doc: unknown;
  try {
    doc = parseYamlBounded(text);
  } catch (e) {
    throw new CampaignError(`${path}: not valid YAML or JSON (${(e as Error).message.split('\n')[0]})`);
  }
  return parseCampaign(doc, dirname(resolve(path)), path);
}

/** Campaign names must differ: each names an output folder. */
export function checkDistinctNames(campaigns: Campaign[]): void {
  const seen = new Map<string, string>();
  for (const c of campaigns) {
    const prev = seen.get(c.name);
    if (prev !== undefined) throw new CampaignError(`${c.source}: campaign name "${c.name}" is also the name of ${basename(prev)}; each campaign needs its own name (it names the output folder)`);
    seen.set(c.name, c.source);
  }
}
