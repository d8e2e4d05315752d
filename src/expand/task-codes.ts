/**
 * A campaign's task values as the model's codes. Raw values go through the dataset's task
 * vocabulary: a value never seen, or a field not given, takes the field's missing code
 * and is reported. Codes (`codes: true`) are checked against the schema.
 */
import type { Schema } from '../data/schema.js';
import { FieldVocab, type TaskVocab } from '../data/task-vocab.js';
import { CampaignError, type Campaign } from './campaign.js';

export interface TaskCodes {
  /** One code per task field, in schema order. */
  codes: Int32Array;
  /** Task fields the campaign did not give (they take the missing code). */
  missing: string[];
  /** Raw values not in the vocabulary (they take the missing code). */
  outOfVocabulary: { field: string; value: number }[];
}

export function taskCodes(c: Campaign, schema: Schema, vocab: TaskVocab | null, vocabPath: string | null): TaskCodes {
  const fail = (msg: string): never => {
    throw new CampaignError(`${c.source}: ${msg}`);
  };
  const names = schema.task.map((f) => f.name);
  for (const k of Object.keys(c.task)) {
    if (!names.includes(k)) fail(`key "task.${k}" is not a task field of the dataset (task fields: ${names.join(', ') || 'none'})`);
  }
  if (!c.codes && !vocab && schema.task.length > 0) {
    fail('task values are raw values but the dataset has no task vocabulary (task_vocab.json, written by prepare); give codes and set "codes: true"');
  }
  const out: TaskCodes = { codes: new Int32Array(schema.task.length), missing: [], outOfVocabulary: [] };
  schema.task.forEach((f, i) => {
    const v = c.task[f.name];
    const fv = vocab?.fields[f.name] ? new FieldVocab(vocab.fields[f.name]!) : null;
    const missingCode = (why: string): number =>
      fv?.missingCode ?? fail(`key "task.${f.name}": ${why}, and the field has no missing code${vocabPath ? ` in ${vocabPath}` : ''} (every training row had a value): give a known value`);
    if (v === undefined) {
      out.missing.push(f.name);
      out.codes[i] = missingCode('not given');
    } else if (c.codes) {
      if (v > f.maxIdx) fail(`key "task.${f.name}": code ${v} outside [0, ${f.maxIdx}]`);
      out.codes[i] = v;
    } else {
      if (!fv) return fail(`key "task.${f.name}": ${vocabPath ?? 'the task vocabulary'} has no values for this field`);
      const code = fv.code(v);
      if (code === undefined) {
        out.outOfVocabulary.push({ field: f.name, value: v });
        out.codes[i] = missingCode(`raw value ${v} was never seen in the training data`);
      } else out.codes[i] = code;
      if (out.codes[i]! > f.maxIdx) fail(`key "task.${f.name}": code ${out.codes[i]} (raw ${v}) outside the model's [0, ${f.maxIdx}]`);
    }
  });
  return out;
}
