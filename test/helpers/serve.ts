/** A small synthetic dataset with a user pool and a checkpoint, and real service processes around it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/config.js';
import { readSchemaFile } from '../../src/data/schema.js';
import { layoutFor, schemaFor } from '../../src/meta/model-setup.js';
import { saveCheckpoint } from '../../src/model/checkpoint.js';
import { JsOps } from '../../src/model/ops.js';
import { allocParams, initParams } from '../../src/model/params.js';
import { MAIN, runCli } from './cli.js';

export interface ServeData {
  root: string;
  data: string;
  config: string;
  model: string;
  /** A second checkpoint (other weights) for swaps. */
  model2: string;
  /** A campaign of the dataset: its task codes and seed uids. */
  campaign: { aid: number; task: Record<string, number>; seeds: number[] };
  cleanup(): void;
}

/** `synth --preset tiny --scale S` (its user pool is about 2,800 × S users) and random-weight checkpoints. */
export function serveData(scale: number): ServeData {
  const root = mkdtempSync(join(tmpdir(), 'mh-serve-'));
  const data = join(root, 'data');
  const s = runCli('synth', '--out', data, '--preset', 'tiny', '--scale', String(scale), '-q', '--json');
  if (s.code !== 0) throw new Error(s.stderr);
  const config = join(root, 'cfg.yaml');
  writeFileSync(
    config,
    [
      'runner:',
      `  train_data_dir: ${data}`,
      '  threads: 1',
      'hyper_parameters:',
      '  embed_dim: 4',
      '  mlp_dims: [6, 5]',
      '  num_expert: 3',
      '  num_output: 2',
      '  batch_size: 64',
      '',
    ].join('\n'),
  );
  const cfg = loadConfig(config);
  const schemaPath = join(data, 'schema.json');
  const L = layoutFor(cfg, schemaFor(cfg, readSchemaFile(schemaPath), schemaPath));
  const save = (path: string, seed: number): string => {
    const p = allocParams(L, new JsOps(Float32Array));
    initParams(p, seed);
    saveCheckpoint(path, p, { seed });
    return path;
  };
  const model = save(join(root, 'model.safetensors'), 1);
  const model2 = save(join(root, 'model2.safetensors'), 2);
  // a hot test campaign of the synthetic data: its task codes and positives
  const name = readdirSync(join(data, 'campaigns')).filter((f) => /^hot_\d+\.yaml$/.test(f)).sort()[0]!.replace('.yaml', '');
  const yaml = readFileSync(join(data, 'campaigns', `${name}.yaml`), 'utf8');
  const task: Record<string, number> = {};
  for (const m of yaml.matchAll(/^ {2}(\w+): (\d+)$/gm)) task[m[1]!] = Number(m[2]);
  const aid = Number(/^aid: (\d+)$/m.exec(yaml)![1]);
  const seeds = readFileSync(join(data, 'campaigns', `${name}.examples.csv`), 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(','))
    .filter((r) => r[1] === '1')
    .map((r) => Number(r[0]));
  return { root, data, config, model, model2, campaign: { aid, task, seeds }, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** A child process whose output lines are kept and can be waited for. */
export class Proc {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  private waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  readonly exited: Promise<number | null>;

  constructor(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
    this.child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      let buf = '';
      stream.setEncoding('utf8');
      stream.on('data', (d: string) => {
        buf += d;
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          this.lines.push(line);
          this.waiters = this.waiters.filter((w) => {
            if (!w.re.test(line)) return true;
            w.resolve(line);
            return false;
          });
        }
      });
    }
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  /** The first output line (past or future) matching `re`. */
  waitFor(re: RegExp, ms = 30000): Promise<string> {
    const seen = this.lines.find((l) => re.test(l));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no line matching ${re} within ${ms} ms; output:\n${this.lines.join('\n')}`)), ms);
      this.waiters.push({
        re,
        resolve: (l) => {
          clearTimeout(t);
          resolve(l);
        },
      });
      void this.exited.then((code) => reject(new Error(`exited (${code}) before a line matching ${re}; output:\n${this.lines.join('\n')}`)));
    });
  }

  /** SIGTERM, then SIGKILL if it has not exited within `ms`. */
  async stop(ms = 10000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), ms);
    await this.exited;
    clearTimeout(t);
  }
}

/** `metaheac ARGS` as a child process. */
export function metaheac(args: string[], env?: NodeJS.ProcessEnv): Proc {
  return new Proc(process.execPath, [MAIN, ...args], env);
}

/** Start `metaheac serve ... --port 0` and return it with its base URL. */
export async function startServe(args: string[], env?: NodeJS.ProcessEnv): Promise<{ proc: Proc; url: string }> {
  const proc = metaheac(['serve', ...args, '--port', '0'], env);
  const line = await proc.waitFor(/listening on http:\/\//);
  return { proc, url: /(http:\/\/\S+)/.exec(line)![1]! };
}

export async function json<T = Record<string, unknown>>(r: Response): Promise<T> {
  return (await r.json()) as T;
}

/** Poll a job until it reaches a final state. */
export async function waitJob(url: string, id: string, headers: Record<string, string> = {}, ms = 40000): Promise<Record<string, unknown>> {
  const t0 = Date.now();
  for (;;) {
    const st = await json(await fetch(`${url}/v1/jobs/${id}`, { headers }));
    if (['done', 'failed', 'cancelled'].includes(st.state as string)) return st;
    if (Date.now() - t0 > ms) throw new Error(`job ${id} still ${st.state} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
