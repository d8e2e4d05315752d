/**
 * The loaded variant of a benchmark: a CPU-bound helper process spinning for the duration
 * (one core's worth of foreign load, like another build on the machine), and a meter of the
 * CPU other processes used, read from /proc/stat minus this process's own time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

export function startSpinner(): ChildProcess {
  const child = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
  child.unref();
  return child;
}

export async function stopSpinner(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // startSpinner unref'd the child: with nothing else pending the loop would exit before its
  // 'exit' arrives, leaving the bench's top-level await unsettled (exit code 13, no JSON)
  child.ref();
  child.kill('SIGKILL');
  await gone;
}

const TICK_S = 0.01;

interface Snap {
  wall: number;
  busy: number;
  own: number;
}

function snap(): Snap {
  let busy = NaN;
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    busy = (f.reduce((a, b) => a + b, 0) - f[3]! - f[4]!) * TICK_S;
  } catch {
    // not Linux: the meter reads NaN
  }
  const u = process.cpuUsage();
  return { wall: performance.now() / 1000, busy, own: (u.user + u.system) / 1e6 };
}

/** Cores used by other processes (worker threads of this one count as its own) while `fn` runs. */
export function foreignCores<T>(fn: () => T): { value: T; foreign: number } {
  const a = snap();
  const value = fn();
  const b = snap();
  return { value, foreign: Math.max(0, (b.busy - a.busy - (b.own - a.own)) / Math.max(b.wall - a.wall, 1e-9)) };
}
