/** Checking what a run leaves on disk, and interrupting a CLI run at a chosen moment. */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MAIN } from './cli.js';

/** Every file under `dir` with its bytes, for before/after comparisons. */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir, { recursive: true }) as string[]) {
    const p = join(dir, f);
    if (statSync(p).isFile()) out[f] = readFileSync(p).toString('base64');
  }
  return out;
}

/** Entries of `dir` that look like temporary leftovers. */
export function leftovers(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).filter((f) => /\.tmp(-\d+)?$|\.tmp-\d+|\.old-\d+/.test(f));
}

export interface Interrupted {
  code: number | null;
  stderr: string;
  /** Milliseconds from sending the signal to the child's exit. */
  latencyMs: number;
  /** Whether the signal was sent (false: the run ended before `ready` held). */
  signalled: boolean;
}

/**
 * Run the CLI and send `signal` once `ready(pid)` holds (polled every 10 ms, so a loaded
 * machine only makes the child slower, never the test wrong); resolves when it exits.
 */
export function interruptWhen(args: string[], ready: (pid: number) => boolean, signal: NodeJS.Signals): Promise<Interrupted> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let sentAt = 0;
    child.stderr.on('data', (d) => (stderr += d));
    const poll = setInterval(() => {
      if (ready(child.pid!)) {
        clearInterval(poll);
        sentAt = performance.now();
        child.kill(signal);
      }
    }, 10);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearInterval(poll);
      resolve({ code, stderr, latencyMs: sentAt ? performance.now() - sentAt : 0, signalled: sentAt > 0 });
    });
  });
}
