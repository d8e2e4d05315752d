/**
 * The raw values behind each task (ad) field's codes, so that a new campaign given in raw
 * values (an advertiserId as the ad server knows it) is encoded exactly as the training
 * data was. `prepare` writes it; `values[code]` is the raw value of that code, null for
 * the missing value's code.
 */
import { readFileSync } from 'node:fs';
import { DataError } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic.js';

export const TASK_VOCAB_FILE = 'task_vocab.json';

export interface TaskVocab {
  /** Per task field: raw value of each code in code order; null marks the missing code. */
  fields: Record<string, (number | null)[]>;
}

export function writeTaskVocab(path: string, v: TaskVocab): void {
  const fields = Object.entries(v.fields).map(([k, values]) => `    ${JSON.stringify(k)}: ${JSON.stringify(values)}`);
  writeFileAtomic(path, `{\n  "format": "metaheac-task-vocab",\n  "version": 1,\n  "fields": {\n${fields.join(',\n')}\n  }\n}\n`);
}

export function readTaskVocab(path: string): TaskVocab {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new DataError(`${path}: cannot read the task vocabulary (${(e as Error).message})`);
  }
  const o = raw as { format?: unknown; fields?: unknown };
  if (o?.format !== 'metaheac-task-vocab' || typeof o.fields !== 'object' || o.fields === null) throw new DataError(`${path}: not a task vocabulary (expected "format": "metaheac-task-vocab" and "fields")`);
  const fields: TaskVocab['fields'] = {};
  for (const [k, v] of Object.entries(o.fields as Record<string, unknown>)) {
    if (!Array.isArray(v) || v.some((x) => x !== null && !Number.isSafeInteger(x))) throw new DataError(`${path}: fields.${k} must be a list of raw values (integers, null for missing)`);
    fields[k] = v as (number | null)[];
  }
  return { fields };
}

/** Code lookup for one field: raw value → code, and the missing code (or null). */
export class FieldVocab {
  private readonly byValue = new Map<number, number>();
  readonly missingCode: number | null;

  constructor(values: (number | null)[]) {
    let missing: number | null = null;
    values.forEach((v, code) => {
      if (v === null) missing = code;
      else this.byValue.set(v, code);
    });
    this.missingCode = missing;
  }

  code(raw: number): number | undefined {
    return this.byValue.get(raw);
  }
}
