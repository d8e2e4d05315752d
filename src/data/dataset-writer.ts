/**
 * Writing a dataset as one unit. Parts go into a hidden temporary folder beside the
 * destination; schema.json and manifest.json come last; then the folder replaces the
 * destination (two renames, no await between them, so no signal handler runs in between).
 * A failed, interrupted or killed run leaves the previous dataset as it was, never a mix of
 * new and old parts.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DataError, UserError } from '../util/errors.js';
import { sweepStale, writeFileAtomic } from '../util/atomic.js';
import { dropTempFolder, openTempFolder, swapFolderIn } from '../util/folder-swap.js';
import { checkOutputDir } from '../util/files.js';
import { checkNotInput } from '../util/output-paths.js';
import { PartWriter, writeWhole, type PartWriterOptions } from './arrow-write.js';
import { CAMPAIGNS_DIR, PART_EXT, SCHEMA_FILE, writeSchema, type DatasetFiles } from './dataset.js';
import { TASK_VOCAB_FILE } from './task-vocab.js';
import { datasetId, fileSha256, MANIFEST_FILE, type DatasetManifest, type PartEntry } from './manifest.js';
import type { PartData } from './part.js';
import type { Schema } from './schema.js';

/** Files a dataset folder may hold; anything else is the user's and is never replaced. */
function isDatasetFile(name: string): boolean {
  return [SCHEMA_FILE, MANIFEST_FILE, TASK_VOCAB_FILE, CAMPAIGNS_DIR].includes(name) || name.endsWith(PART_EXT) || /^\..*\.tmp$/.test(name);
}

/**
 * Check a dataset destination before any work: not a file, not holding (or being) one of the
 * inputs, and holding nothing but an earlier dataset's files, which the new one replaces.
 */
export function checkDatasetOut(dir: string, inputs: string[] = []): void {
  checkNotInput(dir, 'the output folder', inputs, true);
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory()) throw new DataError(`${dir}: exists and is not a folder (the output is a dataset folder)`);
  const foreign = readdirSync(dir).filter((f) => !isDatasetFile(f));
  if (foreign.length) {
    const shown = foreign.slice(0, 5).join(', ') + (foreign.length > 5 ? `, ... (${foreign.length} in all)` : '');
    throw new DataError(`${dir}: holds ${shown}, not part of a dataset; the output folder is replaced as a whole, so use a new or empty folder`);
  }
}

/** Indented JSON with one line per part (a part's aid list can be long). */
function manifestText(m: DatasetManifest): string {
  const { parts, ...head } = m;
  const lines = Object.entries(parts).map(([name, p]) => `    ${JSON.stringify(name)}: ${JSON.stringify(p)}`);
  return `${JSON.stringify(head, null, 2).slice(0, -2)},\n  "parts": {\n${lines.join(',\n')}\n  }\n}\n`;
}

export class DatasetTarget {
  private readonly writers = new Map<string, PartWriter>();
  private done = false;

  private constructor(
    /** Where the dataset ends up. */
    readonly dir: string,
    /** Where its files are written until commit. */
    readonly tmp: string,
  ) {}

  /** Check the destination, then create the temporary folder; `inputs` are files the run reads. */
  static open(dir: string, inputs: string[] = []): DatasetTarget {
    checkOutputDir(dir);
    sweepStale(resolve(dir));
    checkDatasetOut(dir, inputs);
    return new DatasetTarget(dir, openTempFolder(dir, 'dataset folder'));
  }

  /** A streaming writer for part `name`, inside the temporary folder. */
  part(name: string, schema: Schema, opts: PartWriterOptions = {}): PartWriter {
    if (this.writers.has(name)) throw new Error(`part ${name} opened twice`);
    const w = new PartWriter(join(this.tmp, name + PART_EXT), schema, { ...opts, hash: true });
    this.writers.set(name, w);
    return w;
  }

  /** Write a whole part. */
  writePart(name: string, schema: Schema, data: PartData): void {
    writeWhole((extra) => this.part(name, schema, { extra }), data);
  }

  /**
   * Close every part, write schema.json and the manifest, and put the folder in place of the
   * destination. Returns the manifest.
   */
  commit(schema: Schema, producer: string, files: DatasetFiles = {}): DatasetManifest {
    if (this.done) throw new Error('dataset committed twice');
    for (const w of this.writers.values()) w.close();
    writeSchema(this.tmp, schema, files);
    const parts: Record<string, PartEntry> = {};
    for (const [name, w] of this.writers) {
      const path = join(this.tmp, name + PART_EXT);
      parts[name + PART_EXT] = { rows: w.rows, bytes: statSync(path).size, sha256: w.sha256, aids: [...w.aids].sort((a, b) => a - b) };
    }
    const schemaSha = fileSha256(join(this.tmp, SCHEMA_FILE));
    const manifest: DatasetManifest = { format: 'metaheac-dataset', version: 1, id: datasetId(schemaSha, parts), producer, schema_sha256: schemaSha, parts };
    writeFileAtomic(join(this.tmp, MANIFEST_FILE), manifestText(manifest));
    swapFolderIn(this.tmp, this.dir, 'dataset folder');
    this.done = true;
    return manifest;
  }

  /**
   * `e` with the temporary folder in its message replaced by the destination: the folder is
   * gone once aborted, and the user knows the destination (`ds/train_stage1.arrow: cannot
   * write (ENOSPC: ...)`).
   */
  named(e: unknown): unknown {
    if (e instanceof UserError) e.message = e.message.split(this.tmp).join(this.dir);
    return e;
  }

  /** Drop everything written; the destination is untouched. */
  abort(): void {
    if (this.done) return;
    this.done = true;
    for (const w of this.writers.values()) w.abort();
    dropTempFolder(this.tmp);
  }
}
