/**
 * The safetensors reader against damaged and foreign files: every malformed header, byte
 * range or weight is a one-line DataError (never a load that succeeds with other numbers),
 * random damage (fast-check) never escapes as anything else, and a state_dict saved by
 * PyTorch without metaheac's metadata loads when a config gives the model.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { buildLayout } from '../src/model/layout.js';
import { JsOps } from '../src/model/ops.js';
import { allocParams, initParams, type Params } from '../src/model/params.js';
import { loadCheckpoint, readCheckpointMeta, readCheckpointMetaIfAny, saveCheckpoint } from '../src/model/checkpoint.js';
import { paramsFromCheckpoint } from '../src/meta/model-setup.js';
import { DataError } from '../src/util/errors.js';
import { TINY_SCHEMA } from './helpers/tiny.js';
import { REPO } from './helpers/pickles.js';
import { tinyDataset } from './helpers/tiny-dataset.js';
import { runCli } from './helpers/cli.js';

const dims = { embedDim: 4, mlpDims: [6, 5], numExpert: 3, numOutput: 2 };
const ops = new JsOps(Float32Array);
const L = buildLayout(TINY_SCHEMA, dims);
const dir = mkdtempSync(join(tmpdir(), 'mh-ckh-'));
const TORCH = join(REPO, 'test', 'fixtures', 'checkpoint', 'torch_state_dict.safetensors');

function goodCheckpoint(): Buffer {
  const p = allocParams(L, ops);
  initParams(p, 5);
  const path = join(dir, 'good.safetensors');
  saveCheckpoint(path, p, { epoch: 0 });
  return readFileSync(path);
}
const GOOD = goodCheckpoint();

type Header = Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;

function split(file: Buffer): { header: Header; data: Buffer } {
  const n = Number(file.readBigUInt64LE(0));
  return { header: JSON.parse(file.subarray(8, 8 + n).toString()) as Header, data: file.subarray(8 + n) };
}

function join3(headerText: string, data: Buffer): Buffer {
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(headerText)));
  return Buffer.concat([len, Buffer.from(headerText), data]);
}

/** GOOD with its header edited by `edit` (data kept as it is unless `data` is given). */
function edited(edit: (h: Header) => void, data?: Buffer): Buffer {
  const s = split(GOOD);
  edit(s.header);
  return join3(JSON.stringify(s.header), data ?? s.data);
}

function write(name: string, bytes: Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

function load(bytes: Buffer, name = 'x.safetensors'): Params {
  const p = allocParams(L, ops);
  loadCheckpoint(write(name, bytes), p);
  return p;
}

const entry = (h: Header, k: string) => h[k] as { dtype: string; shape: number[]; data_offsets: [number, number] };

test('malformed headers and byte ranges are one-line errors naming the tensor', () => {
  const cases: [string, Buffer, RegExp][] = [
    ['header longer than the file', (() => { const b = Buffer.from(GOOD); b.writeBigUInt64LE(BigInt(GOOD.length)); return b; })(), /header length \d+ for a file of \d+ bytes/],
    ['header length 2^63', (() => { const b = Buffer.from(GOOD); b.writeBigUInt64LE(1n << 63n); return b; })(), /header length 9223372036854775808/],
    ['header not JSON', join3('{"a": ', split(GOOD).data), /header is not JSON/],
    ['header a JSON array', join3('[1, 2]', Buffer.alloc(0)), /header is not a JSON object/],
    ['unknown dtype', edited((h) => (entry(h, 'output_layer.0.bias').dtype = 'F33')), /tensor "output_layer\.0\.bias": unknown dtype "F33"/],
    ['negative dimension', edited((h) => (entry(h, 'output_layer.0.bias').shape = [-1])), /tensor "output_layer\.0\.bias": shape \[-1\] is not a list of non-negative integers/],
    ['shortened tensor', edited((h) => (entry(h, 'output_layer.0.weight').data_offsets[1] -= 4)), /tensor "output_layer\.0\.weight": holds 16 bytes, its shape \[1, 5\] and dtype F32 need 20/],
    ['offsets reversed', edited((h) => { const e = entry(h, 'output_layer.0.bias'); e.data_offsets = [e.data_offsets[1], e.data_offsets[0]]; }), /data_offsets \[\d+,\d+\] are not \[begin, end\]/],
    [
      'overlapping tensors',
      edited((h) => (entry(h, 'output_layer.1.bias').data_offsets = [...entry(h, 'output_layer.0.bias').data_offsets])),
      /tensor "output_layer\.(0|1)\.bias" overlaps the tensor before it/,
    ],
    ['a gap', edited((h) => { for (const k of Object.keys(h)) if (k !== '__metadata__') entry(h, k).data_offsets = entry(h, k).data_offsets.map((o) => o + 4) as [number, number]; }, Buffer.concat([Buffer.alloc(4), split(GOOD).data])), /a gap of 4 bytes before tensor "embedding\.static_emb\.embeddings\.0\.weight"/],
    ['trailing bytes', Buffer.concat([GOOD, Buffer.alloc(8)]), /8 bytes after the last tensor that no tensor claims/],
    ['truncated data', GOOD.subarray(0, GOOD.length - 10), /truncated \(tensor ".*" ends at byte \d+, the file has \d+\)/],
    ['metadata dims not JSON', edited((h) => ((h.__metadata__ as Record<string, string>).dims = '{embed')), /__metadata__\.dims is not JSON/],
    ['metadata dims absurd', edited((h) => ((h.__metadata__ as Record<string, string>).dims = '{"embedDim":-4}')), /__metadata__\.dims .* is not \{embedDim, mlpDims, numExpert, numOutput\}/],
    ['metadata not strings', edited((h) => ((h.__metadata__ as unknown as Record<string, number>).epoch = 3)), /__metadata__ is not a map of strings/],
    ['a name twice', edited((h) => { h['model.output_layer.0.bias'] = h['output_layer.1.bias']!; delete h['output_layer.1.bias']; h['output_layer.1.bias'] = entry(h, 'model.output_layer.0.bias'); }), /overlaps|appears twice/],
  ];
  for (const [what, bytes, msg] of cases) {
    const path = write(`${what.replace(/ /g, '_')}.safetensors`, bytes);
    assert.throws(
      () => {
        const p = allocParams(L, ops);
        readCheckpointMetaIfAny(path);
        loadCheckpoint(path, p);
      },
      (e: unknown) => e instanceof DataError && msg.test(e.message) && e.message.startsWith(path) && !e.message.includes('\n'),
      what,
    );
  }
});

test('a checkpoint holding NaN or an infinity is refused at load, naming the tensor and element', () => {
  const s = split(GOOD);
  const e = entry(s.header, 'mlp.1.mlp.2.weight');
  for (const [v, shown] of [[NaN, 'NaN'], [Infinity, 'Infinity'], [-Infinity, '-Infinity']] as const) {
    const data = Buffer.from(s.data);
    data.writeFloatLE(v, e.data_offsets[0] + 4 * 7);
    assert.throws(() => load(join3(JSON.stringify(s.header), data)), new RegExp(`tensor "mlp\\.1\\.mlp\\.2\\.weight" holds ${shown} at element 7; a checkpoint with non-finite weights`));
  }
});

test('predict refuses a non-finite checkpoint with exit 1 and writes nothing', async () => {
  const data = await tinyDataset();
  const s = split(GOOD);
  const bytes = Buffer.from(s.data);
  bytes.writeFloatLE(NaN, entry(s.header, 'attention_layer.2.bias').data_offsets[0]);
  const ck = write('nan.safetensors', join3(JSON.stringify(s.header), bytes));
  const out = join(dir, 'nan-pred.csv');
  const r = runCli('predict', '--model', ck, '--data', join(data, 'test_cold_stage2.arrow'), '--out', out, '--threads', '1');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^metaheac: error: .*attention_layer\.2\.bias" holds NaN at element 0.*\n$/);
  assert.throws(() => readFileSync(out), /ENOENT/);
});

test('random damage to a checkpoint loads finite weights or fails with a DataError, never anything else', () => {
  const dataStart = 8 + Number(GOOD.readBigUInt64LE(0));
  const damage = fc.oneof(
    // bytes overwritten anywhere, header most often (its numbers steer every read)
    fc.array(fc.tuple(fc.nat({ max: dataStart + 64 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }).map((edits) => (b: Buffer) => {
      const c = Buffer.from(b);
      for (const [at, v] of edits) c[at % c.length] = v;
      return c;
    }),
    // digits inside the header's JSON changed (offsets, shapes, the length)
    fc.tuple(fc.nat(), fc.integer({ min: 0x30, max: 0x39 })).map(([at, d]) => (b: Buffer) => {
      const c = Buffer.from(b);
      const digits = [...c.subarray(0, dataStart).keys()].filter((i) => c[i]! >= 0x30 && c[i]! <= 0x39);
      c[digits[at % digits.length]!] = d;
      return c;
    }),
    fc.nat({ max: GOOD.length }).map((n) => (b: Buffer) => b.subarray(0, n)),
  );
  fc.assert(
    fc.property(damage, (f) => {
      const bytes = f(GOOD);
      try {
        const p = load(bytes, 'fuzz.safetensors');
        for (const t of [p.dense, ...p.tables]) assert.ok(t.every((x) => Number.isFinite(x)));
      } catch (e) {
        if (!(e instanceof DataError)) throw e;
        assert.ok(!e.message.includes('\n'));
      }
    }),
    { numRuns: 400, seed: 8 },
  );
});

/** The value make_torch_layout.py writes at element j of the i-th tensor in name order. */
const torchValue = (i: number, j: number): number => Math.fround((((i * 7919 + j * 104729) % 2001) - 1000) / 2000);

test('a state_dict saved by PyTorch (model. prefix, name order, no metadata) loads when the config gives the model', () => {
  assert.equal(readCheckpointMetaIfAny(TORCH), null);
  assert.throws(() => readCheckpointMeta(TORCH), /no metaheac metadata .* load it with an explicit config/);
  const { params } = paramsFromCheckpoint(ops, L, TORCH);
  const names = [...L.embeddings.map((e) => e.name), ...L.dense.map((d) => d.name)].sort((a, b) => (`model.${a}` < `model.${b}` ? -1 : 1));
  names.forEach((name, i) => {
    const t = L.embeddings.findIndex((e) => e.name === name);
    const d = L.dense.find((x) => x.name === name);
    const values = t >= 0 ? params.tables[t]! : params.dense.subarray(d!.offset, d!.offset + d!.size);
    for (let j = 0; j < values.length; j++) assert.equal(values[j], torchValue(i, j), `${name}[${j}]`);
  });
  // the wrong config is refused by the first tensor that does not fit
  assert.throws(() => paramsFromCheckpoint(ops, buildLayout(TINY_SCHEMA, { ...dims, numExpert: 2 }), TORCH), /tensor "mlp\.0\.mlp\.0\.weight"|unexpected tensor "mlp\.2|attention_layer\.2\.weight" has shape \[3, 5\]/);
});

test('predict with a PyTorch checkpoint: refused without --config, scores with one', async () => {
  const data = await tinyDataset();
  const out = join(dir, 'torch-pred.csv');
  const args = ['predict', '--model', TORCH, '--data', join(data, 'test_cold_stage2.arrow'), '--out', out, '--threads', '1'];
  const r = runCli(...args);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^metaheac: error: .*no metaheac metadata in the checkpoint \(one saved from PyTorch\?\); pass --config.*\n$/);
  const cfg = join(dir, 'torch.yaml');
  writeFileSync(cfg, 'hyper_parameters:\n  embed_dim: 4\n  mlp_dims: [6, 5]\n  num_expert: 3\n  num_output: 2\n');
  const ok = runCli(...args, '--config', cfg, '--json');
  assert.equal(ok.code, 0, ok.stderr);
  const lines = readFileSync(out, 'utf8').trim().split('\n');
  assert.equal(lines.length, 81);
  for (const l of lines.slice(1)) {
    const p = Number(l.split(',')[3]);
    assert.ok(p > 0 && p < 1, l);
  }
});
