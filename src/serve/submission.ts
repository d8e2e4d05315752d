/**
 * A campaign as it arrives over HTTP: the campaign file's fields as JSON, with the seed,
 * negative and example lists either inline (JSON arrays, as a campaign file may hold them)
 * or uploaded as files. It is turned into exactly what `metaheac expand` reads (a campaign
 * object whose uploaded lists are files in a folder), so the service validates and runs
 * campaigns with the CLI's code and messages. A client never names a file of the server: a
 * string where a list belongs is refused.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { UserError } from '../util/errors.js';

/** The campaign fields that are lists of users (files in a campaign file). */
export const LIST_FIELDS = ['seeds', 'negatives', 'examples'] as const;
export type ListField = (typeof LIST_FIELDS)[number];

const UPLOAD_EXTS = new Set(['.csv', '.txt', '.arrow', '.parquet']);

export interface Submission {
  /** The campaign file's fields; uploaded list fields absent (they are in `files`). */
  campaign: Record<string, unknown>;
  /** The list fields' contents, as files: name (its extension says the format) and bytes. */
  files: Partial<Record<ListField, { name: string; data: Buffer }>>;
  /** expand's --top; absent: expand's default. */
  top?: number;
  /** expand's --include-seeds. */
  includeSeeds: boolean;
}

export interface SubmissionLimits {
  /** Most users in one list field (seeds, negatives or examples). */
  maxSeeds: number;
}

/**
 * From a JSON body (and files uploaded beside it, by list field) to a Submission. `top` and
 * `include_seeds` (or `includeSeeds`) are the CLI's options; every other key is the campaign
 * file's, checked later by expand's own parser.
 */
export function parseSubmission(body: unknown, uploads: Partial<Record<ListField, { name: string; data: Buffer }>>, limits: SubmissionLimits): Submission {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new UserError('the request body must be a JSON object with the campaign file\'s fields');
  const campaign: Record<string, unknown> = { ...(body as Record<string, unknown>) };
  const files: Submission['files'] = {};
  for (const f of LIST_FIELDS) {
    const up = uploads[f];
    if (up && campaign[f] !== undefined) throw new UserError(`${f}: given both inline and as an uploaded file`);
    if (up) {
      const ext = extname(up.name).toLowerCase();
      files[f] = { name: `${f}${UPLOAD_EXTS.has(ext) ? ext : '.csv'}`, data: up.data };
      continue;
    }
    const v = campaign[f];
    if (v === undefined || v === null) continue;
    // inline lists stay in the campaign: expand's parser checks them
    if (typeof v === 'string') throw new UserError(`key "${f}": give a list of uids or upload a file (the service reads no files of the server)`);
    if (Array.isArray(v) && v.length > limits.maxSeeds) throw new UserError(`key "${f}": ${v.length} users, more than the limit of ${limits.maxSeeds} per campaign`);
  }
  let top: number | undefined;
  if (campaign.top !== undefined) {
    if (typeof campaign.top !== 'number' || !Number.isSafeInteger(campaign.top) || campaign.top < 1) throw new UserError(`top: expected a positive integer, got ${JSON.stringify(campaign.top)}`);
    top = campaign.top;
  }
  const inc = campaign.include_seeds ?? campaign.includeSeeds ?? false;
  if (typeof inc !== 'boolean') throw new UserError(`include_seeds: expected true or false, got ${JSON.stringify(inc)}`);
  delete campaign.top;
  delete campaign.include_seeds;
  delete campaign.includeSeeds;
  return { campaign, files, ...(top !== undefined ? { top } : {}), includeSeeds: inc };
}

/** Write the submission's uploaded lists into `dir`; returns the campaign object naming them, as a campaign file would. */
export function materialize(sub: Submission, dir: string): Record<string, unknown> {
  mkdirSync(dir, { recursive: true });
  const obj: Record<string, unknown> = { ...sub.campaign };
  for (const f of LIST_FIELDS) {
    const file = sub.files[f];
    if (!file) continue;
    writeFileSync(join(dir, file.name), file.data);
    obj[f] = file.name;
  }
  return obj;
}

/** A submission as JSON-safe data (job data in Redis), and back. */
export function submissionToJson(sub: Submission): unknown {
  return { ...sub, files: Object.fromEntries(Object.entries(sub.files).map(([k, f]) => [k, { name: f.name, data: f.data.toString('base64') }])) };
}

export function submissionFromJson(raw: unknown): Submission {
  const o = raw as Omit<Submission, 'files'> & { files: Record<string, { name: string; data: string }> };
  return { ...o, files: Object.fromEntries(Object.entries(o.files).map(([k, f]) => [k, { name: f.name, data: Buffer.from(f.data, 'base64') }])) };
}
