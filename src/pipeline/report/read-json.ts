/** A JSON file validated against a schema: a bad one stops with its path and the first wrong key. */
import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { DataError } from '../../util/errors.js';

export function readJson<T>(path: string, schema: z.ZodType<T>): T {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new DataError(`${path}: ${e instanceof SyntaxError ? `not valid JSON (${e.message})` : `cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`}`);
  }
  const r = schema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new DataError(`${path}: key "${issue.path.map(String).join('.') || '(root)'}": ${issue.message}`);
  }
  return r.data;
}
